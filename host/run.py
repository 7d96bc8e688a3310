"""Run a data set through a board built by ``hdl.build --board ...``, over its UART.

    bnn-run --port /dev/ttyUSB1 --build build/icebreaker --data MNIST_FOLDER [--limit N]
    bnn-run --port /dev/ttyUSB1 --build DIR --inputs X.npy [--labels Y.npy]

(or ``python -m host.run``). Streams the images to the board as framed requests (protocol:
:mod:`golden.serial`), several in flight, reads the answers (label and class scores) and
matches them to their images by sequence number. An image whose answer does not come (a
frame damaged on the line) is reported and sent again, once. Prints the images/s, how many
answers equal the golden model's label and scores exactly, how many frames were lost, and
the accuracy. ``--build`` takes the model, baud and frames in flight from that build's
report; without it ``--model`` must be the model the bitstream was built from (default: the
shipped default model) and ``--baud`` its rate. A board that answers nothing gets one line
naming the likely causes. Needs pyserial (the ``bench`` extra)."""

import io
import json
import time
from pathlib import Path

import numpy as np

from golden.cli import ArgumentParser, console, out_path, run_cli
from golden.datasets import load_mnist
from golden.errors import ModelError
from golden.evaluate import model_inputs, read_npy_file
from golden.formats import load_model
from golden.network import run as golden_run
from golden.packing import score_width
from golden.serial import CRC_BYTES, END, crc_ok, frames, frames_in_flight, request_frame
from hdl.flow.build import DEFAULT_BAUD, DEFAULT_MODEL, write_atomically

__all__ = ["SerialClient", "cli", "main"]


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
        self.body_bytes = 2 + self.classes * self.score_bytes + CRC_BYTES
        self.lost = []          # image indices that got no answer in a pass, in order
        self.malformed = 0      # answer frames dropped: bad length, CRC or label
        self.failure = None     # the port's error, when it failed during classify()
        self._rx = bytearray()
        self._seq = 0

    def decode_answers(self, data):
        """``{seq: (label, scores)}`` of the well-formed answer frames in ``data``: the right
        length and CRC, and a label that is the first largest score, as the board's is;
        every other frame counts in :attr:`malformed`."""
        out = {}
        for body in frames(data):
            if body is None or len(body) != self.body_bytes or not crc_ok(body):
                self.malformed += 1
                continue
            scores = [int.from_bytes(body[2 + k * self.score_bytes:2 + (k + 1) * self.score_bytes],
                                     "little", signed=True) for k in range(self.classes)]
            if body[1] != int(np.argmax(scores)):
                self.malformed += 1
                continue
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
        try:
            for _ in range(retries + 1):
                todo = self._pass(images, todo, labels, scores)
                if not todo:
                    break
                self.lost += todo
        except OSError as error:
            # The port went away (a pyserial SerialException is an OSError): what was
            # answered stays; the caller reports it and saves it.
            self.failure = error
        return labels, scores

    def _pass(self, images, todo, labels, scores):
        """Send ``todo`` with up to :attr:`window` unanswered in flight; returns the images
        that got no answer. The board answers in order, so an answer also tells that every
        older frame still in flight was dropped; a quiet line (the port's timeout) tells it
        for all of them."""
        inflight = {}       # seq -> image index, in send order
        queue = list(todo)
        missing = []
        while queue or inflight:
            while queue and len(inflight) < self.window:
                # With at most `window` in flight, a seq (0..255) is never in use twice;
                # seqs run on across passes, so a late answer to a frame given up on is
                # not taken for a resent one's.
                while self._seq in inflight:
                    self._seq = (self._seq + 1) & 0xFF
                inflight[self._seq] = k = queue.pop(0)
                self.port.write(request_frame(self.network, self._seq, images[k]))
                self._seq = (self._seq + 1) & 0xFF
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


def read_build(folder):
    """``(network, baud, in_flight)`` from a board build's folder (``report.json`` and the
    ``model.npz`` beside it, written by ``hdl.build --board``)."""
    folder = Path(folder)
    path = folder / "report.json"
    if not path.is_file():
        raise ModelError(f"--build {folder}: no report.json there; give the --out folder of a "
                         f"finished 'hdl.build --board' run")
    try:
        report = json.loads(path.read_text())
        model = folder / report["model_file"]
        baud, in_flight = int(report["uart"]["baud"]), int(report["link"]["in_flight"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise ModelError(f"{path}: not a board build's report ({error!r} is missing or "
                         f"malformed); build again with hdl.build --board") from None
    if not model.is_file():
        raise ModelError(f"{model}: the build's model is missing; build again with "
                         f"hdl.build --board")
    return load_model(model), baud, in_flight


def read_inputs(network, data, inputs, labels_path, limit):
    """``(images, labels)``: the MNIST test set from ``data``, or 8-bit pixels of the
    model's input shape from ``inputs`` (.npy) with optional labels (.npy)."""
    if data:
        if network.input.shape != (28, 28):
            raise ModelError(f"--data is the MNIST test set (28x28); this model takes "
                             f"{network.input.shape}: give --inputs X.npy")
        return load_mnist(data, limit)
    images = read_npy_file(inputs, "inputs")
    if images.ndim < 2 or not len(images):
        raise ModelError(f"{inputs}: inputs must be a batch (N, ...), not shape {images.shape}")
    labels = None
    if labels_path:
        labels = read_npy_file(labels_path, "labels")
        if labels.dtype.kind not in "iu" or labels.shape != (len(images),):
            raise ModelError(f"{labels_path}: labels must be integers of shape (N,) with N "
                             f"the number of inputs")
        labels = labels[:limit].astype(np.int64)
    images = images[:limit]
    model_inputs(network, images)          # the checks: dtype, shape, 0..255
    return images.astype(np.uint8), labels


DEFAULT_SAVE = Path("build") / "run" / "answers.npz"


def save_answers(path, labels, scores):
    """``labels`` (-1: no answer), ``scores`` and ``answered`` in an .npz at ``path``
    (:func:`hdl.flow.build.write_atomically`: nothing half-written)."""
    path = Path(path)
    if path.is_dir():
        raise ModelError(f"--save {path}: is a folder; give a file name ending in .npz")
    buffer = io.BytesIO()
    np.savez(buffer, labels=labels, scores=scores, answered=labels >= 0)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically({path: buffer.getvalue()})
    except OSError as error:
        raise ModelError(f"--save {path}: cannot write there ({error.strerror or error})") from None


def silence_causes(args, baud):
    """The line printed when the board answered nothing at all."""
    return (f"the board answered none of the frames: check that it is programmed with this "
            f"build's bitstream (iceprog / openFPGALoader), that {args.port} is its UART (the "
            f"iCEBreaker's and ULX3S's is the FTDI's second port, often /dev/ttyUSB1), that "
            f"{baud} baud is the build's (--build DIR reads it from the report), that the "
            f"bitstream was built from this model, and, when the report has spram_weights, "
            f"that it went into the flash (iceprog without -S): the board answers only once "
            f"the weights it reads from there check out")


def open_port(name, baud):
    """The serial port (pyserial); tests replace it with a stand-in board."""
    try:
        import serial
    except ImportError:
        raise ModelError("pyserial is not installed; run python -m pip install -e '.[bench]'") from None
    try:
        return serial.Serial(name, baud, timeout=0.5)
    except (serial.SerialException, ValueError) as error:
        raise ModelError(f"cannot open {name}: {error}") from None


def main(argv=None, prog="python -m host.run"):
    parser = ArgumentParser(
        prog=prog, description=__doc__.split("\n")[0],
        examples=[f"{prog} --port /dev/ttyUSB1 --build build/icebreaker --data mnist/",
                  f"{prog} --port /dev/ttyUSB1 --build build/my_net --inputs X.npy --labels Y.npy",
                  f"{prog} --port COM4 --model models/mnist_bcnn_h512.npz --baud 3000000 --data mnist/"])
    parser.add_argument("--port", required=True,
                        help="serial port of the board, e.g. /dev/ttyUSB1 or COM4 (required)")
    parser.add_argument("--build", default=None,
                        help="the board build's --out folder: model, baud and frames in flight "
                             "from its report (default: none; give --model and --baud)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="MNIST test set folder (IDX files); this or --inputs "
                                       "is required")
    source.add_argument("--inputs", help=".npy batch of 8-bit pixels (N, *model input shape); "
                                         "this or --data is required")
    parser.add_argument("--labels", default=None,
                        help=".npy of integer labels for --inputs (default: none, no accuracy)")
    parser.add_argument("--model", default=None,
                        help="model the bitstream was built from (default: the --build's, else "
                             "the shipped models/mnist_bcnn_h512.npz)")
    parser.add_argument("--baud", type=int, default=None,
                        help=f"UART rate (default: the --build's, else {DEFAULT_BAUD})")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="only the first N images (default: all)")
    parser.add_argument("--save", type=out_path, default=str(DEFAULT_SAVE),
                        help="write the answers (label, scores, answered) to this .npz, also "
                             f"those of a run cut short (default: {DEFAULT_SAVE})")
    args = parser.parse_args(argv)
    for name in ("baud", "limit"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ModelError(f"--{name} must be a positive integer, not {value}")
    if args.labels and not args.inputs:
        raise ModelError("--labels goes with --inputs (the MNIST folder has its own labels)")
    window = None
    if args.build:
        network, baud, window = read_build(args.build)
        if args.model:
            network = load_model(args.model)
    else:
        network, baud = load_model(args.model or DEFAULT_MODEL), DEFAULT_BAUD
    baud = args.baud or baud
    images, labels = read_inputs(network, args.data, args.inputs, args.labels, args.limit)
    with open_port(args.port, baud) as port:
        if hasattr(port, "reset_input_buffer"):
            port.reset_input_buffer()
        client = SerialClient(port, network, window)
        start = time.perf_counter()
        got, scores = client.classify(images)
        elapsed = time.perf_counter() - start
    save_answers(args.save, got, scores)
    if client.failure is not None:
        raise ModelError(f"{args.port} failed after {int((got >= 0).sum())} of {len(images)} "
                         f"answers ({client.failure.strerror or client.failure}); the answers "
                         f"so far are in {args.save}")
    trace = golden_run(network, images)
    exact = int(((got == trace.labels) & (scores == trace.scores).all(axis=1)).sum())
    n = len(images)
    print(f"images: {n}, {n / elapsed:.1f} images/s over the UART ({elapsed:.1f} s at "
          f"{baud} baud)")
    print(f"frames lost on the line and sent again: {len(client.lost)}; "
          f"unanswered: {int((got < 0).sum())}; malformed answer frames dropped: "
          f"{client.malformed}")
    print(f"answers equal to golden (label and every score): {exact} of {n}")
    if labels is not None:
        print(f"accuracy: {float((got == labels).mean()):.4f}")
    if (got < 0).all():
        raise ModelError(silence_causes(args, baud))
    return 0 if exact == n else 1


cli = console(main, "bnn-run")

if __name__ == "__main__":
    run_cli(main)
