"""Convolution layer: a :class:`~golden.model.Dense` matrix applied to every sliding window.

Feature maps are ``(H, W, C)`` arrays of input codes (bits, or integer codes), channels
innermost: the order a stream carries them, pixel by pixel, row by row. A convolution with
a ``K x K`` kernel, stride ``S`` and ``P`` rows and columns of padding on every side reads,
for output pixel ``(oy, ox)``, the window of input pixels ``(oy*S - P + ky, ox*S - P + kx)``
for ``ky, kx`` in ``[0, K)``, flattened in ``(ky, kx, c)`` order (FINN's and BNN-PYNQ's
im2col column order), and computes the layer's dot products and activation on it exactly as
a dense layer with fan-in ``K*K*C`` does. A window position outside the map reads
``pad_value``: a *code*, so for binary inputs 0 means -1 and 1 means +1, and for integer
codes the value is ``pad_value + offset``. The output map is ``(OH, OW, OC)`` with
``OH = (H + 2P - K) // S + 1`` (the same for W).
"""

from dataclasses import dataclass

import numpy as np

from .checks import MAX_DIM, check_int
from .errors import ModelError
from .model import BINARY, Dense, check_input, check_map, check_shape, output_encoding

__all__ = ["Conv2D", "im2col", "output_size", "window_simd_choices", "window_order"]


def output_size(size, kernel, stride, pad):
    return (size + 2 * pad - kernel) // stride + 1


def window_simd_choices(kernel, channels):
    """Codes per beat a sliding window can emit: a divisor of ``C`` (channels of one
    pixel), or ``T*C`` with ``T > 1`` a divisor of ``K`` (``T`` kernel rows of one kernel
    column per beat: the taps mode of :class:`hdl.window.SlidingWindow`)."""
    channel = [d for d in range(1, channels + 1) if channels % d == 0]
    return channel + [t * channels for t in range(2, kernel + 1) if kernel % t == 0]


def window_order(kernel, channels, simd):
    """The order in which a window's codes reach the matrix-vector unit at ``simd`` codes
    per beat: ``order[i]`` is the :func:`im2col` column of the ``i``-th code.

    ``simd`` dividing ``C``: im2col's own ``(ky, kx, c)`` order (the identity). ``simd =
    T*C`` (``T`` dividing ``K``): beats in ``(ky // T, kx)`` order, code ``j*C + c`` of a
    beat the channel ``c`` of tap ``(ky + j, kx)``. The weight columns are stored in this
    order (:func:`golden.packing.layer_weight_codes`), so the dot products are the same sums.
    """
    if simd not in window_simd_choices(kernel, channels):
        raise ValueError(f"SIMD {simd} is neither a divisor of {channels} nor {channels} times "
                         f"a divisor of {kernel}")
    if simd <= channels:
        return np.arange(kernel * kernel * channels)
    t = simd // channels
    kyb, kx, j, c = np.meshgrid(np.arange(kernel // t), np.arange(kernel), np.arange(t),
                                np.arange(channels), indexing="ij")
    return (((kyb * t + j) * kernel + kx) * channels + c).reshape(-1)


def im2col(x, kernel, stride, pad, pad_value):
    """Windows ``(N, OH, OW, K*K*C)`` in ``(ky, kx, c)`` order of maps ``x`` (N, H, W, C)."""
    x = np.asarray(x)
    n, h, w, c = x.shape
    if pad:
        padded = np.full((n, h + 2 * pad, w + 2 * pad, c), pad_value, x.dtype)
        padded[:, pad:pad + h, pad:pad + w] = x
        x = padded
    oh, ow = output_size(h, kernel, stride, pad), output_size(w, kernel, stride, pad)
    cols = np.empty((n, oh, ow, kernel, kernel, c), x.dtype)
    for ky in range(kernel):
        for kx in range(kernel):
            cols[:, :, :, ky, kx] = x[:, ky:ky + stride * (oh - 1) + 1:stride,
                                      kx:kx + stride * (ow - 1) + 1:stride]
    return cols.reshape(n, oh, ow, kernel * kernel * c)


@dataclass(frozen=True, eq=False)
class Conv2D:
    """A convolution with a multiplier-free dot product and an activation.

    Parameters
    ----------
    in_shape : (H, W, C)
    dense : Dense
        The layer's arithmetic: weights ``(OC, K*K*C)`` in ``(ky, kx, c)`` column order,
        activation, weight and input encodings, scales (see :class:`~golden.model.Dense`).
    kernel, stride, pad : int
        ``K``, ``S`` and ``P`` (padding on every side).
    pad_value : int
        Input code read outside the map (0 or 1 for binary inputs).

    The Dense attributes the hardware generator reads (``in_features`` as the fan-in
    ``K*K*C``, ``out_features``, ``weights``, ``weight_codes``, encodings, ``activation``,
    ``scale_exp``) are those of :attr:`dense`.
    """

    in_shape: tuple
    dense: Dense
    kernel: int
    stride: int = 1
    pad: int = 0
    pad_value: int = 0

    def __post_init__(self):
        shape = check_shape(self.in_shape, "a convolution's input map (H, W, C)", 3)
        object.__setattr__(self, "in_shape", shape)
        for name in ("kernel", "stride"):
            value = getattr(self, name)
            check_int(value, f"convolution {name}", 1, MAX_DIM)
        check_int(self.pad, "convolution padding", 0, self.kernel - 1)
        if not isinstance(self.dense, Dense):
            raise ModelError("a convolution's arithmetic must be a Dense layer")
        h, w, c = shape
        k = self.kernel
        if self.dense.in_features != k * k * c:
            raise ModelError(f"a {k}x{k} convolution over {c} channels has fan-in {k * k * c}, "
                             f"but its weights have {self.dense.in_features} columns")
        if min(h, w) + 2 * self.pad < k:
            raise ModelError(f"a {k}x{k} kernel does not fit the {h}x{w} map "
                             f"with padding {self.pad}")
        top = 1 if self.input_encoding == BINARY else self.input_encoding.top
        check_int(self.pad_value, "the pad value (an input code)", 0, top)

    @property
    def out_shape(self):
        h, w, _ = self.in_shape
        k, s, p = self.kernel, self.stride, self.pad
        return (output_size(h, k, s, p), output_size(w, k, s, p), self.out_features)

    @property
    def pixels(self):
        """Output pixels per map (windows the sliding window generator emits)."""
        return self.out_shape[0] * self.out_shape[1]

    # The Dense view used by the packing and hardware code.
    in_features = property(lambda self: self.dense.in_features)
    out_features = property(lambda self: self.dense.out_features)
    weights = property(lambda self: self.dense.weights)
    weight_bits = property(lambda self: self.dense.weight_bits)
    weight_codes = property(lambda self: self.dense.weight_codes)
    weight_encoding = property(lambda self: self.dense.weight_encoding)
    input_encoding = property(lambda self: self.dense.input_encoding)
    activation = property(lambda self: self.dense.activation)
    scale_exp = property(lambda self: self.dense.scale_exp)

    def io(self, shape, encoding, where):
        """See :func:`golden.model.layer_io`."""
        check_input(self, encoding, where)
        check_map(self, shape, where)
        return self.out_shape, output_encoding(self.activation)

    def windows(self, x):
        """im2col windows ``(N, OH, OW, K*K*C)`` of maps ``x`` (N, H, W, C)."""
        return im2col(x, self.kernel, self.stride, self.pad, self.pad_value)

