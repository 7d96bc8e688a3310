"""Golden inference of a model: accuracy on the MNIST test set, or on your own inputs.

    python -m golden.evaluate --model MODEL --data MNIST_FOLDER [--limit N] [--save PRED.npz]
    python -m golden.evaluate --model MODEL --inputs X.npy [--labels Y.npy] [--save PRED.npz]

``--inputs`` takes a batch in the model's own input format, batch first: for a ``.onnx``
model the float tensor its graph takes (``(N, *graph input shape)``, float32); for other
models 8-bit pixels ``(N, *input shape)`` (integers 0..255). ``--save`` writes ``pred`` (the
predicted class per input, int64) and ``scores`` (its integer class scores, int64).
The last line printed is ``accuracy: 0.XXXX`` when labels are known.
"""

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from .archive import read_npy
from .cli import ArgumentParser, console, out_path, run_cli
from .datasets import load_mnist
from .errors import ModelError
from .formats import import_graph, imports_graph, load_model
from .network import run


def read_npy_file(path, what):
    """A single ``.npy`` array (``np.save``), read with the header checks of
    :func:`golden.archive.read_npy`."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such file for the {what}")
    with open(path, "rb") as f:
        if f.read(6) != b"\x93NUMPY":
            raise ModelError(f"{path}: the {what} must be a single .npy array (np.save)")
    return read_npy(path, what)


def model_inputs(network, array, imported=None):
    """The network's input codes (for :func:`run` ``bits=``) of a batch in the model's
    own input format (see the module docstring); ``imported``: the
    :class:`~golden.formats.qonnx.QonnxImport` of an ``.onnx`` model."""
    if imported is not None:
        if array.dtype.kind not in "fiu" or array.shape[1:] != imported.input_shape:
            raise ModelError(f"inputs are {array.dtype} {array.shape}; this graph takes "
                             f"(N, {', '.join(map(str, imported.input_shape))}) floats")
        if not np.isfinite(array).all():
            raise ModelError("inputs contain NaN or infinite values")
        return imported.frontend(array.astype(np.float32))
    if array.dtype.kind not in "iu" or array.shape[1:] != network.input.shape:
        raise ModelError(f"inputs are {array.dtype} {array.shape}; this model takes 8-bit "
                         f"pixels (N, {', '.join(map(str, network.input.shape))})")
    if array.size and (array.min() < 0 or array.max() > 255):
        raise ModelError("input pixels must lie in 0..255")
    return network.input(array)


def save_predictions(path, trace):
    """Write ``pred`` and ``scores`` to ``path`` (.npz) atomically."""
    path = Path(path)
    if path.suffix != ".npz":
        raise ModelError(f"{path}: name the predictions file .npz")
    if not path.parent.is_dir():
        raise ModelError(f"{path.parent}: no such folder for the predictions")
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, pred=trace.labels.astype(np.int64), scores=trace.scores.astype(np.int64))
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv=None, prog="python -m golden.evaluate"):
    parser = ArgumentParser(prog=prog, description=__doc__.split("\n")[0],
                            examples=[f"{prog} --model my_net.onnx --data mnist/",
                                      f"{prog} --model models/mnist_bcnn.npz --data mnist/ --limit 100",
                                      f"{prog} --model net.onnx --inputs X.npy --labels Y.npy "
                                      f"--save pred.npz"])
    parser.add_argument("--model", required=True,
                        help="model: .onnx (QONNX, Brevitas), .h5/.keras (Larq), .npz or a BNN-PYNQ "
                             "folder (required)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="folder with the MNIST test set (IDX, .gz or not); "
                                       "this or --inputs is required")
    source.add_argument("--inputs", help=".npy batch in the model's own input format; this "
                                         "or --data is required")
    parser.add_argument("--labels", help=".npy of integer labels for --inputs (default: none, "
                                         "no accuracy)")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="only the first N inputs (default: all)")
    parser.add_argument("--save", type=out_path,
                        help="write pred and scores to this .npz (default: not saved)")
    parser.add_argument("--input-type", default=None,
                        help="values of an .onnx graph's or Keras model's input that it does not "
                             "quantize: bipolar, uintK or intK[:SCALE], e.g. int8:0.0625 "
                             "(default: the graph quantizes its input; a Keras model's is "
                             "uint8)")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        raise ModelError(f"--limit must be a positive integer, not {args.limit}")
    if args.labels and not args.inputs:
        raise ModelError("--labels goes with --inputs (the MNIST folder has its own labels)")
    imported = None
    if imports_graph(args.model):
        # One import serves both the network and the float front end of its graph.
        imported = import_graph(args.model, args.input_type)
        network = imported.network
    else:
        network = load_model(args.model, args.input_type)
    if args.data:
        images, labels = load_mnist(args.data, args.limit)
        codes = network.input(images)
    else:
        array = read_npy_file(args.inputs, "inputs")
        if array.ndim < 2 or not len(array):
            raise ModelError(f"{args.inputs}: inputs must be a batch (N, ...), not shape {array.shape}")
        count = len(array)
        array = array[:args.limit]
        labels = None
        if args.labels:
            labels = read_npy_file(args.labels, "labels")
            if labels.dtype.kind not in "iu" or labels.shape != (count,):
                raise ModelError(f"{args.labels}: labels must be integers of shape (N,) with N "
                                 f"the number of inputs")
            labels = labels[:args.limit].astype(np.int64)
        codes = model_inputs(network, array, imported)
    start = time.perf_counter()
    trace = run(network, bits=codes)
    elapsed = time.perf_counter() - start
    n = len(trace.labels)
    print(f"model: {network.name}, {len(network.layers)} layers")
    print(f"inputs: {n}, golden throughput: {n / elapsed:.0f} inputs/s ({elapsed:.2f} s)")
    if args.save:
        save_predictions(args.save, trace)
        print(f"predictions: {args.save}")
    if labels is not None:
        correct = int((trace.labels == labels).sum())
        print(f"correct: {correct}")
        print(f"accuracy: {correct / n:.4f}")
    return 0


cli = console(main, "bnn-eval")

if __name__ == "__main__":
    run_cli(main)
