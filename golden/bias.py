"""Pass-through activation with a per-channel integer offset: ``y = acc + bias``."""

import numpy as np

__all__ = ["add_bias"]


def add_bias(acc, activation):
    """Apply a :class:`golden.model.Bias` to accumulators ``acc`` (N, channels)."""
    return np.asarray(acc, np.int64) + activation.bias[None, :]
