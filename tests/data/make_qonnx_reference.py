"""Make the stored reference outputs of qonnx's own executor for the shared QONNX models.

    python tests/data/make_qonnx_reference.py [--shared ../shared] [--limit N]

For each model in ``<shared>/models/qonnx`` and each ``tests/data/brevitas_*.onnx`` it
runs ``qonnx.core.onnx_exec.execute_onnx``
(after ``qonnx.util.cleanup.cleanup_model``) on the MNIST test images (float32
``pixel / 255`` of shape (1, 1, 28, 28)) and writes ``tests/data/<model>.executor.npz``
with ``pred`` (the argmax class per image, int16) and ``scores`` (the float32 outputs).
qonnx runs 35 to 70 images/s here: all 10,000 images take 2 to 5 minutes per model.
"""

import argparse
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MODELS = ("TFC_1W1A", "TFC_1W2A")


def executor_outputs(onnx_path, images):
    """qonnx executor outputs (N, classes) float32 of uint8 ``images`` (N, 28, 28)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.util.cleanup import cleanup_model
    model = cleanup_model(ModelWrapper(str(onnx_path)))
    iname, oname = model.graph.input[0].name, model.graph.output[0].name
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    out = []
    for img in images:
        x = (img.astype(np.float32) / np.float32(255)).reshape(shape)
        out.append(execute_onnx(model, {iname: x})[oname].reshape(-1))
    return np.asarray(out, np.float32)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", default=str(HERE.parents[2] / "shared"))
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--only", nargs="*", help="model names (file stems) to renew")
    args = parser.parse_args()
    import sys
    sys.path.insert(0, str(HERE.parents[1]))
    from golden.datasets import load_mnist
    images, _ = load_mnist(Path(args.shared) / "data" / "mnist", args.limit)
    paths = [Path(args.shared) / "models" / "qonnx" / f"{name}.onnx" for name in MODELS]
    paths += sorted(HERE.glob("brevitas_*.onnx"))
    for path in paths:
        name = path.stem
        if args.only and name not in args.only:
            continue
        scores = executor_outputs(path, images)
        np.savez_compressed(HERE / f"{name}.executor.npz", pred=scores.argmax(axis=1).astype(np.int16),
                            scores=scores)
        print(name, len(scores), "images")


if __name__ == "__main__":
    main()
