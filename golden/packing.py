"""Packing of weights, thresholds and biases into memory words, and the integer widths.

Written once, used by the hardware memories (``hdl/``) and by the tests. Memory word
``nf*SF + sf`` of a folded layer holds what the PE rows need at neuron fold ``nf`` and
synapse fold ``sf``; lane ``k`` of a word occupies bits ``[k*width, (k+1)*width)``.

Width rules (each the smallest width that provably holds every value):

* unsigned value in ``[0, hi]``: ``max(1, hi.bit_length())`` bits;
* signed value in ``[lo, hi]``: the smallest ``w`` with ``-2**(w-1) <= lo`` and
  ``hi <= 2**(w-1) - 1``.

Accumulator sizing
------------------
Every adder-tree node and accumulator is sized by these rules from a proven range, never
from a rule of thumb: a lane's value lies in ``[u_lo, u_hi]``
(:func:`golden.elements.lane_range`, from the weight levels and the largest input code), so
a tree node over ``n`` lanes lies in ``[n*u_lo, n*u_hi]`` and the accumulator over the fan-in
``MW`` in ``[MW*u_lo, MW*u_hi]``; each gets the smallest width holding its range.
For ``wb``-bit signed weights and ``ab``-bit unsigned activations this is at most
``wb + ab - 1 + ceil(log2 MW)`` bits plus sign. The post-training-quantisation habit
"16-bit accumulation suffices when wb + ab <= 14" holds only for fan-in
``MW <= 2**(16 - wb - ab)`` in the worst case (4 at wb + ab = 14); it relies on typical data
never reaching the bound. Here the bound is the contract, so no input can overflow:
e.g. LFC layer 1 (binary x binary, MW = 1024) needs 11 bits, a 2-bit x 8-bit first layer
with MW = 784 needs ``signed_width(-784*2*255, 784*2*255)`` = 20 bits.
"""

from dataclasses import dataclass

import numpy as np

from .conv import window_order
from .elements import acc_map, lane_range

__all__ = ["unsigned_width", "signed_width", "pack_lanes", "unpack_lanes", "stream_beats", "AccMap",
           "weight_words", "layer_weight_codes", "hw_accumulator", "threshold_hw",
           "threshold_words", "bias_hw",
           "score_range", "score_width", "bias_words", "SPRAM_WIDTH", "SPRAM_DEPTH",
           "spram_per_word", "spram_words", "spram_image"]


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


def stream_beats(codes, simd, bits):
    """Beats of a stream carrying ``codes`` in C order (a map ``(..., H, W, C)`` pixel by
    pixel, channels innermost), ``simd`` codes of ``bits`` bits per beat, first code in
    the lowest bits. The last axis must be a multiple of ``simd``."""
    codes = np.asarray(codes)
    if codes.shape[-1] % simd:
        raise ValueError(f"{codes.shape[-1]} channels do not split into beats of {simd}")
    return pack_lanes(codes.reshape(-1, simd), bits)


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


def weight_words(weight_codes, simd, pe, width=1):
    """Weight memory of a folded layer: NF*SF words of PE*SIMD lanes of ``width`` bits.

    Word ``nf*SF + sf``, lane ``p*SIMD + s`` (bits ``[k*width, (k+1)*width)``) holds the
    weight code of neuron ``nf*PE + p``, synapse ``sf*SIMD + s`` (binary: 1 = +1; other
    encodings: :mod:`golden.weights`).
    """
    codes = np.asarray(weight_codes, np.int64)
    mh, mw = codes.shape
    _check_fold(mh, mw, simd, pe)
    if codes.size and (codes.min() < 0 or codes.max() >= 1 << width):
        raise ValueError(f"weight codes do not fit {width}-bit lanes")
    sf, nf = mw // simd, mh // pe
    # (nf, p, sf, s) -> (nf, sf, p, s): one row per word, PE*SIMD lanes.
    lanes = codes.reshape(nf, pe, sf, simd).transpose(0, 2, 1, 3).reshape(nf * sf, pe * simd)
    if width == 1:
        packed = np.packbits(lanes.astype(np.uint8), axis=1, bitorder="little")
        return [int.from_bytes(row.tobytes(), "little") for row in packed]
    return pack_lanes(lanes, width)


def layer_weight_codes(layer, simd):
    """A layer's weight codes ``(MH, MW)`` with the columns in the order its input stream
    brings the codes at ``simd`` per beat: a dense layer's own order, a convolution's
    :func:`golden.conv.window_order`."""
    codes = layer.weight_codes
    if hasattr(layer, "kernel"):
        codes = codes[:, window_order(layer.kernel, layer.in_shape[2], simd)]
    return codes


@dataclass(frozen=True, eq=False)
class AccMap:
    """The hardware accumulator of a layer and its map to the golden one.

    ``acc_hw`` lies in ``[lo, hi]`` (two's complement when ``lo < 0``, :attr:`width` bits)
    and the golden accumulator of neuron ``j`` is ``(acc_hw << exp[j]) + const[j]``.
    """

    lo: int
    hi: int
    exp: np.ndarray
    const: np.ndarray

    @property
    def signed(self):
        return self.lo < 0

    @property
    def width(self):
        return signed_width(self.lo, self.hi) if self.signed else unsigned_width(self.hi)

    def golden(self, acc_hw):
        """The golden accumulators (N, MH) of hardware accumulators (N, MH)."""
        return (np.asarray(acc_hw, np.int64) << self.exp[None, :]) + self.const[None, :]


def hw_accumulator(layer):
    """The :class:`AccMap` of ``layer``'s matrix-vector unit.

    The element (:mod:`golden.elements`) fixes the lane range, so ``acc_hw`` lies in
    ``[MW*u_lo, MW*u_hi]``, and gives ``(exp, const)``; the layer's ``scale_exp`` adds
    ``acc << s = (acc_hw << (exp + s)) + (const << s)``. Examples: binary x binary is the
    popcount itself (``[0, MW]``, exp 0, const 0); binary weights on codes with values
    ``c + o`` add ``w*c`` only (``[-MW*top, MW*top]``) with the offset's share
    ``o * sum_i w[j, i]`` as const; ternary weights on bits count matches (``exp`` 1,
    ``const = -sum_i |w[j, i]|``).
    """
    mw = layer.in_features
    u_lo, u_hi = lane_range(layer.weight_encoding, layer.input_encoding)
    exp, const = acc_map(layer.weight_encoding, layer.input_encoding, layer.weights)
    scale = layer.scale_exp.astype(np.int64)
    return AccMap(mw * u_lo, mw * u_hi, exp + scale, np.asarray(const, np.int64) << scale)


def threshold_hw(activation, acc):
    """The hardware form of a :class:`~golden.model.Thresholds`: all compares ``acc_hw >= t``.

    Returns ``(t, flip)``: ``t`` (channels, count) int64 in ``[acc.lo, acc.hi + 1]`` and
    ``flip`` (channels,) 0/1, such that for every ``acc_hw`` in ``[acc.lo, acc.hi]``
    (an :class:`AccMap`)::

        c = sum_t (acc_hw >= t[:, t]);   y = count - c if flip else c

    equals the golden output. Proof, with golden ``a = (acc_hw << e) + k`` and integers:
    ``a >= T`` iff ``acc_hw >= (T - k) / 2**e`` iff ``acc_hw >= ceil((T - k) / 2**e)``;
    ``a <= T`` iff ``acc_hw <= floor((T - k) / 2**e)`` iff not
    ``acc_hw >= floor((T - k) / 2**e) + 1``, so direction -1 complements the count. A
    threshold at or below ``acc.lo`` is always reached and one above ``acc.hi`` never, so
    clamping changes nothing.
    """
    flip = (activation.direction < 0).astype(np.int64)
    d = activation.thresholds - acc.const[:, None]
    e = acc.exp[:, None]
    t = np.where(flip[:, None] == 1, (d >> e) + 1, -((-d) >> e))
    return np.clip(t, acc.lo, acc.hi + 1), flip


def threshold_words(activation, pe, acc, width):
    """Threshold memory: NF words, PE lanes of ``count`` ``width``-bit thresholds (two's
    complement when ``acc.lo < 0``; threshold t at lane bit ``t*width``), then the flip bit."""
    t, flip = threshold_hw(activation, acc)
    channels, count = t.shape
    if channels % pe:
        raise ValueError(f"PE {pe} must divide the {channels} channels")
    lane = [pack_lanes(row[None, :], width, signed=acc.signed)[0] | (int(f) << (count * width))
            for row, f in zip(t, flip)]
    return pack_lanes(np.array(lane, dtype=object).reshape(-1, pe), count * width + 1)


def bias_hw(activation, acc):
    """``(b, e)`` per channel with the golden score ``(acc_hw << e) + b`` for the
    :class:`AccMap` ``acc``: ``b = bias + const``, ``e = exp``."""
    return activation.bias + acc.const, acc.exp.astype(np.int64)


def score_range(activation, acc):
    """Proven range ``(lo, hi)`` of the scores ``(acc_hw << e) + b`` over every channel."""
    b, e = bias_hw(activation, acc)
    lo = min((acc.lo << int(x)) + int(y) for x, y in zip(e, b))
    hi = max((acc.hi << int(x)) + int(y) for x, y in zip(e, b))
    return lo, hi


def score_width(network):
    """Width of the signed class scores of ``network``'s last layer (two's complement)."""
    layer = network.layers[-1]
    return signed_width(*score_range(layer.activation, hw_accumulator(layer)))


def bias_words(activation, pe, acc, width, exp_width=0):
    """Bias memory: NF words of PE lanes, each a signed ``width``-bit ``b`` of
    :func:`bias_hw`, then (when ``exp_width`` > 0) its ``exp_width``-bit shift ``e``."""
    b, e = bias_hw(activation, acc)
    if len(b) % pe:
        raise ValueError(f"PE {pe} must divide the {len(b)} channels")
    lanes = pack_lanes(b[:, None], width, signed=True)
    if exp_width:
        lanes = [v | int(x) << width for v, x in zip(lanes, pack_lanes(e[:, None], exp_width))]
    return pack_lanes(np.array(lanes, dtype=object).reshape(-1, pe), width + exp_width)


#: A single-port RAM of the iCE40 UP (``SB_SPRAM256KA``): 16,384 words of 16 bits.
SPRAM_WIDTH, SPRAM_DEPTH = 16, 16384


def spram_per_word(width):
    """Memory words of ``width`` bits packed into one 16-bit SPRAM word: the largest power
    of two ``p`` with ``p * width <= 16`` (1 for words wider than 8 bits)."""
    per = 1
    while 2 * per * width <= SPRAM_WIDTH:
        per *= 2
    return per


def spram_words(words, width):
    """The 16-bit load words of a memory of ``width``-bit ``words`` kept in SPRAMs, in the
    order the hardware writes them (:class:`hdl.spram.SpramRom`).

    Words of at most 8 bits are packed :func:`spram_per_word` ``= p`` to a load word (word
    ``p*j + i`` in bits ``[i*width, (i+1)*width)`` of load word ``j``, the last one
    zero-filled); wider words take ``ceil(width / 16)`` load words each, bits
    ``[16*l, 16*(l+1))`` first for ``l = 0``, the last slice zero-padded. Raises
    ``ValueError`` on a word that does not fit ``width`` bits."""
    for word in words:
        if not 0 <= word < 1 << width:
            raise ValueError(f"memory word {word:#x} does not fit {width} bits")
    per = spram_per_word(width)
    if per > 1:
        return [sum(w << (width * i) for i, w in enumerate(words[j:j + per]))
                for j in range(0, len(words), per)]
    lanes = -(-width // SPRAM_WIDTH)
    return [(word >> (SPRAM_WIDTH * k)) & 0xFFFF for word in words for k in range(lanes)]


def spram_image(memories):
    """The bytes that fill the SPRAM memories ``[(words, width), ...]``, in that order: the
    :func:`spram_words` of each, every 16-bit word little-endian (the order a flash
    reader brings them, :class:`hdl.flash.FlashReader`)."""
    image = bytearray()
    for words, width in memories:
        for w in spram_words(words, width):
            image += w.to_bytes(2, "little")
    return bytes(image)
