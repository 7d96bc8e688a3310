"""Packing of weights, thresholds and biases into memory words, and the integer widths.

Written once, used by the hardware memories (``hdl/``) and by the tests. Memory word
``nf*SF + sf`` of a folded layer holds what the PE rows need at neuron fold ``nf`` and
synapse fold ``sf``; lane ``k`` of a word occupies bits ``[k*width, (k+1)*width)``.

Width rules (each the smallest width that provably holds every value):

* unsigned value in ``[0, hi]``: ``max(1, hi.bit_length())`` bits;
* signed value in ``[lo, hi]``: the smallest ``w`` with ``-2**(w-1) <= lo`` and
  ``hi <= 2**(w-1) - 1``.
"""

import numpy as np

__all__ = ["unsigned_width", "signed_width", "pack_lanes", "unpack_lanes",
           "weight_words", "hw_accumulator", "threshold_hw", "threshold_words", "bias_words"]


def unsigned_width(hi):
    """Bits of an unsigned integer that can hold every value in ``[0, hi]``."""
    if hi < 0:
        raise ValueError(f"unsigned range upper bound must be >= 0, not {hi}")
    return max(1, int(hi).bit_length())


def signed_width(lo, hi):
    """Bits of a two's complement integer that can hold every value in ``[lo, hi]``."""
    lo, hi = int(lo), int(hi)
    return max(1, (-lo - 1).bit_length() + 1 if lo < 0 else 0, hi.bit_length() + 1)


def pack_lanes(values, width, signed=False):
    """Pack rows of ``values`` (rows, lanes) into one Python int per row, lane k at bit k*width.

    Raises ``ValueError`` when a value does not fit: nothing is silently truncated.
    """
    values = np.asarray(values, dtype=object)
    lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
    if values.size and (values.min() < lo or values.max() > hi):
        raise ValueError(f"values in [{values.min()}, {values.max()}] do not fit "
                         f"{'signed' if signed else 'unsigned'} {width}-bit lanes")
    mask = (1 << width) - 1
    words = []
    for row in values:
        word = 0
        for lane, value in enumerate(row):
            word |= (int(value) & mask) << (lane * width)
        words.append(word)
    return words


def unpack_lanes(word, lanes, width, signed=False):
    """Inverse of :func:`pack_lanes` for one word: a list of ``lanes`` ints."""
    mask = (1 << width) - 1
    out = []
    for lane in range(lanes):
        value = (int(word) >> (lane * width)) & mask
        if signed and value >> (width - 1):
            value -= 1 << width
        out.append(value)
    return out


def _check_fold(rows, cols, simd, pe):
    if cols % simd or rows % pe:
        raise ValueError(f"SIMD {simd} must divide MW {cols} and PE {pe} must divide MH {rows}")


def weight_words(weight_bits, simd, pe):
    """Weight memory of a folded binary layer: NF*SF words of PE*SIMD bits.

    Word ``nf*SF + sf``, bit ``p*SIMD + s`` is the weight bit of neuron ``nf*PE + p``,
    synapse ``sf*SIMD + s`` (1 = +1).
    """
    bits = np.asarray(weight_bits, np.uint8)
    mh, mw = bits.shape
    _check_fold(mh, mw, simd, pe)
    sf, nf = mw // simd, mh // pe
    # (nf, p, sf, s) -> (nf, sf, p, s): one row per word, PE*SIMD single-bit lanes.
    lanes = bits.reshape(nf, pe, sf, simd).transpose(0, 2, 1, 3).reshape(nf * sf, pe * simd)
    packed = np.packbits(lanes, axis=1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


def hw_accumulator(layer):
    """What the matrix-vector unit of ``layer`` accumulates, and how it maps to golden.

    Returns ``(lo, hi, shift)``: the hardware accumulator lies in ``[lo, hi]`` and the
    golden accumulator is ``acc = acc_hw + shift[j]`` for neuron ``j``.

    * Binary inputs: ``acc_hw`` is the XNOR popcount itself, in ``[0, MW]``, shift 0.
    * Integer codes ``c`` in ``[0, top]`` with values ``c + o``: the unit adds ``w*c`` only
      (sign flip, no multiplier), in ``[-MW*top, MW*top]``; the offset's share
      ``o * sum_i w[j, i]`` is a per-neuron constant, folded into thresholds or biases.
    """
    from .model import BINARY
    mw = layer.in_features
    if layer.input_encoding == BINARY:
        return 0, mw, np.zeros(layer.out_features, np.int64)
    enc = layer.input_encoding
    shift = enc.offset * layer.weights.astype(np.int64).sum(axis=1)
    return -mw * enc.top, mw * enc.top, shift


def threshold_hw(activation, acc_lo, acc_hi, shift=None):
    """The hardware form of a :class:`~golden.model.Thresholds`: all compares ``acc >= T'``.

    Returns ``(t, flip)``: ``t`` (channels, count) int64 in ``[acc_lo, acc_hi + 1]`` and
    ``flip`` (channels,) 0/1, such that for every ``acc`` in ``[acc_lo, acc_hi]``::

        c = sum_t (acc >= t[:, t]);   y = count - c if flip else c

    equals the golden output. Proof: ``acc <= T`` is ``not (acc >= T + 1)`` for integers,
    so direction -1 becomes ``T + 1`` with the count complemented; a threshold at or below
    ``acc_lo`` is always reached and one above ``acc_hi`` never, so clamping changes nothing.
    With a ``shift`` (golden ``acc = acc_hw + shift``), ``acc >= T`` is ``acc_hw >= T - shift``.
    """
    flip = (activation.direction < 0).astype(np.int64)
    t = activation.thresholds + flip[:, None]
    if shift is not None:
        t = t - np.asarray(shift, np.int64)[:, None]
    return np.clip(t, acc_lo, acc_hi + 1), flip


def threshold_words(activation, pe, acc_lo, acc_hi, width, shift=None):
    """Threshold memory: NF words, PE lanes of ``count`` ``width``-bit thresholds (two's
    complement when ``acc_lo < 0``; threshold t at lane bit ``t*width``), then the flip bit."""
    t, flip = threshold_hw(activation, acc_lo, acc_hi, shift)
    channels, count = t.shape
    if channels % pe:
        raise ValueError(f"PE {pe} must divide the {channels} channels")
    lane = [pack_lanes(row[None, :], width, signed=acc_lo < 0)[0] | (int(f) << (count * width))
            for row, f in zip(t, flip)]
    return pack_lanes(np.array(lane, dtype=object).reshape(-1, pe), count * width + 1)


def bias_words(activation, pe, width, shift=None):
    """Bias memory: NF words of PE signed ``width``-bit biases (plus ``shift``, see
    :func:`hw_accumulator`)."""
    bias = activation.bias if shift is None else activation.bias + np.asarray(shift, np.int64)
    if len(bias) % pe:
        raise ValueError(f"PE {pe} must divide the {len(bias)} channels")
    return pack_lanes(bias.reshape(-1, pe), width, signed=True)
