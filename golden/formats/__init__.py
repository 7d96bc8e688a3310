"""Model formats: one reader (and writer) per format, and the one loader every ``--model``
option uses.

Each module here turns one outside format into :mod:`golden.model` objects (or back) and
imports no other format module; :func:`load_model` and :func:`save_model` pick the module
from the path. A new format is a new module here plus one line in each table below.

============  ==========================================  ======================
format        recognised by                               module
============  ==========================================  ======================
project file  any other file (``.npz``)                   :mod:`.npz`
BNN-PYNQ      a folder with ``config.h`` and ``*-weights.bin``  :mod:`.bnnpynq`
QONNX         the suffix ``.onnx``                        :mod:`.qonnx` (:mod:`.qonnx_export` writes)
============  ==========================================  ======================
"""

from pathlib import Path

from ..errors import ModelError
from . import bnnpynq, npz, qonnx, qonnx_export

__all__ = ["load_model", "save_model"]


def load_model(path):
    """The :class:`~golden.model.Network` stored at ``path``, in any readable format."""
    path = Path(path)
    if path.is_dir():
        if bnnpynq.is_bnnpynq_folder(path):
            return bnnpynq.load_bnnpynq(path)
        raise ModelError(f"{path}: a folder but not a BNN-PYNQ parameter folder (no config.h "
                         f"with *-weights.bin files); give a .npz model file or such a folder")
    if not path.exists():
        raise ModelError(f"{path}: no such model file or folder")
    if path.suffix.lower() == ".onnx":
        return qonnx.load_qonnx(path)
    return npz.load(path)


WRITERS = {".npz": npz.save, ".onnx": qonnx_export.export_qonnx}


def save_model(network, path):
    """Write ``network`` to ``path`` in the format its suffix names (``.npz`` or ``.onnx``)."""
    path = Path(path)
    writer = WRITERS.get(path.suffix.lower())
    if writer is None:
        raise ModelError(f"{path}: cannot write a model as {path.suffix or 'a file without a suffix'!r}; "
                         f"name the output .npz or .onnx")
    writer(network, path)
