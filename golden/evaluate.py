"""Golden accuracy of a model on the MNIST test set.

    python -m golden.evaluate --model MODEL --data MNIST_FOLDER [--limit N]

prints the throughput and, as its last line, ``accuracy: 0.XXXX``.
"""

import argparse
import time

from .cli import run_cli
from .datasets import load_mnist
from .formats import load_model
from .network import run


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m golden.evaluate", description=__doc__.split("\n")[1])
    parser.add_argument("--model", required=True, help="model file (.npz) or BNN-PYNQ folder")
    parser.add_argument("--data", required=True, help="folder with the MNIST test set (IDX, .gz or not)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N images")
    args = parser.parse_args(argv)
    network = load_model(args.model)
    images, labels = load_mnist(args.data, args.limit)
    start = time.perf_counter()
    predicted = run(network, images).labels
    elapsed = time.perf_counter() - start
    correct = int((predicted == labels).sum())
    print(f"model: {network.name}, {len(network.layers)} layers")
    print(f"images: {len(labels)}, correct: {correct}, "
          f"golden throughput: {len(labels) / elapsed:.0f} images/s ({elapsed:.2f} s)")
    print(f"accuracy: {correct / len(labels):.4f}")
    return 0


if __name__ == "__main__":
    run_cli(main)
