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
Larq (Keras)  the suffixes ``.h5``, ``.hdf5``, ``.keras``  :mod:`.larq` (to QONNX, then :mod:`.qonnx`)
============  ==========================================  ======================
"""

import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..checks import reading
from ..errors import ModelError
from . import bnnpynq, larq, npz, qonnx, qonnx_export

__all__ = ["load_model", "save_model", "import_larq", "imports_graph", "import_graph",
           "LARQ_INPUT"]

#: The input of a Keras model whose first layer has no input quantizer: the pixel values
#: 0..255 (preprocessing is a layer of the model).
LARQ_INPUT = "uint8"


def load_model(path, input_type=None):
    """The :class:`~golden.model.Network` stored at ``path``, in any readable format.

    ``input_type`` (text, :func:`golden.formats.qonnx.parse_input_type`): the values of a
    QONNX graph's or Keras model's input that no quantizer quantizes (a Keras model's
    default: :data:`LARQ_INPUT`); other formats fix their input.

    Every failure is a :class:`~golden.errors.ModelError` with one line: the readers check
    what they expect, and anything a damaged file raises beyond that is reported as
    damage, never as a traceback."""
    if input_type is not None and not imports_graph(path):
        raise ModelError(f"{path}: an input type is declared for .onnx graphs and Keras models "
                         f"only; this model file fixes its input already")
    with reading(path):
        return _load(Path(path), input_type)


def _load(path, input_type=None):
    if path.is_dir():
        if bnnpynq.is_bnnpynq_folder(path):
            return bnnpynq.load_bnnpynq(path)
        raise ModelError(f"{path}: a folder but not a BNN-PYNQ parameter folder (no config.h "
                         f"with *-weights.bin files); give a .npz model file or such a folder")
    if not path.exists():
        raise ModelError(f"{path}: no such model file or folder")
    if path.suffix.lower() == ".onnx":
        return qonnx.load_qonnx(path, input_type)
    if larq.is_keras_file(path):
        return import_larq(path, input_type).network
    return npz.load(path)


def import_larq(path, input_type=None):
    """The :class:`~golden.formats.qonnx.QonnxImport` of the Larq (Keras) model at ``path``:
    its QONNX translation (:func:`golden.formats.larq.to_qonnx`) imported exactly; its
    ``frontend`` and ``input_shape`` are the Keras model's (channels last)."""
    with reading(path, "Keras model"):
        model = larq.to_qonnx(path)
    if input_type is None and not larq.quantizes_input(model):
        input_type = LARQ_INPUT
    result = qonnx.import_qonnx_model(model, path, 1, input_type)
    if len(result.input_shape) == 3:
        # The graph takes NCHW; the Keras model's own inputs are (N, H, W, C).
        graph_frontend = result.frontend
        c, h, w = result.input_shape
        result = replace(result, input_shape=(h, w, c),
                         frontend=lambda x: graph_frontend(np.moveaxis(np.asarray(x), -1, 1)))
    return result


def imports_graph(path):
    """Whether ``path`` is a float model, a QONNX graph or a Keras model, whose import
    (:func:`import_graph`) has a float front end and exactness flags."""
    return Path(path).suffix.lower() == ".onnx" or larq.is_keras_file(path)


def import_graph(path, input_type=None, divisor=None):
    """The :class:`~golden.formats.qonnx.QonnxImport` of a QONNX graph or a Keras model;
    ``divisor`` (see :func:`~golden.formats.qonnx.import_qonnx`) is for graphs only."""
    if larq.is_keras_file(path):
        if divisor is not None:
            raise ModelError(f"{path}: --divisor is for .onnx graphs; a Keras model takes the "
                             f"pixels (put a Rescaling layer in the model)")
        return import_larq(path, input_type)
    return qonnx.import_qonnx(path, divisor, input_type)


WRITERS = {".npz": npz.save, ".onnx": qonnx_export.export_qonnx}


def save_model(network, path):
    """Write ``network`` to ``path`` in the format its suffix names (``.npz`` or ``.onnx``)."""
    path = Path(path)
    writer = WRITERS.get(path.suffix.lower())
    if writer is None:
        raise ModelError(f"{path}: cannot write a model as {path.suffix or 'a file without a suffix'!r}; "
                         f"name the output .npz or .onnx")
    if path.is_dir():
        raise ModelError(f"{path}: is a folder; give a file name ending in {path.suffix}")
    if not path.parent.is_dir():
        raise ModelError(f"{path}: the folder {path.parent} does not exist (or is a file); "
                         f"create it first")
    # Written under a temporary name and renamed: a failed write leaves no partial model.
    temp = path.with_name(f".partial-{path.name}")
    try:
        writer(network, temp)
        os.replace(temp, path)
    except OSError as error:
        raise ModelError(f"{path}: cannot write the model ({error.strerror or error})") from None
    finally:
        temp.unlink(missing_ok=True)
