"""Weight encodings: which integer values a layer's weights take and how they are stored.

Every encoding maps each weight value to an unsigned *code* of :attr:`code_bits` bits, the
form the weight memories hold (``packing.weight_words``), and names the processing
element that multiplies it (:mod:`golden.elements`, :mod:`hdl.elements`).

``BinaryWeights``  values {-1, +1}; 1 bit, 1 = +1. (BinaryNet, XNOR-Net.)
``TernaryWeights`` values {-1, 0, +1}; 2 bits: bit 0 = non-zero, bit 1 = negative.
                   (Ternary Weight Networks; the scale alpha is folded into thresholds.)
``ShiftWeights``   values {0} and {+-2**e : 0 <= e <= max_exp}; bit 0 = non-zero,
                   bit 1 = negative, bits 2.. = e (``max_exp`` = 1: {-2, -1, 0, 1, 2}).
``LutWeights``     any ``2**bits`` or fewer integer levels, code = index of the level;
                   :meth:`LutWeights.dorefa` gives DoReFa's k-bit levels
                   ``2q - (2**k - 1)``, q = 0..2**k-1 (the odd integers, scale folded out).

A per-channel power-of-two scale of the accumulator (IR-Net's integer shift ``2**s``) is
not a weight encoding but :attr:`golden.model.Dense.scale_exp`.
"""

from dataclasses import dataclass

import numpy as np

from .checks import WEIGHT_LIMIT, check_int
from .errors import ModelError

__all__ = ["BinaryWeights", "TernaryWeights", "ShiftWeights", "LutWeights", "BINARY_WEIGHTS",
           "weight_encoding"]


class _Encoding:
    kind = None

    @property
    def values(self):
        """The allowed weight values, ascending."""
        raise NotImplementedError

    @property
    def code_bits(self):
        raise NotImplementedError

    @property
    def max_abs(self):
        return max(abs(v) for v in self.values)

    def check(self, weights, what="weights"):
        weights = np.asarray(weights)
        bad = ~np.isin(weights, self.values)
        if bad.any():
            value = weights[bad].flat[0]
            raise ModelError(f"{self.kind} {what} must take values in {list(self.values)}; "
                             f"found {int(value)}")

    def encode(self, weights):
        """Codes (same shape, int64) of weight values."""
        raise NotImplementedError

    def decode(self, codes):
        """Weight values (int64) of codes; the inverse of :meth:`encode`."""
        raise NotImplementedError


def _sign_magnitude_decode(codes, exp_bits):
    codes = np.asarray(codes, np.int64)
    nz, neg, exp = codes & 1, (codes >> 1) & 1, codes >> 2
    if exp_bits == 0:
        exp = np.zeros_like(codes)
    return nz * (1 - 2 * neg) * (1 << exp)


@dataclass(frozen=True)
class BinaryWeights(_Encoding):
    kind = "binary"

    @property
    def values(self):
        return (-1, 1)

    @property
    def code_bits(self):
        return 1

    def encode(self, weights):
        return (np.asarray(weights) > 0).astype(np.int64)

    def decode(self, codes):
        return 2 * np.asarray(codes, np.int64) - 1

    def to_json(self):
        return "binary"


@dataclass(frozen=True)
class TernaryWeights(_Encoding):
    kind = "ternary"

    @property
    def values(self):
        return (-1, 0, 1)

    @property
    def code_bits(self):
        return 2

    def encode(self, weights):
        w = np.asarray(weights, np.int64)
        return (w != 0).astype(np.int64) | ((w < 0).astype(np.int64) << 1)

    def decode(self, codes):
        return _sign_magnitude_decode(codes, 0)

    def to_json(self):
        return "ternary"


@dataclass(frozen=True)
class ShiftWeights(_Encoding):
    """Sign and power-of-two magnitude; multiplying is a sign flip plus a shift."""

    max_exp: int = 1
    kind = "shift"

    def __post_init__(self):
        if (not isinstance(self.max_exp, (int, np.integer)) or isinstance(self.max_exp, bool)
                or not 0 <= self.max_exp <= 15):
            raise ModelError(f"shift weights need max_exp in [0, 15], not {self.max_exp!r}")
        object.__setattr__(self, "max_exp", int(self.max_exp))

    @property
    def exp_bits(self):
        return self.max_exp.bit_length()

    @property
    def values(self):
        mags = [1 << e for e in range(self.max_exp + 1)]
        return tuple(sorted([-m for m in mags] + [0] + mags))

    @property
    def code_bits(self):
        return 2 + self.exp_bits

    def encode(self, weights):
        w = np.asarray(weights, np.int64)
        mag = np.abs(w)
        exp = np.where(mag > 0, np.log2(np.maximum(mag, 1)).round().astype(np.int64), 0)
        return (mag > 0).astype(np.int64) | ((w < 0).astype(np.int64) << 1) | (exp << 2)

    def decode(self, codes):
        return _sign_magnitude_decode(codes, self.exp_bits)

    def to_json(self):
        return {"type": "shift", "max_exp": self.max_exp}


@dataclass(frozen=True)
class LutWeights(_Encoding):
    """``bits``-bit codes indexing ``levels``; the product with an activation is a table
    lookup (a ROM of ``len(levels) * activation codes`` entries), not a multiplier."""

    bits: int
    levels: tuple
    kind = "lut"

    def __post_init__(self):
        if (not isinstance(self.bits, (int, np.integer)) or isinstance(self.bits, bool)
                or not 1 <= self.bits <= 8):
            raise ModelError(f"lut weights need 1 to 8 code bits, not {self.bits!r}")
        levels = tuple(self.levels)
        if not levels or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                 for v in levels):
            raise ModelError(f"lut weight levels must be a non-empty list of integers, "
                             f"not {self.levels!r}")
        if len(levels) > 1 << self.bits:
            raise ModelError(f"{len(levels)} lut weight levels do not fit {self.bits}-bit codes")
        for v in levels:
            check_int(v, "a lut weight level", -WEIGHT_LIMIT, WEIGHT_LIMIT)
        if len(set(levels)) != len(levels):
            raise ModelError(f"lut weight levels must be distinct, not {list(levels)}")
        object.__setattr__(self, "bits", int(self.bits))
        object.__setattr__(self, "levels", tuple(int(v) for v in levels))

    @classmethod
    def dorefa(cls, k):
        """DoReFa-Net's k-bit weights as integers: ``2q - (2**k - 1)``, q = 0..2**k-1."""
        return cls(k, tuple(2 * q - ((1 << k) - 1) for q in range(1 << k)))

    @property
    def values(self):
        return tuple(sorted(self.levels))

    @property
    def code_bits(self):
        return self.bits

    def encode(self, weights):
        w = np.asarray(weights, np.int64)
        order = np.argsort(self.levels)
        index = np.searchsorted(np.asarray(self.levels)[order], w)
        return order[np.clip(index, 0, len(order) - 1)].astype(np.int64)

    def decode(self, codes):
        return np.asarray(self.levels, np.int64)[np.asarray(codes, np.int64)]

    def to_json(self):
        return {"type": "lut", "bits": self.bits, "levels": list(self.levels)}


BINARY_WEIGHTS = BinaryWeights()


def weight_encoding(spec):
    """An encoding from an encoding object, ``"binary"``, ``"ternary"`` or its JSON form."""
    if isinstance(spec, _Encoding):
        return spec
    if spec == "binary":
        return BINARY_WEIGHTS
    if spec == "ternary":
        return TernaryWeights()
    if isinstance(spec, dict) and spec.get("type") == "shift":
        return ShiftWeights(spec.get("max_exp"))
    if isinstance(spec, dict) and spec.get("type") == "lut":
        levels = spec.get("levels")
        if not isinstance(levels, list):
            raise ModelError(f"lut weights need a list of levels, not {levels!r}")
        return LutWeights(spec.get("bits"), tuple(levels))
    raise ModelError(f"weight encoding {spec!r} is not supported; use 'binary', 'ternary', "
                     f"{{'type': 'shift', 'max_exp': E}} or {{'type': 'lut', 'bits': k, "
                     f"'levels': [...]}}")
