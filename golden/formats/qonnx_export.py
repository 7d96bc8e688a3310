"""QONNX export: any project network as an ONNX graph that qonnx's executor runs with the
same classes and the same integer scores (so a model made or imported here can go on to
FINN or hls4ml).

The graph computes with values, in float32 (every intermediate is an integer below 2**24,
so float32 is exact):

* input ``pixels`` float32, values 0..255 (not divided by 255: the graph's metadata
  ``bnn_rtl.input_divisor`` is 1, which the importer reads), ``(N, C, H, W)`` for an
  ``(H, W, C)`` input, else ``(N, *input shape)``;
* input stage: a binarize threshold is a ``MultiThreshold`` giving -1/+1; an input table a
  ``MultiThreshold`` with a threshold per code step (a ``Gather`` of the code values when
  the table is not monotonic); 8-bit pixels pass as they are;
* maps are NCHW (a ``Transpose`` from the input's channels-last order); a dense layer
  flattens in the golden (H, W, C) order;
* a dense layer is ``MatMul`` by its weight values, a convolution ``Pad`` (with the pad
  value) and ``Conv``; the accumulator of a binary x binary layer is the popcount
  ``(dot + MW) / 2``; a per-channel scale is ``Mul`` by ``2**scale_exp``;
* thresholds are a ``MultiThreshold`` (domain ``qonnx.custom_op.general``) whose
  ``out_bias`` gives the code's value (bipolar: -1/+1), after a ``Mul`` by -1 for channels
  of direction -1; a bias is an ``Add``; pools are ``MaxPool`` and ``GlobalMaxPool``;
  a residual block ``Add``\\ s its two paths' values.

The output ``scores`` ``(N, classes)`` equals :func:`golden.network.run`'s scores.
"""

import json
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from ..conv import Conv2D
from ..errors import ModelError
from ..model import BINARY, Bias, Dense, Thresholds, code_values
from ..pool import GlobalMaxPool, MaxPool, SumPool
from ..recode import Recode
from ..residual import Residual
from .qonnx import CLASSES_KEY, INPUT_DIVISOR_KEY

__all__ = ["export_qonnx", "to_onnx"]

MT_DOMAIN = "qonnx.custom_op.general"
OPSET = 13
F32 = np.float32


class _Graph:
    def __init__(self):
        self.nodes, self.inits, self.count = [], [], 0

    def name(self, stem):
        self.count += 1
        return f"{stem}_{self.count}"

    def const(self, value, stem="c", dtype=F32):
        name = self.name(stem)
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def op(self, op_type, inputs, domain="", **attrs):
        out = self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, domain=domain,
                                           **attrs))
        return out


def _to_nchw(g, x, shape):
    """A tensor of golden shape ``shape`` ((H, W, C) map or a flat vector) as NCHW."""
    h, w, c = shape
    x = g.op("Reshape", [x, g.const(np.array([-1, h, w, c]), "shape", np.int64)])
    return g.op("Transpose", [x], perm=[0, 3, 1, 2])


def _flat(g, x, is_map):
    """Flatten in the golden (H, W, C) order."""
    if is_map:
        x = g.op("Transpose", [x], perm=[0, 2, 3, 1])
    return g.op("Reshape", [x, g.const(np.array([0, -1]), "shape", np.int64)])


def _dense_acc(g, x, layer, is_map):
    """The golden accumulator of a Dense (or a Conv2D's arithmetic) on values ``x``."""
    if isinstance(layer, Conv2D):
        k, c = layer.kernel, layer.in_shape[2]
        if layer.pad:
            value = code_values(layer.input_encoding)[layer.pad_value]
            p = layer.pad
            x = g.op("Pad", [x, g.const(np.array([0, 0, p, p, 0, 0, p, p]), "pads", np.int64),
                            g.const(np.array(value, F32), "padv")], mode="constant")
        w = layer.weights.reshape(layer.out_features, k, k, c).transpose(0, 3, 1, 2)
        acc = g.op("Conv", [x, g.const(w, "w")], kernel_shape=[k, k],
                   strides=[layer.stride, layer.stride])
        axis_shape = (1, -1, 1, 1)
    else:
        x = _flat(g, x, is_map)
        acc = g.op("MatMul", [x, g.const(layer.weights.T, "w")])
        axis_shape = (1, -1)
    if layer.input_encoding == BINARY and layer.weight_encoding.kind == "binary":
        # XNOR popcount: (dot + MW) / 2.
        acc = g.op("Mul", [g.op("Add", [acc, g.const(F32(layer.in_features))]), g.const(F32(0.5))])
    if layer.scale_exp.any():
        acc = g.op("Mul", [acc, g.const(np.exp2(layer.scale_exp).reshape(axis_shape))])
    return acc, axis_shape


def _activation(g, acc, act, axis_shape, shift=0.0):
    """``act`` on ``acc`` as a MultiThreshold (``shift``: added to every integer threshold
    before the sign of the direction is applied)."""
    if isinstance(act, Bias):
        return g.op("Add", [acc, g.const(act.bias.reshape(axis_shape))])
    assert isinstance(act, Thresholds)
    thr = act.thresholds.astype(np.float64) + shift * act.direction[:, None]
    if (act.direction < 0).any():
        # acc <= T  <=>  -acc >= -T on the channels of direction -1.
        acc = g.op("Mul", [acc, g.const(act.direction.reshape(axis_shape))])
        thr = thr * act.direction[:, None]
    if act.count == 1 and act.bipolar:
        scale, bias = 2.0, -1.0
    else:
        scale, bias = 1.0, float(act.offset)
    return g.op("MultiThreshold", [acc, g.const(thr, "thr")], domain=MT_DOMAIN,
                out_dtype="FLOAT32", out_scale=scale, out_bias=bias)


def _sum_pool(g, x, layer):
    """An average pool of the values, times N, mapped back to the sum of codes ``S``, then
    the thresholds at ``T - 1/2``: the float32 average may round, by far less than 1/2."""
    n = layer.positions
    if layer.kernel is None:
        x = g.op("GlobalAveragePool", [x])
    else:
        x = g.op("AveragePool", [x], kernel_shape=[layer.kernel] * 2,
                 strides=[layer.stride] * 2)
    x = g.op("Mul", [x, g.const(F32(n))])
    enc = layer.input_encoding
    if enc == BINARY:       # values 2L - 1: S = (V + N) / 2
        x = g.op("Mul", [g.op("Add", [x, g.const(F32(n))]), g.const(F32(0.5))])
    elif enc.offset:        # values L + offset: S = V - N * offset
        x = g.op("Sub", [x, g.const(F32(n * enc.offset))])
    return _activation(g, x, layer.activation, (1, -1, 1, 1), shift=-0.5)


def _chain(g, x, layers, is_map):
    for layer in layers:
        if isinstance(layer, (Dense, Conv2D)):
            acc, axis_shape = _dense_acc(g, x, layer, is_map)
            x = _activation(g, acc, layer.activation, axis_shape)
            is_map = isinstance(layer, Conv2D)
        elif isinstance(layer, MaxPool):
            x = g.op("MaxPool", [x], kernel_shape=[layer.kernel] * 2, strides=[layer.stride] * 2,
                     ceil_mode=int(layer.ceil))
        elif isinstance(layer, GlobalMaxPool):
            x = g.op("GlobalMaxPool", [x])
        elif isinstance(layer, SumPool):
            x = _sum_pool(g, x, layer)
        elif isinstance(layer, Recode):
            pass        # the values do not change
        elif isinstance(layer, Residual):
            ends = [_chain(g, x, path, True)[0] for path in (layer.main, layer.skip)]
            main, skip = [g.op("Mul", [end, g.const(float(1 << shift), "shift")]) if shift else end
                          for end, shift in zip(ends, layer.shifts)]
            x = _activation(g, g.op("Add", [main, skip]), layer.activation, (1, -1, 1, 1))
        else:
            raise ModelError(f"cannot export layer {type(layer).__name__}")
    return x, is_map


def _input_stage(g, x, inp, layout):
    """The input quantizer on pixels ``x``: a binarize threshold (-1/+1), a code table, or
    nothing (8-bit pixels)."""
    if inp.table is not None:
        return _input_table(g, x, inp, layout)
    if inp.threshold is not None:
        return g.op("MultiThreshold", [x, g.const(np.array([[inp.threshold]], F32), "thr")],
                    domain=MT_DOMAIN, out_dtype="FLOAT32", out_scale=2.0, out_bias=-1.0,
                    data_layout=layout)
    return x


def _input_table(g, x, inp, layout):
    """The input code table: a ``MultiThreshold`` on the pixel when the table is
    non-decreasing (level ``L`` = the count of thresholds at or below the pixel, so code
    ``c`` needs ``c`` thresholds), whose ``out_bias`` gives the values; else a ``Gather``
    of the code values."""
    table = np.asarray(inp.table, np.int64)
    enc = inp.table_encoding
    if (np.diff(table) < 0).any():
        values = code_values(enc)[table]
        return g.op("Gather", [g.const(values, "table"), g.op("Cast", [x], to=TensorProto.INT64)])
    # Threshold k: the first pixel whose code exceeds k.
    thr = np.searchsorted(table, np.arange(1, table.max() + 1)).astype(F32).reshape(1, -1)
    values = code_values(enc)
    if enc == BINARY:
        scale, bias = 2.0, -1.0
    else:
        scale, bias = float(values[1] - values[0]), float(values[0])
    return g.op("MultiThreshold", [x, g.const(thr, "thr")], domain=MT_DOMAIN,
                out_dtype="FLOAT32", out_scale=scale, out_bias=bias, data_layout=layout)


def to_onnx(network):
    """The QONNX ``onnx.ModelProto`` of ``network`` (see the module docstring)."""
    g = _Graph()
    inp = network.input
    first = network.layers[0]
    is_map = not isinstance(first, Dense)
    if len(inp.shape) == 3:
        # Image maps go in as NCHW, as PyTorch and Brevitas take them.
        h, w, c = inp.shape
        graph_shape = [1, c, h, w]
        x = _input_stage(g, "pixels", inp, "NCHW")
        if not is_map:
            x = _flat(g, x, True)
    else:
        # Flat (N, features) in the golden input order, as InputQuant flattens.
        graph_shape = [1, *inp.shape]
        x = g.op("Reshape", ["pixels", g.const(np.array([0, -1]), "shape", np.int64)])
        x = _input_stage(g, x, inp, "NC")
        if is_map:
            x = _to_nchw(g, x, (*inp.shape, 1))
    x, is_map = _chain(g, x, network.layers, is_map)
    out = g.op("Identity", [_flat(g, x, is_map) if is_map else x])
    classes = len(network.classes)
    graph = helper.make_graph(
        g.nodes, network.name,
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, graph_shape)],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, classes])], g.inits)
    model = helper.make_model(graph, producer_name="bnn-rtl",
                              opset_imports=[helper.make_opsetid("", OPSET),
                                             helper.make_opsetid(MT_DOMAIN, 1)])
    model.ir_version = 8
    # The input is the pixels themselves, not pixel / 255 (the QONNX zoo's convention):
    # the importer reads this to take the graph back as it was written.
    helper.set_model_props(model, {INPUT_DIVISOR_KEY: "1",
                                   CLASSES_KEY: json.dumps(list(network.classes))})
    return model


def export_qonnx(network, path):
    """Write ``network`` to ``path`` as a QONNX graph (deterministic bytes)."""
    model = to_onnx(network)
    Path(path).write_bytes(model.SerializeToString(deterministic=True))
