"""Whole-network golden inference: input quantiser, layers, argmax."""

from dataclasses import dataclass

import numpy as np

from .argmax import argmax
from .bias import add_bias
from .conv import Conv2D
from .model import BINARY, Bias, Dense, Thresholds
from .mvau import signed_dot, xnor_popcount
from .residual import Residual
from .thresholding import threshold

__all__ = ["LayerTrace", "Trace", "accumulate", "dense_forward", "layer_forward", "run"]


@dataclass
class LayerTrace:
    inputs: np.ndarray       # (N, *in_shape) input bits or integer codes
    acc: np.ndarray          # accumulators (see layer_forward); None for pools
    outputs: np.ndarray      # (N, *out_shape) activations (bits, codes) or scores


@dataclass
class Trace:
    layers: list             # one LayerTrace per layer
    scores: np.ndarray       # (N, classes)
    labels: np.ndarray       # (N,)


def accumulate(layer, x):
    """The accumulators (N, out_features) of a :class:`golden.model.Dense` layer for inputs
    ``x`` (N, in_features): bits for a binary input encoding, else integer codes.

    Binary x binary: the XNOR popcount. Otherwise the dot product of the values (input
    ``2*bit - 1`` or ``code + offset``). Then the per-channel scale ``<< scale_exp``.
    """
    enc = layer.input_encoding
    if enc == BINARY and layer.weight_encoding.kind == "binary":
        acc = xnor_popcount(x, layer.weight_bits)
    else:
        x = np.asarray(x, np.int64)
        values = 2 * x - 1 if enc == BINARY else x + enc.offset
        acc = signed_dot(values, layer.weights)
    return acc << layer.scale_exp[None, :]


def dense_forward(layer, x):
    """Accumulators and outputs of a :class:`golden.model.Dense` (or of the matrix of a
    convolution) on vectors ``x`` (N, in_features)."""
    acc = accumulate(layer, x)
    if isinstance(layer.activation, Thresholds):
        return acc, threshold(acc, layer.activation)
    assert isinstance(layer.activation, Bias)
    return acc, add_bias(acc, layer.activation)


def layer_forward(layer, x):
    """``(acc, outputs)`` of any layer on a batch ``x`` of its inputs, (N, *shape).

    Dense: ``x`` is flattened to (N, in_features); acc and outputs are (N, out_features).
    Convolution: acc and outputs are maps (N, OH, OW, OC). Pools (and any layer with a
    ``forward`` over maps): acc is None. Residual:
    acc is the summed value map ``s``, outputs the thresholded map.
    """
    x = np.asarray(x)
    n = len(x)
    if isinstance(layer, Dense):
        return dense_forward(layer, x.reshape(n, -1))
    if isinstance(layer, Conv2D):
        cols = layer.windows(x.reshape((n,) + layer.in_shape))
        oh, ow, oc = layer.out_shape
        acc, out = dense_forward(layer, cols.reshape(n * oh * ow, -1))
        return acc.reshape(n, oh, ow, oc), out.reshape(n, oh, ow, oc)
    if isinstance(layer, Residual):
        x = x.reshape((n,) + layer.in_shape)
        ends = []
        for path in (layer.main, layer.skip):
            y = x
            for inner in path:
                y = layer_forward(inner, y)[1]
            ends.append(y)
        total = layer.add(*ends)
        flat = total.reshape(-1, total.shape[-1])
        return total, threshold(flat, layer.activation).reshape(total.shape)
    if hasattr(layer, "forward"):
        # A map-to-map layer without accumulators (the pools, or a kind of its own).
        return None, layer.forward(x.reshape((n,) + layer.in_shape))
    raise TypeError(f"unsupported layer {type(layer).__name__}")


def run(network, pixels=None, *, bits=None):
    """Run a batch through ``network``; give raw ``pixels`` (N, *shape) or input ``bits``
    (or codes), (N, features) or (N, *shape)."""
    x = network.input(pixels) if bits is None else np.asarray(bits)
    traces = []
    for layer in network.layers:
        acc, out = layer_forward(layer, x)
        traces.append(LayerTrace(x, acc, out))
        x = out
    scores = traces[-1].outputs.reshape(len(x), -1)
    return Trace(traces, scores, argmax(scores))
