"""Pooling stages: max-pools over windows and over the whole map, and sum pools."""

import numpy as np

from golden.model import BINARY
from golden.packing import AccMap
from golden.pool import GlobalMaxPool, MaxPool, SumPool

from ..pool import LineMaxPool, WindowMax, WindowSum
from ..streams import StreamFifo
from ..thresholding import Thresholding
from ..window import PadEdge, SlidingWindow
from .base import Stage, Stream, register

__all__ = ["MaxPoolStage", "GlobalMaxPoolStage", "SumPoolStage"]


@register(MaxPool)
class MaxPoolStage(Stage):
    """A :class:`~golden.pool.MaxPool` at the incoming stream's channels per beat (the
    stage before's PE): when its windows tile the map (stride equal to its kernel, which
    divides H and W) a :class:`~hdl.pool.LineMaxPool` (one pass over the stream, no
    window), else a sliding window (floor mode: it skips the rows and columns no window
    reads) and a :class:`~hdl.pool.WindowMax`; in ceil mode with partial last windows a
    :class:`~hdl.window.PadEdge` behind a FIFO of its pad beats pads the map first.
    ``OH*OW*K*K*C / cpb`` cycles per inference."""

    def positions(self):
        return self.layer.kernel ** 2

    def windowed(self):
        """Whether a sliding window feeds the pool (it then reads every input pixel, also
        those no window holds)."""
        return not (self.layer.kernel >= 2 and self.layer.tiles)

    def _padded(self):
        """The map the window reads: with partial ceil-mode windows, padded at the bottom
        and right (:class:`~hdl.window.PadEdge`)."""
        return self.layer.padded_shape

    def cycles(self, stream):
        oh, ow, c = self.layer.out_shape
        out = [(self.name, oh * ow * self.positions() * c // stream.cpb)]
        if self.windowed():
            h, w = self._padded()
            out.insert(0, (self.name + ".window.in", h * w * c // stream.cpb))
        return out

    def row_lag(self):
        return self.layer.kernel

    def build(self, builder, stream):
        self.require_stream(stream)
        layer, cpb, bits = self.layer, stream.cpb, stream.bits
        h, w, c = layer.in_shape
        if not self.windowed():
            return [LineMaxPool(height=h, width=w, channels=c, simd=cpb, bits=bits,
                                kernel=layer.kernel)]
        units = []
        if self._padded() != (h, w):
            (ph, pw), bpp = self._padded(), c // cpb
            # While the pad beats go out the map's own beats wait: a FIFO holds as many,
            # so that the stage before does not stall for them.
            pad_beats = (ph * pw - h * w) * bpp
            units += [StreamFifo(cpb * bits, pad_beats + 2),
                      PadEdge(height=h, width=w, out_height=ph, out_width=pw,
                              beats_per_pixel=bpp, beat_width=cpb * bits)]
            h, w = ph, pw
        return units + [SlidingWindow(height=h, width=w, channels=c, simd=cpb, bits=bits,
                                      kernel=layer.kernel, stride=layer.stride),
                        WindowMax(channels=c, simd=cpb, bits=bits, positions=self.positions())]


@register(GlobalMaxPool)
class GlobalMaxPoolStage(MaxPoolStage):
    """A :class:`~golden.pool.GlobalMaxPool`: a :class:`~hdl.pool.WindowMax` over the
    whole map, ``H*W*C / cpb`` cycles per inference."""

    def positions(self):
        return self.layer.in_shape[0] * self.layer.in_shape[1]

    def row_lag(self):
        return self.layer.in_shape[0]

    def windowed(self):
        return False

    def build(self, builder, stream):
        self.require_stream(stream)
        c = self.layer.in_shape[2]
        return [WindowMax(channels=c, simd=stream.cpb, bits=stream.bits,
                          positions=self.positions())]


@register(SumPool)
class SumPoolStage(Stage):
    """A :class:`~golden.pool.SumPool` (an average pool and its quantizer): a sliding
    window over the map (none for global pooling), a :class:`~hdl.pool.WindowSum` and a
    :class:`~hdl.thresholding.Thresholding` of the sums, at the incoming stream's channels
    per beat. ``OH*OW*N*C / cpb`` cycles per inference (``N`` codes per window)."""

    def cycles(self, stream):
        oh, ow, c = self.layer.out_shape
        out = [(self.name, oh * ow * self.layer.positions * c // stream.cpb)]
        if self.layer.kernel is not None:
            h, w, _ = self.layer.in_shape
            out.insert(0, (self.name + ".window.in", h * w * c // stream.cpb))
        return out

    def row_lag(self):
        layer = self.layer
        return layer.in_shape[0] if layer.kernel is None else layer.kernel

    def advance(self, stream):
        return Stream(stream.cpb, self.layer.activation.out_bits)

    def build(self, builder, stream):
        self.require_stream(stream)
        layer, cpb, bits = self.layer, stream.cpb, stream.bits
        h, w, c = layer.in_shape
        units = []
        if layer.kernel is not None:
            units.append(SlidingWindow(height=h, width=w, channels=c, simd=cpb, bits=bits,
                                       kernel=layer.kernel, stride=layer.stride))
        lo, hi = layer.sum_range
        top = 1 if layer.input_encoding == BINARY else layer.input_encoding.top
        pool = WindowSum(channels=c, simd=cpb, bits=bits, positions=layer.positions, top=top)
        acc = AccMap(lo, hi, np.zeros(c, np.int64), np.zeros(c, np.int64))
        return units + [pool, Thresholding(layer.activation, pe=cpb, acc=acc)]
