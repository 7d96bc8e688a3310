"""Stream plumbing shared by the stages: connecting streams, FIFOs, chains of units."""

from amaranth.hdl import Module, Signal, Value, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .params import NO_COLLISION, check_positive_int
from .skid import SkidBuffer

__all__ = ["connect_streams", "BlockFifo", "StreamFifo", "Chain", "payload_width"]


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


class BlockFifo(wiring.Component):
    """A FIFO of at least ``depth`` words of ``width`` bits in one memory (block RAM) of
    :attr:`memory_depth` words, the power of two above ``depth``.

    Pointers count modulo ``2 * memory_depth`` (one wrap bit): no wrap compares, and the
    level is their difference. ``i.ready`` is a flip-flop, set while the level was at
    most ``memory_depth - 2`` the cycle before, so at most one word arrives unannounced
    and the memory never overfills; the capacity is ``memory_depth - 1 >= depth`` words.
    ``o.payload`` is the memory's read register, ``o.valid`` a flip-flop.

    Latency: a word is valid on ``o`` 2 cycles after it is taken; one word per cycle.
    """

    def __init__(self, width, depth):
        check_positive_int("width", width)
        check_positive_int("depth", depth)
        self.width, self.depth = width, depth
        self.memory_depth = 1 << depth.bit_length()
        super().__init__({"i": In(stream.Signature(width)), "o": Out(stream.Signature(width))})

    def elaborate(self, platform):
        m = Module()
        size = self.memory_depth
        bits = size.bit_length() - 1
        m.submodules.mem = mem = Memory(shape=unsigned(self.width), depth=size, init=[],
                                             attrs=NO_COLLISION)
        wr, rd = mem.write_port(), mem.read_port()
        wp, rp = Signal(bits + 1), Signal(bits + 1)
        room = Signal()
        put = self.i.valid & room
        m.d.comb += [self.i.ready.eq(room), wr.addr.eq(wp[:bits]), wr.data.eq(self.i.payload),
                     wr.en.eq(put)]
        m.d.sync += room.eq((wp - rp)[:bits + 1] <= size - 2)
        with m.If(put):
            m.d.sync += wp.eq(wp + 1)
        # A word written last cycle is in the memory now: the read may take it. The read
        # address equals the write address only when the FIFO is empty, and that read is
        # discarded (``o.valid`` falls).
        move = ~self.o.valid | self.o.ready
        nonempty = wp != rp
        m.d.comb += [rd.addr.eq(rp[:bits]), rd.en.eq(move), self.o.payload.eq(rd.data)]
        with m.If(move):
            m.d.sync += self.o.valid.eq(nonempty)
            with m.If(nonempty):
                m.d.sync += rp.eq(rp + 1)
        return m


class StreamFifo(wiring.Component):
    """A FIFO of ``depth`` words with ``i``/``o`` stream ports whose valid and ready are
    flip-flops.

    ``depth <= 2``: a :class:`~hdl.skid.SkidBuffer` (two registers). Deeper: a
    :class:`BlockFifo` (block RAM) whose output goes through a
    :class:`~hdl.skid.SkidBuffer` (``out_slice``), so the memory's read register reloads
    on a flip-flop's ready, not on the downstream unit's ready chain.

    Latency: 1 cycle (skid buffer), else 3; one word per cycle.
    """

    def __init__(self, width, depth):
        check_positive_int("depth", depth)
        self.width, self.depth = width, depth
        self.fifo = SkidBuffer(width) if depth <= 2 else BlockFifo(width, depth)
        self.out_slice = None if depth <= 2 else SkidBuffer(width)
        super().__init__({"i": In(stream.Signature(width)), "o": Out(stream.Signature(width))})

    def parts(self):
        """The components inside: the buffer and, for a deep FIFO, its output slice."""
        return [self.fifo] + ([self.out_slice] if self.out_slice is not None else [])

    def elaborate(self, platform):
        m = Module()
        m.submodules.fifo = fifo = self.fifo
        wiring.connect(m, wiring.flipped(self.i), fifo.i)
        if self.out_slice is None:
            wiring.connect(m, fifo.o, wiring.flipped(self.o))
        else:
            m.submodules.out_slice = self.out_slice
            wiring.connect(m, fifo.o, self.out_slice.i)
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
