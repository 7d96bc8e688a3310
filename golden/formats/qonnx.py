"""QONNX import: a float QONNX graph (Brevitas, QKeras through qonnx, FINN) becomes the
project's integer network objects, exactly.

What a graph may hold
---------------------
Quantizers ``Quant`` (signed or unsigned, narrow or not, 1 to 8 bits, per-tensor or
per-channel scale, zero point 0, every rounding mode of the QONNX spec), ``BipolarQuant``,
FINN's ``MultiThreshold`` and ``Trunc`` (version 2, after an average pool), in the domains
``onnx.brevitas``, ``finn.custom_op.general`` and ``qonnx.custom_op.general``; ``Sign``. An
activation scale per channel must be powers of two apart: the next layer's integer weights
take the factors. Compute ``MatMul``, ``Gemm``, ``Conv`` (group 1,
square kernel, equal strides, symmetric padding, or a constant ``Pad`` before it with a
value of the map; a +-1 map padded with 0 is recoded to codes of -1, 0, +1,
:mod:`golden.recode`), ``MaxPool`` (floor mode), ``AveragePool``, ``GlobalAveragePool`` and a
spatial ``ReduceMean`` before a quantizer (:class:`golden.pool.SumPool`); the ``Add``
of two quantized maps from one fork, scales a power of two apart, before a quantizer (a
:class:`golden.residual.Residual` block); elementwise
``BatchNormalization``, ``Relu``, ``Mul``, ``Div``, ``Add``, ``Sub`` (per tensor or per
channel); the shape prelude (``Shape``, ``Gather``, ``Unsqueeze``, ``Concat``, ``Reshape``),
``Flatten``, ``Transpose``, ``Identity``; a final ``Softmax``, ``ArgMax`` or ``TopK`` (dropped:
they keep the argmax), or a final one-channel quantizer (a binary classifier).
Anything else is refused with one line naming the node, its op and what is supported.

How the integers are found
--------------------------
The graph is walked once, tensor by tensor, keeping for each a symbolic meaning:

* the raw input, with the elementwise ops on it so far;
* *codes*: a quantizer's output, integer levels ``L`` in ``[0, count]`` whose value is
  ``scale * (L + offset)`` (bipolar: ``scale * (2L - 1)``);
* an *accumulator*: a MatMul/Conv of codes by quantized weights, whose real value in
  channel ``j`` is ``mult_j * (a * acc + b_j)`` for the golden model's integer ``acc``,
  followed by the elementwise float ops still to apply.

Input stage. The graph's input is ``pixel / divisor`` (default 255: 8-bit pixels scaled
to [0, 1]). The input quantizer and the ops before it are evaluated in float32, the way
qonnx's executor does, for all 256 pixel values: a two-level result becomes a binarize
threshold, a k-bit one an input code table. Exact by construction (every input is tried).

Hidden layers. A quantizer after an accumulator becomes per-channel thresholds: its level
as a function of the integer ``acc`` is evaluated with the graph's own float32 arithmetic
(``BatchNormalization`` as onnxruntime computes it: ``x * S + (B - mean * S)`` with
``S = gamma * (1 / sqrt(var + eps))``). Each float32 op is monotonic in its input (IEEE
rounding is monotonic; a negative multiplier reverses the order), so the level is a
monotonic step function of ``acc`` and a bisection over the accumulator's proven range
finds every step exactly. The test suite also evaluates every ``acc`` of the range.

The accumulator's float value is taken as the correctly rounded ``mult_j * dot``. The
graph's float32 MatMul computes exactly that when its scales are powers of two and the sum
stays below 2**24 (the import reports ``exact_matmul``); otherwise the graph itself rounds
its partial sums and may differ from the real-number result at a tie.

Last layer. An accumulator at the output becomes class scores ``S_j = acc_j << e_j + B_j``
whose graph score is ``alpha * S_j + beta`` for one ``alpha > 0``: the per-channel float
affine map is folded exactly when the ratios of the channel gains are powers of two and
the offsets are multiples of the score step (the import reports ``exact_scores``).
"""

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..checks import reading
from ..conv import Conv2D
from ..errors import ModelError
from ..model import (
    BINARY,
    PIXELS,
    Bias,
    Dense,
    InputQuant,
    IntCodes,
    Network,
    Thresholds,
    code_values,
)
from ..pool import MaxPool, SumPool
from ..recode import ZERO_CODE, ZERO_PADDABLE, Recode
from ..residual import MAX_SHIFT, Residual
from ..weights import LutWeights, ShiftWeights, TernaryWeights, weight_encoding

__all__ = ["QonnxImport", "InputType", "import_qonnx", "import_qonnx_model", "load_qonnx",
           "parse_input_type", "DIVISOR", "fma32"]

DIVISOR = 255.0
# Graph metadata naming the input's divisor (the project's own export: the pixels, 1).
INPUT_DIVISOR_KEY = "bnn_rtl.input_divisor"
CLASSES_KEY = "bnn_rtl.classes"       # the class names, a JSON list
CUSTOM_DOMAINS = ("onnx.brevitas", "finn.custom_op.general", "qonnx.custom_op.general",
                  "bnn_rtl")
STANDARD_DOMAINS = ("", "ai.onnx")
QUANTIZERS = ("Quant", "BipolarQuant", "MultiThreshold", "Trunc")
ELEMENTWISE = ("Mul", "Div", "Add", "Sub", "BatchNormalization", "Relu", "MulAdd")
FINAL = ("Softmax", "LogSoftmax", "ArgMax", "TopK")
F32 = np.float32


class _Refused(ModelError):
    pass


@dataclass(frozen=True)
class InputType:
    """The values a graph input takes when the graph does not quantize it itself:
    ``bipolar`` (-1 or +1), or ``bits``-bit integers times ``scale`` (``signed``: in
    ``[-2**(bits-1), 2**(bits-1) - 1]``, else ``[0, 2**bits - 1]``). On the wire (the
    golden model's 8-bit input, the board's link) an input is its code: bipolar 0 for -1
    and 1 for +1; an integer ``v`` as ``v``, or ``v + 2**(bits-1)`` when signed."""
    kind: str            # "bipolar", "uint" or "int"
    bits: int = 1
    scale: float = 1.0

    @property
    def codes(self):
        """The number of codes."""
        return 2 if self.kind == "bipolar" else 1 << self.bits

    def values(self):
        """The float32 value of every code, in code order."""
        codes = np.arange(self.codes, dtype=np.float64)
        if self.kind == "bipolar":
            return (2 * codes - 1).astype(F32)
        if self.kind == "int":
            codes = codes - (1 << (self.bits - 1))
        return (codes * self.scale).astype(F32)

    def code(self, x):
        """The code of each float ``x`` (rounded to the nearest value, clamped)."""
        x = np.asarray(x, np.float64)
        if self.kind == "bipolar":
            return (x >= 0).astype(np.int64)
        lo = -(1 << (self.bits - 1)) if self.kind == "int" else 0
        v = np.clip(np.rint(x / self.scale), lo, lo + self.codes - 1)
        return (v - lo).astype(np.int64)

    def __str__(self):
        if self.kind == "bipolar":
            return "bipolar"
        return f"{self.kind}{self.bits}" + ("" if self.scale == 1 else f":{self.scale:g}")


def parse_input_type(text):
    """An :class:`InputType` from ``bipolar``, ``uintK`` or ``intK`` (K from 1 to 8),
    optionally ``:SCALE`` (a positive number, default 1): e.g. ``int8:0.0625``."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(bipolar|u?int)(\d*)(?::([^:]+))?\s*", str(text))
    bad = (f"input type {text!r} is not bipolar, uintK or intK (K = 1..8) with an optional "
           f":SCALE, e.g. uint4 or int8:0.0625")
    if not match:
        raise ModelError(bad)
    kind, bits, scale = match.groups()
    if kind == "bipolar":
        if bits or scale:
            raise ModelError(bad)
        return InputType("bipolar")
    if not bits or not 1 <= int(bits) <= 8 or (kind == "int" and int(bits) < 2):
        raise ModelError(bad + "; signed inputs need K >= 2")
    try:
        value = 1.0 if scale is None else float(scale)
    except ValueError:
        raise ModelError(bad) from None
    if not (np.isfinite(value) and value > 0):
        raise ModelError(f"input type {text!r}: the scale must be a positive number")
    return InputType(kind, int(bits), value)


def _node_name(node):
    return node.name or (node.output[0] if node.output else "?")


def _refuse(node, what):
    raise _Refused(f"node {_node_name(node)!r} ({node.op_type}): {what}")


# -- symbolic tensors -----------------------------------------------------------------


@dataclass
class _Const:
    value: np.ndarray


@dataclass
class _QWeight:
    """A quantized constant: integer levels ``ints`` and a broadcastable ``scale``."""
    ints: np.ndarray
    scale: np.ndarray
    levels: tuple        # (qmin, qmax) of the quantizer


@dataclass
class _Raw:
    """The graph input (per-sample ONNX shape ``orig``), seen as ``shape`` after the shape
    prelude (its elements keep their order), after elementwise ``ops``."""
    orig: tuple
    shape: tuple
    ops: list = field(default_factory=list)


@dataclass
class _Codes:
    """Quantized activations: levels of ``encoding``, value ``scale * (L + offset)``
    (bipolar: ``scale * (2L - 1)``). ``index[e]`` is the position in the golden model's
    flat feature order of ONNX element ``e`` (per-sample ``shape``)."""
    encoding: object
    scale: float
    shape: tuple
    index: np.ndarray
    negative: bool = False
    pad: tuple = None    # (P, code): a constant Pad of P on every side, for the next Conv
    trail: tuple = ()    # the golden layers from the network's input to these codes
    exps: np.ndarray = None   # per element (``shape``): value ``scale * 2**e * (L + offset)``


@dataclass
class _Acc:
    """An accumulator: channel ``j`` is worth ``mult[j] * (a * acc + b[j])``, then ``ops``."""
    layer: dict          # weights, encodings, conv geometry: what Dense/Conv2D need
    mult: np.ndarray
    a: int
    b: np.ndarray
    lo: int
    hi: int
    shape: tuple
    index: np.ndarray
    channel_axis: int
    ops: list = field(default_factory=list)
    pools: list = field(default_factory=list)
    pool_ops: int = None  # how many of ``ops`` come before the first max-pool
    source: str = None   # the ONNX tensor of the bare MatMul/Conv output, if there is one
    trail: tuple = ()    # the trail of the codes it takes (see _Codes)


@dataclass
class _Sum:
    """The ``Add`` of two code maps that share the trail ``trail[:fork]``: a residual
    block's paths, whose golden sum is the block's integer ``s``. ``values[p]`` holds the
    float32 values of path ``p``'s codes as the graph holds them, ``shifts`` the paths'
    power-of-two factors; then ``ops``."""
    main: _Codes
    skip: _Codes
    fork: int
    shifts: tuple
    values: tuple
    shape: tuple
    index: np.ndarray
    names: tuple         # the ONNX tensors of the main and of the skip operand
    channel_axis: int = 1
    ops: list = field(default_factory=list)


@dataclass
class QonnxImport:
    """The result of :func:`import_qonnx`.

    Attributes
    ----------
    network : golden.model.Network
    frontend : callable
        Float inputs of the graph, ``(N, *input shape)``, to the network's input codes
        ``(N, features)`` (for :func:`golden.network.run` ``bits=``), with the graph's own
        float32 arithmetic.
    input_shape : tuple
        The graph's per-sample input shape (ONNX order).
    exact_matmul, exact_scores : bool
        See the module docstring.
    binary_output : bool
        The graph ends in a one-channel quantizer: class 1 when its output is positive.
    thresholded : list of dict
        Per thresholded layer: ``layer`` (its index), ``source`` (the ONNX tensor of its bare
        MatMul/Conv output, or None), ``output`` (the quantizer's output tensor), ``mult``,
        ``a``, ``b``, ``lo``, ``hi`` (the accumulator's meaning), ``activation`` (its
        Thresholds) and ``scale`` (the value of one code step), for checking the thresholds
        against the graph. A residual block's quantizer (``kind`` "residual") has
        ``operands`` (the Add's main and skip tensors), ``values`` (the float32 values of
        each operand's codes) and ``shifts`` instead of the accumulator's meaning.
    """
    network: Network
    frontend: object
    input_shape: tuple
    exact_matmul: bool
    exact_scores: bool
    binary_output: bool
    thresholded: list


# -- float32 evaluation of elementwise ops, as the executor does it --------------------


def _bn_affine(scale, bias, mean, var, eps):
    s = scale * (F32(1) / np.sqrt(var + F32(eps)))
    return s, bias - mean * s


def _apply(op, x, args):
    """One elementwise op on float32 ``x``; ``args`` broadcast against ``x``."""
    if op == "Mul":
        return x * args[0]
    if op == "Div":
        return x / args[0]
    if op == "Add":
        return x + args[0]
    if op == "Sub":
        return x - args[0]
    if op == "RSub":
        return args[0] - x
    if op == "RDiv":
        return args[0] / x
    if op == "BN":
        return x * args[0] + args[1]
    if op == "Relu":
        return np.maximum(x, F32(0))
    if op == "MulAdd":
        return fma32(x, args[0], args[1])
    raise AssertionError(op)


def fma32(a, b, c):
    """``a * b + c`` in float32 with one rounding, as C's ``fmaf`` (float32 operands)."""
    a, b, c = (np.asarray(v, F32).astype(np.float64) for v in (a, b, c))
    p = a * b                   # exact: two 24-bit significands
    s = p + c
    bb = s - p
    e = (p - (s - bb)) + (c - bb)   # the exact sum is s + e (TwoSum)
    r = s.astype(F32)
    r64 = r.astype(np.float64)
    # Rounding s to float32 goes wrong only when s is a float32 midpoint and e says which
    # side the exact sum is on.
    other = np.nextafter(r, np.where(s > r64, np.inf, -np.inf).astype(F32))
    tie = (s != r64) & (2 * s == r64 + other.astype(np.float64))
    fix = tie & (e != 0) & ((e > 0) == (s > r64))
    return np.where(fix, other, r).astype(F32)


def _rising(ops):
    """Whether elementwise ``ops`` keep the order of their input in every channel."""
    for op, args in ops:
        if op in ("Mul", "Div", "BN", "MulAdd"):
            if not (np.asarray(args[0]) > 0).all():
                return False
        elif op not in ("Add", "Sub", "Relu"):
            return False
    return True


def _run_ops(x, ops, channel=None):
    for op, args in ops:
        if channel is not None:
            args = [a[channel] for a in args]
        x = _apply(op, x, args)
    return x


# -- quantizers ---------------------------------------------------------------------


def _round(mode, node):
    mode = mode.upper()
    table = {
        "ROUND": np.round, "HALF_EVEN": np.round, "CEIL": np.ceil, "FLOOR": np.floor,
        "UP": lambda x: np.sign(x) * np.ceil(np.abs(x)), "DOWN": np.fix,
        "HALF_UP": lambda x: np.sign(x) * np.floor(np.abs(x) + 0.5),
        "HALF_DOWN": lambda x: np.sign(x) * np.ceil(np.abs(x) - 0.5)}
    if mode not in table:
        _refuse(node, f"rounding mode {mode!r} is not supported; use one of {', '.join(table)}")
    return table[mode]


@dataclass
class _Quantizer:
    """``level(x)``: integer level ``L`` in ``[0, count]`` of float32 ``x``; the value of
    level ``L`` is ``scale * (L + offset)``, or ``scale * (2L - 1)`` when ``bipolar``."""
    level: object
    count: int
    offset: int
    scale: np.ndarray    # per-tensor (shape ()) or broadcastable per channel
    bipolar: bool
    qmin: int = 0
    qmax: int = 1
    channel_scale: np.ndarray = None     # per channel, when the scale is per channel

    def encoding(self):
        if self.bipolar:
            return BINARY
        return IntCodes(max(1, int(self.count).bit_length()), self.offset, self.count)


def _check_numbers(node, attrs, consts):
    """A quantizer's scale is positive, its numeric attributes are finite and its flags
    (``signed``, ``narrow``) are 0 or 1: anything else is refused naming the node. (Its
    constant inputs are finite: :meth:`_Importer.run` checks every node's.)"""
    scale = consts[1] if len(consts) > 1 else None
    if node.op_type in ("Quant", "BipolarQuant", "Trunc") and scale is not None \
            and np.any(np.asarray(scale) <= 0):
        _refuse(node, "scales must be positive")
    for name in ("out_scale", "out_bias"):
        value = attrs.get(name)
        if isinstance(value, float) and not np.isfinite(value):
            _refuse(node, f"attribute {name} is {value}; it must be a finite number")
    for name in ("signed", "narrow"):
        if attrs.get(name, 0) not in (0, 1):
            _refuse(node, f"attribute {name} is {attrs[name]!r}; it must be 0 or 1")


def _quantizer(node, attrs, consts):
    """The :class:`_Quantizer` of a quantizer node; ``consts`` are its constant inputs
    (None for the data input)."""
    op = node.op_type
    _check_numbers(node, attrs, consts)
    if op == "BipolarQuant":
        scale = consts[1]
        return _Quantizer(lambda x, s=scale: (x >= F32(0)).astype(np.int64), 1, 0,
                          scale, True, -1, 1)
    if op == "Quant":
        if len(consts) < 4 or any(c is None for c in consts[1:4]):
            _refuse(node, "scale, zero point and bit width must be constants")
        scale, zeropt, bits = consts[1], consts[2], consts[3]
        if np.any(zeropt != 0):
            _refuse(node, "a non-zero zero point is not supported; export with zero point 0")
        if bits.size != 1 or float(bits.flat[0]) != int(bits.flat[0]):
            _refuse(node, f"bit width {bits.ravel().tolist()} must be one integer")
        bits = int(bits.flat[0])
        signed, narrow = int(attrs.get("signed", 1)), int(attrs.get("narrow", 0))
        if not 1 <= bits <= 8:
            _refuse(node, f"{bits}-bit quantization is not supported; use 1 to 8 bits")
        if np.any(scale <= 0):
            _refuse(node, "scales must be positive")
        if bits == 1 and signed:
            # The QONNX spec turns a signed 1-bit Quant into a bipolar one.
            return _Quantizer(lambda x, s=scale: (x / s >= F32(0)).astype(np.int64), 1, 0,
                              scale, True, -1, 1)
        qmin = -(1 << (bits - 1)) + narrow if signed else 0
        qmax = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1 - narrow
        rnd = _round(attrs.get("rounding_mode", "ROUND"), node)
        lo, hi = F32(qmin), F32(qmax)

        def level(x, s=scale):
            y = x / s
            y = np.where(y > hi, hi, y)
            y = np.where(y < lo, lo, y)
            return rnd(y).astype(np.int64) - qmin
        return _Quantizer(level, qmax - qmin, qmin, scale, False, qmin, qmax)
    if op == "MultiThreshold":
        thr = consts[1]
        if thr is None or thr.ndim != 2:
            _refuse(node, "thresholds must be a constant (channels, steps) matrix")
        out_scale = F32(attrs.get("out_scale", 1.0))
        out_bias = F32(attrs.get("out_bias", 0.0))
        if out_scale <= 0:
            _refuse(node, "out_scale must be positive")
        if attrs.get("data_layout", "NCHW") not in ("NCHW", "NC"):
            _refuse(node, "only data_layout NCHW is supported")
        count = thr.shape[1]
        if count == 1 and out_bias == -out_scale / 2:
            # Levels {-s/2, +s/2}: bipolar with scale s/2 (FINN's binarize).
            return _Quantizer(None, 1, 0, np.asarray(out_scale / 2), True, -1, 1)
        offset = float(out_bias / out_scale)
        if offset != int(offset):
            _refuse(node, "out_bias must be a whole multiple of out_scale (or -out_scale/2)")
        return _Quantizer(None, count, int(offset), np.asarray(out_scale), False,
                          int(offset), int(offset) + count)
    if op == "Sign":
        return _Quantizer(lambda x: (np.sign(x) + 1).astype(np.int64), 2, -1, np.asarray(F32(1)),
                          False, -1, 1)
    if op == "Trunc":
        return _trunc(node, attrs, consts)
    raise AssertionError(op)


def _trunc(node, attrs, consts):
    """QONNX ``Trunc`` (version 2, as Brevitas exports its truncating average pool): with
    ``t = 2**round(log2(output_scale / scale))``, the level is
    ``rounding(clip(round(x / scale) / t, qmin, qmax))``, worth ``output_scale * L``."""
    if len(consts) != 6:
        _refuse(node, f"Trunc with {len(consts)} inputs is not supported; export Trunc version "
                      f"2 (x, scale, zero point, input bit width, output scale, output bit "
                      f"width), as Brevitas 0.10 and later do")
    if any(c is None for c in consts[1:]):
        _refuse(node, "scale, zero point, bit widths and output scale must be constants")
    scale, zeropt, _, out_scale, bits = (np.asarray(c, F32) for c in consts[1:])
    if np.any(zeropt != 0):
        _refuse(node, "a non-zero zero point is not supported; export with zero point 0")
    if scale.size != 1 or out_scale.size != 1 or not (scale > 0 and out_scale > 0):
        _refuse(node, "the scales must be one positive number each (per tensor)")
    if bits.size != 1 or float(bits.flat[0]) != int(bits.flat[0]) or not 1 <= bits.flat[0] <= 8:
        _refuse(node, f"output bit width {bits.ravel().tolist()} must be one integer, 1 to 8")
    bits = int(bits.flat[0])
    signed, narrow = int(attrs.get("signed", 1)), int(attrs.get("narrow", 0))
    qmin = -(1 << (bits - 1)) + narrow if signed else 0
    qmax = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1 - narrow
    rnd = _round(str(attrs.get("rounding_mode", "FLOOR")), node)
    t = F32(2.0 ** np.round(np.log2(out_scale / scale)))
    lo, hi = F32(qmin), F32(qmax)

    def level(x):
        y = np.round(x / scale) / t
        y = np.where(y > hi, hi, y)
        y = np.where(y < lo, lo, y)
        return rnd(y).astype(np.int64) - qmin
    return _Quantizer(level, qmax - qmin, qmin, out_scale.reshape(()), False, qmin, qmax)


def _threshold_rows(node, consts, channels):
    """A MultiThreshold's constant thresholds (one row, or one per channel); None for
    another quantizer."""
    thr = consts[1] if node.op_type == "MultiThreshold" else None
    if thr is not None and thr.shape[0] not in (1, channels):
        _refuse(node, f"{thr.shape[0]} threshold rows for {channels} channels")
    return thr


def _levels(q, thr, j, y, scale=None):
    """The level of channel ``j``'s float32 values ``y`` through the quantizer ``q`` (at
    the channel's own ``scale`` when it has one), or through row ``j`` of a
    MultiThreshold's thresholds ``thr``."""
    if thr is not None:
        row = thr[j if thr.shape[0] > 1 else 0]
        return (y[:, None] >= row[None, :]).sum(axis=1)
    return q.level(y) if scale is None else q.level(y, s=scale)


def _multithreshold_levels(x, thr, channel_axis):
    """FINN MultiThreshold's count of ``x >= thr[c, t]`` (per channel, or one row for all)."""
    shape = [1] * x.ndim
    shape[channel_axis] = -1
    count = np.zeros(x.shape, np.int64)
    for t in range(thr.shape[1]):
        col = thr[:, t].reshape(shape) if thr.shape[0] > 1 else thr[0, t]
        count += x >= col
    return count


# -- the importer ----------------------------------------------------------------------


def _attrs(node):
    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


def _per_channel(node, value, channels, channel_axis, ndim):
    """A constant broadcast against an accumulator, as a per-channel float32 vector."""
    value = np.asarray(value, F32)
    if value.ndim > ndim:
        _refuse(node, f"constant of shape {value.shape} does not broadcast to the tensor")
    full = [1] * ndim
    full[channel_axis] = channels
    try:
        b = np.broadcast_to(value.reshape((1,) * (ndim - value.ndim) + value.shape), full)
    except ValueError:
        _refuse(node, f"constant of shape {value.shape} does not broadcast per channel")
    return np.ascontiguousarray(b.reshape(channels))


def _is_pow2(x):
    x = np.abs(np.asarray(x, np.float64)).ravel()
    m, _ = np.frexp(x)
    return bool(np.all(m == 0.5))


def _canonical_index(shape):
    """``index`` of an ONNX per-sample tensor in the golden order: (C, H, W) maps are
    stored (H, W, C), channels innermost; vectors in order."""
    if len(shape) == 3:
        c, h, w = shape
        return np.arange(h * w * c).reshape(h, w, c).transpose(2, 0, 1).copy()
    return np.arange(int(np.prod(shape))).reshape(shape)


# Ops that take the raw graph input as it is (the rest take it as codes of a declared
# input type).
_RAW_OPS = ELEMENTWISE + QUANTIZERS + ("Sign", "Pow", "Sqrt", "Reshape", "Flatten", "Transpose",
                                       "Identity", "Shape")


def _input_layout(orig, shape):
    """``(index, golden shape)`` of the graph input (per-sample ONNX shape ``orig``, seen
    as ``shape``): a (1, H, W) image is an (H, W) map, a (C, H, W) map is (H, W, C)."""
    index = _canonical_index(orig).reshape(shape)
    golden_shape = ((orig[1], orig[2]) if len(orig) == 3 and orig[0] == 1 else
                    (orig[1], orig[2], orig[0]) if len(orig) == 3 else tuple(orig))
    return index, golden_shape


def _frontend(orig, index, levels):
    """The float front end: graph inputs (N, *orig) to the golden model's input codes
    (``levels`` of each element, in the golden feature order ``index``)."""
    order = index.ravel()

    def frontend(x):
        x = np.asarray(x, F32)
        if x.shape[1:] != tuple(orig):
            raise ModelError(f"inputs have shape {x.shape[1:]}, the graph takes {tuple(orig)}")
        lv = levels(x).reshape(len(x), -1)
        out = np.empty_like(lv)
        out[:, order] = lv
        return out
    return frontend


class _Importer:
    def __init__(self, model, name, divisor, input_type=None):
        self.model = model
        self.graph = model.graph
        self.name = name
        self.divisor = divisor
        self.input_type = input_type
        self.values = {}
        self.layers = []
        self.input_quant = None
        self.frontend = None
        self.input_shape = None
        self.exact_matmul = True
        self.exact_scores = True
        self.binary_output = False
        self.thresholded = []
        self.input_recoded = False

    # The graph's constants: initializers and Constant nodes.
    def _load_inputs(self):
        for init in self.graph.initializer:
            self.values[init.name] = _Const(numpy_helper.to_array(init))
        real = [i for i in self.graph.input if i.name not in self.values]
        if len(real) != 1:
            raise ModelError(f"the graph has {len(real)} non-constant inputs "
                             f"({', '.join(i.name for i in real)}); one input is supported")
        dims = real[0].type.tensor_type.shape.dim
        shape = tuple(d.dim_value if d.HasField("dim_value") else None for d in dims)
        if len(shape) < 2 or any(d is None or d < 1 for d in shape[1:]):
            raise ModelError(f"graph input {real[0].name!r} has shape {shape}; a batch "
                             f"dimension and fixed per-sample dimensions are supported")
        self.input_shape = tuple(shape[1:])
        self.values[real[0].name] = _Raw(self.input_shape, self.input_shape)

    def run(self):
        self._load_inputs()
        for node in self.graph.node:
            if node.domain not in STANDARD_DOMAINS + CUSTOM_DOMAINS:
                _refuse(node, f"domain {node.domain!r} is not supported; use the standard "
                              f"domain or one of {', '.join(CUSTOM_DOMAINS)}")
            if node.op_type not in SUPPORTED:
                _refuse(node, f"op {node.op_type} is not supported; supported: "
                              f"{', '.join(SUPPORTED)}")
            ins = [self.values.get(n) if n else None for n in node.input]
            for n, v in zip(node.input, ins):
                if n and v is None:
                    _refuse(node, f"input {n!r} is not produced by any earlier node")
                if (isinstance(v, _Const) and v.value.dtype.kind == "f"
                        and not np.isfinite(v.value).all()):
                    _refuse(node, f"input {n!r} holds an infinite or NaN value; re-export "
                                  f"the model")
            out = self._node(node, ins, _attrs(node))
            if isinstance(out, _Acc) and node.op_type in ("MatMul", "Conv") and not out.ops \
                    and out.source is None:
                out.source = node.output[0]
            for name, value in zip(node.output, out if isinstance(out, tuple) else (out,)):
                self.values[name] = value
        if len(self.graph.output) != 1:
            raise ModelError(f"the graph has {len(self.graph.output)} outputs; one is supported")
        result = self.values[self.graph.output[0].name]
        self._finish(result)
        if self.input_quant is None:
            raise ModelError("the graph's input reaches no quantizer; quantize the input "
                             "(BipolarQuant, Quant or MultiThreshold) before the first layer")
        classes = ("0", "1") if self.binary_output else None
        declared = {p.key: p.value for p in self.model.metadata_props}.get(CLASSES_KEY)
        if declared is not None:
            try:
                classes = tuple(json.loads(declared))
            except (ValueError, TypeError):
                raise ModelError(f"metadata {CLASSES_KEY} is not a JSON list of class "
                                 f"names") from None
        try:
            network = Network(self.name, self.input_quant, self.layers, classes)
        except ModelError as error:
            raise ModelError(f"the imported network is not valid: {error}") from None
        return QonnxImport(network, self.frontend, self.input_shape, self.exact_matmul,
                           self.exact_scores, self.binary_output, self.thresholded)

    # -- one node -------------------------------------------------------------------

    def _node(self, node, ins, attrs):
        """The meaning of ``node``'s output(s): constants fold; otherwise the op's handler
        (:data:`HANDLERS`) decides, a weight op (on a quantized weight) aside."""
        op = node.op_type
        consts = [v.value if isinstance(v, _Const) else None for v in ins]
        if (ins and all(isinstance(v, _Const) or v is None for v in ins)
                and op not in QUANTIZERS + ("Constant",)):
            return _Const(self._fold(node, consts, attrs))
        handler, on_weights = HANDLERS[op]
        if not on_weights and ins and isinstance(ins[0], _QWeight):
            return self._weight_op(node, ins[0], consts, attrs)
        if op != "Conv" and any(isinstance(v, _Codes) and v.pad for v in ins):
            _refuse(node, "a Pad of quantized maps must feed a Conv directly")
        if ins and isinstance(ins[0], _Raw) and op not in _RAW_OPS:
            if self.input_type is None:
                _refuse(node, "takes the graph's input, which no quantizer quantizes; declare "
                              "the input's values (--input-type bipolar, uintK or intK[:SCALE])")
            ins = [self._declared_input(node, ins[0])] + list(ins[1:])
        return handler(self, node, ins, consts, attrs)

    def _declared_input(self, node, raw):
        """The graph input as codes of the declared :class:`InputType`: the elementwise ops
        before ``node``, evaluated in float32 on every value the type has, must give
        ``d * (code + offset)`` (an integer offset, ``d > 0``), or +-d (bipolar)."""
        if self.input_quant is not None:
            _refuse(node, "a second use of the graph's input")
        for op, args in raw.ops:
            if any(np.asarray(a).size != 1 for a in args):
                _refuse(node, f"the input's {op} must use one number for all inputs (per tensor)")
        ops = [(op, [np.asarray(a, F32).reshape(()) for a in args]) for op, args in raw.ops]
        t = self.input_type
        y = _run_ops(t.values(), ops).astype(np.float64)
        d = y[1] - y[0]
        codes = np.arange(t.codes)
        if not (d > 0 and np.array_equal(y, y[0] + d * codes)):
            _refuse(node, f"the ops on the {t} input do not map its values to evenly spaced "
                          f"increasing values ({y[:4].tolist()}...)")
        offset = y[0] / d
        if t.codes == 2 and y[0] == -y[1]:
            enc = BINARY
            scale = float(y[1])
        elif offset == int(offset):
            enc = IntCodes(max(1, (t.codes - 1).bit_length()), int(offset), t.codes - 1)
            scale = float(d)
        else:
            _refuse(node, f"the ops on the {t} input give values {y[:4].tolist()}..., not "
                          f"a whole-number offset of their step")
        shape, orig = raw.shape, raw.orig
        index, golden_shape = _input_layout(orig, shape)
        # On the wire an input is its code (a byte); bytes past the last code clamp to it.
        table = np.minimum(np.arange(256), t.codes - 1)
        if enc == BINARY:
            self.input_quant = InputQuant(golden_shape, 1)
        elif enc == PIXELS:
            self.input_quant = InputQuant(golden_shape, None)    # the bytes themselves
        else:
            self.input_quant = InputQuant(golden_shape, None, table, enc)
        self.frontend = _frontend(orig, index, t.code)
        return _Codes(enc, scale, tuple(shape), index)

    def _pad(self, node, ins, consts, attrs):
        """A constant Pad of quantized (C, H, W) maps by ``P`` on every side of H and W,
        with a value one of the codes has: the next Conv's padding and pad code."""
        x = ins[0]
        if not isinstance(x, _Codes) or len(x.shape) != 3 or x.pad or x.negative:
            _refuse(node, "pads quantized (C, H, W) maps only, once, before a Conv")
        if x.exps is not None:
            _refuse(node, "pads a map with per-channel scales; pad through the Conv's pads")
        if attrs.get("mode", "constant") not in ("constant", b"constant"):
            _refuse(node, f"mode {attrs.get('mode')!r} is not supported; use constant")
        pads = consts[1] if len(consts) > 1 and consts[1] is not None else attrs.get("pads")
        if pads is None:
            _refuse(node, "the pads must be constant")
        pads = [int(p) for p in np.asarray(pads).ravel()]
        if len(pads) != 8 or pads[:2] != [0, 0] or pads[4:6] != [0, 0] or len(set(pads[2:4] + pads[6:])) != 1:
            _refuse(node, f"pads {pads} are not P on every side of the map (N and C unpadded)")
        value = consts[2] if len(consts) > 2 and consts[2] is not None else attrs.get("value", 0.0)
        value = float(np.asarray(value, np.float64).reshape(()))
        level = value / x.scale
        if x.encoding == BINARY:
            # 0 pads a +-1 map: the Conv recodes it (golden.recode).
            code = {-1.0: 0, 1.0: 1, 0.0: "zero"}.get(level)
        else:
            code = level - x.encoding.offset
            code = int(code) if code == int(code) and 0 <= code <= x.encoding.top else None
        if code is None:
            _refuse(node, f"pads with {value:g}, no value of the map; pad with one of its values "
                          f"(or 0)")
        return replace(x, pad=(pads[2], code))

    def _constant(self, node, ins, consts, attrs):
        for a in node.attribute:
            if a.name == "value":
                return _Const(numpy_helper.to_array(a.t))
        _refuse(node, "only the 'value' attribute is supported")

    def _shape(self, node, ins, consts, attrs):
        x = ins[0]
        if isinstance(x, _QWeight):
            return _Const(np.asarray(x.ints.shape, np.int64))
        return _Const(np.asarray((1,) + tuple(x.shape), np.int64))

    def _identity(self, node, ins, consts, attrs):
        return ins[0]

    def _no_input(self, node, ins, consts, attrs):
        _refuse(node, f"op {node.op_type} cannot take this input here")

    def _final(self, node, ins, consts, attrs):
        if not isinstance(ins[0], (_Acc, _Codes)):
            _refuse(node, "must follow the class scores")
        return ins[0]

    def _fold(self, node, consts, attrs):
        """Constant folding (the shape prelude, Pow in a norm, weight transposes)."""
        op = node.op_type
        a = consts[0]
        if op == "Pow":
            b = consts[1]
            return np.sqrt(a) if np.all(b == 0.5) else np.power(a, b).astype(a.dtype)
        if op == "Sqrt":
            return np.sqrt(a)
        if op in ("Mul", "Div", "Add", "Sub"):
            b = consts[1]
            return {"Mul": np.multiply, "Div": np.divide, "Add": np.add,
                    "Sub": np.subtract}[op](a, b)
        if op == "Gather":
            return np.take(a, consts[1], axis=attrs.get("axis", 0))
        if op == "Unsqueeze":
            axes = attrs.get("axes", None if len(consts) < 2 else consts[1].tolist())
            out = a
            for ax in sorted(axes):
                out = np.expand_dims(out, ax)
            return out
        if op == "Concat":
            return np.concatenate([np.atleast_1d(c) for c in consts], axis=attrs.get("axis", 0))
        if op == "Transpose":
            return np.transpose(a, attrs.get("perm"))
        if op == "Reshape":
            return a.reshape(consts[1])
        if op == "Flatten":
            ax = attrs.get("axis", 1)
            return a.reshape(int(np.prod(a.shape[:ax])), -1)
        if op == "Identity":
            return a
        _refuse(node, f"cannot fold op {op} on constants")

    # -- quantizers ------------------------------------------------------------------

    def _quantize(self, node, ins, consts, attrs):
        x = ins[0]
        q = _quantizer(node, attrs, consts)
        if isinstance(x, _Const):
            return self._quantize_weights(node, q, x.value, consts, attrs)
        if isinstance(x, _Raw):
            return self._quantize_input(node, q, x, consts)
        if isinstance(x, _Acc):
            return self._quantize_acc(node, q, x, consts)
        if isinstance(x, _Sum):
            return self._quantize_sum(node, q, x, consts)
        _refuse(node, "a quantizer on already quantized values is not supported")

    def _quantize_weights(self, node, q, w, consts, attrs):
        op = node.op_type
        w = np.asarray(w, F32)
        if op == "BipolarQuant":
            ints = np.where(w >= 0, 1, -1).astype(np.int64)
            return _QWeight(ints, np.asarray(consts[1], F32), (-1, 1))
        if op == "Quant":
            scale = np.asarray(consts[1], F32)
            if q.bipolar:
                ints = np.where(w / scale >= 0, 1, -1).astype(np.int64)
            else:
                ints = q.level(w) + q.offset
            return _QWeight(ints, scale, (q.qmin, q.qmax))
        _refuse(node, f"{op} on weights is not supported; quantize weights with Quant or "
                      f"BipolarQuant")

    def _quantize_input(self, node, q, raw, consts):
        if self.input_quant is not None:
            _refuse(node, "a second input quantizer")
        if self.input_type is not None:
            _refuse(node, f"the graph quantizes its input itself; drop the declared input "
                          f"type ({self.input_type})")
        if np.asarray(q.scale).size != 1:
            _refuse(node, "the input quantizer's scale must be one number (per tensor)")
        for op, args in raw.ops:
            if any(np.asarray(a).size != 1 for a in args):
                _refuse(node, f"the input's {op} before the quantizer must use one number "
                              f"for all pixels (per tensor)")
        thr = consts[1] if node.op_type == "MultiThreshold" else None
        if thr is not None and thr.shape[0] != 1:
            _refuse(node, "an input MultiThreshold must have one threshold row")
        ops = [(op, [np.asarray(a, F32).reshape(()) for a in args]) for op, args in raw.ops]

        def levels(x):
            y = _run_ops(np.asarray(x, F32), ops)
            if thr is not None:
                return _multithreshold_levels(y, thr, 0)
            return q.level(y)

        pixels = np.arange(256, dtype=F32) / F32(self.divisor)
        table = levels(pixels)
        shape = raw.shape
        orig = raw.orig
        index, golden_shape = _input_layout(orig, shape)
        enc = q.encoding()
        if enc == BINARY:
            steps = np.diff(table)
            if (steps < 0).any():
                _refuse(node, "the input's two levels are not a step in the pixel value")
            threshold = int(np.argmax(table)) if table[-1] else 256
            self.input_quant = InputQuant(golden_shape, threshold)
        else:
            self.input_quant = InputQuant(golden_shape, None, table, enc)
        self.frontend = _frontend(orig, index, levels)
        return _Codes(enc, float(np.asarray(q.scale).reshape(())), tuple(shape), index)

    def _quantize_acc(self, node, q, acc, consts):
        channels = len(acc.b)
        thr_const = _threshold_rows(node, consts, channels)
        scale = np.asarray(q.scale, F32)
        exps = None
        if scale.size != 1:
            scale, exps = self._channel_scales(node, q, scale, channels)

        def level(j, ints):
            x = (acc.mult[j] * (acc.a * ints.astype(np.float64) + acc.b[j])).astype(F32)
            x = _run_ops(x, acc.ops, j)
            return _levels(q, thr_const, j, x, None if exps is None else q.channel_scale[j])

        count = q.count
        thresholds = np.zeros((channels, count), np.int64)
        direction = np.ones(channels, np.int8)
        lo, hi = acc.lo, acc.hi
        for j in range(channels):
            ends = level(j, np.array([lo, hi]))
            direction[j] = 1 if ends[1] >= ends[0] else -1
            thresholds[j] = _bisect(lambda v, j=j: level(j, v), lo, hi, count,
                                    int(direction[j]))
        act = Thresholds(thresholds, direction, 0 if q.bipolar else q.offset, q.bipolar)
        self.thresholded.append(dict(layer=len(self.layers), source=acc.source,
                                     kind=acc.layer["kind"], pool_input=acc.layer.get("input"),
                                     output=node.output[0], mult=acc.mult, a=acc.a, b=acc.b,
                                     lo=acc.lo, hi=acc.hi, activation=act,
                                     scale=float(scale.reshape(()))))
        start = len(self.layers)
        self._emit(node, acc, act)
        if acc.pools:
            # max and the level commute when the ops after the pool keep the order: none
            # (a batch norm before the pool) or a rising level.
            if (direction < 0).any() and not _rising(acc.ops[acc.pool_ops:]):
                _refuse(node, "a max-pool before a quantizer whose level falls with the "
                              "accumulator (negative batch-norm gain) is not supported; put "
                              "the batch norm before the pool")
            for pool in acc.pools:
                self.layers.append(pool)
        enc = q.encoding()
        if exps is not None:
            axes = [1] * len(acc.shape)
            axes[acc.channel_axis - 1] = channels
            exps = np.broadcast_to(exps.reshape(axes), acc.shape).copy()
        return _Codes(enc, float(scale.reshape(())), acc.shape, acc.index,
                      trail=acc.trail + tuple(self.layers[start:]), exps=exps)

    def _channel_scales(self, node, q, scale, channels):
        """A per-channel activation scale ``s_c = s * 2**e_c`` (``e_c`` from 0 to
        :data:`MAX_SHIFT`): ``(s, e)``. The next layer takes the ``2**e_c`` into its integer
        weights; other ratios would make them fractions."""
        if node.op_type not in ("Quant", "BipolarQuant") or scale.size != channels:
            _refuse(node, f"an activation scale of shape {scale.shape} is neither one number "
                          f"nor one per channel ({channels}) of a Quant or BipolarQuant")
        flat = scale.reshape(-1).astype(np.float64)
        base = flat.min()
        e = np.round(np.log2(flat / base)).astype(np.int64)
        if not (base > 0 and np.array_equal(np.exp2(e) * base, flat) and e.max() <= MAX_SHIFT):
            _refuse(node, f"per-channel activation scales {flat[:4].tolist()}... are not powers "
                          f"of two apart (up to 2**{MAX_SHIFT}); the next layer's weights "
                          f"cannot absorb them; use per-tensor or power-of-two scales")
        q.channel_scale = scale.reshape(-1)
        return np.asarray(base, F32), e

    def _quantize_sum(self, node, q, x, consts):
        """A quantizer after a residual ``Add``: thresholds on the golden block's sum
        ``s``. The graph's float32 add of every pair of the operands' values, then its
        ops, give the level; it must depend on ``s`` alone (it does when the scales are
        powers of two) and move one way with it."""
        channels = x.shape[0]
        thr_const = _threshold_rows(node, consts, channels)
        scale = np.asarray(q.scale, F32)
        if scale.size != 1:
            _refuse(node, "activation scales must be one number (per tensor)")
        grids = [code_values(codes.encoding) << shift
                 for codes, shift in zip((x.main, x.skip), x.shifts)]
        sums = (grids[0][:, None] + grids[1][None, :]).ravel()
        graph = (x.values[0][:, None] + x.values[1][None, :]).astype(F32).ravel()
        lo, hi = int(sums.min()), int(sums.max())
        count = q.count
        thresholds = np.zeros((channels, count), np.int64)
        direction = np.ones(channels, np.int8)
        for j in range(channels):
            levels = _levels(q, thr_const, j, _run_ops(graph, x.ops, j))
            table = np.full(hi - lo + 1, -1, np.int64)
            table[sums - lo] = levels
            if not np.array_equal(table[sums - lo], levels):
                _refuse(node, "the graph's float32 sum of the residual operands rounds, so the "
                              "quantizer's level is not a function of their exact sum; give "
                              "the two paths power-of-two scales")
            seen = table[table >= 0]
            steps = np.diff(seen)
            if (steps > 0).any() and (steps < 0).any():
                _refuse(node, "the quantizer's level does not move one way with the residual "
                              "sum")
            direction[j] = -1 if (steps < 0).any() else 1
            filled = np.maximum.accumulate(np.where(table >= 0, np.arange(len(table)), 0))
            table = table[filled]
            thresholds[j] = _bisect(lambda v, t=table: t[v - lo], lo, hi, count,
                                    int(direction[j]))
        act = Thresholds(thresholds, direction, 0 if q.bipolar else q.offset, q.bipolar)
        block = self._residual_block(node, x, act)
        self.thresholded.append(dict(layer=x.fork, source=None, kind="residual",
                                     operands=x.names, values=x.values, shifts=x.shifts,
                                     output=node.output[0], activation=act,
                                     scale=float(scale.reshape(()))))
        return _Codes(q.encoding(), float(scale.reshape(())), x.shape, x.index,
                      trail=x.main.trail[:x.fork] + (block,))

    def _residual_block(self, node, x, act):
        """Replace the layers of the two paths (every layer emitted since the fork) by one
        :class:`~golden.residual.Residual`."""
        fork = x.fork
        main, skip = x.main.trail[fork:], x.skip.trail[fork:]
        since = self.layers[fork:]
        if (len(self.layers) < fork or any(a is not b for a, b in zip(self.layers, x.main.trail[:fork]))
                or len(since) != len(main) + len(skip)
                or {id(v) for v in since} != {id(v) for v in main + skip}):
            _refuse(node, "the residual paths share layers with another branch of the graph; "
                          "only two paths from one map to the add are supported")
        if not isinstance(main[0], (Conv2D, Recode)) or skip and not isinstance(skip[0], (Conv2D, Recode)):
            _refuse(node, "each residual path must start with a convolution (or be the "
                          "identity)")
        try:
            block = Residual(main[0].in_shape, main, skip, act, x.shifts)
        except ModelError as error:
            _refuse(node, f"the residual block: {error}")
        self.layers[fork:] = [block]
        return block

    def _emit(self, node, acc, activation):
        spec = acc.layer
        try:
            if spec["kind"] == "sumpool":
                self.layers.append(SumPool(spec["in_shape"], spec["x_enc"], activation,
                                           spec["kernel"], spec["stride"]))
                return
            dense = Dense(spec["weights"], activation, weight_encoding=spec["w_enc"],
                          input_encoding=spec["x_enc"])
            if spec.get("recode"):
                self.layers.append(Recode(spec["in_shape"]))
            if spec["kind"] == "conv":
                layer = Conv2D(spec["in_shape"], dense, spec["kernel"], spec["stride"],
                               spec["pad"], spec["pad_value"])
            else:
                layer = dense
        except ModelError as error:
            _refuse(node, str(error))
        self.layers.append(layer)

    # -- layout -----------------------------------------------------------------------

    def _layout(self, node, ins, consts, attrs):
        x = ins[0]
        op = node.op_type
        if isinstance(x, _Raw):
            if op == "Transpose":
                _refuse(node, "transposing the raw input is not supported")
            # Elementwise ops commute with a reshape: the elements keep their order.
            return _Raw(x.orig, self._new_shape(node, x.shape, consts, attrs), x.ops)
        if not isinstance(x, _Codes):
            _refuse(node, "reshaping accumulators before their quantizer is not supported")
        if op == "Transpose":
            perm = list(attrs.get("perm", range(len(x.shape) + 1))[::-1]
                        if "perm" not in attrs else attrs["perm"])
            if perm[0] != 0:
                _refuse(node, "a transpose must keep the batch dimension first")
            axes = [p - 1 for p in perm[1:]]
            index = x.index.transpose(axes)
            return replace(x, shape=index.shape, index=index,
                           exps=None if x.exps is None else x.exps.transpose(axes))
        shape = self._new_shape(node, x.shape, consts, attrs)
        return replace(x, shape=shape, index=x.index.reshape(shape),
                       exps=None if x.exps is None else x.exps.reshape(shape))

    def _new_shape(self, node, shape, consts, attrs):
        if node.op_type == "Flatten":
            if attrs.get("axis", 1) != 1:
                _refuse(node, "only Flatten with axis 1 is supported")
            return (int(np.prod(shape)),)
        target = consts[1]
        if target is None:
            _refuse(node, "the target shape must be a constant")
        target = [int(t) for t in np.asarray(target).ravel()]
        if not target or target[0] not in (1, 0, -1):
            _refuse(node, f"target shape {target} must keep the batch dimension first")
        rest = target[1:]
        total = int(np.prod(shape))
        if rest.count(-1) > 1:
            _refuse(node, f"target shape {target} has more than one -1")
        known = int(np.prod([d for d in rest if d != -1])) if rest else 1
        rest = [total // known if d == -1 else d for d in rest]
        if int(np.prod(rest)) != total:
            _refuse(node, f"cannot reshape {shape} to {target}")
        return tuple(rest)

    def _weight_op(self, node, w, consts, attrs):
        if node.op_type == "Transpose":
            perm = attrs.get("perm", list(range(w.ints.ndim))[::-1])
            scale = np.asarray(w.scale)
            if scale.ndim == w.ints.ndim:
                scale = scale.transpose(perm)
            elif scale.size != 1:
                _refuse(node, "weight scale of unexpected shape")
            return _QWeight(w.ints.transpose(perm), scale, w.levels)
        if node.op_type in ("Reshape", "Identity"):
            if node.op_type == "Reshape":
                if np.asarray(w.scale).size != 1:
                    _refuse(node, "reshaping per-channel scaled weights is not supported")
                return _QWeight(w.ints.reshape(consts[1]), w.scale, w.levels)
            return w
        _refuse(node, f"op {node.op_type} on quantized weights is not supported")

    # -- elementwise ------------------------------------------------------------------

    def _residual_add(self, node, a, b):
        """The ``Add`` of two code maps from one fork: a residual block's paths. The path
        with more layers is the main one; an operand that is the fork's map itself is an
        identity shortcut."""
        for x in (a, b):
            if x.exps is not None:
                _refuse(node, "a residual add of maps with per-channel scales is not supported; "
                              "quantize the operands per tensor")
            if (x.negative or x.pad or len(x.shape) != 3
                    or not np.array_equal(x.index, _canonical_index(x.shape))):
                _refuse(node, "a residual add takes quantized (C, H, W) maps in their natural "
                              "order")
        if a.shape != b.shape:
            _refuse(node, f"adds maps of shapes {a.shape} and {b.shape}")
        fork = 0
        while fork < min(len(a.trail), len(b.trail)) and a.trail[fork] is b.trail[fork]:
            fork += 1
        names = tuple(node.input[:2])
        if len(b.trail) - fork > len(a.trail) - fork:
            a, b, names = b, a, names[::-1]
        if len(a.trail) == fork:
            _refuse(node, "adds a map to itself; a residual add takes two paths from one map")
        ratio = a.scale / b.scale
        shift = int(np.round(np.log2(ratio))) if ratio > 0 else 0
        if not (ratio > 0 and 2.0 ** shift == ratio and abs(shift) <= MAX_SHIFT):
            _refuse(node, f"the operands' scales {a.scale:g} and {b.scale:g} differ by a factor "
                          f"that is not a power of two (up to 2**{MAX_SHIFT}); quantize both "
                          f"paths with one quantizer or with power-of-two scales")
        shifts = (shift, 0) if shift >= 0 else (0, -shift)
        values = tuple((code_values(x.encoding) * np.float64(x.scale)).astype(F32)
                       for x in (a, b))
        return _Sum(a, b, fork, shifts, values, a.shape, a.index, names)

    def _elementwise(self, node, ins, consts, attrs):
        op = node.op_type
        x = ins[0]
        if op == "Add" and len(ins) == 2 and all(isinstance(v, _Codes) for v in ins):
            return self._residual_add(node, *ins)
        if op in ("Mul", "Add") and isinstance(ins[0], _Const):
            x, consts = ins[1], [consts[1], consts[0]]
        elif op in ("Sub", "Div") and isinstance(ins[0], _Const):
            x, consts = ins[1], [consts[1], consts[0]]
            op = "R" + op
        if len(ins) > 1 and op not in ("BatchNormalization",) and consts[1] is None:
            _refuse(node, "adds or multiplies two computed tensors; a residual add takes two "
                          "quantizers' outputs (maps from one fork)")
        if op == "BatchNormalization":
            if any(c is None for c in consts[1:5]):
                _refuse(node, "batch-norm parameters must be constants")
            s, b = _bn_affine(*(np.asarray(c, F32) for c in consts[1:5]),
                              attrs.get("epsilon", 1e-5))
            op, args = "BN", [s, b]
        elif op == "Relu":
            args = []
        elif op in ("Pow", "Sqrt"):
            _refuse(node, "Pow and Sqrt are supported on constants only")
        elif op == "MulAdd":
            if len(consts) != 3 or consts[2] is None:
                _refuse(node, "needs a constant factor and a constant addend")
            args = [np.asarray(consts[1], F32), np.asarray(consts[2], F32)]
        else:
            args = [np.asarray(consts[1], F32)]
        if isinstance(x, _Raw):
            if op == "BN":
                _refuse(node, "batch-norm on the raw input is not supported")
            return _Raw(x.orig, x.shape, x.ops + [(op, args)])
        if isinstance(x, (_Acc, _Sum)):
            nd = len(x.shape) + 1
            channels = len(x.b) if isinstance(x, _Acc) else x.shape[0]
            if op == "BN":
                if any(a.shape != (channels,) for a in args):
                    _refuse(node, f"batch-norm parameters must have {channels} entries")
            else:
                args = [_per_channel(node, a, channels, x.channel_axis, nd) for a in args]
            return replace(x, ops=x.ops + [(op, args)])
        if isinstance(x, _Codes):
            if op == "Relu" and (x.encoding != BINARY and x.encoding.offset >= 0):
                return x
            if op in ("Mul", "Div") and args[0].size == 1 and float(args[0].reshape(())) > 0:
                s = float(args[0].reshape(()))
                return replace(x, scale=x.scale * s if op == "Mul" else x.scale / s)
            _refuse(node, f"{op} on quantized activations is not supported (only a positive "
                          f"scalar Mul or Div)")
        _refuse(node, f"{op} here is not supported")

    # -- compute ------------------------------------------------------------------------

    def _weights_of(self, node, w):
        """Quantized weights: a constant behind a quantizer, or a constant of whole numbers
        (as ``golden.qonnx export`` writes them: the integer weights, scale 1)."""
        if isinstance(w, _Const):
            v = np.asarray(w.value, np.float64)
            if (v.size and np.isfinite(v).all() and (v == np.round(v)).all()
                    and np.abs(v).max() <= 1 << 15):
                ints = v.astype(np.int64)
                return _QWeight(ints, np.asarray(1, F32),
                                (min(-1, int(ints.min())), max(1, int(ints.max()))))
        if not isinstance(w, _QWeight):
            _refuse(node, "weights must be a constant behind Quant or BipolarQuant, or whole "
                          "numbers")
        return w

    def _encoding(self, ints, levels, x_enc):
        values = set(np.unique(ints).tolist())
        if values <= {-1, 1}:
            return "binary"
        if values <= {-1, 0, 1}:
            return TernaryWeights()
        mags = [abs(v) for v in values if v]
        if all(m & (m - 1) == 0 for m in mags) and max(mags) <= 1 << 15:
            return ShiftWeights(max(mags).bit_length() - 1)
        qmin, qmax = levels
        bits = max(1, (qmax - qmin).bit_length())
        return LutWeights(bits, tuple(range(qmin, qmax + 1)))

    def _make_acc(self, node, x, ints_oi, scale_o, kind, shape, index, channel_axis, extra,
                  in_exps=None):
        """An accumulator of golden weights ``ints_oi`` (out, in) over codes ``x``; an
        input ``i`` worth ``2**in_exps[i]`` of the base scale multiplies its column."""
        if in_exps is not None:
            ints_oi = ints_oi << in_exps[None, :]
            extra["levels"] = (min(-1, int(ints_oi.min())), max(1, int(ints_oi.max())))
        x_enc = x.encoding
        if self.input_recoded and x_enc == BINARY and not x.trail:
            _refuse(node, "reads the +-1 input map, which a zero-padded convolution recoded; "
                          "pad that one with -1 or +1")
        w_enc = weight_encoding(self._encoding(ints_oi, extra.pop("levels"), x_enc))
        channels, fan_in = ints_oi.shape
        mult = (np.float64(x.scale) * np.asarray(scale_o, np.float64)).reshape(-1)
        mult = np.broadcast_to(mult, (channels,)).copy()
        if x_enc == BINARY and w_enc.kind == "binary":
            a, b = 2, np.full(channels, -fan_in, np.int64)      # dot = 2 * popcount - MW
            lo, hi = 0, fan_in
        else:
            a, b = 1, np.zeros(channels, np.int64)
            vmin, vmax = ((-1, 1) if x_enc == BINARY else x_enc.value_range)
            wabs = np.abs(ints_oi).sum(axis=1).max()
            bound = int(wabs) * max(abs(vmin), abs(vmax))
            lo, hi = -bound, bound
        if not (_is_pow2(x.scale) and _is_pow2(scale_o)) or max(abs(lo), abs(hi)) * 2 >= 1 << 24:
            self.exact_matmul = False
        layer = dict(weights=ints_oi, w_enc=w_enc, x_enc=x_enc, kind=kind, **extra)
        return _Acc(layer, mult, a, b, lo, hi, shape, index, channel_axis, trail=x.trail)

    def _matmul(self, node, ins, consts, attrs):
        x = ins[0]
        if not isinstance(x, _Codes):
            _refuse(node, "the left operand must be quantized activations")
        w = self._weights_of(node, ins[1])
        ints, scale = w.ints, np.asarray(w.scale, np.float64)
        if node.op_type == "Gemm":
            if attrs.get("transA", 0):
                _refuse(node, "transA is not supported")
            if attrs.get("transB", 0):
                ints = ints.T
                scale = scale.T if scale.ndim == 2 else scale
        if ints.ndim != 2 or len(x.shape) != 1 or ints.shape[0] != x.shape[0]:
            _refuse(node, f"needs (N, {ints.shape[0]}) activations, has (N, *{x.shape})")
        fan_in, out = ints.shape
        if scale.size == 1:
            scale_o = np.full(out, float(scale.reshape(())))
        elif scale.ndim == 2 and scale.shape == (1, out):
            scale_o = scale[0]
        else:
            _refuse(node, f"weight scale of shape {scale.shape} is not per tensor or per "
                          f"output channel")
        golden = np.zeros((out, fan_in), np.int64)
        golden[:, x.index.ravel()] = ints.T
        in_exps = None
        if x.exps is not None:
            in_exps = np.zeros(fan_in, np.int64)
            in_exps[x.index.ravel()] = x.exps.ravel()
        acc = self._make_acc(node, x, golden, scale_o, "dense", (out,), np.arange(out), 1,
                             dict(levels=w.levels), in_exps)
        if node.op_type == "Gemm":
            alpha, beta = F32(attrs.get("alpha", 1.0)), F32(attrs.get("beta", 1.0))
            if alpha != 1:
                acc.ops.append(("Mul", [np.full(out, alpha, F32)]))
            if len(ins) > 2 and ins[2] is not None:
                if not isinstance(ins[2], _Const):
                    _refuse(node, "the bias must be a constant")
                bias = _per_channel(node, ins[2].value, out, 1, 2) * beta
                acc.ops.append(("Add", [bias.astype(F32)]))
        return acc

    def _conv(self, node, ins, consts, attrs):
        x = ins[0]
        if not isinstance(x, _Codes) or len(x.shape) != 3:
            _refuse(node, "the input must be quantized (C, H, W) maps")
        c, h, wd = x.shape
        if not np.array_equal(x.index, _canonical_index(x.shape)):
            _refuse(node, "the input maps must be in their natural order (no transpose)")
        w = self._weights_of(node, ins[1])
        if attrs.get("group", 1) != 1:
            _refuse(node, "grouped or depthwise convolutions are not supported (group 1)")
        if any(d != 1 for d in attrs.get("dilations", [1, 1])):
            _refuse(node, "dilated convolutions are not supported")
        if attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
            _refuse(node, "auto_pad is not supported; give explicit pads")
        oc, ic, kh, kw = w.ints.shape
        strides = attrs.get("strides", [1, 1])
        pads = attrs.get("pads", [0, 0, 0, 0])
        if kh != kw or len(set(strides)) != 1 or len(set(pads)) != 1 or ic != c:
            _refuse(node, f"needs a square kernel, equal strides and equal pads on every side "
                          f"over {c} channels (kernel {kh}x{kw}, strides {strides}, pads {pads})")
        pad = int(pads[0])
        pad_value = 0
        if x.pad:
            if pad:
                _refuse(node, "pads inputs that a Pad already padded")
            pad, pad_value = x.pad
        elif pad:
            enc = x.encoding
            if enc == BINARY:
                pad_value = "zero"
            elif not enc.offset <= 0 <= enc.offset + enc.top:
                _refuse(node, f"zero padding needs inputs that can be 0; these codes are "
                              f"{enc.offset} to {enc.offset + enc.top}")
            else:
                pad_value = -enc.offset
        recode = pad_value == "zero"
        if recode:
            # A +-1 map padded with 0: its codes become those of -1, 0, +1 (golden.recode).
            x = self._zero_paddable(node, x)
            pad_value, recode = ZERO_CODE, x.trail is not None
            x = replace(x, trail=x.trail or ())
        scale = np.asarray(w.scale, np.float64)
        if scale.size == 1:
            scale_o = np.full(oc, float(scale.reshape(())))
        elif scale.shape in ((oc, 1, 1, 1), (oc,)):
            scale_o = scale.reshape(oc)
        else:
            _refuse(node, f"weight scale of shape {scale.shape} is not per tensor or per "
                          f"output channel")
        golden = w.ints.transpose(0, 2, 3, 1).reshape(oc, -1)
        in_exps = None
        if x.exps is not None:
            per_channel = x.exps.reshape(c, -1)[:, 0]
            in_exps = np.tile(per_channel, kh * kh)      # (ky, kx, c) column order
        stride = int(strides[0])
        oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kh) // stride + 1
        acc = self._make_acc(node, x, golden, scale_o, "conv", (oc, oh, ow),
                             _canonical_index((oc, oh, ow)), 1,
                             dict(levels=w.levels, in_shape=(h, wd, c), kernel=kh,
                                  stride=stride, pad=pad, pad_value=pad_value, recode=recode),
                             in_exps)
        if len(ins) > 2 and ins[2] is not None:
            if not isinstance(ins[2], _Const):
                _refuse(node, "the bias must be a constant")
            acc.ops.append(("Add", [_per_channel(node, ins[2].value, oc, 0, 1)]))
        return acc

    def _zero_paddable(self, node, x):
        """The +-1 map ``x`` as codes of :data:`~golden.recode.ZERO_PADDABLE` (``2b``, the
        same values). A hidden map gets a :class:`~golden.recode.Recode` layer (the
        returned codes keep their trail); the network's input gets an input table that
        gives the codes directly (trail None: no layer)."""
        codes = replace(x, encoding=ZERO_PADDABLE, pad=None)
        if x.trail or self.layers:
            if not x.trail:
                _refuse(node, "pads the +-1 input map with 0, which another layer also reads; "
                              "pad it with -1 or +1")
            return codes
        inp = self.input_quant
        if inp.threshold is None:
            _refuse(node, "pads a +-1 input map given by a table with 0; not supported")
        table = np.where(np.arange(256) >= inp.threshold, 2, 0)
        self.input_quant = InputQuant(inp.shape, None, table, ZERO_PADDABLE)
        frontend = self.frontend
        self.frontend = lambda values: 2 * frontend(values)
        self.input_recoded = True
        return replace(codes, trail=None)

    def _pool_window(self, node, x, attrs, partial=False):
        """``(kernel, stride)`` of a pooling node over the (C, H, W) map ``x``: square, equal
        strides (ONNX's default 1), no padding, no dilation; ``ceil_mode`` only where it
        gives the floor mode's windows, unless ``partial`` (a max-pool: its partial last
        windows are :class:`~golden.pool.MaxPool`'s ceil mode)."""
        k = attrs.get("kernel_shape")
        if not k:
            _refuse(node, "needs its kernel_shape")
        strides = attrs.get("strides", [1] * len(k))
        if (len(k) != 2 or len(set(k)) != 1 or len(set(strides)) != 1
                or any(attrs.get("pads", [0])) or attrs.get("auto_pad", "NOTSET") != "NOTSET"
                or any(d != 1 for d in attrs.get("dilations", [1]))):
            _refuse(node, f"needs a square kernel, equal strides, no padding, no dilation "
                          f"(kernel {k}, strides {strides}, pads {attrs.get('pads')})")
        if len(x.shape) != 3:
            _refuse(node, "pools take (C, H, W) maps")
        k, s = int(k[0]), int(strides[0])
        _, h, w = x.shape
        if k > min(h, w):
            _refuse(node, f"a {k}x{k} kernel does not fit the {h}x{w} map")
        if attrs.get("ceil_mode", 0) and any((n - k) % s for n in (h, w)) and not partial:
            _refuse(node, f"ceil_mode over a {h}x{w} map that {k}x{k} windows with stride {s} "
                          f"do not tile needs partial windows at the edge, which an average "
                          f"pool does not support; export with ceil_mode=False (floor) or pad "
                          f"the map")
        return k, s

    def _maxpool(self, node, ins, consts, attrs):
        x = ins[0]
        k, s = self._pool_window(node, x, attrs, partial=True)
        c, h, w = x.shape
        try:
            pool = MaxPool((h, w, c), k, s, bool(attrs.get("ceil_mode", 0)))
        except ModelError as error:
            _refuse(node, str(error))
        oh, ow, _ = pool.out_shape
        index = _canonical_index((c, oh, ow))
        if isinstance(x, _Codes):
            self.layers.append(pool)
            return replace(x, shape=(c, oh, ow), index=index, trail=x.trail + (pool,),
                           exps=None if x.exps is None else x.exps[:, :oh, :ow].copy())
        if isinstance(x, _Acc):
            return replace(x, shape=(c, oh, ow), index=index, pools=x.pools + [pool],
                           source=None,
                           pool_ops=len(x.ops) if x.pool_ops is None else x.pool_ops)
        _refuse(node, "max-pools take quantized maps or a convolution's output")

    def _avgpool(self, node, ins, consts, attrs):
        """An average pool of quantized codes: an accumulator over the window sums of the
        codes (``SumPool``), its ``1/N`` a float32 division like the graph's, so the
        quantizer after it becomes thresholds on the sum."""
        x = ins[0]
        if not isinstance(x, _Codes) or x.negative:
            _refuse(node, "average pools take quantized maps (a quantizer's output)")
        if len(x.shape) != 3:
            _refuse(node, "pools take (C, H, W) maps")
        c, h, w = x.shape
        out_shape = None
        if node.op_type == "ReduceMean":
            axes = consts[1] if len(consts) > 1 and consts[1] is not None else attrs.get("axes")
            if axes is None or sorted(int(a) % 4 for a in np.asarray(axes).ravel()) != [2, 3]:
                _refuse(node, f"averages over axes {axes}; only the spatial axes (2, 3) of a "
                              f"map, a global average pool, are supported")
            if not attrs.get("keepdims", 1):
                out_shape = (c,)
        if node.op_type in ("GlobalAveragePool", "ReduceMean"):
            kernel = stride = None
            n, oh, ow = h * w, 1, 1
        else:
            kernel, stride = self._pool_window(node, x, attrs)
            n, oh, ow = kernel * kernel, (h - kernel) // stride + 1, (w - kernel) // stride + 1
        if x.encoding == BINARY:
            a, b, top = 2, -n, 1        # value = scale * (2 * sum - N)
        else:
            a, b, top = 1, n * x.encoding.offset, x.encoding.top
        if not _is_pow2(x.scale):
            # The graph sums the values in float32; with such a scale it may round.
            self.exact_matmul = False
        spec = {"kind": "sumpool", "in_shape": (h, w, c), "kernel": kernel, "stride": stride,
                "x_enc": x.encoding, "input": node.input[0]}
        shape = out_shape or (c, oh, ow)
        mult = np.full(c, x.scale, np.float64)
        if x.exps is not None:
            mult = mult * np.exp2(x.exps.reshape(c, -1)[:, 0])
        return _Acc(spec, mult, a, np.full(c, b, np.int64), 0,
                    n * top, shape, _canonical_index(shape), 1,
                    [("Div", [np.full(c, n, F32)])], trail=x.trail)

    # -- the last layer --------------------------------------------------------------

    def _finish(self, result):
        if isinstance(result, _Acc):
            self._scores(result)
        elif isinstance(result, _Codes) and self.layers and len(result.index.ravel()) == 1:
            self._binary_classifier()
        else:
            raise ModelError("the graph must end in class scores (a MatMul, Gemm or Conv and "
                             "float ops) or a one-channel quantizer (a binary classifier)")

    def _scores(self, acc):
        """Class scores ``S_j = acc_j << e_j + B_j`` with graph score ``alpha*S_j + beta``."""
        if acc.pools:
            raise ModelError("a max-pool between the last layer and the output is not "
                             "supported")
        if acc.layer["kind"] == "sumpool":
            raise ModelError("an average pool before the output is not supported: the class "
                             "scores come from a dense layer or a convolution")
        # The ideal per-channel affine map of the float ops, in float64.
        gain = acc.mult * acc.a
        off = acc.mult * acc.b
        for op, args in acc.ops:
            a = [np.asarray(v, np.float64) for v in args]
            if op == "Mul":
                gain, off = gain * a[0], off * a[0]
            elif op == "Div":
                gain, off = gain / a[0], off / a[0]
            elif op == "Add":
                off = off + a[0]
            elif op == "Sub":
                off = off - a[0]
            elif op == "RSub":
                gain, off = -gain, a[0] - off
            elif op in ("BN", "MulAdd"):
                gain, off = gain * a[0], off * a[0] + a[1]
            else:
                raise ModelError(f"{op} on the class scores is not supported (they must be an "
                                 f"affine function of the last layer's accumulators)")
        if (gain == 0).any():
            raise ModelError("a class score does not depend on its inputs (zero gain)")
        spec = dict(acc.layer)
        weights = spec["weights"].copy()
        xnor = spec["x_enc"] == BINARY and spec["w_enc"].kind == "binary"
        fan_in = weights.shape[1]
        for j in np.nonzero(gain < 0)[0]:
            # A negative gain: negate the row (XNOR popcount: acc' = MW - acc).
            weights[j] = -weights[j]
            if xnor:
                off[j] += gain[j] * fan_in
            gain[j] = -gain[j]
        spec["weights"] = weights
        base = gain.min()
        ratio = gain / base
        exps = np.round(np.log2(ratio)).astype(np.int64)
        if not np.all(np.exp2(exps) == ratio):
            self.exact_scores = False
        extra = 0
        rel = off / base
        if not (np.all(rel == np.round(rel)) and np.abs(rel).max() < 2.0 ** 24):
            # Offsets that are not whole steps (a float bias): relative to the smallest,
            # in finer steps where that makes them whole.
            rel = (off - off.min()) / base
            while extra < 16 and not np.all(rel * 2.0 ** extra == np.round(rel * 2.0 ** extra)):
                extra += 1
            if not np.all(rel * 2.0 ** extra == np.round(rel * 2.0 ** extra)):
                self.exact_scores = False
        bias = np.round(rel * 2.0 ** extra).astype(np.int64)
        scale_exp = exps + extra
        if spec.get("recode"):
            self.layers.append(Recode(spec["in_shape"]))
        try:
            dense = Dense(weights, Bias(bias), weight_encoding=spec["w_enc"],
                          input_encoding=spec["x_enc"], scale_exp=scale_exp)
            layer = dense if spec["kind"] == "dense" else Conv2D(
                spec["in_shape"], dense, spec["kernel"], spec["stride"], spec["pad"],
                spec["pad_value"])
        except ModelError as error:
            raise ModelError(f"the last layer: {error}") from None
        self.layers.append(layer)

    def _binary_classifier(self):
        """A one-channel thresholded last layer becomes two scores, class 1 when the
        threshold is met: ``S1 = acc - T``, ``S0 = T - 1 - acc`` (direction +1)."""
        last = self.layers.pop()
        dense = last.dense if hasattr(last, "dense") else last
        act = dense.activation
        t, d = int(act.thresholds[0, 0]), int(act.direction[0])
        w = dense.weights[0].astype(np.int64)
        xnor = dense.input_encoding == BINARY and dense.weight_encoding.kind == "binary"
        mw = dense.in_features
        # Row +w gives acc, row -w gives -acc (XNOR popcount: MW - acc).
        neg_const = mw if xnor else 0
        if d > 0:       # class 1 iff acc >= t
            weights = np.stack([-w, w])
            bias = np.array([t - 1 - neg_const, -t])
        else:           # class 1 iff acc <= t
            weights = np.stack([w, -w])
            bias = np.array([-t - 1, t - neg_const])
        new = Dense(weights, Bias(bias), weight_encoding=dense.weight_encoding,
                    input_encoding=dense.input_encoding)
        if hasattr(last, "dense"):
            new = Conv2D(last.in_shape, new, last.kernel, last.stride, last.pad, last.pad_value)
        self.layers.append(new)
        self.binary_output = True


#: op -> (handler, whether it handles a quantized weight itself): one entry per op family.
HANDLERS = {
    "Constant": (_Importer._constant, True),
    **{op: (_Importer._quantize, True) for op in QUANTIZERS + ("Sign",)},
    "Shape": (_Importer._shape, True),
    "Identity": (_Importer._identity, True),
    **{op: (_Importer._final, True) for op in FINAL},
    **{op: (_Importer._layout, False) for op in ("Reshape", "Flatten", "Transpose")},
    **{op: (_Importer._elementwise, False) for op in ELEMENTWISE + ("Pow", "Sqrt")},
    **{op: (_Importer._matmul, False) for op in ("MatMul", "Gemm")},
    "Conv": (_Importer._conv, False),
    "Pad": (_Importer._pad, False),
    "MaxPool": (_Importer._maxpool, False),
    **{op: (_Importer._avgpool, False)
       for op in ("AveragePool", "GlobalAveragePool", "ReduceMean")},
    # Folded on constants only (the shape prelude).
    **{op: (_Importer._no_input, False) for op in ("Gather", "Unsqueeze", "Concat")},
}
SUPPORTED = sorted(HANDLERS)


def _bisect(level, lo, hi, count, direction):
    """Per level ``t = 1..count`` of a monotonic step function ``level`` on ``[lo, hi]``:
    direction +1, the least ``acc`` with ``level(acc) >= t`` (``hi + 1`` if none);
    direction -1, the greatest (``lo - 1`` if none). All levels bisect together."""
    t = np.arange(1, count + 1)
    a = np.full(count, lo - 1, np.int64)     # virtual ends, never evaluated
    b = np.full(count, hi + 1, np.int64)
    while (b - a > 1).any():
        m = (a + b) // 2
        live = b - a > 1
        met = level(np.where(live, m, lo)) >= t
        if direction > 0:       # invariant: level(a) < t <= level(b)
            b = np.where(live & met, m, b)
            a = np.where(live & ~met, m, a)
        else:                   # invariant: level(a) >= t > level(b)
            a = np.where(live & met, m, a)
            b = np.where(live & ~met, m, b)
    return b if direction > 0 else a


def import_qonnx(path, divisor=None, input_type=None):
    """Import the QONNX graph at ``path``: a :class:`QonnxImport`.

    ``divisor``: the graph's input is ``pixel / divisor`` for 8-bit pixels (default: the
    graph's metadata ``bnn_rtl.input_divisor`` when it has one, as the project's export
    writes, else 255: [0, 1]). ``input_type``: an :class:`InputType` (or its text,
    :func:`parse_input_type`) for a graph whose input no quantizer quantizes. The class
    names come from the metadata ``bnn_rtl.classes`` when the graph has it.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such ONNX file")
    try:
        model = onnx.load(str(path))
    except Exception as error:  # onnx raises DecodeError and others for damaged files
        raise ModelError(f"{path}: not a readable ONNX file ({type(error).__name__})") from None
    return import_qonnx_model(model, path, divisor, input_type)


def import_qonnx_model(model, path, divisor=None, input_type=None):
    """:func:`import_qonnx` of an ``onnx.ModelProto`` read (or made) from ``path``, which
    names the network and starts every error line."""
    if isinstance(input_type, str):
        input_type = parse_input_type(input_type)
    path = Path(path)
    if not model.graph.node:
        raise ModelError(f"{path}: the ONNX graph has no nodes")
    if divisor is None:
        divisor = DIVISOR
        declared = {p.key: p.value for p in model.metadata_props}.get(INPUT_DIVISOR_KEY)
        if declared is not None:
            try:
                divisor = float(declared)
            except ValueError:
                raise ModelError(f"{path}: metadata {INPUT_DIVISOR_KEY} is {declared!r}, "
                                 f"not a number") from None
    if not (isinstance(divisor, (int, float)) and np.isfinite(divisor) and divisor > 0):
        raise ModelError(f"the input divisor must be a positive number, not {divisor!r}")
    try:
        with reading(path, "ONNX graph"):
            return _Importer(model, path.stem, divisor, input_type).run()
    except ModelError as error:
        if str(error).startswith(f"{path}: "):
            raise
        raise ModelError(f"{path}: {error}") from None


def load_qonnx(path, input_type=None):
    """The :class:`~golden.model.Network` of a QONNX file (see :func:`import_qonnx`)."""
    return import_qonnx(path, input_type=input_type).network
