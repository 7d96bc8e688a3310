"""Choosing a folding: the ``--folding`` syntax, cycle budgets and the automatic choice.

Every choice asks the stages (:mod:`hdl.stages`): which foldings each allows, its cycles
at one, and the graph's initiation interval. The folding value is
:class:`hdl.folding.LayerFolding`.
"""

from dataclasses import replace

from golden.errors import ModelError

from ..argmax import argmax_cycles
from ..folding import ELEMENT_STYLES, LayerFolding, bitplane_applies
from ..mvau import replay_in_registers
from ..stages import StageGraph
from .resources import element_lut4

__all__ = ["DEFAULT_CYCLES", "ELEMENT_MODES", "parse_folding", "auto_folding",
           "fastest_folding", "fastest_cycles", "folding_cost", "cycles_for_fps",
           "choose_elements"]

# Default cycle budget per layer: FINN's choice for LFC (512 cycles/inference).
DEFAULT_CYCLES = 512
# --elements: per layer the cheaper style by the resource model, or one style forced.
ELEMENT_MODES = ("auto", *ELEMENT_STYLES)


def parse_folding(text, n_layers):
    """Parse ``"SIMDxPE,SIMDxPE,..."`` (one entry per layer) into a list of LayerFolding;
    an entry ``auto`` gives None (chosen by :func:`auto_folding`). An entry may name its
    element style, ``SIMDxPE:tree`` or ``SIMDxPE:bitplane`` (without one its style is
    ``"auto"``, chosen by :func:`choose_elements`), and ``:spram`` to keep its weights in
    the iCE40 UP's SPRAMs (``SIMDxPE:spram``, ``SIMDxPE:bitplane:spram``)."""
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
        size, *suffixes = part.lower().split(":")
        try:
            simd, pe = (int(v) for v in size.split("x"))
        except ValueError:
            raise ModelError(f"--folding entry {i} is {part!r}; write SIMDxPE (e.g. 32x16), "
                             f"SIMDxPE:tree, SIMDxPE:bitplane, SIMDxPE:spram or auto") from None
        styles = [x for x in suffixes if x != "spram"]
        for style in styles:
            if style not in ELEMENT_STYLES:
                raise ModelError(f"--folding entry {i} is {part!r}: element style {style!r} "
                                 f"is not one of {', '.join(ELEMENT_STYLES)} (or ':spram' "
                                 f"for the weights)")
        if len(styles) > 1 or suffixes.count("spram") > 1:
            raise ModelError(f"--folding entry {i} is {part!r}: after SIMDxPE write at most "
                             f"one element style ({', '.join(ELEMENT_STYLES)}) and ':spram'")
        out.append(LayerFolding(simd, pe, styles[0] if styles else "auto",
                                weights="spram" if "spram" in suffixes else "rom"))
    return out


def choose_elements(network, folding, mode="auto"):
    """``folding`` with every ``"auto"`` element style decided: ``mode`` ``"tree"`` or
    ``"bitplane"`` forces that style (bit-plane only where the inputs are multi-bit codes;
    binary inputs keep the tree elements), ``"auto"`` takes per layer the style with fewer
    LUT4 for its SIMD and PE by the measured element costs
    (:func:`hdl.flow.resources.element_lut4`: every PE row, plus the terms the rows share).
    Styles given explicitly are kept."""
    if mode not in ELEMENT_MODES:
        raise ModelError(f"--elements must be one of {', '.join(ELEMENT_MODES)}, not {mode!r}")
    out = []
    for layer, f in zip((s.layer for s in StageGraph(network).compute), folding):
        if f.element != "auto":
            out.append(f)
            continue
        if mode == "tree" or not bitplane_applies(layer.weight_encoding, layer.input_encoding):
            style = "tree"
        elif mode == "bitplane":
            style = "bitplane"
        else:
            cost = {s: element_lut4(layer, f.simd, f.pe, s) for s in ELEMENT_STYLES}
            style = "bitplane" if cost["bitplane"] < cost["tree"] else "tree"
        out.append(replace(f, element=style))
    return out


def _fastest(stage):
    """The buildable folding of ``stage`` with the fewest cycles (fewest lanes among
    equals): fully unrolled (its largest SIMD, PE = MH) unless its weight word would
    exceed :data:`~hdl.folding.MAX_WORD_BITS`."""
    return min(stage.foldings(), key=lambda f: (stage.vector_cycles(f), f.simd * f.pe))


def fastest_folding(network):
    """Every compute stage as fast as it can be built (:func:`_fastest`)."""
    graph = StageGraph(network)
    return _same_pe_at_residual_ends(graph, [_fastest(stage) for stage in graph.compute])


def fastest_cycles(network):
    """The fewest cycles per inference any folding reaches: the initiation interval of
    :func:`fastest_folding` (a convolution's SIMD is bounded by its channels, so its
    windows set a floor; windows, pools and the input stage count too)."""
    graph = StageGraph(network)
    return graph.fold(fastest_folding(network), check=False).initiation_interval()


def _same_pe_at_residual_ends(graph, out):
    for ends in graph.residual_ends():
        pe = max(out[e].pe for e in ends)
        for e in ends:
            if out[e].pe != pe:
                # Both ends have the same MH (the add's channels), so pe divides both.
                out[e] = LayerFolding(out[e].simd, pe)
    return out


def folding_cost(layer, f):
    """A rough logic-cell cost of a layer's matrix-vector unit at folding ``f``, to rank
    foldings of the same speed: about 3 cells per lane and weight-times-input bit, 2 per
    accumulator bit, and, when ``NF > 1``, one flip-flop per bit of the input vector kept
    for replay (``SF*SIMD*x_bits``), which for a wide, narrow layer (a dense layer
    of 1600 inputs and 10 outputs) dwarfs its lanes; over
    :data:`~hdl.mvau.REPLAY_REGISTER_BITS` it is RAM and costs no cells."""
    w_bits = layer.weight_encoding.code_bits
    enc = layer.input_encoding
    x_bits = 1 if enc == "binary" else enc.bits
    mw, mh = layer.in_features, layer.out_features
    acc_bits = (mw * (1 << (w_bits + x_bits))).bit_length() + 1
    replay = mw * x_bits if mh // f.pe > 1 and replay_in_registers(mw * x_bits, f.replay) else 0
    return 3 * f.simd * f.pe * w_bits * x_bits + 2 * f.pe * acc_bits + replay


def auto_folding(network, cycles=DEFAULT_CYCLES, elements="auto"):
    """Per layer, the fewest SIMD*PE lanes with ``pixels*SF*NF <= budget``, where the
    budget is ``cycles`` raised to :func:`fastest_cycles` when that is larger: no layer
    gets lanes that would only wait for the slowest stage. When that folding replays its
    input (``NF > 1``) and the cheapest folding without replay (``NF = 1``) costs less
    (:func:`folding_cost`), that one is taken instead.

    Ties go to the most balanced pair (smallest max(SIMD, PE): narrow streams and short
    popcounts), then to the larger SIMD.
    A layer that cannot reach the budget even fully unrolled gets its fastest buildable
    folding (weight words within MAX_WORD_BITS).
    The two paths of a residual block end at one PE (the add takes both lane by lane):
    the larger of the two choices. Element styles: :func:`choose_elements` with
    ``elements``.
    """
    if not isinstance(cycles, int) or cycles < 1:
        raise ModelError(f"cycle budget must be a positive integer, not {cycles!r}")
    cycles = max(cycles, fastest_cycles(network))
    graph = StageGraph(network)
    out = []
    for index, stage in enumerate(graph.compute):
        layer = stage.layer
        mh = layer.out_features
        best, no_replay = None, None
        for f in stage.foldings():
            # The last layer's PE also sets the argmax's scan.
            if stage.vector_cycles(f) <= cycles and (
                    index < len(graph.compute) - 1 or argmax_cycles(mh, f.pe) <= cycles):
                key = (f.simd * f.pe, max(f.simd, f.pe), -f.simd)
                if best is None or key < best[0]:
                    best = (key, f)
                if f.pe == mh and (no_replay is None
                                   or folding_cost(layer, f) < folding_cost(layer, no_replay)):
                    no_replay = f
        if best is None:
            out.append(_fastest(stage))
        elif no_replay is not None and folding_cost(layer, no_replay) < folding_cost(layer, best[1]):
            out.append(no_replay)
        else:
            out.append(best[1])
    out = _same_pe_at_residual_ends(graph, out)
    return choose_elements(network, [LayerFolding(f.simd, f.pe, "auto") for f in out], elements)


def cycles_for_fps(fps, clock_hz):
    """The cycle budget per inference that reaches ``fps`` inferences/s at ``clock_hz``."""
    if not fps > 0:
        raise ModelError(f"--fps must be positive, not {fps!r}")
    if not clock_hz / fps < 2 ** 40:
        raise ModelError(f"--fps {fps:g} asks for fewer than one inference per 2**40 "
                         f"cycles; every folding is faster: give --cycles or a larger rate")
    cycles = int(clock_hz // fps)
    if cycles < 1:
        raise ModelError(f"{fps:g} inferences/s needs more than one inference per cycle at "
                         f"{clock_hz / 1e6:g} MHz; the fully unrolled design does one per cycle")
    return cycles
