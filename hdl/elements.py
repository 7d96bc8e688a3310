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

An element builds combinational expressions (no latency); the MVAU registers them. Every
adder-tree node is sized from the proven range of the lanes below it
(:func:`hdl.popcount.tree_sum`), so nothing can overflow and no bit is wasted.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.elements import element_kind, lane_range, lut_table
from golden.model import BINARY
from golden.packing import signed_width, unsigned_width

from .params import check_positive_int
from .popcount import fit, popcount, tree_sum

__all__ = ["Element", "XnorPopcount", "SignFlip", "ZeroSkip", "ShiftAdd", "LutMultiply",
           "make_element", "DotRow"]


class Element:
    """Lane arithmetic of one PE row; see the module docstring.

    Attributes
    ----------
    w_bits, x_bits : int
        Bits of one lane's weight code and input code.
    lane_lo, lane_hi : int
        Proven range of one lane's value (:func:`golden.elements.lane_range`).
    """

    def __init__(self, w_enc, x_enc):
        self.w_enc, self.x_enc = w_enc, x_enc
        self.kind = element_kind(w_enc, x_enc)
        self.w_bits = w_enc.code_bits
        self.x_bits = 1 if x_enc == BINARY else x_enc.bits
        self.top = 1 if x_enc == BINARY else x_enc.top
        self.lane_lo, self.lane_hi = lane_range(w_enc, x_enc)

    def sum_shape(self, simd):
        lo, hi = simd * self.lane_lo, simd * self.lane_hi
        return signed(signed_width(lo, hi)) if lo < 0 else unsigned(unsigned_width(hi))

    def lanes(self, value, bits, simd):
        return [value[s * bits:(s + 1) * bits] for s in range(simd)]

    def shared(self, x, simd):
        """Terms of a beat shared by all PE rows (None for most elements)."""
        return None

    def row(self, x, w, simd, shared):
        """Sum over ``simd`` lanes of inputs ``x`` and weight codes ``w`` (flat vectors)."""
        raise NotImplementedError


class XnorPopcount(Element):
    def row(self, x, w, simd, shared):
        return popcount(~(x ^ w))


class SignFlip(Element):
    def shared(self, x, simd):
        return tree_sum([(c, self.top) for c in self.lanes(x, self.x_bits, simd)])

    def row(self, x, w, simd, shared):
        codes = self.lanes(x, self.x_bits, simd)
        kept = tree_sum([(Mux(w[s], codes[s], 0), self.top) for s in range(simd)])
        return fit((kept << 1) - shared, -simd * self.top, simd * self.top)


class ZeroSkip(Element):
    """Ternary weights, code bit 0 = non-zero, bit 1 = negative."""

    def magnitude(self, code, x):
        return x, self.top

    def row(self, x, w, simd, shared):
        ws = self.lanes(w, self.w_bits, simd)
        xs = self.lanes(x, self.x_bits, simd)
        if self.x_enc == BINARY:
            # Input bit 1 is +1: the product is +|w| exactly when x differs from the sign bit.
            one = [self.magnitude(code, Const(1, 1)) for code in ws]
            return tree_sum([(Mux(code[0] & (xb ^ code[1]), v, 0), hi)
                             for code, xb, (v, hi) in zip(ws, xs, one)])
        mags = [self.magnitude(code, c) for code, c in zip(ws, xs)]
        pos = tree_sum([(Mux(code[0] & ~code[1], v, 0), hi) for code, (v, hi) in zip(ws, mags)])
        neg = tree_sum([(Mux(code[0] & code[1], v, 0), hi) for code, (v, hi) in zip(ws, mags)])
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
        lo, hi = self.lane_lo, self.lane_hi
        shape = signed(signed_width(lo, hi)) if lo < 0 else unsigned(unsigned_width(hi))
        # Entry x_code + w_code * 2**x_bits: the index is Cat(x_code, w_code).
        self.table = [Const(int(v), shape) for row in table for v in row]

    def row(self, x, w, simd, shared):
        ws = self.lanes(w, self.w_bits, simd)
        xs = self.lanes(x, self.x_bits, simd)
        return tree_sum([(Array(self.table)[Cat(c, code)], self.lane_lo, self.lane_hi)
                         for c, code in zip(xs, ws)])


_ELEMENTS = {"xnor": XnorPopcount, "signflip": SignFlip, "zeroskip": ZeroSkip,
             "shift": ShiftAdd, "lut": LutMultiply}


def make_element(w_enc, x_enc):
    """The element for weight encoding ``w_enc`` and input encoding ``x_enc``."""
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
        shared = self.element.shared(self.x, self.simd)
        m.d.comb += self.sum.eq(self.element.row(self.x, self.w, self.simd, shared))
        return m
