"""The folding of one compute stage: ``SIMD`` lanes x ``PE`` rows and the lanes' arithmetic.

A value only. Which foldings a stage allows and what they cost in cycles is the stage's
own answer (:mod:`hdl.stages`); choosing one for a network is the flow's
(:mod:`hdl.flow.folding`).
"""

from dataclasses import dataclass

from golden.model import BINARY

__all__ = ["LayerFolding", "ELEMENT_STYLES", "MAX_WORD_BITS", "bitplane_applies", "divisors"]

# Element styles (:mod:`hdl.elements`): "tree" (the element of the encodings, an adder tree
# of lane values) and "bitplane" (k-bit input codes as k bit planes).
ELEMENT_STYLES = ("tree", "bitplane")

#: Widest memory word (bits) a layer's weight memory may have: Amaranth's limit on a
#: signal's width. ``SIMD*PE*weight bits`` above it cannot be built.
MAX_WORD_BITS = 65536


def bitplane_applies(w_enc, x_enc):
    """Whether the bit-plane style can compute this pair: inputs are multi-bit codes."""
    return x_enc != BINARY


def divisors(n):
    """The positive divisors of ``n``, ascending."""
    return [d for d in range(1, n + 1) if n % d == 0]


@dataclass(frozen=True)
class LayerFolding:
    """``simd`` lanes x ``pe`` rows of one compute stage, and the style of its lanes'
    arithmetic (:data:`ELEMENT_STYLES`: ``"tree"`` or, for multi-bit input codes,
    ``"bitplane"``; the cycles are the same). Written ``SIMDxPE`` or ``SIMDxPE:bitplane``.

    ``replay``: where the unit keeps its input vector for replay when ``NF > 1``:
    ``"auto"`` (flip-flops up to :data:`hdl.mvau.REPLAY_REGISTER_BITS`,
    else RAM) or ``"registers"`` (always flip-flops: a board build chooses it when the
    RAM would overflow the block RAMs).

    ``weights``: ``"rom"`` (block RAM or logic, the tools' choice) or ``"spram"`` (the
    iCE40 UP's SPRAMs, filled from the board's flash after reset; written
    ``SIMDxPE:spram``)."""
    simd: int
    pe: int
    element: str = "tree"
    replay: str = "auto"
    weights: str = "rom"

    def __str__(self):
        return (f"{self.simd}x{self.pe}" + ("" if self.element == "tree" else f":{self.element}")
                + ("" if self.weights == "rom" else f":{self.weights}"))
