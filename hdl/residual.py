"""Residual block plumbing: a stream broadcast to two paths and the lane-wise add that
joins them (the re-binarising thresholds are a :class:`~hdl.thresholding.Thresholding`)."""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .params import check_positive_int

__all__ = ["Broadcast", "AddStreams"]


class Broadcast(wiring.Component):
    """One stream to two: a beat is taken when both outputs can take it (no register;
    the paths' FIFOs decouple them, see :func:`hdl.network.skip_fifo_depth`)."""

    def __init__(self, width):
        check_positive_int("width", width)
        self.width = width
        super().__init__({"i": In(stream.Signature(width)), "a": Out(stream.Signature(width)),
                          "b": Out(stream.Signature(width))})

    def elaborate(self, platform):
        m = Module()
        both = self.a.ready & self.b.ready
        m.d.comb += [
            self.a.payload.eq(self.i.payload), self.b.payload.eq(self.i.payload),
            self.a.valid.eq(self.i.valid & self.b.ready),
            self.b.valid.eq(self.i.valid & self.a.ready),
            self.i.ready.eq(both),
        ]
        return m


class AddStreams(wiring.Component):
    """Lane-wise sum of two streams of ``PE`` unsigned codes: ``y[p] = a[p] + b[p]``.

    Output lanes are ``unsigned_width(top_a + top_b)`` bits (the sum's proven range), as an
    ``ArrayLayout`` the thresholding unit reads like accumulators. Latency 1 cycle; a beat
    leaves when both inputs have one.
    """

    def __init__(self, *, pe, bits_a, bits_b, top_a, top_b):
        from amaranth.hdl import unsigned
        from amaranth.lib import data
        from golden.packing import unsigned_width
        for name, value in (("pe", pe), ("bits_a", bits_a), ("bits_b", bits_b)):
            check_positive_int(name, value)
        self.pe, self.bits_a, self.bits_b = pe, bits_a, bits_b
        self.sum_width = unsigned_width(top_a + top_b)
        super().__init__({
            "a": In(stream.Signature(pe * bits_a)),
            "b": In(stream.Signature(pe * bits_b)),
            "o": Out(stream.Signature(data.ArrayLayout(unsigned(self.sum_width), pe))),
        })

    def elaborate(self, platform):
        m = Module()
        move = ~self.o.valid | self.o.ready
        take = self.a.valid & self.b.valid & move
        m.d.comb += [self.a.ready.eq(take), self.b.ready.eq(take)]
        with m.If(move):
            m.d.sync += self.o.valid.eq(take)
        with m.If(take):
            for p in range(self.pe):
                a = self.a.payload[p * self.bits_a:(p + 1) * self.bits_a]
                b = self.b.payload[p * self.bits_b:(p + 1) * self.bits_b]
                m.d.sync += self.o.payload[p].eq(a + b)
        return m
