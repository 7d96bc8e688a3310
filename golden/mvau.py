"""Matrix-vector accumulate of binary-weight layers.

Binary inputs: XNOR and popcount, bit-packed and vectorised (below). Integer inputs
(codes with an offset): the signed dot product of :func:`signed_dot`.

For input bits ``x`` (N, MW) and weight bits ``w`` (MH, MW), both 1 = +1 and 0 = -1::

    acc[n, j] = sum_i XNOR(x[n, i], w[j, i]) = MW - popcount(x[n] XOR w[j])

which lies in ``[0, MW]``. The signed +-1 dot product is ``2*acc - MW``.
"""

import numpy as np

__all__ = ["pack_rows", "xnor_popcount", "xnor_popcount_reference", "signed_dot"]

# Rows of the batch processed at once: keeps the (rows, MH, words) XOR temporary near 2 MiB,
# small enough to stay in cache (measured faster than larger chunks).
_CHUNK_ELEMENTS = 256 * 1024


def pack_rows(bits):
    """Pack a (N, K) array of 0/1 into (N, ceil(K/64)) uint64, bit i of a row at bit i%64 of word i//64.

    Pad bits are 0; XOR of two zero pads is 0, so padding never reaches a popcount.
    """
    bits = np.ascontiguousarray(bits, dtype=np.uint8)
    n, k = bits.shape
    words = -(-k // 64)
    padded = np.zeros((n, words * 64), np.uint8)
    padded[:, :k] = bits
    packed = np.packbits(padded, axis=1, bitorder="little")
    return packed.view("<u8").reshape(n, words)


def xnor_popcount(x_bits, w_bits):
    """Accumulators (N, MH) int64 of a binary x binary layer; see the module docstring."""
    x_bits, w_bits = np.asarray(x_bits), np.asarray(w_bits)
    if x_bits.shape[1] != w_bits.shape[1]:
        raise ValueError(f"inputs have {x_bits.shape[1]} bits, weights {w_bits.shape[1]} columns")
    mw = w_bits.shape[1]
    xp, wp = pack_rows(x_bits), pack_rows(w_bits)
    out = np.empty((len(xp), len(wp)), np.int64)
    rows = max(1, _CHUNK_ELEMENTS // max(1, wp.size))
    for start in range(0, len(xp), rows):
        diff = np.bitwise_xor(xp[start:start + rows, None, :], wp[None, :, :])
        out[start:start + rows] = mw - np.bitwise_count(diff).sum(axis=2, dtype=np.int64)
    return out


def xnor_popcount_reference(x_bits, w_bits):
    """The same accumulators as a plain +-1 integer dot product, an independent check."""
    x = 2 * np.asarray(x_bits, np.int64) - 1
    w = 2 * np.asarray(w_bits, np.int64) - 1
    return (x @ w.T + w.shape[1]) // 2


def signed_dot(codes, offset, w_bits):
    """``acc[n, j] = sum_i w[j, i] * (codes[n, i] + offset)`` with weights +-1 (bit 1 = +1).

    Computed in float64, exact for every |acc| < 2**53, far above any layer here.
    """
    values = np.asarray(codes, np.float64) + offset
    w = 2.0 * np.asarray(w_bits, np.float64) - 1.0
    return np.rint(values @ w.T).astype(np.int64)
