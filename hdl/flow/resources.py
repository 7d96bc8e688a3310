"""Memory model of a generated design on the iCE40: which memories become block RAM (EBR).

Pure Python over the component objects (no elaboration, no tools). It follows the
choices Yosys 0.70's ``memory_libmap`` was seen to make in ``synth_ice40`` logs of these
designs:

* memories with a write port (the FIFOs) go to EBR, however small;
* memories marked ``ram_style = "registers"`` (the MVAU replay buffers up to 256 bits)
  go to flip-flops; larger replay buffers are RAMs like the FIFOs' (``"ram"`` below);
* read-only memories (weights, thresholds, biases) go to EBR when their logic cost, taken
  as ``bits / 16`` (a LUT4 holds 16 bits), exceeds the cost of the EBRs they need (64
  each, from Yosys's ``brams.txt``), and to logic otherwise;
* an EBR (SB_RAM40_4K) is 256x16, 512x8, 1024x4 or 2048x2; a W x D memory takes the
  cheapest tiling ``ceil(W / width) * ceil(D / depth)`` over those shapes;
* weights a folding puts in SPRAM (``SIMDxPE:spram``) take no EBR but
  :func:`hdl.spram.spram_count` ``SB_SPRAM256KA`` cells.

A deep FIFO (:class:`hdl.streams.BlockFifo`) keeps its words in a memory of
``memory_depth`` words, the power of two above its depth.
"""

from dataclasses import dataclass
from math import lcm

from amaranth.hdl import Value

from golden.serial import frames_in_flight, payload_bytes

from ..argmax import Argmax
from ..channelwise import ChannelwiseUnit
from ..dwc import PadGather, WidthConverter
from ..elements import make_element
from ..mvau import GROUP, MatrixVectorUnit
from ..network import NetworkTop
from ..pool import LineMaxPool, WindowMax, WindowSum
from ..popcount import range_shape
from ..recode import BitsToCodes
from ..residual import AddStreams, Broadcast, ResidualBlock
from ..skid import SkidBuffer
from ..spram import spram_count
from ..streams import BlockFifo, Chain, StreamFifo
from ..thresholding import Thresholding
from ..window import PadEdge, SkipUnread, SlidingWindow

__all__ = ["Memory", "ebr_count", "memories", "ebr_estimate", "spram_estimate", "logic_estimate",
           "model_estimates",
           "silence", "walk_units"]

EBR_SHAPES = ((16, 256), (8, 512), (4, 1024), (2, 2048))
EBR_COST = 64


@dataclass
class Memory:
    name: str
    width: int
    depth: int
    kind: str        # "rom", "ram", "registers" or "spram"

    @property
    def bits(self):
        return self.width * self.depth

    @property
    def ebr(self):
        """EBRs this memory is expected to take (0: logic or flip-flops)."""
        if self.kind in ("registers", "spram") or self.depth < 2:
            return 0
        blocks = ebr_count(self.width, self.depth)
        # Yosys's memory_libmap puts a memory in logic when that costs less than its
        # block RAMs: a bit of logic costs 1/16 (ROM) or 1 (RAM) against 64 per EBR.
        if self.kind == "rom" and self.bits / 16 <= EBR_COST * blocks:
            return 0
        if self.kind == "ram" and self.bits <= EBR_COST * blocks:
            return 0
        return blocks


    @property
    def spram(self):
        """SPRAM cells this memory takes."""
        return spram_count(self.width, self.depth) if self.kind == "spram" else 0


def ebr_count(width, depth):
    """The fewest EBRs holding a ``width`` x ``depth`` memory."""
    return min(-(-width // w) * -(-depth // d) for w, d in EBR_SHAPES)


def _components(top):
    """Every component object of a network (or of a chain or residual block): the
    containers first, then their parts, in stream order; a FIFO wrapper and then its
    :class:`~hdl.streams.BlockFifo` (and its output slice)."""
    yield top
    for unit in getattr(top, "units", []):
        if isinstance(unit, StreamFifo):
            yield unit
            yield from unit.parts()
        elif isinstance(unit, Chain):
            yield from _components(unit)
        elif isinstance(unit, ResidualBlock):
            yield unit
            yield unit.broadcast
            for fifo in (unit.main_fifo, unit.skip_fifo, *unit.slices.values()):
                yield fifo
                yield from fifo.parts()
            yield from _components(unit.main)
            yield from _components(unit.skip)
            yield unit.add
            yield unit.act
        else:
            yield unit
    if hasattr(top, "argmax"):
        yield top.argmax


def walk_units(top):
    """Every leaf unit of a :class:`hdl.network.NetworkTop` (or of a chain or residual
    block), in stream order; FIFOs as their :class:`~hdl.streams.BlockFifo`."""
    containers = (Chain, NetworkTop, ResidualBlock, StreamFifo)
    for obj in _components(top):
        if not isinstance(obj, containers):
            yield obj


def silence(top):
    """Mark a network built only to be inspected, so Amaranth does not warn that it was
    never elaborated."""
    for obj in _components(top):
        obj._MustUse__silence = True
        if getattr(obj, "spram", None) is not None:
            obj.spram._MustUse__silence = True


def memories(top, image_buffer=None):
    """The memories of a :class:`hdl.network.NetworkTop` (and of the serial accelerator's
    frame buffer, given as ``(width, depth)``)."""
    out = []
    if image_buffer:
        width, depth = image_buffer
        out.append(Memory("image_buffer", width, depth, "ram"))
    count = {}
    for unit in walk_units(top):
        kind = type(unit).__name__
        index = count[kind] = count.get(kind, -1) + 1
        if isinstance(unit, BlockFifo):
            out.append(Memory(f"fifo{index}", unit.width, unit.memory_depth, "ram"))
        elif isinstance(unit, SlidingWindow):
            out += [Memory(f"window{index}" + (f".row{row}" if len(unit.memories) > 1 else ""),
                           width, depth, "ram")
                    for row, (width, depth) in enumerate(unit.memories)]
        elif isinstance(unit, LineMaxPool):
            (width, depth), = unit.memories
            out.append(Memory(f"linepool{index}.line", width, depth, "ram"))
        elif isinstance(unit, MatrixVectorUnit):
            out.append(Memory(f"mvau{index}.weights", unit.pe * unit.simd * unit.w_bits,
                              unit.sf * unit.nf, "rom" if unit.spram is None else "spram"))
            if unit.nf > 1:
                out.append(Memory(f"mvau{index}.inputs", unit.simd * unit.in_bits, unit.sf,
                                  "registers" if unit.replay_in_registers else "ram"))
        elif isinstance(unit, ChannelwiseUnit):
            out.append(Memory(f"act{index}.params", unit.param_width * unit.pe, unit.nf, "rom"))
    return out


def ebr_estimate(top, image_buffer=None):
    """Total EBRs expected for the design (see the module docstring)."""
    return sum(m.ebr for m in memories(top, image_buffer))


def spram_estimate(top):
    """SPRAM cells of the design: exact, from its SPRAM units' shapes."""
    return sum(m.spram for m in memories(top))


# --- Logic (LUT4 and flip-flop) model -------------------------------------------------
#
# Flip-flops are counted from the registers the generators declare (exact up to what
# Yosys trims: constant or duplicate bits). LUT4s are a linear model over structural
# features, its coefficients fitted by least squares to synth_ice40 results of single
# units (``python -m benchmarks.ice40_resources --fit``, Yosys 0.70); the error on whole
# designs is reported by the same benchmark.

def _bits(n):
    """Flip-flops of an Amaranth ``Signal(range(n))`` counter."""
    return max(0, (n - 1).bit_length())


def _rom_in_logic(width, depth):
    return Memory("", width, depth, "rom").ebr == 0 and depth > 1


def _rom_luts(width, depth):
    """LUT4s of a ``width`` x ``depth`` ROM in logic: per output bit one LUT4 per 16 words
    and a tree of 2:1 multiplexers joining them."""
    blocks = -(-depth // 16)
    return width * (2 * blocks - 1)


def _element_points(table, element):
    """``(points, scale)``: the measured ``{n: LUT4}`` of ``element`` in ``table`` (keyed by
    ``(name, w_bits, x_bits)``), or, if not measured, of the measured element of the same
    name with the closest operand widths, scaled by the operand bits per lane."""
    key = (element.name, element.w_bits, element.x_bits)
    if key in table:
        return table[key], 1.0
    near = min((k for k in table if k[0] == element.name),
               key=lambda k: abs(k[1] + k[2] - element.w_bits - element.x_bits),
               default=("lut", 2, 2))
    return table[near], (element.w_bits + element.x_bits) / (near[1] + near[2])


def _interpolate(points, n):
    points = sorted(points.items())
    lo = max((p for p in points if p[0] <= n), default=points[0])
    hi = min((p for p in points if p[0] >= n), default=None)
    if hi is None:
        lo, hi = points[-2], points[-1]
    if hi[0] == lo[0]:
        return lo[1]
    return lo[1] + (hi[1] - lo[1]) * (n - lo[0]) / (hi[0] - lo[0])


def element_row_lut4(element, n):
    """LUT4s of one PE row of ``n`` lanes of ``element`` with its registered sum, the
    terms shared by the rows included (:data:`ELEMENT_ROWS`, interpolated)."""
    points, scale = _element_points(ELEMENT_ROWS, element)
    return scale * _interpolate(points, n)


def element_shared_lut4(element, n):
    """LUT4s of the terms all PE rows of a beat share (:data:`ELEMENT_SHARED`; 0 for
    elements that share none)."""
    if not any(k[0] == element.name for k in ELEMENT_SHARED):
        return 0.0
    points, scale = _element_points(ELEMENT_SHARED, element)
    return max(0.0, scale * _interpolate(points, n))


def element_lut4(layer, simd, pe, style):
    """LUT4 of a layer's lanes at ``simd`` x ``pe`` in element ``style``: per group of at
    most GROUP lanes (as the MVAU sums them), ``pe`` rows without their shared terms plus
    the shared terms once. What :func:`hdl.flow.folding.choose_elements` compares."""
    element = make_element(layer.weight_encoding, layer.input_encoding, style)
    total = 0.0
    for g in range(0, simd, GROUP):
        n = min(GROUP, simd - g)
        shared = element_shared_lut4(element, n)
        total += pe * (element_row_lut4(element, n) - shared) + shared
    return total


def mvau_features(mvau):
    """LUT4 and flip-flop features of a :class:`hdl.mvau.MatrixVectorUnit`."""
    e, simd, pe = mvau.element, mvau.simd, mvau.pe
    groups = [min(mvau.group, simd - g) for g in range(0, simd, mvau.group)]
    row_w = mvau.row_shape.width
    w_bits, w_depth = pe * simd * mvau.w_bits, mvau.sf * mvau.nf
    rom = mvau.spram is None and _rom_in_logic(w_bits, w_depth)
    # Only a replay buffer in flip-flops costs logic (a larger one is block RAM).
    in_ffs = mvau.nf > 1 and mvau.replay_in_registers
    replay = mvau.replay_bits if in_ffs else 0
    control = _bits(mvau.sf) + _bits(mvau.nf) + _bits(w_depth)
    # Stage 1 and 1b (the input word twice, their tags), the delayed weight address and
    # the counters' end flags.
    registers = (control + 4 + 2 * simd * mvau.in_bits + 3 + _bits(w_depth) + 6 + replay
                 + (w_bits if rom else 0)
                 + sum(3 + pe * sum(range_shape(lo, hi).width for lo, hi in ranges)
                       for ranges in mvau.reduction_levels())
                 + 3 + pe * row_w + pe * mvau.acc_width + 1)
    return {
        "rows": pe * sum(element_row_lut4(e, n) for n in groups),
        "acc": pe * (mvau.acc_width + (row_w if len(groups) > 1 else 0)),
        "replay": replay,
        "replay_words": mvau.sf if in_ffs else 0,
        "replay_mux": simd * mvau.in_bits if in_ffs else 0,
        "rom": _rom_luts(w_bits, w_depth) if rom else 0,
        "control": control,
        "spram": 1 if mvau.spram is not None else 0,
        "const": 1,
    }, {"registers": registers + (_bits(w_depth) + _bits(mvau.spram.lanes) + 1
                                  if mvau.spram is not None else 0)}


def act_features(act):
    """Features of an activation unit (:class:`~hdl.channelwise.ChannelwiseUnit`)."""
    in_w = len(act.i.payload.as_value()) // act.pe
    out_w = len(act.o.payload.as_value()) // act.pe
    rom = _rom_in_logic(act.param_width * act.pe, act.nf)
    thresholds = isinstance(act, Thresholding)
    luts = _rom_luts(act.param_width * act.pe, act.nf) if rom else 0
    return {
        "compare": act.pe * act.count * act.t_width if thresholds else 0,
        "add": 0 if thresholds else act.pe * out_w,
        # Yosys folds a few-word parameter ROM into the comparators; deeper ones cost.
        "rom": luts if act.nf >= 8 else 0,
        "rom_shallow": luts if act.nf < 8 else 0,
        "counts": act.pe * act.count if thresholds and act.count > 1 else 0,
        "control": _bits(act.nf),
        "const": 1,
    }, {"registers": (1 + act.pe * out_w if act.nf == 1   # constants: no input register
                      else _bits(act.nf) + 2 + act.pe * (in_w + out_w)
                      + (act.param_width * act.pe if rom else 0))}


def fifo_features(fifo):
    """Features of a :class:`hdl.streams.BlockFifo` (memory in EBR)."""
    features = {"control": _bits(fifo.memory_depth), "width": fifo.width, "const": 1}
    return features, dict(features)


def slice_features(fifo):
    """Features of a :class:`hdl.skid.SkidBuffer` (a register slice of two words in
    flip-flops)."""
    features = {"width": fifo.width, "const": 1}
    return features, dict(features)


def dwc_features(dwc):
    """Features of a :class:`hdl.dwc.WidthConverter` (and of a
    :class:`hdl.dwc.PadGather`, a gather with padding: not fitted separately)."""
    if hasattr(dwc, "out_lanes"):
        a, b = dwc.in_lanes * dwc.bits, dwc.out_lanes * dwc.bits
    else:
        a, b = dwc.in_width, dwc.out_width
    # Widths that do not divide each other meet in an lcm(a, b)-bit register.
    wide = lcm(a, b)
    features = {"wide": wide if a != b else 0, "control": _bits(wide // min(a, b) + 1),
                "const": int(a != b)}
    return features, dict(features)


def argmax_features(argmax):
    """Features of a :class:`hdl.argmax.Argmax`."""
    return ({"compare": argmax.pe * argmax.width, "scores": argmax.classes * argmax.width,
             "const": 1},
            {"scores": argmax.classes * argmax.width, "best": argmax.width + argmax.label_width,
             "const": 1})


def window_features(window):
    """Features of a :class:`hdl.window.SlidingWindow` (its ring in EBR)."""
    counters = sum(_bits(n) for n in (window.out_height, window.out_width, window.kernel,
                                      window.kernel, window.cf, window.height + 1))
    # Ring addresses count slots (rows) when rows sit a power of two apart, else words.
    address = 5 * _bits(window.rows if window.slotted else window.rows * window.width * window.cf)
    # Taps mode: each of the T lanes picks its row from the R row memories.
    width = window.simd * window.bits * (1 if window.taps == 1 else window.rows)
    features = {"width": width, "control": counters + address, "const": 1}
    return features, dict(features)


def pool_features(pool):
    """Features of a :class:`hdl.pool.WindowMax`."""
    width = pool.simd * pool.bits
    return ({"compare": width if pool.bits == 1 else 3 * width, "ring": pool.channels * pool.bits,
             "control": _bits(pool.cf) + _bits(pool.positions), "const": 1},
            {"ring": pool.channels * pool.bits, "width": width,
             "control": _bits(pool.cf) + _bits(pool.positions), "const": 1})


def sum_pool_features(pool):
    """Features of a :class:`hdl.pool.WindowSum`, in the window max's terms (not fitted
    separately): an adder bit per compared bit."""
    width = pool.simd * pool.sum_width
    control = _bits(pool.cf) + _bits(pool.positions)
    return ({"compare": width, "ring": pool.channels * pool.sum_width, "control": control,
             "const": 1},
            {"ring": pool.channels * pool.sum_width, "width": width, "control": control,
             "const": 1})


def line_pool_features(pool):
    """Features of a :class:`hdl.pool.LineMaxPool` (its line in EBR)."""
    width = pool.simd * pool.bits
    control = _bits(pool.cf) + 2 * _bits(pool.kernel) + _bits(pool.line_words)
    return ({"compare": 2 * width if pool.bits == 1 else 6 * width, "width": width,
             "control": control, "const": 1},
            {"ring": pool.channels * pool.bits, "width": width, "control": control,
             "const": 1})


def add_features(add):
    """Features of a :class:`hdl.residual.AddStreams`."""
    return ({"add": add.pe * add.sum_width, "const": 1},
            {"registers": add.pe * add.sum_width + 1})


def map_counter_features(unit):
    """Features of a unit that counts its way over a map stream and passes or inserts beats
    (:class:`hdl.window.SkipUnread`, :class:`hdl.window.PadEdge`): its counters and
    compares, not fitted separately (costed as a width converter's control)."""
    return {"wide": 0, "const": 1}, {"wide": 0, "const": 1}


def wiring_features(unit):
    """A unit that is wiring only (:class:`hdl.recode.BitsToCodes`): no cells."""
    return {}, {}


def broadcast_features(broadcast):
    return {"const": 1}, {}


def _model_of(unit):
    """``(kind, features function)`` of a generated unit (:data:`UNIT_MODELS`)."""
    for cls, (kind, func) in UNIT_MODELS.items():
        if isinstance(unit, cls):
            return kind, func
    raise TypeError(f"no resource model for {type(unit).__name__}")


def unit_features(unit):
    """``(lut4 features, ff features)`` of one generated unit (see the fitted tables)."""
    return _model_of(unit)[1](unit)


def unit_kind(unit):
    """The unit's kind: its key in :data:`LUT4_MODEL` and :data:`FF_MODEL`."""
    return _model_of(unit)[0]


def unit_logic(unit):
    """Estimated ``{"lut4", "ff"}`` of one unit."""
    kind, features = _model_of(unit)
    lut_f, ff_f = features(unit)
    return {"lut4": _dot(LUT4_MODEL[kind], lut_f), "ff": _dot(FF_MODEL[kind], ff_f)}


def harness_ff(unit):
    """Flip-flops of the benchmark harness that registers a unit's stream inputs."""
    i = unit.i if hasattr(unit, "i") else unit.w_stream
    return len(Value.cast(i.payload)) + 2


def logic_estimate(top):
    """Estimated ``{"lut4", "ff"}`` (integers) of a :class:`hdl.network.NetworkTop`."""
    total = {"lut4": 0.0, "ff": 0.0}
    for unit in walk_units(top):
        for k, v in unit_logic(unit).items():
            total[k] += v
    return {k: round(v) for k, v in total.items()}


def _dot(coefficients, features):
    return sum(coefficients.get(k, 0) * v for k, v in features.items())


#: Unit class -> (kind, features function): the kind keys :data:`LUT4_MODEL` and
#: :data:`FF_MODEL`. A unit class with no entry has no resource model.
UNIT_MODELS = {
    MatrixVectorUnit: ("mvau", mvau_features),
    ChannelwiseUnit: ("act", act_features),
    BlockFifo: ("fifo", fifo_features),
    SkidBuffer: ("slice", slice_features),
    WidthConverter: ("dwc", dwc_features),
    PadGather: ("dwc", dwc_features),
    SkipUnread: ("dwc", map_counter_features),
    PadEdge: ("dwc", map_counter_features),
    Argmax: ("argmax", argmax_features),
    SlidingWindow: ("window", window_features),
    WindowMax: ("pool", pool_features),
    WindowSum: ("pool", sum_pool_features),
    LineMaxPool: ("linepool", line_pool_features),
    AddStreams: ("add", add_features),
    Broadcast: ("broadcast", broadcast_features),
    BitsToCodes: ("broadcast", wiring_features),
}


# Fitted coefficients (python -m benchmarks.ice40_resources --fit).
# LUT4s of one registered PE row of n lanes with its shared terms, measured (python -m
# benchmarks.ice40_elements --simd 1 2 4 8, Yosys 0.70): (element name: kind or
# kind/bitplane, w_bits, x_bits) -> {n: LUT4}; other n by linear interpolation.
ELEMENT_ROWS = {
    ('xnor', 1, 1): {1: 1, 2: 2, 4: 7, 8: 17},
    ('signflip', 1, 2): {1: 5, 2: 14, 4: 30, 8: 62},
    ('signflip/bitplane', 1, 2): {1: 5, 2: 16, 4: 35, 8: 72},
    ('zeroskip', 2, 1): {1: 1, 2: 3, 4: 8, 8: 18},
    ('zeroskip', 2, 2): {1: 7, 2: 19, 4: 39, 8: 79},
    ('zeroskip/bitplane', 2, 2): {1: 5, 2: 16, 4: 38, 8: 82},
    ('shift', 3, 1): {1: 2, 2: 6, 4: 15, 8: 34},
    ('shift', 3, 2): {1: 12, 2: 30, 4: 60, 8: 120},
    ('shift/bitplane', 3, 2): {1: 14, 2: 48, 4: 93, 8: 190},
    ('lut', 2, 2): {1: 5, 2: 14, 4: 35, 8: 78},
    ('lut/bitplane', 2, 2): {1: 8, 2: 27, 4: 67, 8: 128},
    ('lut', 3, 3): {1: 27, 2: 61, 4: 134, 8: 273},
    ('lut/bitplane', 3, 3): {1: 26, 2: 70, 4: 156, 8: 293},
    ('lut', 2, 4): {1: 12, 2: 32, 4: 73, 8: 157},
    ('lut/bitplane', 2, 4): {1: 27, 2: 66, 4: 148, 8: 271},
    ('lut', 4, 4): {1: 9, 2: 199, 4: 420, 8: 826},
    ('lut/bitplane', 4, 4): {1: 60, 2: 129, 4: 268, 8: 522},
    ('signflip', 1, 8): {1: 23, 2: 50, 4: 102, 8: 206},
    ('signflip/bitplane', 1, 8): {1: 23, 2: 68, 4: 163, 8: 305},
    ('zeroskip', 2, 8): {1: 25, 2: 67, 4: 135, 8: 271},
    ('zeroskip/bitplane', 2, 8): {1: 22, 2: 75, 4: 183, 8: 353},
}
# LUT4s of the terms the PE rows of a beat share (the same benchmark: one row's LUT4
# minus what a second row adds), for the elements that share any: the code sum of sign
# flip and the base term of binary and DoReFa bit planes; (name, w_bits, x_bits) -> {n: LUT4}.
ELEMENT_SHARED = {
    ('signflip', 1, 2): {1: 2, 2: 5, 4: 11, 8: 23},
    ('signflip/bitplane', 1, 2): {1: 2, 2: 5, 4: 11, 8: 26},
    ('lut/bitplane', 2, 2): {1: 0, 2: 2, 4: 17, 8: 36},
    ('lut/bitplane', 3, 3): {1: 0, 2: 14, 4: 42, 8: 87},
    ('lut/bitplane', 2, 4): {1: 13, 2: 29, 4: 54, 8: 88},
    ('lut/bitplane', 4, 4): {1: 14, 2: 44, 4: 71, 8: 172},
    ('signflip', 1, 8): {1: 8, 2: 17, 4: 35, 8: 71},
    ('signflip/bitplane', 1, 8): {1: 8, 2: 22, 4: 58, 8: 115},
}
LUT4_MODEL = {
    "act": {"add": 0.711, "rom": 1.165, "rom_shallow": 0.05, "counts": 0.274, "control": 4.09,
            "const": 4.024},
    "add": {"add": 1.0, "const": 2.0},
    "argmax": {"compare": 0.88, "scores": 0.098, "const": 41.045},
    "broadcast": {"const": 2.0},
    "dwc": {"wide": 0.243, "const": 16.849},
    "fifo": {"control": 6.163, "width": 1.256, "const": 5.17},
    "linepool": {"compare": 0.254, "width": 2.384, "control": 1.598, "const": 19.535},
    "mvau": {"rows": 1.151, "acc": 1.757, "replay": 0.554, "replay_words": 1.163,
             "replay_mux": 1.27, "rom": 1.044, "control": 4.877,
             # The SPRAM load's counters and address multiplexer (one synthesis: the
             # default network's last layer in SPRAM, flash reader included).
             "spram": 100.0},
    "pool": {"compare": 0.737, "ring": 0.01, "control": 0.677, "const": 12.697},
    "slice": {"width": 0.997, "const": 12.304},
    "window": {"control": 2.617, "const": 98.285},
}
FF_MODEL = {
    "act": {"registers": 0.588},
    "add": {"registers": 1.0},
    "argmax": {"scores": 0.934, "best": 5.463, "const": 1.342},
    "broadcast": {},
    "dwc": {"wide": 0.931, "const": 6.836},
    "fifo": {"control": 1.803, "width": 2.496, "const": 9.773},
    "linepool": {"ring": 1.017, "width": 2.966, "control": 1.218, "const": 9.574},
    "mvau": {"registers": 1.078},
    "pool": {"ring": 0.997, "width": 1.015, "control": 1.107, "const": 0.481},
    "slice": {"width": 2.0, "const": 4.0},
    "window": {"width": 1.513, "control": 1.752, "const": 41.403},
}


def model_estimates(network, folding):
    """``(EBR, {"lut4", "ff", "spram"})`` the model expects for ``network`` at
    ``folding``, the serial accelerator's frame buffer included in the EBR."""
    top = NetworkTop(network, folding)
    # Built only to read its parameters: tell Amaranth it is not a forgotten design.
    silence(top)
    ebr = ebr_estimate(top, (8, frames_in_flight(network) * payload_bytes(network)))
    return ebr, {**logic_estimate(top), "spram": spram_estimate(top)}
