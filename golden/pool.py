"""Pooling over feature maps of codes: max-pools over windows and over the whole map
(global), and sum pools (an average pool and the quantizer after it).

Codes are monotonic in their values (bit 1 is +1 and bit 0 is -1; an integer code ``c``
has value ``c + offset``), so the maximum of the values is the value of the maximum code:
on binary maps the bitwise OR. The encoding passes through a max-pool unchanged.

An average pool followed by a quantizer is a :class:`SumPool`: the sum of the window's
codes is an affine function of the average of its values (``N`` codes: ``sum value =
scale * (sum code + N * offset)``, bipolar ``scale * (2 * sum code - N)``), so the
quantizer's levels are thresholds on the integer sum, per channel; the ``1/N`` is folded
into them.
"""

from dataclasses import dataclass

import numpy as np

from .checks import MAX_DIM, check_bool, check_int
from .errors import ModelError
from .model import BINARY, IntCodes, Thresholds, check_input, check_map, check_shape, output_encoding
from .thresholding import threshold

__all__ = ["MaxPool", "GlobalMaxPool", "SumPool", "pool_output_size"]


def pool_output_size(size, kernel, stride, ceil=False):
    """Windows along a map side of ``size``: ``floor((size - K) / S) + 1`` (PyTorch's
    default floor mode; the last ``(size - K) % S`` rows or columns are read by no window),
    or in ceil mode ``ceil((size - K) / S) + 1``, less one if the last window would start
    past the map (PyTorch's rule): a last window may then be partial."""
    if not ceil:
        return (size - kernel) // stride + 1
    out = -(-(size - kernel) // stride) + 1
    return out - 1 if (out - 1) * stride >= size else out


def _map_shape(shape, what):
    return check_shape(shape, f"{what}'s input map (H, W, C)", 3)


@dataclass(frozen=True, eq=False)
class MaxPool:
    """``y[oy, ox, c] = max_{ky, kx < K} x[oy*S + ky, ox*S + kx, c]``, no padding.

    Parameters
    ----------
    in_shape : (H, W, C)
    kernel, stride : int
        ``K <= min(H, W)`` and ``S``; ``OH = floor((H - K) / S) + 1`` (floor mode: where
        ``S`` does not tile the map, its last rows and columns are read by no window).
    ceil : bool
        PyTorch's ``ceil_mode``: ``OH`` of :func:`pool_output_size` in ceil mode; a last
        window that reaches past the map takes the maximum of the pixels it holds (the map
        is read as if padded at the bottom and right with code 0, the lowest value).
    """

    in_shape: tuple
    kernel: int
    stride: int = None
    ceil: bool = False

    def __post_init__(self):
        shape = _map_shape(self.in_shape, "max pooling")
        object.__setattr__(self, "in_shape", shape)
        stride = self.kernel if self.stride is None else self.stride
        for name, value in (("kernel", self.kernel), ("stride", stride)):
            check_int(value, f"max-pool {name}", 1, MAX_DIM)
        object.__setattr__(self, "stride", int(stride))
        h, w, _ = shape
        k = self.kernel
        if k > min(h, w):
            raise ModelError(f"a {k}x{k} max-pool does not fit the {h}x{w} map")
        object.__setattr__(self, "ceil", check_bool(self.ceil, "max-pool ceil"))

    @property
    def tiles(self):
        """Every input pixel is in exactly one window (``S = K`` dividing H and W)."""
        h, w, _ = self.in_shape
        return self.stride == self.kernel and h % self.kernel == 0 and w % self.kernel == 0

    @property
    def out_shape(self):
        h, w, c = self.in_shape
        k, s = self.kernel, self.stride
        return (pool_output_size(h, k, s, self.ceil), pool_output_size(w, k, s, self.ceil), c)

    @property
    def padded_shape(self):
        """``(H', W')``: the map with the rows and columns a partial last window reaches
        (``(OH - 1)*S + K``, at least H), read as code 0."""
        h, w, _ = self.in_shape
        oh, ow, _ = self.out_shape
        k, s = self.kernel, self.stride
        return max(h, (oh - 1) * s + k), max(w, (ow - 1) * s + k)

    def io(self, shape, encoding, where):
        """See :func:`golden.model.layer_io`: the encoding passes through."""
        check_map(self, shape, where)
        return self.out_shape, encoding

    def forward(self, x):
        x = np.asarray(x)
        oh, ow, _ = self.out_shape
        k, s = self.kernel, self.stride
        (ph, pw), (h, w) = self.padded_shape, x.shape[1:3]
        if (ph, pw) != (h, w):
            x = np.pad(x, ((0, 0), (0, ph - h), (0, pw - w), (0, 0)))
        out = None
        for ky in range(k):
            for kx in range(k):
                part = x[:, ky:ky + s * (oh - 1) + 1:s, kx:kx + s * (ow - 1) + 1:s]
                out = part if out is None else np.maximum(out, part)
        return out


@dataclass(frozen=True, eq=False)
class GlobalMaxPool:
    """``y[0, 0, c] = max_{y, x} x[y, x, c]``: one pixel of C channels per map."""

    in_shape: tuple

    def __post_init__(self):
        object.__setattr__(self, "in_shape", _map_shape(self.in_shape, "global max pooling"))

    @property
    def out_shape(self):
        return (1, 1, self.in_shape[2])

    io = MaxPool.io

    def forward(self, x):
        return np.asarray(x).max(axis=(1, 2), keepdims=True)


@dataclass(frozen=True, eq=False)
class SumPool:
    """``y[oy, ox, c] = activation_c(sum_{ky, kx < K} x[oy*S + ky, ox*S + kx, c])`` on codes:
    an average pool and the quantizer after it (see the module docstring).

    Parameters
    ----------
    in_shape : (H, W, C)
    input_encoding : ``"binary"`` or IntCodes
        The codes summed (bits count 0 or 1).
    activation : Thresholds
        Per channel, over the sum of the window's codes, in ``[0, N * top]``.
    kernel, stride : int or None
        ``K`` and ``S`` (floor mode); ``kernel=None``: the whole map (global pooling).
    """

    in_shape: tuple
    input_encoding: object
    activation: Thresholds
    kernel: int = None
    stride: int = None

    def __post_init__(self):
        shape = _map_shape(self.in_shape, "sum pooling")
        object.__setattr__(self, "in_shape", shape)
        h, w, c = shape
        if self.kernel is not None:
            stride = self.kernel if self.stride is None else self.stride
            for name, value in (("kernel", self.kernel), ("stride", stride)):
                check_int(value, f"sum-pool {name}", 1, MAX_DIM)
            if self.kernel > min(h, w):
                raise ModelError(f"a {self.kernel}x{self.kernel} sum pool does not fit the "
                                 f"{h}x{w} map")
            object.__setattr__(self, "kernel", int(self.kernel))
            object.__setattr__(self, "stride", int(stride))
        if self.input_encoding != BINARY and not isinstance(self.input_encoding, IntCodes):
            raise ModelError(f"a sum pool takes binary or integer codes, not "
                             f"{self.input_encoding!r}")
        if not isinstance(self.activation, Thresholds):
            raise ModelError("a sum pool ends in thresholds (its quantizer)")
        if self.activation.channels != c:
            raise ModelError(f"the sum pool's thresholds have {self.activation.channels} "
                             f"channels, its map {c}")

    @property
    def positions(self):
        """Codes summed per output code: ``K*K``, or ``H*W`` for global pooling."""
        h, w, _ = self.in_shape
        return h * w if self.kernel is None else self.kernel ** 2

    @property
    def sum_range(self):
        """``(0, N * top)``: the sums the thresholds see."""
        top = 1 if self.input_encoding == BINARY else self.input_encoding.top
        return 0, self.positions * top

    @property
    def out_shape(self):
        h, w, c = self.in_shape
        if self.kernel is None:
            return (1, 1, c)
        return (pool_output_size(h, self.kernel, self.stride),
                pool_output_size(w, self.kernel, self.stride), c)

    def io(self, shape, encoding, where):
        """See :func:`golden.model.layer_io`."""
        check_input(self, encoding, where)
        check_map(self, shape, where)
        return self.out_shape, output_encoding(self.activation)

    def sums(self, x):
        """The window sums ``(N, OH, OW, C)`` of maps ``x`` (N, H, W, C)."""
        x = np.asarray(x, np.int64)
        if self.kernel is None:
            return x.sum(axis=(1, 2), keepdims=True)
        oh, ow, _ = self.out_shape
        k, s = self.kernel, self.stride
        out = 0
        for ky in range(k):
            for kx in range(k):
                out = out + x[:, ky:ky + s * (oh - 1) + 1:s, kx:kx + s * (ow - 1) + 1:s]
        return out

    def forward(self, x):
        total = self.sums(x)
        flat = total.reshape(-1, total.shape[-1])
        return threshold(flat, self.activation).reshape(total.shape)
