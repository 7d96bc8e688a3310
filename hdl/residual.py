"""Residual block: a stream broadcast to two paths, the lane-wise add that joins them and
the thresholds that re-quantise the sum (:class:`ResidualBlock`)."""

import numpy as np
from amaranth.hdl import Module, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden.packing import AccMap, unsigned_width

from .params import check_positive_int
from .streams import StreamFifo, connect_streams, payload_width
from .thresholding import Thresholding

__all__ = ["Broadcast", "AddStreams", "ResidualBlock", "skip_fifo_depth"]


class Broadcast(wiring.Component):
    """One stream to two: a beat is taken when both outputs can take it (no register;
    the paths' FIFOs decouple them, see :func:`skip_fifo_depth`)."""

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
    """Lane-wise shifted sum of two streams of ``PE`` unsigned codes:
    ``y[p] = (a[p] << shift_a) + (b[p] << shift_b)``.

    Output lanes are ``unsigned_width((top_a << shift_a) + (top_b << shift_b))`` bits (the
    sum's proven range), as an ``ArrayLayout`` the thresholding unit reads like
    accumulators. Latency 1 cycle; a beat leaves when both inputs have one.
    """

    def __init__(self, *, pe, bits_a, bits_b, top_a, top_b, shift_a=0, shift_b=0):
        for name, value in (("pe", pe), ("bits_a", bits_a), ("bits_b", bits_b)):
            check_positive_int(name, value)
        for name, value in (("shift_a", shift_a), ("shift_b", shift_b)):
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative int, not {value!r}")
        self.pe, self.bits_a, self.bits_b = pe, bits_a, bits_b
        self.shift_a, self.shift_b = shift_a, shift_b
        self.sum_width = unsigned_width((top_a << shift_a) + (top_b << shift_b))
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
                m.d.sync += self.o.payload[p].eq((a << self.shift_a) + (b << self.shift_b))
        return m


def skip_fifo_depth(lag, width, beats_per_pixel):
    """Depth (beats of the block's input stream) of the FIFO at the head of a residual
    block's skip path, so that the two paths cannot deadlock.

    The add needs a pixel from both paths. The skip path (1x1 or same-size convolutions)
    can emit output pixel ``(y, x)`` as soon as it has input pixel ``(y, x)``; the main
    path's output lags its input by at most ``lag`` complete rows of its ``width``-pixel
    input map (the sum of its stages' :meth:`~hdl.stages.Stage.row_lag`; a
    convolution's window emits output row ``y`` once its input rows up to
    ``y - P + K - 1`` are complete). Until the main path's first pixel, and in steady
    state, the broadcast has sent the skip path at most ``lag`` rows plus one pixel more
    than the add consumed; the FIFO holds them all, whatever the skip path's own buffers
    hold: ``(lag + 1) * width`` pixels of ``beats_per_pixel`` beats.
    """
    return (lag + 1) * width * beats_per_pixel


class ResidualBlock(wiring.Component):
    """Broadcast, the two paths (the skip path behind its FIFO, :func:`skip_fifo_depth`),
    the lane-wise add of their codes and the thresholds that re-quantise the sum.

    ``main`` and ``skip`` are :class:`~hdl.streams.Chain` s over the same input stream of
    ``in_width`` bits, ending at the same PE (an identity skip path is a width converter
    to that PE); the add shifts each path's codes by its power-of-two gain
    (:meth:`golden.residual.Residual.terms`); ``skip_depth`` is the skip path's FIFO depth
    in beats (:func:`skip_fifo_depth`), ``main_depth`` the main path's (2, unless the
    skip path lags more rows than the main one)."""

    def __init__(self, block, main, skip, in_width, skip_depth, main_depth=2):
        self.block = block
        self.main, self.skip = main, skip
        self.broadcast = Broadcast(in_width)
        self.skip_depth, self.main_depth = skip_depth, main_depth
        self.skip_fifo = StreamFifo(in_width, self.skip_depth)
        self.main_fifo = StreamFifo(in_width, self.main_depth)
        # Path p adds gain_p * code + offset_p with gain_p a power of two; the common
        # factor 2**k of the gains moves into the thresholds' accumulator map.
        (ga, oa, ta), (gb, ob, tb) = block.terms()
        sa, sb = ga.bit_length() - 1, gb.bit_length() - 1
        k = min(sa, sb)
        pe = main.out_pe
        self.add = AddStreams(pe=pe, bits_a=main.out_bits, bits_b=skip.out_bits, top_a=ta,
                              top_b=tb, shift_a=sa - k, shift_b=sb - k)
        channels = block.out_shape[-1]
        acc = AccMap(0, (ta << (sa - k)) + (tb << (sb - k)), np.full(channels, k, np.int64),
                     np.full(channels, oa + ob, np.int64))
        self.act = Thresholding(block.activation, pe=pe, acc=acc)
        # A path that ends in an activation gives the add its codes through a register
        # slice: the compare behind the threshold read and the add are one cycle apart.
        self.slices = {name: StreamFifo(payload_width(chain.o), 2)
                       for name, chain in (("main", main), ("skip", skip))
                       if isinstance(chain.units[-1], Thresholding)}
        self.out_bits = block.activation.out_bits
        self.out_pe = pe
        super().__init__({"i": In(stream.Signature(in_width)),
                          "o": Out(stream.Signature(payload_width(self.act.o)))})

    def elaborate(self, platform):
        m = Module()
        for name in ("broadcast", "skip_fifo", "main_fifo", "main", "skip", "add", "act"):
            m.submodules[name] = getattr(self, name)
        wiring.connect(m, wiring.flipped(self.i), self.broadcast.i)
        wiring.connect(m, self.broadcast.a, self.main_fifo.i)
        wiring.connect(m, self.broadcast.b, self.skip_fifo.i)
        connect_streams(m, self.main_fifo.o, self.main.i)
        connect_streams(m, self.skip_fifo.o, self.skip.i)
        for name, chain, port in (("main", self.main, self.add.a), ("skip", self.skip, self.add.b)):
            if name in self.slices:
                m.submodules[f"{name}_slice"] = self.slices[name]
                connect_streams(m, chain.o, self.slices[name].i)
                connect_streams(m, self.slices[name].o, port)
            else:
                connect_streams(m, chain.o, port)
        wiring.connect(m, self.add.o, self.act.i)
        wiring.connect(m, self.act.o, wiring.flipped(self.o))
        return m
