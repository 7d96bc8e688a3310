"""Population count as a balanced adder tree.

``popcount(v) = sum_i v[i]``, an unsigned value of ``unsigned_width(len(v))`` bits; every
partial sum of ``n`` bits is kept at ``unsigned_width(n)`` bits, the smallest width that
cannot overflow. Purely combinational (no latency).
"""

from amaranth.hdl import Const

from golden.packing import unsigned_width

__all__ = ["popcount"]


def popcount(value):
    """Return an Amaranth expression counting the 1 bits of ``value``."""
    width = len(value)
    if width == 0:
        return Const(0, 1)
    # Each level pairs neighbouring partial sums; (expression, bits counted) tuples.
    level = [(value[i], 1) for i in range(width)]
    while len(level) > 1:
        nxt = []
        for k in range(0, len(level) - 1, 2):
            (a, na), (b, nb) = level[k], level[k + 1]
            n = na + nb
            nxt.append(((a + b)[:unsigned_width(n)], n))
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0][0]
