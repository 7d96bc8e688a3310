"""The project's own model file (``.npz``): writer and reader.

File format, version 3 (versions 1 and 2, dense-only, load unchanged)
--------------------------------------------------------------------
A numpy ``.npz`` archive (zip), loaded with ``allow_pickle=False``, holding:

``model.json``
    A 0-d unicode array with a JSON object::

        {"format": "bnn-rtl-model", "version": 3, "name": "...",
         "input": {"shape": [28, 28], "binarize_threshold": 128},
         "classes": ["0", ..., "9"],
         "layers": [{"type": "dense", "in_features": 784, "out_features": 1024,
                     "weights": "binary", "inputs": "binary",
                     "activation": {"type": "thresholds", "count": 1, "offset": 0}},
                    ...,
                    {"type": "dense", ..., "activation": {"type": "bias"}}]}

``"binarize_threshold": null`` feeds the 8-bit pixels themselves to the first layer.
A layer's ``"weights"`` is ``"binary"``, ``"ternary"``, ``{"type": "shift", "max_exp": E}``
or ``{"type": "lut", "bits": k, "levels": [...]}`` (:mod:`golden.weights`), and an
optional ``"scaled": true`` says that ``layer<i>.scale_exp`` is present.

``layer<i>.weights``
    Binary weights: uint8 ``(out_features, ceil(in_features/8))``, bit-packed along each
    row, synapse ``k`` in bit ``k % 8`` of byte ``k // 8`` (1 = +1, 0 = -1), pad bits 0.
    Other encodings: the weight values, int16 ``(out_features, in_features)`` (int32 when
    a shift weight is ``+-2**15``).
``layer<i>.scale_exp``
    int64 ``(out_features,)``: per-channel power-of-two scale of the accumulator.
``layer<i>.thresholds``, ``layer<i>.direction``
    int64 ``(out_features, count)`` and int8 ``(out_features,)`` (+1/-1), for a
    ``thresholds`` activation; semantics in :mod:`golden.model`.
``layer<i>.bias``
    int64 ``(out_features,)``, for a ``bias`` activation.

Version 3 adds, beside ``"dense"``:

* ``{"type": "conv", "in_shape": [H, W, C], "kernel": K, "stride": S, "pad": P,
  "pad_value": code, ...the dense fields}``: arrays as a dense layer's, the weights
  ``(OC, K*K*C)`` in ``(ky, kx, c)`` column order (:mod:`golden.conv`);
* ``{"type": "maxpool", "in_shape": ..., "kernel": K, "stride": S, "ceil": true}`` (``ceil``
  only when set: PyTorch's ``ceil_mode``, :class:`golden.pool.MaxPool`) and
  ``{"type": "globalmaxpool", "in_shape": ...}`` (no arrays);
* ``{"type": "sumpool", "in_shape": ..., "kernel": K or null (global), "stride": S or
  null, "inputs": encoding, "activation": {...}}``: an average pool and its quantizer,
  thresholds over the window sums (:class:`golden.pool.SumPool`) under ``layer<i>``;
* ``{"type": "recode", "in_shape": ...}``: a +-1 map's bits as 2-bit codes of -1, 0, +1
  (:class:`golden.recode.Recode`), before a convolution that pads it with 0;
* ``{"type": "residual", "in_shape": ..., "main": [layers], "skip": [layers],
  "activation": {...}, "shifts": [main, skip]}``: inner layer ``j`` stores its arrays under
  ``layer<i>.main<j>`` / ``layer<i>.skip<j>``, the block's thresholds under ``layer<i>``;
  ``skip`` may be empty (an identity shortcut); ``shifts`` (default ``[0, 0]``) are the
  power-of-two factors of the two paths' values (:class:`golden.residual.Residual`);
* ``"input": {..., "table": {"type": "int", "bits", "offset", "top"}}`` with the array
  ``input.table`` (256 codes, one per pixel value).

A layer fed by a multi-threshold activation (``count`` > 1) has
``"inputs": {"type": "int", "bits": b, "offset": o, "top": count}``: its inputs are codes
``0..count`` on ``b`` bits whose values are ``code + o`` (the activation's ``offset``).

Every ``--model`` option accepts such a file (and the other formats that
:func:`golden.formats.load_model` reads).
"""

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from ..archive import NpzArchive
from ..conv import Conv2D
from ..errors import ModelError
from ..model import BINARY, Bias, Dense, InputQuant, IntCodes, Network, Thresholds
from ..pool import GlobalMaxPool, MaxPool, SumPool
from ..recode import Recode
from ..residual import Residual
from ..weights import weight_encoding

__all__ = ["FORMAT", "VERSION", "save", "load", "LAYER_TYPES"]

#: The layer types of model.json.
LAYER_TYPES = ("dense", "conv", "maxpool", "globalmaxpool", "sumpool", "recode", "residual")

FORMAT = "bnn-rtl-model"
VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
MAX_JSON_CHARS = 1 << 24


def _thresholds_json(act):
    spec = {"type": "thresholds", "count": int(act.count), "offset": act.offset}
    if not act.bipolar:
        spec["bipolar"] = False      # a {offset, offset + 1} bit (absent: -1/+1)
    return spec


def _inputs_json(encoding):
    return encoding if encoding == BINARY else encoding.to_json()


def _dense_spec(layer):
    act = layer.activation
    return {
        "in_features": int(layer.in_features),
        "out_features": int(layer.out_features),
        "weights": layer.weight_encoding.to_json(),
        "scaled": bool(layer.scale_exp.any()),
        "inputs": _inputs_json(layer.input_encoding),
        "activation": (_thresholds_json(act) if isinstance(act, Thresholds)
                       else {"type": "bias"}),
    }


def _dense_arrays(layer, key, arrays):
    if layer.weight_encoding.kind == "binary":
        arrays[f"{key}.weights"] = np.packbits(layer.weight_bits, axis=1, bitorder="little")
    else:
        # int16 holds every weight but a shift weight of +-2**15.
        dtype = np.int16 if np.abs(layer.weights).max() < 1 << 15 else np.int32
        arrays[f"{key}.weights"] = layer.weights.astype(dtype)
    if layer.scale_exp.any():
        arrays[f"{key}.scale_exp"] = layer.scale_exp.astype(np.int64)
    _activation_arrays(layer.activation, key, arrays)


def _activation_arrays(act, key, arrays):
    if isinstance(act, Thresholds):
        arrays[f"{key}.thresholds"] = act.thresholds
        arrays[f"{key}.direction"] = act.direction
    else:
        arrays[f"{key}.bias"] = act.bias


def _layer_spec(layer, key, arrays):
    """The JSON of one layer (arrays stored under ``key``)."""
    if isinstance(layer, Dense):
        _dense_arrays(layer, key, arrays)
        return {"type": "dense", **_dense_spec(layer)}
    if isinstance(layer, Conv2D):
        _dense_arrays(layer.dense, key, arrays)
        return {"type": "conv", "in_shape": list(layer.in_shape), "kernel": layer.kernel,
                "stride": layer.stride, "pad": layer.pad, "pad_value": int(layer.pad_value),
                **_dense_spec(layer.dense)}
    if isinstance(layer, MaxPool):
        spec = {"type": "maxpool", "in_shape": list(layer.in_shape), "kernel": layer.kernel,
                "stride": layer.stride}
        if layer.ceil:
            spec["ceil"] = True
        return spec
    if isinstance(layer, GlobalMaxPool):
        return {"type": "globalmaxpool", "in_shape": list(layer.in_shape)}
    if isinstance(layer, Recode):
        return {"type": "recode", "in_shape": list(layer.in_shape)}
    if isinstance(layer, SumPool):
        _activation_arrays(layer.activation, key, arrays)
        act = layer.activation
        return {"type": "sumpool", "in_shape": list(layer.in_shape), "kernel": layer.kernel,
                "stride": layer.stride, "inputs": _inputs_json(layer.input_encoding),
                "activation": _thresholds_json(act)}
    assert isinstance(layer, Residual)
    _activation_arrays(layer.activation, key, arrays)
    act = layer.activation
    spec = {"type": "residual", "in_shape": list(layer.in_shape),
            "main": [_layer_spec(inner, f"{key}.main{j}", arrays)
                     for j, inner in enumerate(layer.main)],
            "skip": [_layer_spec(inner, f"{key}.skip{j}", arrays)
                     for j, inner in enumerate(layer.skip)],
            "activation": _thresholds_json(act)}
    if layer.shifts != (0, 0):
        spec["shifts"] = list(layer.shifts)
    return spec


def _header(network, arrays):
    inp = network.input
    spec = {"shape": list(inp.shape), "binarize_threshold": inp.threshold}
    if inp.table is not None:
        spec["table"] = inp.table_encoding.to_json()
        arrays["input.table"] = inp.table
    return {"format": FORMAT, "version": VERSION, "name": network.name, "input": spec,
            "classes": list(network.classes),
            "layers": [_layer_spec(layer, f"layer{i}", arrays)
                       for i, layer in enumerate(network.layers)]}


def save(network, path):
    """Write ``network`` to ``path`` (.npz); the bytes depend only on the network."""
    arrays = {}
    arrays["model.json"] = np.array(json.dumps(_header(network, arrays), sort_keys=True))
    # Write the zip ourselves with a fixed timestamp, so that saving is deterministic.
    path = Path(path)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for key in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asanyarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())


def _get(archive, key, path):
    if key not in archive.files:
        raise ModelError(f"{path}: array {key!r} is missing; the file is incomplete or not a "
                         f"{FORMAT} file")
    return archive[key]


def _field(obj, key, kind, where):
    if not isinstance(obj, dict) or key not in obj:
        raise ModelError(f"{where}: field {key!r} is missing")
    value = obj[key]
    if kind is int and (not isinstance(value, int) or isinstance(value, bool)):
        raise ModelError(f"{where}: field {key!r} must be an integer, not {value!r}")
    if kind is not int and not isinstance(value, kind):
        raise ModelError(f"{where}: field {key!r} must be a {kind.__name__}, not {value!r}")
    return value


def load(path):
    """Read and validate a model file written by :func:`save`."""
    path = Path(path)
    with open(path, "rb") as f:
        if f.read(6) == b"\x93NUMPY":
            raise ModelError(f"{path}: not a .npz model file (a single .npy array)")
    with NpzArchive(path) as archive:
        text = _get(archive, "model.json", path)
        if text.dtype.kind != "U" or text.shape != () or len(str(text)) > MAX_JSON_CHARS:
            raise ModelError(f"{path}: model.json must be one JSON text of at most "
                             f"{MAX_JSON_CHARS} characters, not {text.dtype} {text.shape}")
        try:
            header = json.loads(str(text[()]))
        except (json.JSONDecodeError, RecursionError) as error:
            raise ModelError(f"{path}: model.json is not valid JSON "
                             f"({str(error)[:80] or type(error).__name__})") from None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ModelError(f"{path}: not a {FORMAT} file (model.json has no format {FORMAT!r})")
        if header.get("version") not in READABLE_VERSIONS:
            raise ModelError(f"{path}: format version {header.get('version')!r} is not supported; "
                             f"this tool reads versions {', '.join(map(str, READABLE_VERSIONS))}")
        where = f"{path}: model.json"
        inp = _field(header, "input", dict, where)
        if inp.get("binarize_threshold", 0) is None:
            threshold = None
        else:
            threshold = _field(inp, "binarize_threshold", int, where + " input")
        if "table" in inp:
            table_enc = _int_codes(_field(inp, "table", dict, where + " input"), where + " input")
            input_quant = InputQuant(tuple(_field(inp, "shape", list, where + " input")), None,
                                     _get(archive, "input.table", path), table_enc)
        else:
            input_quant = InputQuant(tuple(_field(inp, "shape", list, where + " input")),
                                     threshold)
        layers = [_load_layer(spec, f"layer{i}", f"{path}: layer {i}", archive, path)
                  for i, spec in enumerate(_field(header, "layers", list, where))]
        name = _field(header, "name", str, where)
        classes = header.get("classes")
        if classes is not None and (not isinstance(classes, list)
                                    or not all(isinstance(c, str) for c in classes)):
            raise ModelError(f"{where}: field 'classes' must be a list of strings")
        try:
            return Network(name, input_quant, layers, classes)
        except ModelError as error:
            raise ModelError(f"{path}: {error}") from None


def _int_codes(spec, where):
    return IntCodes(*(_field(spec, k, int, where) for k in ("bits", "offset", "top")))


def _load_activation(spec, key, lwhere, archive, path):
    act_spec = _field(spec, "activation", dict, lwhere)
    kind = _field(act_spec, "type", str, lwhere + " activation")
    if kind == "thresholds":
        act = Thresholds(_get(archive, f"{key}.thresholds", path),
                         _get(archive, f"{key}.direction", path), act_spec.get("offset", 0),
                         act_spec.get("bipolar", True))
        if act.count != _field(act_spec, "count", int, lwhere + " activation"):
            raise ModelError(f"{lwhere}: {act.count} thresholds per channel stored, "
                             f"model.json says {act_spec['count']}")
        return act
    if kind == "bias":
        return Bias(_get(archive, f"{key}.bias", path))
    raise ModelError(f"{lwhere}: unsupported activation {kind!r}; use 'thresholds' or 'bias'")


def _input_encoding(spec, lwhere):
    """The layer's ``inputs`` field: binary or an integer-code encoding."""
    inputs = spec.get("inputs")
    if isinstance(inputs, dict) and inputs.get("type") == "int":
        return _int_codes(inputs, lwhere + " inputs")
    if inputs == BINARY:
        return BINARY
    raise ModelError(f"{lwhere}: input encoding {inputs!r} is not supported; "
                     f"use {BINARY!r} or an 'int' encoding")


def _load_dense(spec, key, lwhere, archive, path):
    n_in = _field(spec, "in_features", int, lwhere)
    n_out = _field(spec, "out_features", int, lwhere)
    if "weights" not in spec:
        raise ModelError(f"{lwhere}: field 'weights' is missing")
    try:
        w_enc = weight_encoding(spec["weights"])
    except ModelError as error:
        raise ModelError(f"{lwhere}: {error}") from None
    encoding = _input_encoding(spec, lwhere)
    stored = _get(archive, f"{key}.weights", path)
    if w_enc.kind == "binary":
        if stored.dtype != np.uint8 or stored.shape != (n_out, -(-n_in // 8)):
            raise ModelError(f"{lwhere}: weights are {stored.dtype} {stored.shape}, "
                             f"expected uint8 {(n_out, -(-n_in // 8))} for {n_out}x{n_in} "
                             f"binary weights")
        bits = np.unpackbits(stored, axis=1, count=n_in, bitorder="little")
        weights = 2 * bits.astype(np.int8) - 1
    else:
        if stored.dtype not in (np.int16, np.int32) or stored.shape != (n_out, n_in):
            raise ModelError(f"{lwhere}: weights are {stored.dtype} {stored.shape}, "
                             f"expected int16 (or int32) {(n_out, n_in)}")
        weights = stored
    scale = _get(archive, f"{key}.scale_exp", path) if spec.get("scaled") else None
    act = _load_activation(spec, key, lwhere, archive, path)
    try:
        return Dense(weights, act, weight_encoding=w_enc, input_encoding=encoding,
                     scale_exp=scale)
    except ModelError as error:
        raise ModelError(f"{lwhere}: {error}") from None


def _load_layer(spec, key, lwhere, archive, path):
    """One layer (recursively for residual blocks) from its JSON and arrays."""
    kind = _field(spec, "type", str, lwhere)
    if kind not in LAYER_TYPES:
        raise ModelError(f"{lwhere}: unsupported layer type {kind!r}; use "
                         f"{', '.join(LAYER_TYPES)}")
    try:
        if kind == "dense":
            return _load_dense(spec, key, lwhere, archive, path)
        shape = tuple(_field(spec, "in_shape", list, lwhere))
        if kind == "conv":
            return Conv2D(shape, _load_dense(spec, key, lwhere, archive, path),
                          _field(spec, "kernel", int, lwhere), _field(spec, "stride", int, lwhere),
                          _field(spec, "pad", int, lwhere), _field(spec, "pad_value", int, lwhere))
        if kind == "maxpool":
            ceil = _field(spec, "ceil", bool, lwhere) if "ceil" in spec else False
            return MaxPool(shape, _field(spec, "kernel", int, lwhere),
                           _field(spec, "stride", int, lwhere), ceil)
        if kind == "globalmaxpool":
            return GlobalMaxPool(shape)
        if kind == "recode":
            return Recode(shape)
        if kind == "sumpool":
            kernel = spec.get("kernel")
            if kernel is not None:
                kernel = _field(spec, "kernel", int, lwhere)
            stride = None if kernel is None else _field(spec, "stride", int, lwhere)
            return SumPool(shape, _input_encoding(spec, lwhere),
                           _load_activation(spec, key, lwhere, archive, path), kernel, stride)
        if kind == "residual":
            paths = {name: [_load_layer(inner, f"{key}.{name}{j}", f"{lwhere} {name} {j}",
                                        archive, path)
                            for j, inner in enumerate(_field(spec, name, list, lwhere))]
                     for name in ("main", "skip")}
            shifts = spec.get("shifts", [0, 0])
            if not isinstance(shifts, list):
                raise ModelError(f"{lwhere}: 'shifts' must be a list of two integers")
            return Residual(shape, paths["main"], paths["skip"],
                            _load_activation(spec, key, lwhere, archive, path), tuple(shifts))
    except ModelError as error:
        if str(error).startswith(str(path)):
            raise
        raise ModelError(f"{lwhere}: {error}") from None
    raise AssertionError(kind)

