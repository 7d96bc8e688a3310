"""Convolution stage: a sliding window feeding a folded matrix-vector unit."""

from golden.conv import Conv2D, window_simd_choices
from golden.errors import ModelError

from ..dwc import WidthConverter
from ..window import SkipUnread, SlidingWindow
from .base import Stream, register
from .dense import DenseStage, build_layer

__all__ = ["ConvStage"]


@register(Conv2D)
class ConvStage(DenseStage):
    """A :class:`~golden.conv.Conv2D`: a :class:`~hdl.window.SlidingWindow` (whose row
    ring is the stage's buffer) and the matrix-vector unit of its ``K*K*C`` fan-in, run
    once per output pixel: ``OH*OW*SF*NF`` cycles. Its SIMD divides C (a beat holds
    channels of one pixel) or is ``T*C`` for ``T`` dividing K (taps mode: a beat holds
    ``T`` kernel rows of one column); its PE divides MH. The window takes ``H*W*C /
    in_simd`` beats and emits ``OH*OW*K*K*C / SIMD``."""

    takes_vector = False
    kind = "conv"

    @property
    def windows(self):
        return self.layer.out_shape[0] * self.layer.out_shape[1]

    def in_vec(self, stream):
        return self.layer.in_features

    @property
    def pads_rows(self):
        return False

    def simd_choices(self):
        return window_simd_choices(self.layer.kernel, self.layer.in_shape[2])

    def simd_what(self):
        return (f"C {self.layer.in_shape[2]} (nor is it C times a divisor of K "
                f"{self.layer.kernel})")

    def input_simd(self):
        """The window takes one pixel's channels per beat at most (taps mode: SIMD > C)."""
        return min(self.folding.simd, self.layer.in_shape[2])

    def row_lag(self):
        return self.layer.kernel - self.layer.pad

    def check(self, stream, index):
        self.check_divides(index)
        self.check_element(index)
        layer = self.layer
        if layer.stride > layer.kernel and layer.pad:
            raise ModelError(f"layer {index}: a {layer.kernel}x{layer.kernel} convolution with "
                             f"stride {layer.stride} (larger than its kernel) and padding "
                             f"{layer.pad} is not supported; pad the map beforehand or use no "
                             f"padding")

    def advance(self, stream):
        return Stream(self.folding.pe, self.out_bits(), None)

    def cycles(self, stream):
        h, w, c = self.layer.in_shape
        oh, ow, _ = self.layer.out_shape
        return [(self.name + ".window.in", h * w * c // self.input_simd()),
                (self.name + ".window", oh * ow * self.layer.in_features // self.folding.simd),
                (self.name, self.vector_cycles())]

    def build(self, builder, stream):
        f, layer = self.folding, self.layer
        mvau, act = build_layer(layer, f)
        builder.layers.append((mvau, act))
        units = []
        in_width = self.input_simd() * mvau.in_bits
        if stream.width is not None and stream.width != in_width:
            units.append(WidthConverter(stream.width, in_width))
        h, w, c = layer.in_shape
        k, stride = layer.kernel, layer.stride
        if stride > k:
            # Windows at stride K over the pixels they read (no padding: see check).
            skip = SkipUnread(height=h, width=w, beats_per_pixel=c // self.input_simd(),
                              beat_width=in_width, kernel=k, stride=stride)
            units.append(skip)
            h, w, stride = skip.out_height, skip.out_width, k
        units.append(SlidingWindow(height=h, width=w, channels=c, simd=f.simd, bits=mvau.in_bits,
                                   kernel=k, stride=stride, pad=layer.pad,
                                   pad_value=layer.pad_value))
        return units + [mvau, act]
