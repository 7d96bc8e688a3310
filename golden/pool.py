"""Max pooling over feature maps of codes: windows, and the whole map (global).

Codes are monotonic in their values (bit 1 is +1 and bit 0 is -1; an integer code ``c``
has value ``c + offset``), so the maximum of the values is the value of the maximum code:
on binary maps the bitwise OR. The encoding passes through unchanged.
"""

from dataclasses import dataclass

import numpy as np

from .errors import ModelError
from .model import check_map, check_shape

__all__ = ["MaxPool", "GlobalMaxPool"]


def _map_shape(shape, what):
    return check_shape(shape, f"{what}'s input map (H, W, C)", 3)


@dataclass(frozen=True, eq=False)
class MaxPool:
    """``y[oy, ox, c] = max_{ky, kx < K} x[oy*S + ky, ox*S + kx, c]``, no padding.

    Parameters
    ----------
    in_shape : (H, W, C)
    kernel, stride : int
        ``K`` and ``S``; ``H - K`` and ``W - K`` must be multiples of ``S`` (every input
        pixel is read by some window, as in FINN's streaming max-pool).
    """

    in_shape: tuple
    kernel: int
    stride: int = None

    def __post_init__(self):
        shape = _map_shape(self.in_shape, "max pooling")
        object.__setattr__(self, "in_shape", shape)
        stride = self.kernel if self.stride is None else self.stride
        for name, value in (("kernel", self.kernel), ("stride", stride)):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ModelError(f"max-pool {name} must be a positive integer, not {value!r}")
        object.__setattr__(self, "stride", int(stride))
        h, w, _ = shape
        k, s = self.kernel, self.stride
        if k > min(h, w) or (h - k) % s or (w - k) % s:
            raise ModelError(f"a {k}x{k} max-pool with stride {s} does not tile the {h}x{w} "
                             f"map; choose K and S with (H - K) and (W - K) multiples of S")

    @property
    def out_shape(self):
        h, w, c = self.in_shape
        k, s = self.kernel, self.stride
        return ((h - k) // s + 1, (w - k) // s + 1, c)

    def io(self, shape, encoding, where):
        """See :func:`golden.model.layer_io`: the encoding passes through."""
        check_map(self, shape, where)
        return self.out_shape, encoding

    def forward(self, x):
        x = np.asarray(x)
        oh, ow, _ = self.out_shape
        k, s = self.kernel, self.stride
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
