"""Residual block (BiNeal, Bi-Real-Net style): two paths over the same input, added,
re-thresholded.

The ``main`` and ``skip`` paths are chains of layers (convolutions, pools) over the same
input map, each ending in a multi-threshold activation, so that each yields low-bit
integer codes (e.g. 4-bit) of the same ``(H, W, C)`` shape. The skip path may be empty
(an identity shortcut): its codes are then the block's input codes. The block adds the
paths' values, each scaled by a power of two, and thresholds the sum per channel::

    v = c + offset             (integer codes; a +-1 map: v = 2c - 1)
    s = (v_main << shift_main) + (v_skip << shift_skip)
    y = activation(s)          (a Thresholds; one threshold gives a binary map)

The shifts express two quantizers whose scales differ by a power of two. The hardware
adds the shifted codes and folds the constant part into its thresholds.
"""

from dataclasses import dataclass

import numpy as np

from .errors import ModelError
from .model import (
    BINARY,
    IntCodes,
    Thresholds,
    chain_io,
    check_input,
    check_map,
    check_shape,
    value_map,
)

__all__ = ["Residual", "MAX_SHIFT"]

#: The largest power-of-two ratio (as a shift) between the two paths' scales.
MAX_SHIFT = 15


@dataclass(frozen=True, eq=False)
class Residual:
    """Parameters: ``in_shape`` (H, W, C); ``main`` and ``skip``, sequences of layers
    (``skip`` may be empty: the identity shortcut); ``activation``, a
    :class:`~golden.model.Thresholds` over the summed values; ``shifts``, the
    ``(main, skip)`` left shifts of the two paths' values (0 to :data:`MAX_SHIFT`)."""

    in_shape: tuple
    main: tuple
    skip: tuple
    activation: Thresholds
    shifts: tuple = (0, 0)

    def __post_init__(self):
        shape = check_shape(self.in_shape, "a residual block's input map (H, W, C)", 3)
        object.__setattr__(self, "in_shape", shape)
        object.__setattr__(self, "main", tuple(self.main))
        object.__setattr__(self, "skip", tuple(self.skip))
        if not self.main:
            raise ModelError("a residual block needs at least one layer on its main path")
        shifts = tuple(self.shifts) if hasattr(self.shifts, "__iter__") else ()
        if len(shifts) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                       and 0 <= v <= MAX_SHIFT for v in shifts):
            raise ModelError(f"a residual block's shifts must be two integers in "
                             f"[0, {MAX_SHIFT}], not {self.shifts!r}")
        object.__setattr__(self, "shifts", tuple(int(v) for v in shifts))
        ends = {}
        for name in ("main", "skip"):
            end_shape, end_enc = chain_io(getattr(self, name), shape, self.input_encoding,
                                          f"residual {name} path")
            identity = name == "skip" and not self.skip
            if not (isinstance(end_enc, IntCodes) or (identity and end_enc == BINARY)):
                what = ("the block's input (an identity skip path) must be integer codes or "
                        "a +-1 map" if identity else
                        f"the residual {name} path must end in a multi-threshold activation "
                        f"(integer codes)")
                raise ModelError(f"{what}, not {end_enc!r}")
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
        paths = (self.main, self.skip) if self.skip else (self.main,)
        encodings = {str(getattr(path[0], "input_encoding", None)) for path in paths}
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
        """``(main, skip)`` encodings of the two path outputs (IntCodes; an identity skip
        path's may be BINARY)."""
        return self._ends["main"][1], self._ends["skip"][1]

    def terms(self):
        """Per path ``(gain, offset, top)``: the path adds ``gain * code + offset`` for its
        codes in ``[0, top]``, the shift included."""
        out = []
        for enc, shift in zip(self.path_encodings, self.shifts):
            gain, offset, top = value_map(enc)
            out.append((gain << shift, offset * (1 << shift), top))
        return tuple(out)

    def sum_range(self):
        """``(lo, hi)`` of the summed values ``s``."""
        lo = sum(offset for _, offset, _ in self.terms())
        return lo, lo + sum(gain * top for gain, _, top in self.terms())

    def add(self, main_codes, skip_codes):
        """The summed values ``s`` of two code maps."""
        (ga, oa, _), (gb, ob, _) = self.terms()
        return (ga * np.asarray(main_codes, np.int64) + oa
                + gb * np.asarray(skip_codes, np.int64) + ob)
