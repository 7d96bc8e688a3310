"""Board files: I/O and clocks around :class:`hdl.serial.SerialAccelerator`, one per board.

Each module defines ``BOARD``, an instance of its :class:`~boards.base.Board` subclass:
what the bitstream flow (:mod:`hdl.flow.bitstream`) asks of the board.
"""

import importlib

from amaranth.hdl import Signal
from amaranth.lib import io

from .base import Board

__all__ = ["BOARDS", "Board", "board", "wire_serial_core", "wire_flash"]

BOARDS = ("icebreaker", "ulx3s")


def board(name):
    """The :class:`~boards.base.Board` of board ``name``."""
    if name not in BOARDS:
        raise ValueError(f"unknown board {name!r}; choose one of {', '.join(BOARDS)}")
    return importlib.import_module(f"boards.{name}").BOARD


def wire_serial_core(m, platform, core, uart_dir, led):
    """Connect ``core`` (a SerialAccelerator) to the board's UART 0 (``uart_dir``: the
    direction of each of its subsignals, "-" for raw ports) and toggle LED ``led`` on
    every answer."""
    uart = platform.request("uart", 0, dir=uart_dir)
    m.submodules.rx_buf = rx_buf = io.Buffer("i", uart.rx)
    m.submodules.tx_buf = tx_buf = io.Buffer("o", uart.tx)
    m.submodules.core = core
    m.d.comb += [core.rx.eq(rx_buf.i), tx_buf.o.eq(core.tx)]
    m.submodules.led_buf = led_buf = io.Buffer("o", platform.request(led, 0, dir="-"))
    toggle = Signal()
    with m.If(core.done):
        m.d.sync += toggle.eq(~toggle)
    m.d.comb += led_buf.o.eq(toggle)


def wire_flash(m, platform, core):
    """Connect ``core``'s flash pins, when it has them (weights in SPRAM), to the board's
    SPI flash 0; write protect and hold are held inactive."""
    if getattr(core, "flash", None) is None:
        return
    pins = platform.request("spi_flash_1x", 0, dir={"cs": "-", "clk": "-", "copi": "-",
                                                     "cipo": "-", "wp": "-", "hold": "-"})
    buffers = {name: io.Buffer("i" if name == "cipo" else "o", getattr(pins, name))
               for name in ("cs", "clk", "copi", "cipo", "wp", "hold")}
    for name, buffer in buffers.items():
        m.submodules[f"flash_{name}"] = buffer
    # cs, wp and hold are active-low pins (PinsN): the buffers take the asserted level.
    m.d.comb += [buffers["cs"].o.eq(~core.flash_cs_n), buffers["clk"].o.eq(core.flash_sck),
                 buffers["copi"].o.eq(core.flash_copi), core.flash_cipo.eq(buffers["cipo"].i),
                 buffers["wp"].o.eq(0), buffers["hold"].o.eq(0)]
