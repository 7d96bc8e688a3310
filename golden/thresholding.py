"""Multi-threshold activation: batch-norm, scale and sign folded into integer thresholds.

For a channel with thresholds ``T_0..T_{n-1}`` and direction ``d``::

    y = sum_t (acc >= T_t)   if d == +1
    y = sum_t (acc <= T_t)   if d == -1     (negative batch-norm gain)

``y`` is in ``[0, n]``; with one threshold it is the binary activation bit (1 = +1).
"""

import numpy as np

__all__ = ["threshold"]


def threshold(acc, activation):
    """Apply a :class:`golden.model.Thresholds` to accumulators ``acc`` (N, channels)."""
    acc = np.asarray(acc, np.int64)
    t = activation.thresholds
    up = activation.direction > 0
    if up.all():
        return (acc[:, :, None] >= t[None]).sum(axis=2, dtype=np.int64)
    out = np.empty(acc.shape, np.int64)
    out[:, up] = (acc[:, up, None] >= t[None, up]).sum(axis=2, dtype=np.int64)
    out[:, ~up] = (acc[:, ~up, None] <= t[None, ~up]).sum(axis=2, dtype=np.int64)
    return out
