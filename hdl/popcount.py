"""Population count and sums as balanced adder trees sized from proven ranges.

``tree_sum(terms)`` adds values with known ranges: a term is ``(value, hi)`` for an
unsigned value in ``[0, hi]`` or ``(value, lo, hi)``. Every partial sum of terms with
ranges ``[lo_a, hi_a]`` and ``[lo_b, hi_b]`` lies in ``[lo_a + lo_b, hi_a + hi_b]`` and is
kept at the smallest width holding that range (:func:`fit`), so a tree over ``n`` lanes
of ``[u_lo, u_hi]`` ends at the smallest width holding ``[n*u_lo, n*u_hi]``: it cannot
overflow and carries no unused bit. ``popcount(v)`` is the tree sum of the bits of ``v``.
Purely combinational (no latency).
"""

from amaranth.hdl import Cat, Const, Signal, signed, unsigned

from golden.packing import signed_width, unsigned_width

__all__ = ["compressor_popcount", "fit", "popcount", "range_shape", "tree_sum"]


def range_shape(lo, hi):
    """The smallest shape holding every integer in ``[lo, hi]``: unsigned when ``lo >= 0``,
    else two's complement."""
    return unsigned(unsigned_width(hi)) if lo >= 0 else signed(signed_width(lo, hi))


def fit(value, lo, hi):
    """``value``, known to lie in ``[lo, hi]``, at the smallest width holding that range
    (unsigned when ``lo >= 0``, else two's complement)."""
    if lo >= 0:
        return value[:unsigned_width(hi)]
    return value[:signed_width(lo, hi)].as_signed()


def tree_sum(terms, m=None):
    """Sum of ``(expression, hi)`` or ``(expression, lo, hi)`` terms.

    With a module ``m``, every adder node is a kept signal (``keep`` attribute, driven in
    ``m.d.comb``), so that synthesis maps each node to its own carry-chain adder. Without
    it Yosys's ``alumacc`` merges a tree of multi-bit additions into one multi-operand
    ``$macc`` cell, built from LUT full adders, which costs more than carry-chain adders
    for multi-bit leaves. A popcount (1-bit leaves) is cheaper merged: nodes are kept only
    when a leaf has more than one bit. The tree elements' lane sums pass a module; sums of
    popcounts (the MVAU's lane groups, the bit-plane counts) do not, being cheaper merged
    on synth_ecp5. The figures are in the docs (design notes).
    """
    level = [(t[0], 0, t[1]) if len(t) == 2 else tuple(t) for t in terms]
    if not level:
        return Const(0, 1)
    if all(lo >= 0 and hi <= 1 for _, lo, hi in level):
        m = None
    while len(level) > 1:
        nxt = []
        for k in range(0, len(level) - 1, 2):
            (a, la, ha), (b, lb, hb) = level[k], level[k + 1]
            lo, hi = la + lb, ha + hb
            node = fit(a + b, lo, hi)
            if m is not None:
                kept = Signal(range_shape(lo, hi), name="tree_sum", attrs={"keep": 1})
                m.d.comb += kept.eq(node)
                node = kept
            nxt.append((node, lo, hi))
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    value, lo, hi = level[0]
    return fit(value, lo, hi)


def popcount(value):
    """Return an Amaranth expression counting the 1 bits of ``value``."""
    return tree_sum([(value[i], 1) for i in range(len(value))])


def compressor_popcount(value):
    """Population count by a carry-save (Dadda-style) compressor tree, for comparison.

    Bits of equal weight are reduced by full adders (3 bits -> sum and carry, each one
    LUT4 on iCE40) and half adders until every weight has at most two bits; one final
    carry-chain addition of the two rows gives the count. Same result as :func:`popcount`.
    """
    columns = [[value[i] for i in range(len(value))]]
    while any(len(c) > 2 for c in columns):
        nxt = [[] for _ in range(len(columns) + 1)]
        for weight, bits in enumerate(columns):
            k = 0
            while len(bits) - k >= 3:
                a, b, c = bits[k:k + 3]
                nxt[weight].append(a ^ b ^ c)
                nxt[weight + 1].append((a & b) | (a & c) | (b & c))
                k += 3
            if len(bits) - k == 2 and len(bits) > 2:
                a, b = bits[k:k + 2]
                nxt[weight].append(a ^ b)
                nxt[weight + 1].append(a & b)
                k += 2
            nxt[weight].extend(bits[k:])
        columns = [c for c in nxt]
        while columns and not columns[-1]:
            columns.pop()
    row0 = Cat(*[c[0] if len(c) > 0 else Const(0, 1) for c in columns])
    row1 = Cat(*[c[1] if len(c) > 1 else Const(0, 1) for c in columns])
    return (row0 + row1)[:unsigned_width(len(value))]
