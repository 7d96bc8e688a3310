"""Board files: I/O and clocks around :class:`hdl.serial.SerialAccelerator`, one per board.

Each module defines ``BOARD``, a dict the bitstream flow (:mod:`hdl.flow.bitstream`) reads: the
device and its ``capacity`` (cells a design may use), the amaranth-boards ``platform``, a
``clock(target_hz)`` chooser, the ``top`` elaboratable, the cell ``summary`` of a Yosys
report, the bitstream extension and the YoWASP ``tools``.
"""

__all__ = ["BOARDS", "board", "wire_serial_core"]

BOARDS = ("icebreaker", "ulx3s")


def board(name):
    """The ``BOARD`` dict of board ``name``."""
    import importlib
    if name not in BOARDS:
        raise ValueError(f"unknown board {name!r}; choose one of {', '.join(BOARDS)}")
    return importlib.import_module(f"boards.{name}").BOARD


def wire_serial_core(m, platform, core, uart_dir, led):
    """Connect ``core`` (a SerialAccelerator) to the board's UART 0 (``uart_dir``: the
    direction of each of its subsignals, "-" for raw ports) and toggle LED ``led`` on
    every answer."""
    from amaranth.hdl import Signal
    from amaranth.lib import io
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
