"""Convert a model between formats.

    bnn-convert --model MODEL --out OUT.npz|OUT.onnx

(or ``python -m golden.convert``; ``MODEL`` may also come first, without ``--model``).
``MODEL`` is anything :func:`golden.formats.load_model` reads (a model file or a BNN-PYNQ
folder); the format of ``OUT`` follows its suffix.
"""


import argparse

from .cli import ArgumentParser, console, out_path, run_cli
from .formats import load_model, save_model

__all__ = ["convert", "cli", "main"]


def convert(source, out):
    """Read ``source``, write it to ``out``; returns the network."""
    network = load_model(source)
    save_model(network, out)
    return network


def main(argv=None, prog="python -m golden.convert"):
    parser = ArgumentParser(prog=prog, description="Convert a model to another format.",
                            examples=[f"{prog} --model lfcW1A1/ --out lfcW1A1.npz",
                                      f"{prog} --model my_net.onnx --out my_net.npz",
                                      f"{prog} --model models/mnist_bnn.npz --out mnist_bnn.onnx"])
    parser.add_argument("source", nargs="?", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--model", default=None,
                        help="model to read: .onnx, .h5/.keras (Larq), .npz or a BNN-PYNQ folder "
                             "(required)")
    parser.add_argument("--out", type=out_path, required=True,
                        help="model file to write, .npz or .onnx by its suffix (required)")
    args = parser.parse_args(argv)
    args.model = _one_model(parser, args.model, args.source)
    network = convert(args.model, args.out)
    print(f"{args.model} -> {args.out}: {network.name}, {len(network.layers)} layers, "
          f"{network.input.features} inputs -> {len(network.classes)} classes")
    return 0


def _one_model(parser, option, positional):
    """The model named by ``--model`` or, as older command lines do, first."""
    if option and positional and option != positional:
        parser.error(f"two models given: {positional} and --model {option}")
    if not (option or positional):
        parser.error("the following arguments are required: --model")
    return option or positional


cli = console(main, "bnn-convert")

if __name__ == "__main__":
    run_cli(main)
