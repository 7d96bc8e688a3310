"""Run MNIST through a board built by ``python -m hdl.build --board ...``, over its UART.

    python -m host.run --port /dev/ttyUSB1 --data ../shared/data/mnist [--model M]
                       [--limit N] [--baud 3000000]

Streams the test images to the board as framed requests (protocol:
:mod:`golden.serial`), several in flight, reads the answers (label and class scores) and
matches them to their images by sequence number. An image whose answer does not come (a
frame damaged on the line) is reported and sent again, once. Prints the images/s, how many
answers equal the golden model's label and scores exactly, how many frames were lost, and
the accuracy. ``--model`` must be the model the bitstream was built from (default: the
shipped default model). Needs pyserial (the ``bench`` extra).
"""

import time

import numpy as np

from golden.cli import ArgumentParser, run_cli
from golden.datasets import load_mnist
from golden.errors import ModelError
from golden.formats import load_model
from golden.network import run as golden_run
from golden.packing import score_width
from golden.serial import END, crc8, frames, frames_in_flight, request_frame
from hdl.flow.build import DEFAULT_BAUD, DEFAULT_MODEL

__all__ = ["SerialClient", "main"]


class SerialClient:
    """The host end of the protocol over any object with ``write(bytes)`` and
    ``read(n)`` returning what has arrived within its timeout (a ``serial.Serial``, or a
    stand-in in tests)."""

    def __init__(self, port, network, window=None):
        self.port, self.network = port, network
        # No more requests unanswered than the board buffers (golden.serial).
        self.window = frames_in_flight(network) if window is None else window
        self.classes = len(network.classes)
        self.score_bytes = -(-score_width(network) // 8)
        self.body_bytes = 2 + self.classes * self.score_bytes + 1
        self.lost = []          # seqs of frames that got no answer, in order
        self._rx = bytearray()

    def decode_answers(self, data):
        """``{seq: (label, scores)}`` of the well-formed answer frames in ``data``."""
        out = {}
        for body in frames(data):
            if body is None or len(body) != self.body_bytes or crc8(body[:-1]) != body[-1]:
                continue
            scores = [int.from_bytes(body[2 + k * self.score_bytes:2 + (k + 1) * self.score_bytes],
                                     "little", signed=True) for k in range(self.classes)]
            out[body[0]] = (body[1], scores)
        return out

    def _read_answers(self):
        """Answers complete so far: read what has arrived (at least one byte, or wait for
        the port's timeout) and split at the last ``END``. Returns ``(answers, alive)``:
        ``alive`` is False when nothing came within the timeout."""
        chunk = self.port.read(max(1, getattr(self.port, "in_waiting", 0)))
        self._rx += chunk
        last = self._rx.rfind(bytes((END,)))
        if last < 0:
            return {}, bool(chunk)
        done, self._rx = bytes(self._rx[:last + 1]), self._rx[last + 1:]
        return self.decode_answers(done), bool(chunk)

    def classify(self, images, retries=1):
        """Labels (N,) and scores (N, classes) of ``images`` (N, *shape) uint8; an image with
        no answer after ``retries`` resends has label -1 (and is in :attr:`lost`)."""
        images = np.asarray(images, np.uint8)
        if images.shape[1:] != self.network.input.shape:
            raise ModelError(f"images have shape {images.shape[1:]}, the model takes "
                             f"{self.network.input.shape}")
        n = len(images)
        labels = np.full(n, -1, np.int64)
        scores = np.zeros((n, self.classes), np.int64)
        todo = list(range(n))
        for _ in range(retries + 1):
            todo = self._pass(images, todo, labels, scores)
            if not todo:
                break
            self.lost += todo
        return labels, scores

    def _pass(self, images, todo, labels, scores):
        """Send ``todo`` with up to :attr:`window` unanswered in flight; returns the images
        that got no answer. The board answers in order, so an answer also tells that every
        older frame still in flight was dropped; a quiet line (the port's timeout) tells it
        for all of them."""
        inflight = {}       # seq -> image index, in send order
        queue = list(todo)
        missing = []
        seq = 0
        while queue or inflight:
            while queue and len(inflight) < self.window:
                # With at most `window` in flight, a seq (0..255) is never in use twice.
                while seq in inflight:
                    seq = (seq + 1) & 0xFF
                inflight[seq] = k = queue.pop(0)
                self.port.write(request_frame(self.network, seq, images[k]))
                seq = (seq + 1) & 0xFF
            answers, alive = self._read_answers()
            order = list(inflight)
            hits = [order.index(s) for s in answers if s in inflight]
            if hits:
                for s in order[:max(hits) + 1]:
                    k = inflight.pop(s)
                    if s in answers:
                        labels[k], scores[k] = answers[s]
                    else:
                        missing.append(k)
            elif not alive:
                missing += list(inflight.values())
                inflight.clear()
        return sorted(missing)


def main(argv=None):
    parser = ArgumentParser(prog="python -m host.run", description=__doc__.split("\n")[0])
    parser.add_argument("--port", required=True, help="serial port of the board, e.g. /dev/ttyUSB1")
    parser.add_argument("--data", required=True, help="MNIST folder (IDX files)")
    parser.add_argument("--model", default=None, help="model the bitstream was built from")
    parser.add_argument("--baud", type=int, default=DEFAULT_BAUD)
    parser.add_argument("--limit", type=int, default=None, help="only the first N images")
    args = parser.parse_args(argv)
    try:
        import serial
    except ImportError:
        raise ModelError("pyserial is not installed; run python -m pip install -e '.[bench]'") from None
    network = load_model(args.model or DEFAULT_MODEL)
    images, labels = load_mnist(args.data, args.limit)
    try:
        port = serial.Serial(args.port, args.baud, timeout=0.5)
    except (serial.SerialException, ValueError) as error:
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
    print(f"frames lost on the line and sent again: {len(client.lost)}; "
          f"unanswered: {int((got < 0).sum())}")
    print(f"answers equal to golden (label and every score): {exact} of {len(labels)}")
    print(f"accuracy: {float((got == labels).mean()):.4f}")
    return 0 if exact == len(labels) else 1


if __name__ == "__main__":
    run_cli(main)
