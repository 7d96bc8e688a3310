"""QONNX in and out.

    bnn-qonnx import --model NET.onnx --out NET.npz [--divisor 255]
    bnn-qonnx export --model MODEL --out NET.onnx

(or ``python -m golden.qonnx``; the model may also come first, without ``--model``).

``import`` turns a QONNX graph (Brevitas, QKeras through qonnx, FINN) into the project's
model file (:mod:`golden.formats.qonnx`); ``export`` writes any model the project reads as a
QONNX graph that qonnx's executor runs with the same classes and scores
(:mod:`golden.formats.qonnx_export`). Every ``--model`` option also takes a ``.onnx`` file
directly.
"""

import argparse
import time

from .cli import ArgumentParser, console, out_path, run_cli
from .convert import _one_model
from .errors import ModelError
from .formats import import_graph, load_model, save_model

__all__ = ["cli", "main"]


def main(argv=None, prog="python -m golden.qonnx"):
    parser = ArgumentParser(prog=prog, description="QONNX import and export.",
                            examples=[f"{prog} import --model my_net.onnx --out my_net.npz",
                                      f"{prog} export --model models/mnist_bnn.npz --out mnist_bnn.onnx"])
    sub = parser.add_subparsers(dest="command", required=True)
    imp = sub.add_parser("import", help="a QONNX graph to a .npz model file",
                         formatter_class=parser.formatter_class,
                         epilog=f"example:\n  {prog} import --model my_net.onnx --out my_net.npz")
    imp.add_argument("source", nargs="?", default=None, help=argparse.SUPPRESS)
    imp.add_argument("--model", default=None,
                     help="QONNX graph (.onnx) or Larq model (.h5, .keras) to read (required)")
    imp.add_argument("--out", type=out_path, required=True, help="model file to write, .npz (required)")
    imp.add_argument("--divisor", type=float, default=None,
                     help="the graph's input is pixel / DIVISOR for 8-bit pixels (default: "
                          "the graph's bnn_rtl.input_divisor metadata, else 255)")
    imp.add_argument("--input-type", default=None,
                     help="values of a graph input that no quantizer quantizes: bipolar, uintK "
                          "or intK[:SCALE], e.g. uint4 (default: the graph quantizes it)")
    exp = sub.add_parser("export", help="a model (.npz, BNN-PYNQ folder, .onnx, .h5/.keras) to QONNX",
                         formatter_class=parser.formatter_class,
                         epilog=f"example:\n  {prog} export --model models/mnist_bnn.npz "
                                f"--out mnist_bnn.onnx")
    exp.add_argument("source", nargs="?", default=None, help=argparse.SUPPRESS)
    exp.add_argument("--model", default=None,
                     help="model to read: .npz, .onnx, .h5/.keras (Larq) or a BNN-PYNQ folder "
                          "(required)")
    exp.add_argument("--out", type=out_path, required=True, help="QONNX graph to write, .onnx (required)")
    args = parser.parse_args(argv)
    args.model = _one_model(imp if args.command == "import" else exp, args.model, args.source)
    if args.command == "import":
        if not args.out.lower().endswith(".npz"):
            raise ModelError(f"{args.out}: name the imported model file .npz")
        start = time.perf_counter()
        result = import_graph(args.model, args.input_type, args.divisor)
        elapsed = time.perf_counter() - start
        save_model(result.network, args.out)
        net = result.network
        print(f"{args.model} -> {args.out}: {net.name}, {len(net.layers)} layers, "
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


cli = console(main, "bnn-qonnx")

if __name__ == "__main__":
    run_cli(main)
