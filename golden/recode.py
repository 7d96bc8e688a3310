"""Zero padding of +-1 maps: the map's bits recoded as codes of the values {-1, 0, +1}.

A convolution that pads a +-1 map with 0 (PyTorch's ``padding=1`` after a sign) reads a
value no bit holds. :class:`Recode` turns bit ``b`` into the code ``2b`` of
:data:`ZERO_PADDABLE` (value ``code - 1``: bit 0 is -1, bit 1 is +1), so that the
convolution after it pads with code 1, the value 0, and its lanes multiply the weights by
{-1, 0, +1}. The values do not change; the accumulator bound stays ``K*K*C`` times the
largest weight.
"""

from dataclasses import dataclass

import numpy as np

from .model import BINARY, IntCodes, check_input, check_map, check_shape

__all__ = ["Recode", "ZERO_PADDABLE", "ZERO_CODE"]

#: The encoding of a recoded +-1 map: 2-bit codes 0, 1, 2 of the values -1, 0, +1.
ZERO_PADDABLE = IntCodes(2, -1, 2)
#: The code of the value 0: a zero-padded convolution's ``pad_value``.
ZERO_CODE = 1


@dataclass(frozen=True, eq=False)
class Recode:
    """``y = 2 * x`` of a +-1 map ``x`` of bits (``in_shape`` (H, W, C)): codes of
    :data:`ZERO_PADDABLE`, the same values."""

    in_shape: tuple

    def __post_init__(self):
        object.__setattr__(self, "in_shape",
                           check_shape(self.in_shape, "a recoded map (H, W, C)", 3))

    input_encoding = BINARY
    output_encoding = ZERO_PADDABLE

    @property
    def out_shape(self):
        return self.in_shape

    def io(self, shape, encoding, where):
        """See :func:`golden.model.layer_io`."""
        check_input(self, encoding, where)
        check_map(self, shape, where)
        return self.out_shape, ZERO_PADDABLE

    def forward(self, x):
        """The codes ``2 * x`` of bits ``x`` (N, H, W, C)."""
        return 2 * np.asarray(x, np.int64)
