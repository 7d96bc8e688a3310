"""Convert a model between formats.

    python -m golden.convert MODEL --out OUT.npz

``MODEL`` is anything :func:`golden.formats.load_model` reads (a model file or a BNN-PYNQ
folder); the format of ``OUT`` follows its suffix.
"""


from .cli import ArgumentParser, run_cli
from .formats import load_model, save_model

__all__ = ["convert", "main"]


def convert(source, out):
    """Read ``source``, write it to ``out``; returns the network."""
    network = load_model(source)
    save_model(network, out)
    return network


def main(argv=None):
    parser = ArgumentParser(prog="python -m golden.convert",
                                     description="Convert a model to another format.")
    parser.add_argument("model", help="model file or BNN-PYNQ folder")
    parser.add_argument("--out", required=True, help="model file to write (.npz)")
    args = parser.parse_args(argv)
    network = convert(args.model, args.out)
    print(f"{args.model} -> {args.out}: {network.name}, {len(network.layers)} layers, "
          f"{network.input.features} inputs -> {len(network.classes)} classes")
    return 0


if __name__ == "__main__":
    run_cli(main)
