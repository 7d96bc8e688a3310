"""Folding (SIMD, PE per layer) of the hardware: validation and the analytical cycle model.

Choosing a folding (parsing, budgets, the automatic choice) is the flow's: :mod:`hdl.flow.plan`.

Pure Python (no Amaranth), so that planning and reports need no hardware generation.

Folding entries belong to the *compute layers*: the dense and convolution layers in
build order, a residual block's main path before its skip path (:func:`compute_layers`).
Pools have no entry: they take the channels per beat of the stream that reaches them.

Cycle model
-----------
A folded layer with ``SF = MW/SIMD`` and ``NF = MH/PE`` issues ``SF*NF`` cycles per
vector and cannot accept the next vector earlier (FINN's figure); a convolution does so
for each of its ``OH*OW`` windows. Every other stage moves at most one beat per cycle:
the input (``features*bits / input beat bits`` beats), a sliding window
(``H*W*C/in_simd`` beats in, ``OH*OW*K*K*C/SIMD`` out), a pool and a residual add (their beats); the argmax
scans one score per two cycles (``2*classes + NF`` cycles per vector). The stages run
concurrently on successive inputs, so in steady state the network finishes one
inference every ``II = max`` over the stages (:func:`stage_cycles`) cycles: its cycles
per inference.
"""

from dataclasses import dataclass
from math import gcd

from golden.conv import window_simd_choices
from golden.errors import ModelError
from golden.model import BINARY

__all__ = ["LayerFolding", "divisors", "check_folding", "layer_cycles", "initiation_interval",
           "compute_layers", "simd_choices", "input_simd", "ELEMENT_STYLES", "bitplane_applies", "layer_vectors", "MAX_WORD_BITS", "word_bits", "residual_ends", "stage_cycles", "argmax_cycles"]

# Element styles (:mod:`hdl.elements`): "tree" (the element of the encodings, an adder tree
# of lane values) and "bitplane" (k-bit input codes as k bit planes).
ELEMENT_STYLES = ("tree", "bitplane")


def bitplane_applies(w_enc, x_enc):
    """Whether the bit-plane style can compute this pair: inputs are multi-bit codes."""
    return x_enc != BINARY


@dataclass(frozen=True)
class LayerFolding:
    """``simd`` lanes x ``pe`` rows of one compute layer, and the style of its lanes'
    arithmetic (:data:`ELEMENT_STYLES`: ``"tree"`` or, for multi-bit input codes,
    ``"bitplane"``; the cycles are the same). Written ``SIMDxPE`` or ``SIMDxPE:bitplane``.

    ``replay``: where the unit keeps its input vector for replay when ``NF > 1``:
    ``"auto"`` (flip-flops up to :data:`hdl.mvau.REPLAY_REGISTER_BITS`,
    else RAM) or ``"registers"`` (always flip-flops: a board build chooses it when the
    RAM would overflow the block RAMs)."""
    simd: int
    pe: int
    element: str = "tree"
    replay: str = "auto"

    def __str__(self):
        return f"{self.simd}x{self.pe}" + ("" if self.element == "tree" else f":{self.element}")


def divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


def _is_conv(layer):
    return hasattr(layer, "dense")


def compute_layers(network_or_layers):
    """The dense and convolution layers in build order (a residual block: main path, then
    skip path): the layers a folding has entries for."""
    layers = getattr(network_or_layers, "layers", network_or_layers)
    out = []
    for layer in layers:
        if hasattr(layer, "skip"):
            out += compute_layers(layer.main) + compute_layers(layer.skip)
        elif hasattr(layer, "weights"):
            out.append(layer)
    return out


def simd_choices(layer):
    """SIMD values a layer allows: divisors of MW; for a convolution divisors of C (a
    beat holds channels of one pixel) and ``T*C`` for ``T`` dividing K (a beat holds ``T``
    kernel rows of one column: :func:`golden.conv.window_order`)."""
    if _is_conv(layer):
        return window_simd_choices(layer.kernel, layer.in_shape[2])
    return divisors(layer.in_features)


def input_simd(layer, f):
    """Codes per beat of the stream *into* the network's first layer at folding ``f``: its
    SIMD, except for a convolution in taps mode (SIMD > C), whose window takes one pixel
    (C codes) per beat, and for a dense layer whose SIMD does not divide MW, which takes
    ``gcd(MW, SIMD)`` codes per beat (then gathered to SIMD with padding)."""
    if _is_conv(layer):
        return min(f.simd, layer.in_shape[2])
    return gcd(layer.in_features, f.simd)


#: Widest memory word (bits) a layer's weight memory may have: Amaranth's limit on a
#: signal's width. ``SIMD*PE*weight bits`` above it cannot be built.
MAX_WORD_BITS = 65536


def word_bits(layer, f):
    """Bits of one weight-memory word of ``layer`` at folding ``f``: ``SIMD*PE*code bits``."""
    return f.simd * f.pe * layer.weight_encoding.code_bits


def check_folding(network, folding):
    """Raise ModelError naming the first layer whose folding cannot be built: a
    convolution's SIMD must be one of :func:`simd_choices` and its PE divide MH; a dense
    layer takes any SIMD up to its input vector and any PE up to MH, padded when they do not
    divide (:mod:`golden.padding`; PE may exceed MH, as BNN-PYNQ's 16 PE for 10
    classes), except that a dense layer feeding anything but another
    dense layer (or the argmax) needs PE dividing MH; residual paths end at one PE; weight
    words fit :data:`MAX_WORD_BITS`."""
    layers = compute_layers(network)
    if len(folding) != len(layers):
        raise ModelError(f"folding has {len(folding)} entries for {len(layers)} dense and "
                         f"convolution layers")
    vectors = layer_vectors(network, folding)
    for i, (layer, f) in enumerate(zip(layers, folding)):
        mw, mh = layer.in_features, layer.out_features
        if _is_conv(layer) or not vectors[id(layer)][2]:
            if f.simd < 1 or f.simd not in simd_choices(layer):
                what = (f"C {layer.in_shape[2]} (nor is it C times a divisor of K "
                        f"{layer.kernel})" if _is_conv(layer) else f"MW {mw}")
                raise ModelError(f"layer {i}: SIMD {f.simd} does not divide {what}; "
                                 f"choose one of {simd_choices(layer)}")
            if f.pe < 1 or mh % f.pe:
                raise ModelError(f"layer {i}: PE {f.pe} does not divide MH {mh}; "
                                 f"choose one of {divisors(mh)}")
        else:
            in_vec = vectors[id(layer)][0]
            if not 1 <= f.simd <= in_vec:
                raise ModelError(f"layer {i}: SIMD {f.simd} is not in [1, {in_vec}] (the "
                                 f"layer's {in_vec} inputs)")
            if f.pe < 1 or (mh % f.pe and not vectors[id(layer)][3]):
                raise ModelError(f"layer {i}: PE {f.pe} does not divide MH {mh}; choose one of "
                                 f"{divisors(mh)} (rows are padded only where a dense layer "
                                 f"or the class decision follows)")
        if f.element not in ELEMENT_STYLES:
            raise ModelError(f"layer {i}: element style {f.element!r} is not one of "
                             f"{', '.join(ELEMENT_STYLES)}")
        if f.element == "bitplane" and not bitplane_applies(layer.weight_encoding,
                                                            layer.input_encoding):
            raise ModelError(f"layer {i}: the bit-plane element needs multi-bit input codes; "
                             f"this layer's inputs are binary (drop ':bitplane')")
        if word_bits(layer, f) > MAX_WORD_BITS:
            raise ModelError(f"layer {i}: SIMD {f.simd} x PE {f.pe} needs {word_bits(layer, f)}-bit "
                             f"weight words, more than the {MAX_WORD_BITS} bits a memory word "
                             f"can have; choose fewer lanes (SIMD*PE*weight bits <= "
                             f"{MAX_WORD_BITS})")
    for main, skip in residual_ends(network):
        if folding[main].pe != folding[skip].pe:
            raise ModelError(f"the residual paths end in layers {main} and {skip} with PE "
                             f"{folding[main].pe} and {folding[skip].pe}; the add takes both "
                             f"lane by lane, give them the same PE")
    return list(folding)


def layer_vectors(network, folding):
    """Per compute layer (keyed by ``id``): ``(in_vec, out_vec, paddable, pe_paddable)``.

    ``in_vec`` is the length of the vector that reaches a dense layer (its MW, or more
    when the dense layer before it padded its outputs), ``out_vec`` the length it emits
    (``ceil(MH/PE)*PE``). ``paddable``: a top-level dense layer (padding applies);
    ``pe_paddable``: its outputs go to another dense layer or the class decision."""
    layers = getattr(network, "layers", network)
    fold = dict(zip(map(id, compute_layers(network)), folding))
    out = {}
    vec = None
    for index, layer in enumerate(layers):
        if hasattr(layer, "weights") and not _is_conv(layer):
            f = fold[id(layer)]
            in_vec = max(vec or 0, layer.in_features)
            nxt = layers[index + 1] if index + 1 < len(layers) else None
            pe_ok = nxt is None or (hasattr(nxt, "weights") and not _is_conv(nxt))
            out_vec = -(-layer.out_features // max(f.pe, 1)) * max(f.pe, 1) if pe_ok \
                else layer.out_features
            out[id(layer)] = (in_vec, out_vec, True, pe_ok)
            vec = out_vec
        else:
            for inner in compute_layers([layer]):
                out[id(inner)] = (inner.in_features, inner.out_features, False, False)
            vec = None
    return out


def residual_ends(network):
    """Per residual block, the indices (in :func:`compute_layers` order) of the last
    compute layer of its main and of its skip path."""
    index = {id(layer): i for i, layer in enumerate(compute_layers(network))}

    def blocks(layers):
        for layer in layers:
            if hasattr(layer, "skip"):
                yield layer
                yield from blocks(layer.main)
                yield from blocks(layer.skip)

    for block in blocks(getattr(network, "layers", network)):
        yield tuple(index[id(compute_layers(path)[-1])] for path in (block.main, block.skip))


def layer_cycles(layer, f, in_vec=None):
    """Issue cycles per inference of a folded layer: ``SF * NF`` (``SF = ceil(in_vec /
    SIMD)``, ``NF = ceil(MH / PE)``, padded when they do not divide), times ``OH*OW``
    windows for a convolution; ``in_vec`` defaults to MW."""
    pixels = layer.out_shape[0] * layer.out_shape[1] if _is_conv(layer) else 1
    sf = -(-(in_vec or layer.in_features) // f.simd)
    return pixels * sf * -(-layer.out_features // f.pe)


def argmax_cycles(classes, pe):
    """Cycles per vector of the argmax (:class:`hdl.argmax.Argmax`): ``NF = ceil(classes /
    PE)`` beats, each accepted, then scanned two cycles per lane."""
    return -(-classes // pe) * (2 * pe + 1)


def stage_cycles(network, folding):
    """``[(stage name, cycles per inference)]`` of every stage of the dataflow (see the
    module docstring), in order."""
    layers = compute_layers(network)
    fold = dict(zip(map(id, layers), folding))
    vectors = layer_vectors(network, folding)
    input_bits = network.input.encoding
    bits = 1 if input_bits == "binary" else input_bits.bits
    stages = [("input", network.input.features // input_simd(layers[0], fold[id(layers[0])]))]

    def walk(chain, cpb, bits, prefix):
        for index, layer in enumerate(chain):
            name = f"{prefix}{index}.{type(layer).__name__.lower()}"
            if hasattr(layer, "skip"):
                cpb_m = walk(layer.main, cpb, bits, name + ".main.")
                walk(layer.skip, cpb, bits, name + ".skip.")
                h, w, c = layer.out_shape
                stages.append((name + ".add", h * w * c // cpb_m))
                cpb, bits = cpb_m, layer.activation.out_bits
            elif hasattr(layer, "weights"):
                f = fold[id(layer)]
                if _is_conv(layer):
                    h, w, c = layer.in_shape
                    oh, ow, _ = layer.out_shape
                    # The window takes H*W*C/in_simd beats and emits OH*OW*K*K*C/SIMD.
                    stages.append((name + ".window.in", h * w * c // input_simd(layer, f)))
                    stages.append((name + ".window", oh * ow * layer.in_features // f.simd))
                in_vec = vectors[id(layer)][0]
                if not _is_conv(layer) and in_vec % f.simd:
                    # Gathered to SIMD with padding from gcd(incoming codes per beat, SIMD).
                    step = gcd(cpb or input_simd(layer, f), f.simd)
                    stages.append((name + ".pad", in_vec // step))
                stages.append((name, layer_cycles(layer, f, in_vec)))
                cpb = f.pe
                act = layer.activation
                bits = act.out_bits if hasattr(act, "out_bits") else bits
            else:
                oh, ow, c = layer.out_shape
                k = getattr(layer, "kernel", None)
                positions = k * k if k else layer.in_shape[0] * layer.in_shape[1]
                stages.append((name, oh * ow * positions * c // cpb))
        return cpb

    walk(getattr(network, "layers", network), None, bits, "")
    if hasattr(network, "layers"):
        # The argmax scans the scores one per two cycles, a beat of PE after each other.
        classes, pe = layers[-1].out_features, fold[id(layers[-1])].pe
        stages.append(("argmax", argmax_cycles(classes, pe)))
    return stages


def initiation_interval(network, folding):
    """Steady-state cycles per inference: the slowest stage (:func:`stage_cycles`)."""
    return max(cycles for _, cycles in stage_cycles(network, folding))
