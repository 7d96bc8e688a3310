"""Population count and unsigned sums as balanced adder trees.

``tree_sum([(v_i, hi_i)])`` adds unsigned values ``v_i`` known to lie in ``[0, hi_i]``;
every partial sum is kept at ``unsigned_width(sum of its bounds)`` bits, the smallest width
that cannot overflow. ``popcount(v)`` is the tree sum of the bits of ``v``. Purely
combinational (no latency).
"""

from amaranth.hdl import Const

from golden.packing import unsigned_width

__all__ = ["popcount", "tree_sum"]


def tree_sum(terms):
    """Sum of ``(expression, upper bound)`` pairs of unsigned values."""
    level = list(terms)
    if not level:
        return Const(0, 1)
    while len(level) > 1:
        nxt = []
        for k in range(0, len(level) - 1, 2):
            (a, ha), (b, hb) = level[k], level[k + 1]
            nxt.append(((a + b)[:unsigned_width(ha + hb)], ha + hb))
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0][0]


def popcount(value):
    """Return an Amaranth expression counting the 1 bits of ``value``."""
    return tree_sum([(value[i], 1) for i in range(len(value))])
