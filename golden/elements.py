"""The processing elements of the matrix-vector unit: what one lane adds, in integers.

A layer's weight encoding (:mod:`golden.weights`) and input encoding (``"binary"`` bits, or
:class:`~golden.model.IntCodes` codes ``c`` with value ``c + offset``) choose the element.
Each lane ``s`` of a PE row turns a weight code and an input code into an integer ``u_s``
without a multiplier; the unit sums the lanes into ``acc_hw = sum_s u_s``. The golden
accumulator of the layer (:func:`golden.network.accumulate`) is then, per neuron ``j``::

    acc[j] = (acc_hw[j] << exp) + const[j]          (see :func:`acc_map`)

with ``const`` depending only on the weights, so it is folded into thresholds or biases.

=========  =========================  ================================  ====================
element    weights x inputs           lane value ``u``                  acc_map
=========  =========================  ================================  ====================
xnor       binary x binary            ``XNOR(x, w)`` in [0, 1]          acc = acc_hw
signflip   binary x codes             ``w*c`` (sign flip) in [-top,top]  + offset*sum(w)
zeroskip   ternary x binary           ``|w|`` if sign(w) = x else 0     2*acc_hw - sum|w|
zeroskip   ternary x codes            ``w*c``: 0, c or -c               + offset*sum(w)
shift      {0,+-2**e} x binary        ``2**e`` if sign(w) = x else 0    2*acc_hw - sum|w|
shift      {0,+-2**e} x codes         ``+-(c << e)`` or 0               + offset*sum(w)
lut        k-bit levels x either      ``table[w_code, x_code]`` (ROM)   + offset*sum(w)
=========  =========================  ================================  ====================

(For binary inputs the lut table holds ``level * (2x - 1)``; for binary x binary the golden
accumulator stays the XNOR popcount, BNN-PYNQ's convention, thresholds in that domain.)
With binary inputs, ``w*x = 2*[sign(w) = x]*|w| - |w|``, which is why the zero-skip and
shift elements add only non-negative lanes: one unsigned popcount-like tree per PE.
"""

import numpy as np

from .model import BINARY

__all__ = ["element_kind", "lane_range", "lut_table", "hw_dot", "acc_map"]


def _x_top(x_enc):
    return 1 if x_enc == BINARY else x_enc.top


def element_kind(w_enc, x_enc):
    """Name of the element for weight encoding ``w_enc`` and input encoding ``x_enc``."""
    kind = w_enc.kind
    if kind == "binary":
        return "xnor" if x_enc == BINARY else "signflip"
    return {"ternary": "zeroskip", "shift": "shift", "lut": "lut"}[kind]


def lut_table(w_enc, x_enc):
    """The lut element's ROM: ``table[w_code][x_code]`` = level times input value (code,
    offset folded out; or +-1 for binary inputs), int64 ``(2**w_bits, 2**x_bits)``.
    Codes beyond the levels or above ``top`` never occur; their entries are 0."""
    x_bits = 1 if x_enc == BINARY else x_enc.bits
    x_val = (np.array([-1, 1]) if x_enc == BINARY
             else np.where(np.arange(1 << x_bits) <= x_enc.top, np.arange(1 << x_bits), 0))
    levels = np.zeros(1 << w_enc.bits, np.int64)
    levels[:len(w_enc.levels)] = w_enc.levels
    return levels[:, None] * x_val[None, :]


def lane_range(w_enc, x_enc):
    """Proven bounds ``(lo, hi)`` of one lane's value ``u`` over all codes that occur."""
    top = _x_top(x_enc)
    kind = element_kind(w_enc, x_enc)
    if kind == "xnor":
        return 0, 1
    if kind == "lut":
        x_vals = (-1, 1) if x_enc == BINARY else (0, top)
        products = [v * x for v in w_enc.levels for x in x_vals]
        return min(products), max(products)
    m = w_enc.max_abs
    return (0, m) if x_enc == BINARY else (-m * top, m * top)


def hw_dot(w_enc, x_enc, x_codes, w_codes):
    """``acc_hw`` (N, MH) int64 as the element computes it, from input codes (N, MW) and
    weight codes (MH, MW); the reference the hardware elements are tested against."""
    x = np.asarray(x_codes, np.int64)
    wc = np.asarray(w_codes, np.int64)
    kind = element_kind(w_enc, x_enc)
    if kind == "lut":
        table = lut_table(w_enc, x_enc)
        return table[wc[None, :, :], x[:, None, :]].sum(axis=2)
    w = w_enc.decode(wc)
    if kind == "xnor":
        return (x[:, None, :] == wc[None, :, :]).sum(axis=2)
    if x_enc == BINARY:
        # Lane u = |w| when the sign of w equals the input's (bit 1 = +1), else 0.
        match = (x[:, None, :] == (w[None, :, :] > 0))
        return (match * np.abs(w)[None, :, :]).sum(axis=2)
    return x @ w.T


def acc_map(w_enc, x_enc, weights):
    """``(exp, const)`` with golden ``acc = (acc_hw << exp) + const`` (const per neuron)."""
    w = np.asarray(weights, np.int64)
    kind = element_kind(w_enc, x_enc)
    if x_enc == BINARY:
        if kind in ("zeroskip", "shift"):
            return 1, -np.abs(w).sum(axis=1)
        return 0, np.zeros(len(w), np.int64)
    return 0, x_enc.offset * w.sum(axis=1)
