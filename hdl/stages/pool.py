"""Pooling stages: max-pools over windows and over the whole map."""

from golden.pool import GlobalMaxPool, MaxPool

from ..pool import LineMaxPool, WindowMax
from ..window import SlidingWindow
from .base import Stage, register

__all__ = ["MaxPoolStage", "GlobalMaxPoolStage"]


@register(MaxPool)
class MaxPoolStage(Stage):
    """A :class:`~golden.pool.MaxPool` at the incoming stream's channels per beat (the
    stage before's PE): with stride equal to its kernel a :class:`~hdl.pool.LineMaxPool`
    (one pass over the stream, no window), else a sliding window and a
    :class:`~hdl.pool.WindowMax`. ``OH*OW*K*K*C / cpb`` cycles per inference."""

    def positions(self):
        return self.layer.kernel ** 2

    def cycles(self, stream):
        oh, ow, c = self.layer.out_shape
        return [(self.name, oh * ow * self.positions() * c // stream.cpb)]

    def row_lag(self):
        return self.layer.kernel

    def build(self, builder, stream):
        self.require_stream(stream)
        layer, cpb, bits = self.layer, stream.cpb, stream.bits
        h, w, c = layer.in_shape
        if layer.kernel >= 2 and layer.stride == layer.kernel:
            return [LineMaxPool(height=h, width=w, channels=c, simd=cpb, bits=bits,
                                kernel=layer.kernel)]
        return [SlidingWindow(height=h, width=w, channels=c, simd=cpb, bits=bits,
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

    def build(self, builder, stream):
        self.require_stream(stream)
        c = self.layer.in_shape[2]
        return [WindowMax(channels=c, simd=stream.cpb, bits=stream.bits,
                          positions=self.positions())]
