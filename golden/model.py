"""Network objects: the one in-memory form shared by golden inference and hardware generation.

A :class:`Network` is an input quantiser followed by a chain of :class:`Dense` layers.
Every number in it is an integer; nothing is rounded anywhere downstream.

Encodings
---------
``binary``
    The value set {-1, +1}, stored as one bit: 1 means +1, 0 means -1. Binary weights
    and binary activations both use it, so a product w*x is +1 exactly when the two
    bits are equal (XNOR).
:class:`IntCodes`
    Multi-bit activations: unsigned codes ``c`` in ``[0, top]`` with value ``c + offset``
    (:data:`PIXELS`: raw 8-bit pixels).
Weights
    Binary, ternary, sign-and-shift or lookup-table levels: :mod:`golden.weights`.

Layer arithmetic
----------------
A binary x binary :class:`Dense` layer with fan-in ``MW`` computes per output channel the
XNOR popcount ``acc = sum_i XNOR(x_i, w_i)``, an integer in ``[0, MW]``. (The signed
+-1 dot product is ``2*acc - MW``; thresholds are stated in the popcount domain.)
Every other layer computes the signed dot product of the values,
``acc = sum_i w_i * v_i`` (``v = 2*bit - 1`` or ``code + offset``). A per-channel
``scale_exp`` multiplies ``acc`` by ``2**scale_exp``.

Activations
-----------
:class:`Thresholds`
    ``y = sum_t (acc >= T_t)`` for a channel with direction +1, and
    ``y = sum_t (acc <= T_t)`` for direction -1 (a batch-norm with negative gain).
    With one threshold the output is a binary activation bit.
:class:`Bias`
    ``y = acc + b``: no quantisation, used on the last layer whose outputs are class
    scores. The predicted class is the first index of the largest score.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from .checks import OFFSET_LIMIT, VALUE_LIMIT, check_bool, check_int, check_shape, int_array
from .errors import ModelError
from .weights import weight_encoding

__all__ = ["check_shape", "VALUE_LIMIT", "BINARY", "PIXELS", "IntCodes", "InputQuant",
           "Thresholds", "Bias", "Dense", "Network", "chain_io", "layer_io", "check_input",
           "check_map", "output_encoding"]

BINARY = "binary"


@dataclass(frozen=True)
class IntCodes:
    """Integer activations carried as unsigned codes: value = code + offset, code in [0, top]."""

    bits: int
    offset: int
    top: int

    @property
    def value_range(self):
        return self.offset, self.offset + self.top

    def __post_init__(self):
        object.__setattr__(self, "bits", check_int(self.bits, "integer codes' bits"))
        object.__setattr__(self, "top", check_int(self.top, "integer codes' top code"))
        object.__setattr__(self, "offset", check_int(
            self.offset, "an integer code offset (the value of code 0)", -OFFSET_LIMIT,
            OFFSET_LIMIT))
        if not 1 <= self.bits <= 16 or not 1 <= self.top < 1 << self.bits:
            raise ModelError(f"integer codes need 1..16 bits and a top code in [1, 2**bits - 1], "
                             f"not bits={self.bits}, top={self.top}")

    def to_json(self):
        return {"type": "int", "bits": self.bits, "offset": self.offset, "top": self.top}


PIXELS = IntCodes(8, 0, 255)
"""Raw 8-bit input pixels, values 0..255: the encoding of an un-binarised first layer."""


@dataclass(frozen=True, eq=False)
class InputQuant:
    """Turns raw 8-bit input pixels into the first layer's input.

    ``bit = pixel >= threshold``, the pixels flattened in C (row-major) order; with
    ``threshold=None`` the pixels themselves are the input, 8-bit codes (:data:`PIXELS`),
    for a first layer that multiplies 8-bit pixels by its (binary, ternary, ...) weights;
    with a ``table``, each pixel becomes the code ``table[pixel]`` of ``table_encoding``
    (e.g. BNN-PYNQ CNV's signed 8-bit fixed point).

    Parameters
    ----------
    shape : tuple of int
        Shape of one raw input, e.g. ``(28, 28)`` or ``(32, 32, 3)`` (channels last).
    threshold : int or None
        Pixel value from which a pixel becomes a 1 bit (+1), in ``[0, 256]``; or None.
    table : array (256,) of int, optional
        Code per pixel value (with ``threshold=None``).
    table_encoding : IntCodes, optional
        The encoding of the table's codes.
    """

    shape: tuple
    threshold: int
    table: np.ndarray = None
    table_encoding: IntCodes = None

    def __post_init__(self):
        shape = check_shape(self.shape, "the input shape")
        if math.prod(shape) > 1 << 26:
            raise ModelError(f"an input of shape {shape} is larger than this tool handles "
                             f"(2**26 values)")
        object.__setattr__(self, "shape", shape)
        if (self.table is None) != (self.table_encoding is None):
            raise ModelError("an input table needs its table_encoding, and the other way round")
        if self.table is not None:
            if self.threshold is not None:
                raise ModelError("give an input threshold or an input table, not both")
            if not isinstance(self.table_encoding, IntCodes):
                raise ModelError(f"the input table's encoding must be IntCodes, "
                                 f"not {self.table_encoding!r}")
            table = int_array(self.table, np.int64, "input table codes")
            if table.shape != (256,) or table.min() < 0 or table.max() > self.table_encoding.top:
                raise ModelError(f"the input table must hold 256 codes in "
                                 f"[0, {self.table_encoding.top}]")
            object.__setattr__(self, "table", table)
            return
        if self.threshold is None:
            return
        object.__setattr__(self, "threshold", check_int(
            self.threshold, "input binarize threshold (or None for 8-bit pixels)", 0, 256))

    @property
    def encoding(self):
        """The first layer's input encoding: binary bits, :data:`PIXELS` or the table's."""
        if self.table is not None:
            return self.table_encoding
        return PIXELS if self.threshold is None else BINARY

    @property
    def features(self):
        return int(np.prod(self.shape))

    def __call__(self, pixels):
        """Quantise a batch ``(N, *shape)`` of uint8 pixels to ``(N, features)`` bits (uint8),
        or to codes (int64) for pixel or table inputs."""
        pixels = np.asarray(pixels)
        if pixels.shape[1:] != self.shape:
            raise ModelError(f"input images have shape {pixels.shape[1:]}, "
                             f"the model expects {self.shape}")
        if self.threshold is None:
            if pixels.size and (pixels.min() < 0 or pixels.max() > 255):
                raise ModelError("input pixels must be 8-bit values in [0, 255]")
            flat = pixels.reshape(len(pixels), -1).astype(np.int64)
            return flat if self.table is None else self.table[flat]
        return (pixels.reshape(len(pixels), -1) >= self.threshold).astype(np.uint8)


@dataclass(frozen=True, eq=False)
class Thresholds:
    """Per-channel multi-threshold activation (batch-norm and sign folded in).

    Parameters
    ----------
    thresholds : array (channels, count) of int
        Sorted ascending along each row for direction +1, descending for -1.
    direction : array (channels,) of +1/-1, optional
        Comparison direction per channel; defaults to +1 everywhere.
    offset : int, optional
        With more than one threshold, the activation's value is ``offset + y`` (e.g. -1 for
        the values -1, 0, +1 of a 2-bit BNN-PYNQ activation); the code ``y`` travels on the
        wire. With one threshold and ``bipolar`` the output is a binary bit (-1/+1) and the
        offset must be 0.
    bipolar : bool, optional
        With one threshold: the bit is -1/+1 (default, a sign), or, when False, a 1-bit
        integer code of value ``offset + y`` (``{0, 1}`` activations for offset 0).
    """

    thresholds: np.ndarray
    direction: np.ndarray = None
    offset: int = 0
    bipolar: bool = True

    def __post_init__(self):
        thresholds = int_array(self.thresholds, np.int64, "thresholds")
        if thresholds.ndim != 2 or thresholds.shape[1] < 1:
            raise ModelError(f"thresholds must have shape (channels, count>=1), "
                             f"not {thresholds.shape}")
        direction = (np.ones(len(thresholds), np.int8) if self.direction is None
                     else int_array(self.direction, np.int8, "threshold directions"))
        if direction.shape != (len(thresholds),):
            raise ModelError(f"threshold directions have shape {direction.shape}, "
                             f"expected ({len(thresholds)},)")
        if not np.isin(direction, (-1, 1)).all():
            raise ModelError("threshold directions must be +1 or -1")
        steps = np.diff(thresholds, axis=1) * direction[:, None]
        if (steps < 0).any():
            channel = int(np.nonzero((steps < 0).any(axis=1))[0][0])
            raise ModelError(f"thresholds of channel {channel} are not sorted in the order of "
                             f"its direction ({int(direction[channel]):+d})")
        object.__setattr__(self, "thresholds", thresholds)
        object.__setattr__(self, "direction", direction)
        object.__setattr__(self, "offset", check_int(self.offset, "threshold output offset",
                                                     -OFFSET_LIMIT, OFFSET_LIMIT))
        bipolar = check_bool(self.bipolar, "threshold 'bipolar'")
        object.__setattr__(self, "bipolar", bipolar or thresholds.shape[1] > 1)
        if thresholds.shape[1] == 1 and self.bipolar and self.offset:
            raise ModelError("a single-threshold (binary) activation cannot have an offset")

    @property
    def channels(self):
        return self.thresholds.shape[0]

    @property
    def count(self):
        return self.thresholds.shape[1]

    @property
    def out_bits(self):
        """Width of the unsigned output ``y`` in ``[0, count]``."""
        return int(self.count).bit_length()

    def next_encoding(self):
        """The input encoding of a layer fed by this activation."""
        if self.count == 1 and self.bipolar:
            return BINARY
        return IntCodes(self.out_bits, self.offset, self.count)


@dataclass(frozen=True, eq=False)
class Bias:
    """Per-channel integer offset ``y = acc + bias``; the last layer's class scores."""

    bias: np.ndarray

    def __post_init__(self):
        bias = int_array(self.bias, np.int64, "biases")
        if bias.ndim != 1:
            raise ModelError(f"biases must be a vector, not shape {bias.shape}")
        object.__setattr__(self, "bias", bias)

    @property
    def channels(self):
        return len(self.bias)


@dataclass(frozen=True, eq=False)
class Dense:
    """Fully-connected layer: a multiplier-free dot product, then an activation.

    Parameters
    ----------
    weights : array (out_features, in_features) of int
        Weight values, each in the set of ``weight_encoding``.
    activation : Thresholds or Bias
    weight_encoding : str or encoding, optional
        ``"binary"`` (default), ``"ternary"``, :class:`~golden.weights.ShiftWeights` or
        :class:`~golden.weights.LutWeights`.
    input_encoding : ``"binary"`` or IntCodes
        Binary x binary gives the XNOR popcount ``acc`` in ``[0, MW]``; every other pair
        gives the signed dot product ``acc = sum_i w_i * v_i`` of the values (input value
        ``v = 2*bit - 1`` for bits, ``code + offset`` for codes).
    scale_exp : array (out_features,) of int >= 0, optional
        Per-channel power-of-two scale (IR-Net): the accumulator becomes ``acc << scale_exp``.
        Thresholds absorb it; a bias layer's scores carry it.
    """

    weights: np.ndarray
    activation: object
    weight_encoding: object = BINARY
    input_encoding: object = BINARY
    scale_exp: np.ndarray = None

    def __post_init__(self):
        object.__setattr__(self, "weight_encoding", weight_encoding(self.weight_encoding))
        if self.input_encoding != BINARY and not isinstance(self.input_encoding, IntCodes):
            raise ModelError(f"input encoding {self.input_encoding!r} is not supported; "
                             f"use {BINARY!r} or IntCodes")
        weights = int_array(self.weights, np.int64, "weights")
        if weights.ndim != 2 or 0 in weights.shape:
            raise ModelError(f"weights must be a non-empty matrix (out, in), not shape {weights.shape}")
        self.weight_encoding.check(weights)
        object.__setattr__(self, "weights", weights.astype(
            np.int8 if np.abs(weights).max() < 128 else np.int64))
        scale = (np.zeros(len(weights), np.int64) if self.scale_exp is None
                 else int_array(self.scale_exp, np.int64, "scale exponents"))
        if scale.shape != (len(weights),) or (scale < 0).any() or (scale > 30).any():
            raise ModelError(f"scale exponents must be {len(weights)} integers in [0, 30]")
        object.__setattr__(self, "scale_exp", scale)
        if not isinstance(self.activation, (Thresholds, Bias)):
            raise ModelError(f"activation must be Thresholds or Bias, not {self.activation!r}")
        if self.activation.channels != self.out_features:
            raise ModelError(f"the activation has {self.activation.channels} channels but the "
                             f"layer has {self.out_features} outputs")
        bound = self.acc_bound
        if bound > VALUE_LIMIT:
            raise ModelError(f"the accumulator could reach {bound:.3g} (fan-in {self.in_features} "
                             f"x weight x input value x 2**scale), beyond the 2**56 this tool "
                             f"holds; the weights, input codes or scales are out of range")

    @property
    def acc_bound(self):
        """A proven bound on ``|acc|``: fan-in x the largest weight magnitude x the largest
        input value magnitude x ``2**max(scale_exp)``."""
        w_max = max(abs(int(v)) for v in self.weight_encoding.values)
        if self.input_encoding == BINARY:
            x_max = 1
        else:
            lo, hi = self.input_encoding.value_range
            x_max = max(abs(lo), abs(hi))
        return self.in_features * w_max * x_max << int(self.scale_exp.max())

    @property
    def in_features(self):
        return self.weights.shape[1]

    @property
    def out_features(self):
        return self.weights.shape[0]

    @property
    def weight_bits(self):
        """Binary weights as bits (out, in), 1 = +1."""
        assert self.weight_encoding.kind == "binary"
        return (self.weights > 0).astype(np.uint8)

    @property
    def weight_codes(self):
        """Weights as the codes of their encoding (out, in), int64."""
        return self.weight_encoding.encode(self.weights)

    def io(self, shape, encoding, where):
        """See :func:`layer_io`."""
        check_input(self, encoding, where)
        if self.in_features != int(np.prod(shape)):
            raise ModelError(f"{where} takes {self.in_features} inputs but receives "
                             f"{int(np.prod(shape))} (shape {shape})")
        return (self.out_features,), output_encoding(self.activation)


def output_encoding(activation):
    """The encoding a layer ending in ``activation`` outputs (None for class scores)."""
    return activation.next_encoding() if isinstance(activation, Thresholds) else None


def value_map(encoding):
    """``(gain, offset, top)``: codes ``0..top`` of ``encoding`` are worth
    ``gain * code + offset`` (integer codes ``code + offset``; a +-1 map ``2 * bit - 1``)."""
    if encoding == BINARY:
        return 2, -1, 1
    return 1, encoding.offset, encoding.top


def code_values(encoding):
    """The integer values of the codes ``0..top`` of ``encoding``, in code order."""
    gain, offset, top = value_map(encoding)
    return gain * np.arange(top + 1, dtype=np.int64) + offset


def check_input(layer, encoding, where):
    """A one-line ModelError unless ``layer`` (dense, convolution or residual block) takes
    inputs in ``encoding``."""
    if layer.input_encoding != encoding:
        raise ModelError(f"{where} expects {layer.input_encoding!r} inputs but receives "
                         f"{encoding!r}")


def check_map(layer, shape, where):
    """A one-line ModelError unless ``layer`` takes maps of ``shape``; an ``(H, W)`` input
    is a one-channel map."""
    as_map = tuple(shape) + (1,) if len(shape) == 2 else tuple(shape)
    if layer.in_shape != as_map:
        raise ModelError(f"{where} takes {layer.in_shape} maps but receives {tuple(shape)}")


def layer_io(layer, shape, encoding, where="layer"):
    """``(out_shape, out_encoding)`` of ``layer`` fed maps of ``shape`` in ``encoding``
    (None for class scores); a one-line ModelError when it cannot take them.

    Shapes are ``(features,)`` vectors or ``(H, W, C)`` maps (channels innermost); an
    ``(H, W)`` input is a one-channel map. A dense layer takes any shape of as many
    features, flattened in that order. Each layer class answers for itself through its
    ``io(shape, encoding, where)`` method.
    """
    if encoding is None:
        raise ModelError(f"{where}: follows a layer of class scores (Bias); only the last "
                         f"layer may end in a Bias")
    io = getattr(layer, "io", None)
    if io is None:
        raise ModelError(f"{where}: unsupported layer {type(layer).__name__}")
    return io(tuple(shape), encoding, where)


def chain_io(layers, shape, encoding, where=""):
    """``(out_shape, out_encoding)`` of a chain of layers (see :func:`layer_io`)."""
    for index, layer in enumerate(layers):
        shape, encoding = layer_io(layer, shape, encoding,
                                   f"{where} layer {index}".strip())
    return shape, encoding


@dataclass(frozen=True, eq=False)
class Network:
    """An input quantiser, then a chain of layers; hidden dense and convolution layers
    threshold, the last layer (dense or convolution) adds a bias: the class scores.

    Parameters
    ----------
    name : str
    input : InputQuant
        Its :attr:`~InputQuant.encoding` is the first layer's input encoding; its shape
        ``(H, W)`` or ``(H, W, C)`` is the first map (channels innermost).
    layers : sequence
        :class:`Dense`, :class:`golden.conv.Conv2D`, :class:`golden.pool.MaxPool`,
        :class:`golden.pool.GlobalMaxPool`, :class:`golden.residual.Residual`; each must
        take the shape and encoding the one before it gives (:func:`layer_io`).
    classes : sequence of str, optional
        Class names, one per output of the last layer.
    """

    name: str
    input: InputQuant
    layers: tuple
    classes: tuple = field(default=None)

    def __post_init__(self):
        layers = tuple(self.layers)
        object.__setattr__(self, "layers", layers)
        if not layers:
            raise ModelError("a network needs at least one layer")
        if not isinstance(self.input, InputQuant):
            raise ModelError(f"input must be an InputQuant, not {self.input!r}")
        shape, encoding = self.input.shape, self.input.encoding
        for index, layer in enumerate(layers):
            shape, encoding = layer_io(layer, shape, encoding, f"layer {index}")
            last = index == len(layers) - 1
            act = getattr(layer, "activation", None)
            if isinstance(layer, Dense) or hasattr(layer, "dense"):
                if last and not isinstance(act, Bias):
                    raise ModelError(f"layer {index}: the last layer must end in a Bias "
                                     f"(class scores)")
                if not last and not isinstance(act, Thresholds):
                    raise ModelError(f"layer {index}: hidden layers must end in thresholds")
            elif last:
                raise ModelError(f"layer {index}: the last layer must be a dense or convolution "
                                 f"layer ending in a Bias (class scores)")
        width = int(np.prod(shape))
        if self.classes is not None and (
                isinstance(self.classes, (str, bytes)) or not hasattr(self.classes, "__iter__")
                or not all(isinstance(c, (str, int)) and not isinstance(c, bool)
                           for c in self.classes)):
            raise ModelError(f"class names must be a list of strings, not {self.classes!r}")
        classes = (tuple(str(i) for i in range(width)) if self.classes is None
                   else tuple(str(c) for c in self.classes))
        if len(classes) != width:
            raise ModelError(f"{len(classes)} class names for {width} outputs")
        object.__setattr__(self, "classes", classes)
