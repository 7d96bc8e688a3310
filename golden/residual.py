"""Residual block (BiNeal style): two paths over the same input, added, re-thresholded.

The ``main`` and ``skip`` paths are chains of layers (convolutions, pools) over the same
input map, each ending in a multi-threshold activation, so that each yields low-bit
integer codes (e.g. 4-bit) of the same ``(H, W, C)`` shape. The block adds their values
and thresholds the sum per channel::

    s = (c_main + offset_main) + (c_skip + offset_skip)
    y = activation(s)          (a Thresholds; one threshold gives a binary map)

The hardware adds the codes and folds the two offsets into its thresholds.
"""

from dataclasses import dataclass

import numpy as np

from .errors import ModelError
from .model import IntCodes, Thresholds, chain_io, check_input, check_map, check_shape

__all__ = ["Residual"]


@dataclass(frozen=True, eq=False)
class Residual:
    """Parameters: ``in_shape`` (H, W, C); ``main`` and ``skip``, sequences of layers;
    ``activation``, a :class:`~golden.model.Thresholds` over the summed values."""

    in_shape: tuple
    main: tuple
    skip: tuple
    activation: Thresholds

    def __post_init__(self):
        shape = check_shape(self.in_shape, "a residual block's input map (H, W, C)", 3)
        object.__setattr__(self, "in_shape", shape)
        object.__setattr__(self, "main", tuple(self.main))
        object.__setattr__(self, "skip", tuple(self.skip))
        if not self.main or not self.skip:
            raise ModelError("a residual block needs at least one layer on each path")
        ends = {}
        for name in ("main", "skip"):
            end_shape, end_enc = chain_io(getattr(self, name), shape, self.input_encoding,
                                          f"residual {name} path")
            if not isinstance(end_enc, IntCodes):
                raise ModelError(f"the residual {name} path must end in a multi-threshold "
                                 f"activation (integer codes), not {end_enc!r}")
            ends[name] = (end_shape, end_enc)
        if ends["main"][0] != ends["skip"][0]:
            raise ModelError(f"residual paths end in different shapes: main {ends['main'][0]}, "
                             f"skip {ends['skip'][0]}")
        object.__setattr__(self, "_ends", ends)
        if not isinstance(self.activation, Thresholds):
            raise ModelError("a residual block's output activation must be Thresholds")
        if self.activation.channels != ends["main"][0][-1]:
            raise ModelError(f"the residual activation has {self.activation.channels} channels, "
                             f"the paths {ends['main'][0][-1]}")

    @property
    def input_encoding(self):
        """The encoding of the block's input (that of the first layer of each path)."""
        encodings = {str(getattr(path[0], "input_encoding", None)) for path in (self.main, self.skip)}
        first = getattr(self.main[0], "input_encoding", None)
        if first is None or len(encodings) != 1:
            raise ModelError("both residual paths must start with a convolution over the same "
                             "input encoding")
        return first

    @property
    def out_shape(self):
        return self._ends["main"][0]

    def io(self, shape, encoding, where):
        """See :func:`golden.model.layer_io`."""
        check_input(self, encoding, where)
        check_map(self, shape, where)
        return self.out_shape, self.activation.next_encoding()

    @property
    def path_encodings(self):
        """``(main, skip)`` IntCodes of the two path outputs."""
        return self._ends["main"][1], self._ends["skip"][1]

    def sum_range(self):
        """``(lo, hi)`` of the summed values ``s``."""
        a, b = self.path_encodings
        return a.offset + b.offset, a.offset + a.top + b.offset + b.top

    def add(self, main_codes, skip_codes):
        """The summed values ``s`` of two code maps."""
        a, b = self.path_encodings
        return (np.asarray(main_codes, np.int64) + a.offset
                + np.asarray(skip_codes, np.int64) + b.offset)
