"""Multiplier-free processing elements: the lane arithmetic the matrix-vector unit plugs in.

One element per pair of weight and input encodings (the table in :mod:`golden.elements`,
which also holds the lane ranges every width here is derived from):

* :class:`XnorPopcount` binary x binary: ``popcount(XNOR(x, w))``.
* :class:`SignFlip` binary weights x codes: ``2 * sum_{w=+1} c - sum c``; the code sum is
  shared by all PE rows of a beat.
* :class:`ZeroSkip` ternary weights: with bits, a popcount of ``nz & (x != neg)``; with codes
  ``sum_{w=+1} c - sum_{w=-1} c`` (two masked adder trees, no negation per lane).
* :class:`ShiftAdd` sign-and-power-of-two weights: as ZeroSkip, with ``1 << e`` or
  ``c << e`` in place of 1 or ``c``.
* :class:`LutMultiply` k-bit levels: each lane reads ``table[w_code, x_code]`` from a
  constant table (a ROM of ``2**(w_bits + x_bits)`` entries; at ``w_bits + x_bits <= 4``
  each product bit is one iCE40 LUT4), then a signed adder tree.
* :class:`BitPlane` any weights x k-bit input codes, the same sum by bit planes: per plane
  and weight mask an AND-popcount, then the weighted sum of the counts (see the class).

The first five are the *tree* style (multi-bit lane values summed by an adder tree); the
bit-plane style is an alternative for k-bit input codes: :func:`make_element` takes
``style="tree"`` or ``"bitplane"``. Both give the same ``acc_hw`` for every input.

An element builds combinational expressions (no latency); the MVAU registers them. Every
adder-tree node is sized from the proven range of the lanes below it
(:func:`hdl.popcount.tree_sum`), so nothing can overflow and no bit is wasted.
"""

import numpy as np
from amaranth.hdl import Array, Cat, Const, Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.elements import element_kind, lane_range, lut_table
from golden.model import BINARY
from golden.packing import unsigned_width

from .folding import ELEMENT_STYLES, bitplane_applies
from .params import check_positive_int
from .popcount import fit, popcount, range_shape, tree_sum

__all__ = ["Element", "XnorPopcount", "SignFlip", "ZeroSkip", "ShiftAdd", "LutMultiply",
           "BitPlane", "STYLES", "bitplane_applies", "weight_masks", "make_element", "DotRow"]

STYLES = ELEMENT_STYLES     # the styles :func:`make_element` builds (:mod:`hdl.folding`)


class Element:
    """Lane arithmetic of one PE row; see the module docstring.

    Attributes
    ----------
    w_bits, x_bits : int
        Bits of one lane's weight code and input code.
    lane_lo, lane_hi : int
        Proven range of one lane's value (:func:`golden.elements.lane_range`).
    style : str
        ``"tree"`` or ``"bitplane"``; ``name`` is ``kind`` or ``kind/bitplane``.
    """

    style = "tree"

    def __init__(self, w_enc, x_enc):
        self.w_enc, self.x_enc = w_enc, x_enc
        self.kind = element_kind(w_enc, x_enc)
        self.name = self.kind if self.style == "tree" else f"{self.kind}/{self.style}"
        self.w_bits = w_enc.code_bits
        self.x_bits = 1 if x_enc == BINARY else x_enc.bits
        self.top = 1 if x_enc == BINARY else x_enc.top
        self.lane_lo, self.lane_hi = lane_range(w_enc, x_enc)

    def sum_shape(self, simd):
        return range_shape(simd * self.lane_lo, simd * self.lane_hi)

    def lanes(self, value, bits, simd):
        return [value[s * bits:(s + 1) * bits] for s in range(simd)]

    def shared(self, m, x, simd):
        """Terms of a beat shared by all PE rows (None for most elements); ``m`` is the
        module the adder nodes are driven in (:func:`hdl.popcount.tree_sum`)."""
        return None

    def row(self, m, x, w, simd, shared):
        """Sum over ``simd`` lanes of inputs ``x`` and weight codes ``w`` (flat vectors)."""
        raise NotImplementedError


class XnorPopcount(Element):
    def row(self, m, x, w, simd, shared):
        return popcount(~(x ^ w))


class SignFlip(Element):
    def shared(self, m, x, simd):
        return tree_sum([(c, self.top) for c in self.lanes(x, self.x_bits, simd)], m)

    def row(self, m, x, w, simd, shared):
        codes = self.lanes(x, self.x_bits, simd)
        kept = tree_sum([(Mux(w[s], codes[s], 0), self.top) for s in range(simd)], m)
        return fit((kept << 1) - shared, -simd * self.top, simd * self.top)


class ZeroSkip(Element):
    """Ternary weights, code bit 0 = non-zero, bit 1 = negative."""

    def magnitude(self, code, x):
        return x, self.top

    def row(self, m, x, w, simd, shared):
        ws = self.lanes(w, self.w_bits, simd)
        xs = self.lanes(x, self.x_bits, simd)
        if self.x_enc == BINARY:
            # Input bit 1 is +1: the product is +|w| exactly when x differs from the sign bit.
            one = [self.magnitude(code, Const(1, 1)) for code in ws]
            return tree_sum([(Mux(code[0] & (xb ^ code[1]), v, 0), hi)
                             for code, xb, (v, hi) in zip(ws, xs, one)], m)
        mags = [self.magnitude(code, c) for code, c in zip(ws, xs)]
        pos = tree_sum([(Mux(code[0] & ~code[1], v, 0), hi) for code, (v, hi) in zip(ws, mags)],
                       m)
        neg = tree_sum([(Mux(code[0] & code[1], v, 0), hi) for code, (v, hi) in zip(ws, mags)],
                       m)
        return fit(pos - neg, simd * self.lane_lo, simd * self.lane_hi)


class ShiftAdd(ZeroSkip):
    """Weights ``+-2**e``: code bit 0 = non-zero, bit 1 = negative, bits 2.. = ``e``."""

    def magnitude(self, code, x):
        e_max = self.w_enc.max_exp
        if e_max == 0:
            return x, self.top
        hi = self.top << e_max
        return (x << code[2:])[:unsigned_width(hi)], hi


class LutMultiply(Element):
    def __init__(self, w_enc, x_enc):
        super().__init__(w_enc, x_enc)
        table = lut_table(w_enc, x_enc)
        shape = range_shape(self.lane_lo, self.lane_hi)
        # Entry x_code + w_code * 2**x_bits: the index is Cat(x_code, w_code).
        self.table = [Const(int(v), shape) for row in table for v in row]

    def row(self, m, x, w, simd, shared):
        ws = self.lanes(w, self.w_bits, simd)
        xs = self.lanes(x, self.x_bits, simd)
        return tree_sum([(Array(self.table)[Cat(c, code)], self.lane_lo, self.lane_hi)
                         for c, code in zip(xs, ws)], m)


def _weight_values(w_enc):
    """``{code: value}`` for every weight code that occurs (the encoding's values)."""
    values = [int(v) for v in w_enc.values]
    codes = [int(c) for c in w_enc.encode(np.array(values, np.int64))]
    return dict(zip(codes, values))


def weight_masks(w_enc):
    """The weight value as ``v(code) = base + sum_m coef_m * mask_m(code)``.

    Returns ``(base, masks)`` with ``masks`` a list of ``(coef, sel)``: ``sel`` an int
    ``i`` for the mask "code bit i" when ``v`` is linear in the code bits over the codes
    that occur (binary ``2*bit - 1``, DoReFa levels ``2*code - (2**k - 1)``, ternary
    ``nz - 2*neg``), else a tuple of the codes whose value is ``base + coef`` (one mask per
    distinct value other than ``base``; ``base`` is the value most codes share, ties to 0).
    The fewer masks of the two forms win; a single-bit mask costs no logic before the AND.
    """
    values = _weight_values(w_enc)
    bits = w_enc.code_bits
    codes = sorted(values)
    # Linear in the code bits: solve base + sum_i a_i * bit_i = v over the codes that occur
    # and keep the solution only if it is integral and exact on every one of them.
    rows = np.array([[1] + [c >> i & 1 for i in range(bits)] for c in codes], float)
    sol = np.linalg.lstsq(rows, np.array([values[c] for c in codes], float), rcond=None)[0]
    coef = [int(round(v)) for v in sol]
    linear = None
    if all(coef[0] + sum(coef[1 + i] * (c >> i & 1) for i in range(bits)) == values[c]
           for c in codes):
        linear = (coef[0], [(a, i) for i, a in enumerate(coef[1:]) if a != 0])
    # One mask per distinct value other than the base: the value most codes share (the
    # fewest masks remain), ties to 0 (no shared term), then to the smallest magnitude.
    distinct = sorted(set(values.values()))
    base = max(distinct, key=lambda v: (sum(1 for c in codes if values[c] == v), v == 0,
                                        -abs(v), -v))
    onehot = (base, [(v - base, tuple(c for c in codes if values[c] == v))
                     for v in distinct if v != base])
    return linear if linear is not None and len(linear[1]) <= len(onehot[1]) else onehot


class BitPlane(Element):
    """Any weights x k-bit input codes, summed by bit planes.

    With input codes ``c_s = sum_b 2**b * c_s[b]`` and the weight value written as
    ``v(w) = base + sum_m coef_m * mask_m(w)`` (:func:`weight_masks`: one mask bit per code
    bit when ``v`` is affine in the code, else one per distinct non-base value)::

        sum_s v(w_s) * c_s = sum_m coef_m * sum_b 2**b * popcount(mask_m(w) & plane_b(c))
                           + base * sum_b 2**b * popcount(plane_b(c))

    The last term depends on the inputs only and is shared by all PE rows of a beat. Each
    AND-popcount is the XNOR lane's cheap tree over single bits; the ``k * masks`` counts,
    each in ``[0, n]``, are scaled by constant shifts (no multiplier) and added by a tree
    sized from their ranges; the sum is the tree elements' ``acc_hw`` exactly (same
    value, same proven range ``[n*lane_lo, n*lane_hi]``), so nothing else changes.
    Cost: about ``k * masks`` popcount lanes per lane (binary weights x 2-bit codes: 2),
    against one multi-bit adder-tree lane for the tree style.
    """

    style = "bitplane"

    def __init__(self, w_enc, x_enc):
        if not bitplane_applies(w_enc, x_enc):
            raise ValueError("the bit-plane element needs multi-bit input codes; binary "
                             "inputs use the tree elements")
        super().__init__(w_enc, x_enc)
        self.base, self.masks = weight_masks(w_enc)

    def _planes(self, x, n):
        xs = self.lanes(x, self.x_bits, n)
        return [Cat(*[c[b] for c in xs]) for b in range(self.x_bits)]

    def _mask(self, w, n, sel):
        ws = self.lanes(w, self.w_bits, n)
        if isinstance(sel, int):
            return Cat(*[code[sel] for code in ws])
        return Cat(*[_in_set(code, sel) for code in ws])

    # The counts' weighted sums stay one merged Yosys ``$macc`` (no module given to
    # :func:`tree_sum`): kept nodes cost more on synth_ecp5 (docs: design notes).
    @staticmethod
    def _scaled(count, n, mag):
        """``mag * count`` for ``count`` in [0, n] as a tree term (shifts only)."""
        parts = [(count << k, n << k) for k in range(mag.bit_length()) if mag >> k & 1]
        return (tree_sum(parts), n * mag)

    def _terms(self, pairs, n):
        """``(positive terms, negative terms' magnitudes)`` of ``(count, coef)`` pairs."""
        pos = [self._scaled(c, n, k) for c, k in pairs if k > 0]
        neg = [self._scaled(c, n, -k) for c, k in pairs if k < 0]
        return pos, neg

    def shared(self, m, x, simd):
        if self.base == 0:
            return None
        return self._terms([(popcount(plane), self.base << b)
                            for b, plane in enumerate(self._planes(x, simd))], simd)

    def row(self, m, x, w, simd, shared):
        planes = self._planes(x, simd)
        pairs = []
        for coef, sel in self.masks:
            mask = self._mask(w, simd, sel)
            pairs += [(popcount(mask & plane), coef << b) for b, plane in enumerate(planes)]
        pos, neg = self._terms(pairs, simd)
        if shared is not None:
            pos, neg = pos + shared[0], neg + shared[1]
        # Positive and negative terms in two unsigned trees, one subtraction at the end.
        total = tree_sum(pos) - tree_sum(neg) if neg else tree_sum(pos)
        return fit(total, simd * self.lane_lo, simd * self.lane_hi)


def _in_set(code, codes):
    """One bit: ``code`` is one of ``codes``."""
    return Cat(*[code == c for c in codes]).any()


_ELEMENTS = {"xnor": XnorPopcount, "signflip": SignFlip, "zeroskip": ZeroSkip,
             "shift": ShiftAdd, "lut": LutMultiply}


def make_element(w_enc, x_enc, style="tree"):
    """The element for weight encoding ``w_enc`` and input encoding ``x_enc`` in ``style``
    (:data:`STYLES`)."""
    if style not in STYLES:
        raise ValueError(f"element style must be one of {', '.join(STYLES)}, not {style!r}")
    if style == "bitplane":
        return BitPlane(w_enc, x_enc)
    return _ELEMENTS[element_kind(w_enc, x_enc)](w_enc, x_enc)


class DotRow(wiring.Component):
    """``simd`` lanes of one element as a component: ``sum = sum_s u(x_s, w_s)``.

    Combinational (latency 0); for tests and for measuring an element's cost on its own.

    Members
    -------
    x : ``In(simd * x_bits)``, w : ``In(simd * w_bits)``
    sum : ``Out(sum_shape)``, signed when the lane range is.
    """

    def __init__(self, element, simd):
        check_positive_int("simd", simd)
        self.element, self.simd = element, simd
        super().__init__({
            "x": In(simd * element.x_bits),
            "w": In(simd * element.w_bits),
            "sum": Out(element.sum_shape(simd)),
        })

    def elaborate(self, platform):
        m = Module()
        shared = self.element.shared(m, self.x, self.simd)
        m.d.comb += self.sum.eq(self.element.row(m, self.x, self.w, self.simd, shared))
        return m
