"""Matrix-vector accumulate of a layer, the golden reference.

Binary x binary: XNOR and popcount, bit-packed and vectorised (below). Every other pair of
encodings: the exact integer dot product of the values, :func:`signed_dot`. (What the
hardware's multiplier-free elements add instead is :mod:`golden.elements`.)

For input bits ``x`` (N, MW) and weight bits ``w`` (MH, MW), both 1 = +1 and 0 = -1::

    acc[n, j] = sum_i XNOR(x[n, i], w[j, i]) = MW - popcount(x[n] XOR w[j])

which lies in ``[0, MW]``. The signed +-1 dot product is ``2*acc - MW``.
"""

import numpy as np

__all__ = ["pack_rows", "xnor_popcount", "xnor_popcount_reference", "signed_dot"]

# Rows of the batch processed at once: keeps the (rows, MH, words) XOR temporary near 2 MiB,
# small enough to stay in cache.
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


def signed_dot(values, weights):
    """``acc[n, j] = sum_i weights[j, i] * values[n, i]``, exact, int64.

    In float64 (BLAS) while the bound ``MW * max|v| * max|w|`` stays below ``2**53``, where
    every partial sum is an exactly representable integer; in int64 otherwise.
    """
    v, w = np.asarray(values, np.int64), np.asarray(weights, np.int64)
    bound = v.shape[1] * max(1, int(np.abs(v).max(initial=0))) * max(1, int(np.abs(w).max(initial=0)))
    if bound < 1 << 53:
        return np.rint(v.astype(np.float64) @ w.T.astype(np.float64)).astype(np.int64)
    return v @ w.T
