"""Population count and sums as balanced adder trees sized from proven ranges.

``tree_sum(terms)`` adds values with known ranges: a term is ``(value, hi)`` for an
unsigned value in ``[0, hi]`` or ``(value, lo, hi)``. Every partial sum of terms with
ranges ``[lo_a, hi_a]`` and ``[lo_b, hi_b]`` lies in ``[lo_a + lo_b, hi_a + hi_b]`` and is
kept at the smallest width holding that range (:func:`fit`), so a tree over ``n`` lanes
of ``[u_lo, u_hi]`` ends at the smallest width holding ``[n*u_lo, n*u_hi]``: it cannot
overflow and carries no unused bit. ``popcount(v)`` is the tree sum of the bits of ``v``.
Purely combinational (no latency).
"""

from amaranth.hdl import Const

from golden.packing import signed_width, unsigned_width

__all__ = ["fit", "popcount", "tree_sum"]


def fit(value, lo, hi):
    """``value``, known to lie in ``[lo, hi]``, at the smallest width holding that range
    (unsigned when ``lo >= 0``, else two's complement)."""
    if lo >= 0:
        return value[:unsigned_width(hi)]
    return value[:signed_width(lo, hi)].as_signed()


def tree_sum(terms):
    """Sum of ``(expression, hi)`` or ``(expression, lo, hi)`` terms."""
    level = [(t[0], 0, t[1]) if len(t) == 2 else tuple(t) for t in terms]
    if not level:
        return Const(0, 1)
    while len(level) > 1:
        nxt = []
        for k in range(0, len(level) - 1, 2):
            (a, la, ha), (b, lb, hb) = level[k], level[k + 1]
            nxt.append((fit(a + b, la + lb, ha + hb), la + lb, ha + hb))
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    value, lo, hi = level[0]
    return fit(value, lo, hi)


def popcount(value):
    """Return an Amaranth expression counting the 1 bits of ``value``."""
    return tree_sum([(value[i], 1) for i in range(len(value))])
