"""Run MNIST through a board built by ``python -m hdl.build --board ...``, over its UART.

    python -m host.run --port /dev/ttyUSB1 --data ../shared/data/mnist [--model M] [--limit N]
                      [--baud 115200]

Streams the test images to the board (protocol: :mod:`hdl.serial`), reads each answer
(label and class scores), and prints the accuracy against the labels, how many answers
equal the golden model's label and scores exactly, and the throughput. ``--model`` must be
the model the bitstream was built from (default: the shipped ``models/mnist_bnn.npz``).
Needs pyserial (the ``board`` extra).
"""

import argparse
import time

import numpy as np

from golden.cli import run_cli
from golden.datasets import load_mnist
from golden.errors import ModelError
from golden.formats import load_model
from golden.network import run as golden_run
from golden.packing import score_width

from hdl.flow.build import DEFAULT_MODEL

__all__ = ["SerialClient", "main"]


class SerialClient:
    """The host end of the protocol over any object with ``write(bytes)`` and ``read(n)``
    (a ``serial.Serial``, or a stand-in in tests)."""

    def __init__(self, port, network):
        self.port = port
        self.classes = network.layers[-1].out_features
        self.features = network.input.features
        self.score_bytes = -(-score_width(network) // 8)
        self.answer_bytes = 1 + self.classes * self.score_bytes

    def decode(self, answer):
        """``(label, scores)`` of one answer's bytes."""
        scores = [int.from_bytes(answer[1 + k * self.score_bytes:1 + (k + 1) * self.score_bytes],
                                 "little", signed=True) for k in range(self.classes)]
        return answer[0], scores

    def classify(self, images, window=2):
        """Labels (N,) and scores (N, classes) of ``images`` (N, *shape) uint8.

        Keeps up to ``window`` images in flight, so the line stays busy in both directions.
        """
        images = np.asarray(images, np.uint8).reshape(len(images), -1)
        if images.shape[1] != self.features:
            raise ModelError(f"images have {images.shape[1]} pixels, the model takes "
                             f"{self.features}")
        labels, scores = [], []
        sent = 0
        while len(labels) < len(images):
            while sent < len(images) and sent - len(labels) < window:
                self.port.write(images[sent].tobytes())
                sent += 1
            answer = self.port.read(self.answer_bytes)
            if len(answer) != self.answer_bytes:
                raise ModelError(f"the board answered {len(answer)} of {self.answer_bytes} "
                                 f"bytes for image {len(labels)} (timeout): is it programmed "
                                 f"with this model, at this baud rate?")
            label, s = self.decode(answer)
            labels.append(label)
            scores.append(s)
        return np.array(labels), np.array(scores, np.int64)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m host.run", description=__doc__.split("\n")[0])
    parser.add_argument("--port", required=True, help="serial port of the board, e.g. /dev/ttyUSB1")
    parser.add_argument("--data", required=True, help="MNIST folder (IDX files)")
    parser.add_argument("--model", default=None, help="model the bitstream was built from")
    parser.add_argument("--baud", type=int, default=115200)
    parser.add_argument("--limit", type=int, default=None, help="only the first N images")
    args = parser.parse_args(argv)
    try:
        import serial
    except ImportError:
        raise ModelError("pyserial is not installed; run python -m pip install -e '.[board]'") from None
    network = load_model(args.model or DEFAULT_MODEL)
    images, labels = load_mnist(args.data, args.limit)
    try:
        port = serial.Serial(args.port, args.baud, timeout=2)
    except serial.SerialException as error:
        raise ModelError(f"cannot open {args.port}: {error}") from None
    with port:
        port.reset_input_buffer()
        client = SerialClient(port, network)
        start = time.perf_counter()
        got, scores = client.classify(images)
        elapsed = time.perf_counter() - start
    trace = golden_run(network, images)
    exact = int(((got == trace.labels) & (scores == trace.scores).all(axis=1)).sum())
    print(f"images: {len(labels)}, {len(labels) / elapsed:.1f} images/s over the UART "
          f"({elapsed:.1f} s at {args.baud} baud)")
    print(f"answers equal to golden (label and every score): {exact} of {len(labels)}")
    print(f"accuracy: {float((got == labels).mean()):.4f}")
    return 0 if exact == len(labels) else 1


if __name__ == "__main__":
    run_cli(main)
