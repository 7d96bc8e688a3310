"""Class decision: the index of the largest score, the lowest index among equal maxima."""

import numpy as np

__all__ = ["argmax"]


def argmax(scores):
    """Labels (N,) of scores (N, classes); ties go to the lowest index, as in hardware."""
    return np.argmax(np.asarray(scores), axis=1).astype(np.int64)
