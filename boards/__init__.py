"""Board files: I/O and clocks around :class:`hdl.serial.SerialAccelerator`, one per board.

Each module defines ``BOARD``, a dict the bitstream flow (:mod:`hdl.bitstream`) reads: the
device and its ``capacity`` (cells a design may use), the amaranth-boards ``platform``, a
``clock(target_hz)`` chooser, the ``top`` elaboratable, the cell ``summary`` of a Yosys
report, the bitstream extension and the YoWASP ``tools``.
"""

__all__ = ["BOARDS", "board"]

BOARDS = ("icebreaker", "ulx3s")


def board(name):
    """The ``BOARD`` dict of board ``name``."""
    import importlib
    if name not in BOARDS:
        raise ValueError(f"unknown board {name!r}; choose one of {', '.join(BOARDS)}")
    return importlib.import_module(f"boards.{name}").BOARD
