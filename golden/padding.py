"""Padding a dense layer to a folding whose SIMD does not divide MW or whose PE does not
divide MH, as BNN-PYNQ pads LFC's 784 inputs to 832 for SIMD 64.

A folded layer reads ``SF = ceil(MW'/SIMD)`` beats of SIMD codes and computes
``NF = ceil(MH/PE)`` beats of PE outputs, where ``MW'`` is the length of the vector that
reaches it (``MW``, or more when the layer before was padded). The hardware then computes
the *padded layer* of :func:`pad_dense`, an ordinary :class:`~golden.model.Dense`:

* every input beyond the real ``MW`` (the tail of the last beat, and the padded channels of
  the layer before) carries code :data:`PAD_CODE` (0), against the weight value
  :func:`pad_weight` in every row;
* its golden accumulator is then the real one plus a constant ``delta[j]`` per neuron
  (the pad lanes see fixed codes and fixed weights; the constant is computed by golden's
  own :func:`~golden.network.accumulate` on an all-zero input, so the proof holds for
  every element kind: binary x bits adds ``XNOR(0, +1) = 0`` per pad, binary x codes
  ``+1 * (0 + offset)``, ternary and shift weights ``0``, a LUT level times the pad's value);
* the thresholds (or biases) absorb it: ``acc + delta >= T + delta`` iff ``acc >= T``, and
  ``(acc + delta) + (b - delta) = acc + b``, so every real output equals the layer's;
* the padded rows (up to ``NF*PE``) get thresholds no accumulator reaches, so their output
  is code 0 = :data:`PAD_CODE`, which the next layer treats as padding, or (last layer)
  bias 0, a score the argmax skips.
"""

import numpy as np

from .model import VALUE_LIMIT, Bias, Dense, Thresholds
from .network import accumulate

__all__ = ["PAD_CODE", "pad_weight", "pad_dense", "padded_size"]

PAD_CODE = 0


def padded_size(size, lanes):
    """``size`` rounded up to a multiple of ``lanes``."""
    return -(-size // lanes) * lanes


def pad_weight(weight_encoding):
    """The weight value of a pad lane: 0 when the encoding has it (no contribution),
    else +1 for binary weights (XNOR with a 0 bit: 0), else the first level."""
    values = weight_encoding.values
    if 0 in values:
        return 0
    return 1 if 1 in values else values[0]


def pad_dense(layer, in_total, out_total):
    """The padded form of the :class:`~golden.model.Dense` ``layer`` with ``in_total``
    inputs (the real ``MW`` first, then pads of code :data:`PAD_CODE`) and ``out_total``
    outputs (the real ``MH`` first): see the module docstring. Returns ``layer`` itself
    when there is nothing to pad."""
    mh, mw = layer.weights.shape
    if in_total < mw or out_total < mh:
        raise ValueError(f"padding {mh}x{mw} to {out_total}x{in_total} would drop entries")
    if (in_total, out_total) == (mw, mh):
        return layer
    v = pad_weight(layer.weight_encoding)
    weights = np.full((out_total, in_total), v, np.int64)
    weights[:mh, :mw] = layer.weights
    scale = np.zeros(out_total, np.int64)
    scale[:mh] = layer.scale_exp
    probe = Dense(weights[:mh], Bias(np.zeros(mh, np.int64)),
                  weight_encoding=layer.weight_encoding, input_encoding=layer.input_encoding,
                  scale_exp=scale[:mh])
    zeros = np.full((1, in_total), PAD_CODE, np.int64)
    delta = (accumulate(probe, zeros) - accumulate(layer, zeros[:, :mw]))[0]
    act = layer.activation
    if isinstance(act, Thresholds):
        never = np.full((out_total - mh, act.count), VALUE_LIMIT, np.int64)
        activation = Thresholds(np.concatenate([act.thresholds + delta[:, None], never]),
                                np.concatenate([act.direction,
                                                np.ones(out_total - mh, np.int8)]),
                                act.offset, act.bipolar)
    else:
        activation = Bias(np.concatenate([act.bias - delta,
                                          np.zeros(out_total - mh, np.int64)]))
    return Dense(weights, activation, weight_encoding=layer.weight_encoding,
                 input_encoding=layer.input_encoding, scale_exp=scale)
