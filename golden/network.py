"""Whole-network golden inference: input quantiser, layers, argmax."""

from dataclasses import dataclass

import numpy as np

from .argmax import argmax
from .bias import add_bias
from .model import BINARY, Bias, Thresholds
from .mvau import signed_dot, xnor_popcount
from .thresholding import threshold

__all__ = ["LayerTrace", "Trace", "layer_forward", "run"]


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


def layer_forward(layer, x_bits):
    """Accumulators and outputs (codes or scores) of one :class:`golden.model.Dense` layer;
    ``x_bits`` holds input bits, or integer codes for an IntCodes input encoding."""
    if layer.input_encoding == BINARY:
        acc = xnor_popcount(x_bits, layer.weight_bits)
    else:
        acc = signed_dot(x_bits, layer.input_encoding.offset, layer.weight_bits)
    if isinstance(layer.activation, Thresholds):
        return acc, threshold(acc, layer.activation)
    assert isinstance(layer.activation, Bias)
    return acc, add_bias(acc, layer.activation)


def run(network, pixels=None, *, bits=None):
    """Run a batch through ``network``; give raw ``pixels`` (N, *shape) or input ``bits``."""
    x = network.input(pixels) if bits is None else np.asarray(bits, np.uint8)
    traces = []
    for layer in network.layers:
        acc, out = layer_forward(layer, x)
        traces.append(LayerTrace(x, acc, out))
        x = out.astype(np.uint8) if isinstance(layer.activation, Thresholds) else out
    scores = traces[-1].outputs
    return Trace(traces, scores, argmax(scores))
