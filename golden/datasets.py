"""Readers for test data sets: MNIST in the standard (optionally gzipped) IDX format."""

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from .errors import ModelError

__all__ = ["read_idx", "load_mnist"]

_IDX_TYPES = {0x08: np.uint8}
MAX_IDX_BYTES = 1 << 30


def read_idx(path):
    """Read an IDX file (``.gz`` or plain) into a numpy array, validating its header."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read(MAX_IDX_BYTES + 1)
    except (OSError, EOFError, zlib.error) as error:
        raise ModelError(f"{path}: cannot read IDX data ({error})") from None
    if len(data) > MAX_IDX_BYTES:
        raise ModelError(f"{path}: more than {MAX_IDX_BYTES} bytes; not an MNIST-sized IDX file")
    if len(data) < 4 or data[0] or data[1] or data[2] not in _IDX_TYPES:
        raise ModelError(f"{path}: not an unsigned-byte IDX file (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    if len(data) < header or len(data) != header + math.prod(shape):
        raise ModelError(f"{path}: IDX header says shape {shape} but the file has "
                         f"{len(data) - header} data bytes")
    return np.frombuffer(data, np.uint8, offset=header).reshape(shape)


def _find(folder, stem):
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    raise ModelError(f"{folder}: no {stem}[.gz]; give the folder holding the MNIST test set")


def load_mnist(folder, limit=None):
    """The MNIST test set from ``folder``: images (N, 28, 28) uint8 and labels (N,) int64."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelError(f"{folder}: no such data folder")
    images = read_idx(_find(folder, "t10k-images-idx3-ubyte"))
    labels = read_idx(_find(folder, "t10k-labels-idx1-ubyte"))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ModelError(f"{folder}: images {images.shape} and labels {labels.shape} do not match")
    if not len(labels):
        raise ModelError(f"{folder}: the data set holds no images; give a folder with the "
                         f"MNIST test set")
    if labels.max() > 9:
        raise ModelError(f"{folder}: a label is {labels.max()}; MNIST labels are 0..9")
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return images, labels.astype(np.int64)
