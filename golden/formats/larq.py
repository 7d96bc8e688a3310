"""Larq (Keras) models: a ``.h5`` or ``.keras`` file becomes a QONNX graph, which the QONNX
import (:mod:`.qonnx`) turns into the project's integer network, exactly.

Reading needs no TensorFlow: an H5 file is read with h5py (the model config JSON in the
``model_config`` attribute, the weights under ``model_weights``), a ``.keras`` file is a zip
of ``config.json`` and ``model.weights.h5``.

The model's input is the raw pixel value (0 to 255, float32); preprocessing such as
``Rescaling(1/127.5, offset=-1)`` is a layer of the model. A first layer without an input
quantizer multiplies the pixels themselves (8-bit codes).

What a model may hold (a ``Sequential`` model, or a functional one that is a chain)
---------------------------------------------------------------------------------
========================  ==============================================================
layer                     becomes
========================  ==============================================================
``QuantDense``            ``MatMul`` (``use_bias``: an ``Add``)
``QuantConv2D``           ``Conv``: square kernel, equal strides, ``padding`` "valid" or
                          "same" (symmetric), ``pad_values`` 0 or 1 (a ``Pad``)
``BatchNormalization``    Keras's float32 arithmetic (below)
``MaxPool2D``             ``MaxPool`` ("valid", or "same" where it is ``ceil_mode``)
``AveragePooling2D``,     ``AveragePool``, ``GlobalAveragePool`` of quantized maps (a
``GlobalAveragePooling2D``  quantizer before it, e.g. ``Activation("ste_sign")``), before a
                          quantizer
``Flatten``               Keras's (H, W, C) order
``Rescaling``             ``Mul`` and ``Add``
``Activation``            ``linear`` (nothing), ``relu``, ``softmax`` at the end (dropped),
                          or a sign quantizer by name
``SteSign``, ``DoReFa``...  a quantizer used as a layer: as an input quantizer
``Dropout``, ``InputLayer``  nothing (inference)
========================  ==============================================================

Quantizers (``input_quantizer`` and ``kernel_quantizer``, by name or serialized):
``ste_sign``, ``approx_sign``, ``swish_sign`` (forward: ``sign``, +1 at 0: a
``BipolarQuant``), ``magnitude_aware_sign`` (kernels: sign times the per-channel mean of
``|w|``), ``ste_tern`` (kernels, with its threshold or the TWN rule), ``DoReFa`` (k-bit,
``mode`` "activations" or "weights"), ``NoOp`` (none). Anything else is refused in one line
naming the layer.

Batch normalization is evaluated as TensorFlow does on x86-64 CPUs by default: after a dense
layer (rank 2, ``tf.nn.batch_normalization``) ``x * inv + (beta - mean * inv)`` with ``inv =
gamma * rsqrt(var + eps)``; after a convolution (rank 4, the fused kernel of oneDNN)
``fma((x - mean) * rsqrt(var + eps), gamma, beta)``, one rounding (the op ``MulAdd`` of the
domain ``bnn_rtl``). ``rsqrt`` is taken correctly rounded; TensorFlow's own is an
approximation that may differ in the last bit, which moves a threshold only where an
integer accumulator lands within that bit of it (``docs/larq.md`` has the measurement).
"""

import io
import json
import zipfile
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from ..errors import ModelError

__all__ = ["KERAS_SUFFIXES", "is_keras_file", "read_keras", "to_qonnx", "quantizes_input",
           "SIGN_QUANTIZERS"]

KERAS_SUFFIXES = (".h5", ".hdf5", ".keras")
F32 = np.float32
QONNX_DOMAIN = "qonnx.custom_op.general"
OWN_DOMAIN = "bnn_rtl"

#: Quantizers whose forward pass is ``sign`` (+1 at 0), by Keras class and alias.
SIGN_QUANTIZERS = {"SteSign": "ste_sign", "ApproxSign": "approx_sign",
                   "SwishSign": "swish_sign"}
KERNEL_ONLY = {"MagnitudeAwareSign": "magnitude_aware_sign", "SteTern": "ste_tern"}
OTHER = {"DoReFa": "dorefa_quantizer", "NoOp": "noop"}
ALIASES = {alias: cls for table in (SIGN_QUANTIZERS, KERNEL_ONLY, OTHER)
           for cls, alias in table.items()}
SUPPORTED_QUANTIZERS = "ste_sign, approx_sign, swish_sign, magnitude_aware_sign (kernels), " \
                       "ste_tern (kernels), DoReFa, NoOp"
PASS_THROUGH = {"InputLayer", "Dropout", "SpatialDropout2D", "GaussianDropout"}
SUPPORTED_LAYERS = ("QuantDense", "QuantConv2D", "BatchNormalization", "MaxPool2D",
                    "MaxPooling2D", "AveragePooling2D", "AvgPool2D", "GlobalAveragePooling2D",
                    "GlobalAvgPool2D", "Flatten", "Rescaling", "Activation", "Dropout")
#: What to use instead, for layers people try.
HINTS = {
    "Dense": "a float Dense layer; use larq.layers.QuantDense with a kernel_quantizer",
    "Conv2D": "a float Conv2D layer; use larq.layers.QuantConv2D with a kernel_quantizer",
    "QuantDepthwiseConv2D": "depthwise convolutions are not supported; use QuantConv2D",
    "QuantSeparableConv2D": "separable convolutions are not supported; use QuantConv2D",
    "DepthwiseConv2D": "depthwise convolutions are not supported; use QuantConv2D",
    "Add": "residual adds are not supported from Keras; export through QONNX (Brevitas)",
    "Concatenate": "concatenation is not supported",
    "GlobalMaxPooling2D": "a global max-pool is not supported from Keras; use MaxPool2D",
    "LayerNormalization": "layer normalization is not supported; use BatchNormalization",
    "Reshape": "Reshape is not supported; use Flatten",
}


# -- reading the file -------------------------------------------------------------------


def is_keras_file(path):
    return Path(path).suffix.lower() in KERAS_SUFFIXES


def read_keras(path):
    """``(config, weights)`` of the Keras model file at ``path``: the model config (a dict
    with ``class_name`` and ``config``) and, per layer name, its weight arrays by role
    (``kernel``, ``bias``, ``gamma``, ``beta``, ``moving_mean``, ``moving_variance``)."""
    import h5py

    path = Path(path)
    if path.suffix.lower() == ".keras":
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
                if not {"config.json", "model.weights.h5"} <= names:
                    raise ModelError(f"{path}: a zip without config.json and model.weights.h5,"
                                     f" not a Keras model file; save it with model.save()")
                config = json.loads(archive.read("config.json"))
                blob = archive.read("model.weights.h5")
        except zipfile.BadZipFile:
            raise ModelError(f"{path}: not a .keras file (not a zip archive)") from None
        with h5py.File(io.BytesIO(blob), "r") as f:
            return config, _keras_v3_weights(f, config)
    try:
        f = h5py.File(path, "r")
    except OSError:
        raise ModelError(f"{path}: not an HDF5 file; give a Keras model saved with "
                         f"model.save('net.h5') or model.save('net.keras')") from None
    with f:
        raw = f.attrs.get("model_config")
        if raw is None:
            raise ModelError(f"{path}: holds no model config (weights only?); save the whole "
                             f"model with model.save('net.h5')")
        config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        group = f["model_weights"] if "model_weights" in f else f
        return config, _h5_weights(group)


ROLES = ("kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance")


def _h5_weights(group):
    weights = {}
    for name, layer in group.items():
        names = [n.decode() if isinstance(n, bytes) else str(n)
                 for n in layer.attrs.get("weight_names", [])]
        arrays = {}
        for full in names:
            role = full.rsplit("/", 1)[-1].split(":")[0]
            arrays[role] = np.asarray(layer[full])
        weights[name] = arrays
    return weights


def _keras_v3_weights(f, config):
    """The ``.keras`` weights: ``layers/<name>/vars/<i>`` in the order the layer creates
    its variables, which its config determines."""
    weights = {}
    group = f.get("layers", {})
    for layer in _layer_list(config):
        cls, cfg = layer.get("class_name"), layer.get("config", {})
        name = cfg.get("name")
        if name not in group or "vars" not in group[name]:
            continue
        arrays = [np.asarray(group[name]["vars"][str(i)])
                  for i in range(len(group[name]["vars"]))]
        if cls == "BatchNormalization":
            roles = (["gamma"] if cfg.get("scale", True) else []) + \
                    (["beta"] if cfg.get("center", True) else []) + \
                    ["moving_mean", "moving_variance"]
        else:
            roles = ["kernel", "bias"]
        weights[name] = dict(zip(roles, arrays))
    return weights


def _layer_list(config):
    inner = config.get("config", {}) if isinstance(config, dict) else {}
    layers = inner.get("layers") if isinstance(inner, dict) else None
    return layers if isinstance(layers, list) else []


def _chain(config, path):
    """The model's layers in order: a Sequential model's list, or a functional model's
    layers when each takes the one before it."""
    cls = config.get("class_name")
    layers = _layer_list(config)
    if cls not in ("Sequential", "Functional", "Model") or not layers:
        raise ModelError(f"{path}: a {cls!r} model config; a Sequential or functional "
                         f"Keras model is supported")
    if cls == "Sequential":
        return layers
    previous = None
    for layer in layers:
        inbound = layer.get("inbound_nodes") or []
        sources = []
        for node in inbound:
            items = node.get("args", node) if isinstance(node, dict) else node
            sources += _inbound_names(items)
        if (previous is None and sources) or (previous is not None and sources != [previous]):
            raise ModelError(f"{path}: layer {layer.get('name')!r} does not take just the "
                             f"layer before it; only a chain of layers (no branches) is "
                             f"supported")
        previous = layer.get("name") or layer.get("config", {}).get("name")
    return layers


def _inbound_names(items):
    names = []
    if isinstance(items, list):
        if items and isinstance(items[0], str):
            return [items[0]]
        for item in items:
            names += _inbound_names(item)
    elif isinstance(items, dict) and "config" in items and "keras_history" in items["config"]:
        names.append(items["config"]["keras_history"][0])
    return names


# -- quantizers --------------------------------------------------------------------------


def _quantizer(spec, where, role):
    """``(class name, config)`` of a serialized quantizer, or None."""
    if spec is None:
        return None
    if isinstance(spec, str):
        cls = ALIASES.get(spec)
        if cls is None:
            raise ModelError(f"{where}: {role} {spec!r} is not supported; use one of "
                             f"{SUPPORTED_QUANTIZERS}")
        return cls, {}
    if isinstance(spec, dict):
        cls = spec.get("class_name")
        cls = ALIASES.get(cls, cls)
        if cls in SIGN_QUANTIZERS or cls in KERNEL_ONLY or cls in OTHER:
            return cls, spec.get("config") or {}
        raise ModelError(f"{where}: {role} {spec.get('class_name')!r} is not supported; use "
                         f"one of {SUPPORTED_QUANTIZERS}")
    raise ModelError(f"{where}: {role} {spec!r} is not a quantizer")


def _dorefa_bits(config, where):
    bits = config.get("k_bit", 2)
    if not isinstance(bits, int) or isinstance(bits, bool) or not 1 <= bits <= 8:
        raise ModelError(f"{where}: a DoReFa quantizer of k_bit={bits!r}; 1 to 8 bits are "
                         f"supported")
    return bits


def _kernel_values(kernel, quantizer, where, out_axis):
    """``(op, value, scale)``: the quantized kernel as the QONNX weight node that gives it:
    ``("Bipolar", latent, scale)``, ``("Const", integers, None)`` or ``("Quant",
    values, (scale, bits))``. ``out_axis``: the output-channel axis of ``kernel``."""
    if quantizer is None:
        raise ModelError(f"{where}: float weights (no kernel_quantizer); give the layer a "
                         f"kernel_quantizer such as ste_sign")
    cls, cfg = quantizer
    w = np.asarray(kernel, F32)
    if cls in SIGN_QUANTIZERS:
        return "Bipolar", w, np.ones((), F32)
    if cls == "MagnitudeAwareSign":
        axes = tuple(a for a in range(w.ndim) if a != out_axis)
        alpha = np.mean(np.abs(w).astype(np.float64), axis=axes).astype(F32)
        shape = [1] * w.ndim
        shape[out_axis] = -1
        return "Bipolar", w, alpha.reshape(shape)
    if cls == "SteTern":
        if cfg.get("ternary_weight_networks", False):
            t = F32(F32(0.7) * F32(np.abs(w).astype(np.float64).sum())) / F32(w.size)
        else:
            t = F32(cfg.get("threshold_value", 0.05))
        ints = np.sign(np.sign(w + t) + np.sign(w - t))
        return "Const", ints.astype(F32), None
    if cls == "DoReFa":
        bits = _dorefa_bits(cfg, where)
        n = F32(2 ** bits - 1)
        if cfg.get("mode", "activations") != "weights":
            raise ModelError(f"{where}: a DoReFa kernel quantizer in mode "
                             f"{cfg.get('mode')!r}; use mode='weights' for kernels")
        limited = np.tanh(w.astype(np.float64)).astype(F32)
        top = F32(np.abs(limited).max())
        x = (limited / (F32(2) * top) + F32(0.5)) if top else np.zeros_like(limited)
        q = np.round(x * n) / n
        values = (F32(2) * q.astype(F32) - F32(1)).astype(F32)
        return "Quant", values, (F32(1) / n, bits + 1)
    raise ModelError(f"{where}: kernel_quantizer {cls} is not supported; use one of "
                     f"{SUPPORTED_QUANTIZERS}")


# -- the graph ---------------------------------------------------------------------------


class _Graph:
    """The ONNX graph being written: its nodes and constants, named uniquely."""

    def __init__(self):
        self.nodes, self.inits, self.names = [], [], set()

    def const(self, value, stem, dtype=F32):
        name = self._unique(stem)
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def op(self, op_type, inputs, stem, domain="", **attrs):
        out = self._unique(f"{stem}/{op_type}")
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, domain=domain,
                                           **attrs))
        return out

    def _unique(self, stem):
        name, count = stem, 1
        while name in self.names:
            count += 1
            name = f"{stem}_{count}"
        self.names.add(name)
        return name


class _Translator:
    def __init__(self, path, config, weights):
        self.path, self.config, self.weights = path, config, weights
        self.g = _Graph()
        self.x = "pixels"
        self.shape = None        # Keras per-sample shape of the current tensor
        self.onnx_rank = 2       # of the ONNX tensor: 4 for an (N, C, H, W) map
        self.flat_pending = False
        self.ended = False

    @property
    def onnx_map(self):
        return self.onnx_rank == 4

    # Per-channel constants broadcast against the current ONNX tensor.
    def channel(self, values, stem):
        values = np.asarray(values, F32).reshape(-1)
        shape = (1, -1, 1, 1) if self.onnx_map else (1, -1)
        return self.g.const(values.reshape(shape), stem)

    def run(self):
        layers = _chain(self.config, self.path)
        self._input(layers)
        for index, layer in enumerate(layers):
            cls = layer.get("class_name")
            cfg = layer.get("config") or {}
            name = cfg.get("name") or layer.get("name") or f"layer{index}"
            where = f"layer {name!r} ({cls})"
            if self.ended:
                raise ModelError(f"{self.path}: {where} follows the softmax; the softmax must "
                                 f"be the last layer")
            if cls in PASS_THROUGH:
                continue
            if cls in SIGN_QUANTIZERS or cls == "DoReFa":
                # A quantizer used as a layer of its own.
                self._activation_quantizer((cls, cfg), where)
                continue
            handler = getattr(self, f"_{cls}", None)
            if handler is None or cls not in SUPPORTED_LAYERS:
                hint = HINTS.get(cls, f"supported layers: {', '.join(SUPPORTED_LAYERS)}")
                raise ModelError(f"{self.path}: {where} is not supported: {hint}")
            try:
                handler(name, cfg, self.weights.get(name, {}), where)
            except ModelError as error:
                message = str(error)
                raise ModelError(message if message.startswith(str(self.path))
                                 else f"{self.path}: {message}") from None
        return self._model(layers)

    def _input(self, layers):
        first = layers[0].get("config") or {}
        shape = first.get("batch_input_shape") or first.get("batch_shape")
        if not shape:
            raise ModelError(f"{self.path}: the model declares no input shape; build it with "
                             f"an Input or input_shape")
        shape = tuple(shape[1:])
        if not shape or any(not isinstance(d, int) or d < 1 for d in shape) or len(shape) > 3:
            raise ModelError(f"{self.path}: input shape {shape}; a fixed (H, W, C), (H, W) or "
                             f"(features,) input is supported")
        self.shape = shape
        if len(shape) == 3:
            h, w, c = shape
            self.graph_shape = [1, c, h, w]
        else:
            self.graph_shape = [1, *shape]
        self.onnx_rank = len(self.graph_shape)

    def _model(self, layers):
        if self.shape is None or len(self.shape) != 1:
            raise ModelError(f"{self.path}: the model ends in shape {self.shape}; it must end "
                             f"in class scores (a QuantDense)")
        out = self.g.op("Identity", [self.x], "scores")
        graph = helper.make_graph(
            self.g.nodes, Path(self.path).stem,
            [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, self.graph_shape)],
            [helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, self.shape[0]])],
            self.g.inits)
        model = helper.make_model(graph, producer_name="bnn-rtl larq import",
                                  opset_imports=[helper.make_opsetid("", 13),
                                                 helper.make_opsetid(QONNX_DOMAIN, 1),
                                                 helper.make_opsetid(OWN_DOMAIN, 1)])
        model.ir_version = 8
        return model

    # -- layout ---------------------------------------------------------------------------

    def _flatten_now(self, name):
        """Flatten a map in Keras's (H, W, C) order, an (H, W) input in its own."""
        x = self.x
        if self.onnx_map:
            x = self.g.op("Transpose", [x], name, perm=[0, 2, 3, 1])
        if self.onnx_rank > 2:
            self.x = self.g.op("Flatten", [x], name, axis=1)
        self.onnx_rank = 2
        self.flat_pending = False

    def _Flatten(self, name, cfg, weights, where):
        if cfg.get("data_format", "channels_last") not in (None, "channels_last"):
            raise ModelError(f"{where}: data_format {cfg.get('data_format')!r}; channels_last "
                             f"is supported")
        self.shape = (int(np.prod(self.shape)),)
        self.flat_pending = True   # done by the next layer that needs it (after a quantizer)

    def _need_map(self, where):
        if len(self.shape) != 3 or self.flat_pending:
            raise ModelError(f"{where}: takes (H, W, C) maps, receives shape {self.shape}")
        if not self.onnx_map:
            # An (H, W) input seen as one-channel maps.
            raise ModelError(f"{where}: takes (H, W, C) maps; give the model an (H, W, 1) "
                             f"input")

    # -- quantizers -------------------------------------------------------------------------

    def _activation_quantizer(self, quantizer, where):
        if quantizer is None or quantizer[0] == "NoOp":
            return
        cls, cfg = quantizer
        if cls in SIGN_QUANTIZERS:
            self.x = self.g.op("BipolarQuant", [self.x, self.g.const(F32(1), "one")],
                               where_stem(where), domain=QONNX_DOMAIN)
        elif cls == "DoReFa":
            if cfg.get("mode", "activations") != "activations":
                raise ModelError(f"{where}: a DoReFa input quantizer in mode "
                                 f"{cfg.get('mode')!r}; use mode='activations' for inputs")
            bits = _dorefa_bits(cfg, where)
            n = F32(2 ** bits - 1)
            stem = where_stem(where)
            # round(clip(x, 0, 1) * n) / n = clamp(round(x * n), 0, n) / n.
            x = self.g.op("Mul", [self.x, self.g.const(n, "n")], stem)
            x = self.g.op("Quant", [x, self.g.const(F32(1), "one"), self.g.const(F32(0), "zero"),
                                    self.g.const(F32(bits), "bits")], stem, domain=QONNX_DOMAIN,
                          signed=0, narrow=0, rounding_mode="ROUND")
            self.x = self.g.op("Div", [x, self.g.const(n, "n")], stem)
        else:
            raise ModelError(f"{where}: {cls} quantizes kernels only; as an input quantizer "
                             f"use ste_sign or DoReFa")

    def _weights(self, kernel, quantizer, where, out_axis, stem):
        op, value, scale = _kernel_values(kernel, quantizer, where, out_axis)
        if op == "Const":
            return self.g.const(value, f"{stem}/kernel")
        if op == "Bipolar":
            return self.g.op("BipolarQuant", [self.g.const(value, f"{stem}/kernel"),
                                              self.g.const(scale, f"{stem}/scale")], stem,
                             domain=QONNX_DOMAIN)
        step, bits = scale
        return self.g.op("Quant", [self.g.const(value, f"{stem}/kernel"),
                                   self.g.const(step, f"{stem}/scale"),
                                   self.g.const(F32(0), "zero"), self.g.const(F32(bits), "bits")],
                         stem, domain=QONNX_DOMAIN, signed=1, narrow=0, rounding_mode="ROUND")

    def _common(self, cfg, weights, where, ndim):
        activation = cfg.get("activation", "linear")
        if activation not in ("linear", None):
            raise ModelError(f"{where}: activation {activation!r} inside the layer; use "
                             f"activation='linear' and the next layer's input_quantizer")
        kernel = weights.get("kernel")
        if kernel is None or kernel.ndim != ndim:
            raise ModelError(f"{where}: no {ndim}-d kernel among its weights")
        return kernel

    def _bias(self, cfg, weights, where, stem, channels):
        if not cfg.get("use_bias", True):
            return
        bias = weights.get("bias")
        if bias is None or bias.shape != (channels,):
            raise ModelError(f"{where}: use_bias is set but it has no bias of {channels} values")
        self.x = self.g.op("Add", [self.x, self.channel(bias, f"{stem}/bias")], stem)

    # -- layers -----------------------------------------------------------------------------

    def _QuantDense(self, name, cfg, weights, where):
        kernel = self._common(cfg, weights, where, 2)
        self._activation_quantizer(_quantizer(cfg.get("input_quantizer"), where,
                                              "input_quantizer"), where)
        self._flatten_now(name)
        if len(self.shape) != 1 or kernel.shape[0] != self.shape[0]:
            raise ModelError(f"{where}: a kernel of shape {kernel.shape} for inputs of shape "
                             f"{self.shape}")
        w = self._weights(kernel, _quantizer(cfg.get("kernel_quantizer"), where,
                                             "kernel_quantizer"), where, 1, name)
        self.x = self.g.op("MatMul", [self.x, w], name)
        self.shape = (kernel.shape[1],)
        self._bias(cfg, weights, where, name, kernel.shape[1])

    def _QuantConv2D(self, name, cfg, weights, where):
        kernel = self._common(cfg, weights, where, 4)
        self._need_map(where)
        k = _square(cfg.get("kernel_size"), where, "kernel_size")
        s = _square(cfg.get("strides", 1), where, "strides")
        if _square(cfg.get("dilation_rate", 1), where, "dilation_rate") != 1:
            raise ModelError(f"{where}: dilated convolutions are not supported")
        if cfg.get("groups", 1) != 1:
            raise ModelError(f"{where}: grouped convolutions are not supported")
        if cfg.get("data_format", "channels_last") not in (None, "channels_last"):
            raise ModelError(f"{where}: data_format {cfg.get('data_format')!r}; channels_last "
                             f"is supported")
        h, w, c = self.shape
        if kernel.shape[:3] != (k, k, c):
            raise ModelError(f"{where}: a kernel of shape {kernel.shape} for {c} channels")
        self._activation_quantizer(_quantizer(cfg.get("input_quantizer"), where,
                                              "input_quantizer"), where)
        padding = cfg.get("padding", "valid")
        pads = [0, 0]
        if padding == "same":
            pads = [_same_padding(n, k, s) for n in (h, w)]
            if any(a != b for a, b in pads) or pads[0] != pads[1]:
                raise ModelError(f"{where}: 'same' padding of a {h}x{w} map by a {k}x{k} "
                                 f"kernel with stride {s} is not the same on every side; use "
                                 f"'valid' or a map size that pads evenly")
            p = pads[0][0]
        elif padding == "valid":
            p = 0
        else:
            raise ModelError(f"{where}: padding {padding!r}; 'valid' or 'same' is supported")
        x = self.x
        if p:
            value = cfg.get("pad_values", 0.0)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ModelError(f"{where}: pad_values {value!r} is not a number")
            x = self.g.op("Pad", [x, self.g.const(np.array([0, 0, p, p, 0, 0, p, p]),
                                                  f"{name}/pads", np.int64),
                                  self.g.const(F32(value), f"{name}/pad_value")], name,
                          mode="constant")
        wname = self._weights(kernel.transpose(3, 2, 0, 1),
                              _quantizer(cfg.get("kernel_quantizer"), where, "kernel_quantizer"),
                              where, 0, name)
        self.x = self.g.op("Conv", [x, wname], name, kernel_shape=[k, k], strides=[s, s])
        oc = kernel.shape[3]
        self.shape = ((h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1, oc)
        self._bias(cfg, weights, where, name, oc)

    def _BatchNormalization(self, name, cfg, weights, where):
        axis = cfg.get("axis", -1)
        axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
        if axis not in (-1, len(self.shape)):
            raise ModelError(f"{where}: normalizes axis {cfg.get('axis')!r}; the channel axis "
                             f"(the last) is supported")
        if self.flat_pending and self.onnx_map and np.prod(self.shape) != self.shape[0]:
            raise ModelError(f"{where}: a batch norm of a flattened map before its quantizer "
                             f"is not supported; put it before the Flatten")
        channels = self.shape[-1]
        eps = F32(cfg.get("epsilon", 1e-3))
        gamma = weights.get("gamma", np.ones(channels, F32)) if cfg.get("scale", True) \
            else np.ones(channels, F32)
        beta = weights.get("beta", np.zeros(channels, F32)) if cfg.get("center", True) \
            else np.zeros(channels, F32)
        arrays = [np.asarray(a, F32) for a in (gamma, beta, weights.get("moving_mean"),
                                               weights.get("moving_variance"))
                  if a is not None]
        if len(arrays) != 4 or any(a.shape != (channels,) for a in arrays):
            raise ModelError(f"{where}: needs gamma, beta, moving mean and variance of "
                             f"{channels} values each")
        gamma, beta, mean, var = arrays
        if not all(np.isfinite(a).all() for a in arrays) or (var < 0).any():
            raise ModelError(f"{where}: holds an infinite, NaN or negative-variance value")
        r = (F32(1) / np.sqrt(var + eps)).astype(F32)
        fused = len(self.shape) == 3 and cfg.get("fused", None) is not False \
            and not cfg.get("virtual_batch_size") and not cfg.get("renorm")
        if fused:
            # oneDNN's fused kernel: fma((x - mean) * r, gamma, beta).
            x = self.g.op("Sub", [self.x, self.channel(mean, f"{name}/mean")], name)
            x = self.g.op("Mul", [x, self.channel(r, f"{name}/rsqrt")], name)
            self.x = self.g.op("MulAdd", [x, self.channel(gamma, f"{name}/gamma"),
                                          self.channel(beta, f"{name}/beta")], name,
                               domain=OWN_DOMAIN)
        else:
            # tf.nn.batch_normalization: x * inv + (beta - mean * inv), inv = rsqrt * gamma.
            inv = (r * gamma).astype(F32)
            off = (beta - mean * inv).astype(F32)
            x = self.g.op("Mul", [self.x, self.channel(inv, f"{name}/inv")], name)
            self.x = self.g.op("Add", [x, self.channel(off, f"{name}/offset")], name)

    def _pool(self, cfg, where, kind):
        self._need_map(where)
        k = _square(cfg.get("pool_size", 2), where, "pool_size")
        strides = cfg.get("strides")
        s = k if strides is None else _square(strides, where, "strides")
        h, w, c = self.shape
        padding = cfg.get("padding", "valid")
        ceil = 0
        if padding == "same":
            pads = [_same_padding(n, k, s) for n in (h, w)]
            if kind == "AveragePool" or any(a != 0 or b > 1 for a, b in pads):
                raise ModelError(f"{where}: 'same' padding here pads before the map or "
                                 f"averages partial windows; use 'valid'")
            ceil = int(any(b for _, b in pads))
        elif padding != "valid":
            raise ModelError(f"{where}: padding {padding!r}; 'valid' is supported")
        if cfg.get("data_format", "channels_last") not in (None, "channels_last"):
            raise ModelError(f"{where}: data_format {cfg.get('data_format')!r}; channels_last "
                             f"is supported")
        return k, s, ceil

    def _MaxPool2D(self, name, cfg, weights, where):
        k, s, ceil = self._pool(cfg, where, "MaxPool")
        self.x = self.g.op("MaxPool", [self.x], name, kernel_shape=[k, k], strides=[s, s],
                           ceil_mode=ceil)
        h, w, c = self.shape
        size = (lambda n: -(-(n - k) // s) + 1) if ceil else (lambda n: (n - k) // s + 1)
        self.shape = (size(h), size(w), c)

    _MaxPooling2D = _MaxPool2D

    def _AveragePooling2D(self, name, cfg, weights, where):
        k, s, _ = self._pool(cfg, where, "AveragePool")
        self.x = self.g.op("AveragePool", [self.x], name, kernel_shape=[k, k], strides=[s, s])
        h, w, c = self.shape
        self.shape = ((h - k) // s + 1, (w - k) // s + 1, c)

    _AvgPool2D = _AveragePooling2D

    def _GlobalAveragePooling2D(self, name, cfg, weights, where):
        self._need_map(where)
        self.x = self.g.op("GlobalAveragePool", [self.x], name)
        c = self.shape[2]
        # (N, C, 1, 1) until a layer needs it flat: quantizers and per-channel ops first.
        self.shape = (1, 1, c) if cfg.get("keepdims", False) else (c,)
        self.flat_pending = not cfg.get("keepdims", False)

    _GlobalAvgPool2D = _GlobalAveragePooling2D

    def _Rescaling(self, name, cfg, weights, where):
        scale, offset = cfg.get("scale", 1.0), cfg.get("offset", 0.0)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                   for v in (scale, offset)):
            raise ModelError(f"{where}: scale and offset must be numbers (one for all "
                             f"channels)")
        self.x = self.g.op("Mul", [self.x, self.g.const(F32(scale), f"{name}/scale")], name)
        self.x = self.g.op("Add", [self.x, self.g.const(F32(offset), f"{name}/offset")], name)

    def _Activation(self, name, cfg, weights, where):
        act = cfg.get("activation", "linear")
        if act in ("linear", None):
            return
        if act == "relu":
            self.x = self.g.op("Relu", [self.x], name)
        elif act in ("softmax", "log_softmax"):
            self.ended = True
        elif ALIASES.get(act) in SIGN_QUANTIZERS:
            self._activation_quantizer((ALIASES[act], {}), where)
        else:
            raise ModelError(f"{where}: activation {act!r} is not supported; use linear, "
                             f"relu, a sign quantizer (ste_sign) or a final softmax")


def where_stem(where):
    """The node-name stem of a layer description ``layer 'name' (Class)``."""
    return where.split("'")[1] if "'" in where else where


def _square(value, where, what):
    values = [value] if isinstance(value, int) else list(value or [])
    if not values or len(set(values)) != 1 or not all(isinstance(v, int) and v >= 1
                                                      for v in values):
        raise ModelError(f"{where}: {what} {value!r}; one size for both axes is supported")
    return values[0]


def _same_padding(size, kernel, stride):
    """TensorFlow's 'same' padding ``(before, after)`` of one axis."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def quantizes_input(model):
    """Whether the graph ``model`` quantizes its input before its first layer (else it
    takes the pixels themselves, declared as 8-bit codes)."""
    tensor = "pixels"
    for node in model.graph.node:
        if tensor not in node.input:
            continue
        if node.op_type in ("BipolarQuant", "Quant"):
            return True
        if node.op_type not in ("Mul", "Add", "Flatten", "Transpose"):
            return False
        tensor = node.output[0]
    return False


def to_qonnx(path):
    """The QONNX ``onnx.ModelProto`` of the Larq model file at ``path``; its input is the
    pixels themselves (import it with divisor 1)."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such Keras model file")
    config, weights = read_keras(path)
    if not isinstance(config, dict):
        raise ModelError(f"{path}: the model config is not a JSON object")
    return _Translator(path, config, weights).run()
