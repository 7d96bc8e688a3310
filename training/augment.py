"""Data augmentation shared by the trainers."""

import numpy as np

__all__ = ["random_shifts"]


def random_shifts(images, rng, max_shift=2):
    """Each image (N, 28, 28) moved by a random whole-pixel offset of up to ``max_shift``
    in each direction, the uncovered border filled with 0."""
    out = np.zeros_like(images)
    for k, (dy, dx) in enumerate(rng.integers(-max_shift, max_shift + 1, (len(images), 2))):
        src = images[k, max(0, -dy):28 - max(0, dy), max(0, -dx):28 - max(0, dx)]
        out[k, max(0, dy):max(0, dy) + src.shape[0], max(0, dx):max(0, dx) + src.shape[1]] = src
    return out
