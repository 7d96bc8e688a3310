"""Folding (SIMD, PE per layer): validation, a default choice, and the analytical cycle model.

Pure Python (no Amaranth), so that planning and reports need no hardware generation.

Cycle model
-----------
A folded layer with ``SF = MW/SIMD`` and ``NF = MH/PE`` issues ``SF*NF`` cycles per
vector and cannot accept the next vector earlier (FINN's figure). The layers run
concurrently on successive inputs, so in steady state the network finishes one
inference every ``II = max(SF*NF)`` cycles: its cycles per inference.
"""

from dataclasses import dataclass

from golden.errors import ModelError

__all__ = ["LayerFolding", "divisors", "parse_folding", "check_folding", "auto_folding",
           "cycles_for_fps", "layer_cycles", "initiation_interval", "DEFAULT_CYCLES"]

# Default cycle budget per layer: FINN's choice for LFC (512 cycles/inference).
DEFAULT_CYCLES = 512


@dataclass(frozen=True)
class LayerFolding:
    simd: int
    pe: int

    def __str__(self):
        return f"{self.simd}x{self.pe}"


def divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


def parse_folding(text, n_layers):
    """Parse ``"SIMDxPE,SIMDxPE,..."`` (one entry per layer) into a list of LayerFolding;
    an entry ``auto`` gives None (chosen by :func:`auto_folding`)."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != n_layers:
        raise ModelError(f"--folding gives {len(parts)} entries for {n_layers} layers; "
                         f"write one SIMDxPE per layer, e.g. "
                         f"{','.join(['16x16'] * n_layers)}")
    out = []
    for i, part in enumerate(parts):
        if part.lower() == "auto":
            out.append(None)
            continue
        try:
            simd, pe = (int(v) for v in part.lower().split("x"))
        except ValueError:
            raise ModelError(f"--folding entry {i} is {part!r}; write SIMDxPE (e.g. 32x16) "
                             f"or auto") from None
        out.append(LayerFolding(simd, pe))
    return out


def check_folding(network, folding):
    """Raise ModelError naming the first layer whose SIMD/PE does not divide MW/MH."""
    if len(folding) != len(network.layers):
        raise ModelError(f"folding has {len(folding)} entries for {len(network.layers)} layers")
    for i, (layer, f) in enumerate(zip(network.layers, folding)):
        mw, mh = layer.in_features, layer.out_features
        if f.simd < 1 or mw % f.simd:
            raise ModelError(f"layer {i}: SIMD {f.simd} does not divide MW {mw}; "
                             f"choose one of {divisors(mw)}")
        if f.pe < 1 or mh % f.pe:
            raise ModelError(f"layer {i}: PE {f.pe} does not divide MH {mh}; "
                             f"choose one of {divisors(mh)}")
    return list(folding)


def auto_folding(network, cycles=DEFAULT_CYCLES):
    """Per layer, the fewest SIMD*PE lanes with ``SF*NF <= cycles``.

    Ties go to the most balanced pair (smallest max(SIMD, PE): narrow streams and short
    popcounts), then to the larger SIMD.
    A layer that cannot reach the budget even fully unrolled gets SIMD=MW, PE=MH.
    """
    if not isinstance(cycles, int) or cycles < 1:
        raise ModelError(f"cycle budget must be a positive integer, not {cycles!r}")
    out = []
    for layer in network.layers:
        mw, mh = layer.in_features, layer.out_features
        best = None
        for simd in divisors(mw):
            for pe in divisors(mh):
                if (mw // simd) * (mh // pe) <= cycles:
                    key = (simd * pe, max(simd, pe), -simd)
                    if best is None or key < best[0]:
                        best = (key, LayerFolding(simd, pe))
        out.append(best[1] if best else LayerFolding(mw, mh))
    return out


def layer_cycles(layer, f):
    """Issue cycles per vector of a folded layer: SF * NF."""
    return (layer.in_features // f.simd) * (layer.out_features // f.pe)


def initiation_interval(network, folding):
    """Steady-state cycles per inference: the slowest layer's SF * NF."""
    return max(layer_cycles(layer, f) for layer, f in zip(network.layers, folding))


def cycles_for_fps(fps, clock_hz):
    """The cycle budget per inference that reaches ``fps`` inferences/s at ``clock_hz``."""
    if not fps > 0:
        raise ModelError(f"--target-fps must be positive, not {fps!r}")
    cycles = int(clock_hz // fps)
    if cycles < 1:
        raise ModelError(f"{fps:g} inferences/s needs more than one inference per cycle at "
                         f"{clock_hz / 1e6:g} MHz; the fully unrolled design does one per cycle")
    return cycles
