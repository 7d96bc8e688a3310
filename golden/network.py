"""Whole-network golden inference: input quantiser, layers, argmax."""

from dataclasses import dataclass

import numpy as np

from .argmax import argmax
from .bias import add_bias
from .model import BINARY, Bias, Thresholds
from .mvau import signed_dot, xnor_popcount
from .thresholding import threshold

__all__ = ["LayerTrace", "Trace", "accumulate", "layer_forward", "run"]


@dataclass
class LayerTrace:
    inputs: np.ndarray       # (N, in_features) input bits or integer codes
    acc: np.ndarray          # (N, out_features) accumulators
    outputs: np.ndarray      # (N, out_features) activations (bits) or scores


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


def layer_forward(layer, x_bits):
    """Accumulators and outputs (codes or scores) of one :class:`golden.model.Dense` layer;
    ``x_bits`` holds input bits, or integer codes for an IntCodes input encoding."""
    acc = accumulate(layer, x_bits)
    if isinstance(layer.activation, Thresholds):
        return acc, threshold(acc, layer.activation)
    assert isinstance(layer.activation, Bias)
    return acc, add_bias(acc, layer.activation)


def run(network, pixels=None, *, bits=None):
    """Run a batch through ``network``; give raw ``pixels`` (N, *shape) or input ``bits``."""
    x = network.input(pixels) if bits is None else np.asarray(bits)
    traces = []
    for layer in network.layers:
        acc, out = layer_forward(layer, x)
        traces.append(LayerTrace(x, acc, out))
        x = out
    scores = traces[-1].outputs
    return Trace(traces, scores, argmax(scores))
