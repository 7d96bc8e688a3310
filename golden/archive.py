"""Defensive reading of ``.npy`` arrays and ``.npz`` archives (model files, input batches).

``np.load`` trusts a file: a header that claims 10^10 rows makes it try to allocate them,
a damaged deflate stream raises ``zlib.error`` from deep inside, an object array asks for
pickle. Here every array's header is read first and checked (a plain numeric dtype, at
most :data:`MAX_ARRAY_BYTES`, and no more data claimed than the member holds) before any
allocation, and every failure of the zip, deflate or ``.npy`` layers becomes one
:class:`~golden.errors.ModelError` naming the file and the member.
"""

import io
import math
import zipfile
import zlib

import numpy as np

from .errors import ModelError

__all__ = ["MAX_ARRAY_BYTES", "read_npy", "NpzArchive"]

#: Largest array read (bytes): far above any model or batch this tool handles.
MAX_ARRAY_BYTES = 1 << 30

# What the zip, deflate and .npy layers raise on damaged data.
_DAMAGE = (ValueError, OSError, EOFError, zlib.error, zipfile.BadZipFile, NotImplementedError,
           RuntimeError, KeyError, MemoryError, OverflowError)


def _read_array(fp, stored_bytes, where):
    """One ``.npy`` array from the binary file object ``fp`` holding ``stored_bytes``."""
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
        else:
            raise ValueError(f"unknown .npy version {version}")
    except _DAMAGE as error:
        raise ModelError(f"{where}: not a readable .npy array ({error})") from None
    if dtype.hasobject or dtype.kind not in "biufcU" or dtype.fields is not None:
        raise ModelError(f"{where}: holds {dtype} data; only plain numeric or text arrays are "
                         f"read (no pickled objects)")
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > MAX_ARRAY_BYTES or nbytes > stored_bytes:
        raise ModelError(f"{where}: the header claims shape {shape} of {dtype} ({nbytes} bytes) "
                         f"but the file holds {stored_bytes} bytes; the file is damaged")
    try:
        data = fp.read(nbytes)
    except _DAMAGE as error:
        raise ModelError(f"{where}: damaged data ({type(error).__name__}: {error})") from None
    if len(data) != nbytes:
        raise ModelError(f"{where}: the data is cut short ({len(data)} of {nbytes} bytes)")
    array = np.frombuffer(data, dtype=dtype)
    return (array.reshape(shape[::-1]).T if fortran else array.reshape(shape)).copy()


def read_npy(path, what="array"):
    """The array in the ``.npy`` file ``path``."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fp:
            return _read_array(fp, size, f"{path}")
    except OSError as error:
        raise ModelError(f"{path}: cannot read the {what} ({error.strerror or error})") from None


class NpzArchive:
    """A ``.npz`` archive read member by member (``files``, ``archive[key]``)."""

    def __init__(self, path):
        self.path = path
        try:
            self._zip = zipfile.ZipFile(path)
            self._members = {info.filename: info for info in self._zip.infolist()}
        except _DAMAGE as error:
            raise ModelError(f"{path}: not a readable .npz model file ({error})") from None
        self.files = [name[:-4] for name in self._members if name.endswith(".npy")]

    def __getitem__(self, key):
        info = self._members[key + ".npy"]
        where = f"{self.path}: member {key}.npy"
        try:
            with self._zip.open(info) as fp:
                # The uncompressed size the directory states bounds what is read.
                return _read_array(io.BufferedReader(fp), info.file_size, where)
        except ModelError:
            raise
        except _DAMAGE as error:
            raise ModelError(f"{where}: damaged ({type(error).__name__}: {error})") from None

    def close(self):
        self._zip.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
