"""Skid buffer: a two-word stream register slice whose valid and ready are flip-flops."""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .params import check_positive_int

__all__ = ["SkidBuffer"]


class SkidBuffer(wiring.Component):
    """Passes a stream through unchanged, cutting every combinational path through it.

    ``o.payload`` and ``o.valid`` are the output register; ``i.ready`` is a flip-flop
    (set while the skid register is empty). A beat offered while the output register is
    held by backpressure lands in the skid register, and moves on first when the output
    frees. So neither the upstream unit's ``valid`` nor the downstream unit's ``ready``
    passes through logic here, unlike a :class:`~amaranth.lib.fifo.SyncFIFO` of two words
    whose ``r_rdy``/``w_rdy`` are LUTs of its level, at the head of a path into the next
    unit's counters.

    Latency 1 cycle; one beat per cycle without backpressure; holds up to 2 beats.
    Costs ``2 * width`` flip-flops and a ``width``-bit 2-to-1 multiplexer.

    Members
    -------
    i : ``In(stream.Signature(width))``
    o : ``Out(stream.Signature(width))``
    """

    def __init__(self, width):
        check_positive_int("width", width)
        self.width = width
        super().__init__({"i": In(stream.Signature(width)), "o": Out(stream.Signature(width))})

    def elaborate(self, platform):
        m = Module()
        skid = Signal(self.width)
        skid_valid = Signal()
        m.d.comb += self.i.ready.eq(~skid_valid)
        with m.If(~self.o.valid | self.o.ready):
            # The output register is free this cycle: the skid word goes first.
            with m.If(skid_valid):
                m.d.sync += [self.o.payload.eq(skid), self.o.valid.eq(1), skid_valid.eq(0)]
            with m.Else():
                m.d.sync += [self.o.payload.eq(self.i.payload), self.o.valid.eq(self.i.valid)]
        with m.Elif(self.i.valid & ~skid_valid):
            m.d.sync += [skid.eq(self.i.payload), skid_valid.eq(1)]
        return m
