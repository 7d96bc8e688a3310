"""QONNX in and out.

    python -m golden.qonnx import NET.onnx --out NET.npz [--divisor 255]
    python -m golden.qonnx export MODEL --out NET.onnx

``import`` turns a QONNX graph (Brevitas, QKeras through qonnx, FINN) into the project's
model file (:mod:`golden.formats.qonnx`); ``export`` writes any model the project reads as a
QONNX graph that qonnx's executor runs with the same classes and scores
(:mod:`golden.formats.qonnx_export`). Every ``--model`` option also takes a ``.onnx`` file
directly.
"""

import time

from .cli import ArgumentParser, run_cli
from .errors import ModelError
from .formats import load_model, save_model
from .formats.qonnx import import_qonnx

__all__ = ["main"]


def main(argv=None):
    parser = ArgumentParser(prog="python -m golden.qonnx",
                                     description="QONNX import and export.")
    sub = parser.add_subparsers(dest="command", required=True)
    imp = sub.add_parser("import", help="a QONNX graph to a .npz model file")
    imp.add_argument("onnx", help="QONNX graph (.onnx)")
    imp.add_argument("--out", required=True, help="model file to write (.npz)")
    imp.add_argument("--divisor", type=float, default=255.0,
                     help="the graph's input is pixel / DIVISOR for 8-bit pixels (default 255)")
    imp.add_argument("--input-type", default=None,
                     help="values of a graph input that no quantizer quantizes: bipolar, uintK "
                          "or intK[:SCALE], e.g. uint4 (default: the graph quantizes it)")
    exp = sub.add_parser("export", help="a model (.npz, BNN-PYNQ folder, .onnx) to QONNX")
    exp.add_argument("model", help="model file or folder")
    exp.add_argument("--out", required=True, help="QONNX graph to write (.onnx)")
    args = parser.parse_args(argv)
    if args.command == "import":
        if not args.out.lower().endswith(".npz"):
            raise ModelError(f"{args.out}: name the imported model file .npz")
        start = time.perf_counter()
        result = import_qonnx(args.onnx, args.divisor, args.input_type)
        elapsed = time.perf_counter() - start
        save_model(result.network, args.out)
        net = result.network
        print(f"{args.onnx} -> {args.out}: {net.name}, {len(net.layers)} layers, "
              f"{net.input.features} inputs -> {len(net.classes)} classes "
              f"(imported in {elapsed:.2f} s)")
        for i, layer in enumerate(net.layers):
            enc = getattr(layer, "weight_encoding", None)
            print(f"  layer {i}: {type(layer).__name__}"
                  + (f", {enc.kind} weights x {layer.input_encoding!r} inputs" if enc else ""))
        matmul = "yes" if result.exact_matmul else "no (scales are not powers of two)"
        print(f"float32 MatMul exact: {matmul}; "
              f"scores an exact affine map: {'yes' if result.exact_scores else 'no (rounded)'}")
    else:
        if not args.out.lower().endswith(".onnx"):
            raise ModelError(f"{args.out}: name the exported graph .onnx")
        net = load_model(args.model)
        save_model(net, args.out)
        print(f"{args.model} -> {args.out}: {net.name}, {len(net.layers)} layers")
    return 0


if __name__ == "__main__":
    run_cli(main)
