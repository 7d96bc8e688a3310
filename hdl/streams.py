"""Stream plumbing shared by the stages: connecting streams, FIFOs, chains of units."""

from amaranth.hdl import Module, Signal, Value
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from .params import check_positive_int
from .skid import SkidBuffer

__all__ = ["connect_streams", "StreamFifo", "Chain", "payload_width"]


def payload_width(port):
    """Bits of a stream port's payload, whatever its layout."""
    return len(Value.cast(port.payload))


def connect_streams(m, src, dst):
    """Connect two stream interfaces whose payloads have the same width (any layout)."""
    m.d.comb += [
        Value.cast(dst.payload).eq(Value.cast(src.payload)),
        dst.valid.eq(src.valid),
        src.ready.eq(dst.ready),
    ]


class StreamFifo(wiring.Component):
    """A FIFO of ``depth`` words with ``i``/``o`` stream ports whose valid and ready are
    flip-flops.

    ``depth <= 2``: a :class:`~hdl.skid.SkidBuffer` (two registers; a buffered FIFO of 2
    would keep 1 word in a memory with a 0-bit address, which Verilog writes as
    ``[-1:0]``). Deeper: a ``SyncFIFOBuffered`` of ``depth + 1`` words (block RAM when
    large) that takes a word only while it held at most ``depth - 1`` at the start of the
    previous cycle, so ``i.ready`` is a registered compare rather than a LUT chain on the
    FIFO's level; the word of reserve keeps the capacity at ``depth``. Its output goes
    through a :class:`~hdl.skid.SkidBuffer` (``out_slice``), so the FIFO's output
    register reloads on a flip-flop's ready, not on the downstream unit's ready chain.

    Latency: 1 cycle (skid buffer), else the FIFO's plus 1; one word per cycle.
    """

    def __init__(self, width, depth):
        check_positive_int("depth", depth)
        self.width, self.depth = width, depth
        self.fifo = (SkidBuffer(width) if depth <= 2
                     else SyncFIFOBuffered(width=width, depth=depth + 1))
        self.out_slice = None if depth <= 2 else SkidBuffer(width)
        super().__init__({"i": In(stream.Signature(width)), "o": Out(stream.Signature(width))})

    def parts(self):
        """The components inside: the buffer and, for a deep FIFO, its output slice."""
        return [self.fifo] + ([self.out_slice] if self.out_slice is not None else [])

    def elaborate(self, platform):
        m = Module()
        m.submodules.fifo = fifo = self.fifo
        if isinstance(fifo, SkidBuffer):
            wiring.connect(m, wiring.flipped(self.i), fifo.i)
            wiring.connect(m, fifo.o, wiring.flipped(self.o))
        else:
            # At most one word is written per cycle, so a FIFO that held <= depth - 1
            # words last cycle holds <= depth now: the (depth+1)-word FIFO has room.
            ready = Signal()
            m.d.sync += ready.eq(fifo.level <= self.depth - 1)
            m.d.comb += [fifo.w_data.eq(self.i.payload), fifo.w_en.eq(self.i.valid & ready),
                         self.i.ready.eq(ready)]
            m.submodules.out_slice = self.out_slice
            wiring.connect(m, fifo.r_stream, self.out_slice.i)
            wiring.connect(m, self.out_slice.o, wiring.flipped(self.o))
        return m


class Chain(wiring.Component):
    """Units with ``i``/``o`` streams, connected one after the other.

    ``out_pe`` and ``out_bits``: the codes per beat and bits per code of its output
    stream (set by whoever builds the chain)."""

    def __init__(self, units, out_pe=None, out_bits=None):
        self.units = list(units)
        self.out_pe, self.out_bits = out_pe, out_bits
        super().__init__({"i": In(stream.Signature(payload_width(self.units[0].i))),
                          "o": Out(stream.Signature(payload_width(self.units[-1].o)))})

    def elaborate(self, platform):
        m = Module()
        upstream = wiring.flipped(self.i)
        for index, unit in enumerate(self.units):
            m.submodules[f"u{index}_{type(unit).__name__.lower()}"] = unit
            connect_streams(m, upstream, unit.i)
            upstream = unit.o
        connect_streams(m, upstream, wiring.flipped(self.o))
        return m
