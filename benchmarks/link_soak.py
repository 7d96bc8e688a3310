"""The link soak: many frames through the host client and a byte-level model of the board's
link, with faults injected on the line both ways at stated rates.

    python -m benchmarks.link_soak [--frames 100000] [--model models/mnist_bnn.npz]
                                   [--rate 1e-4] [--seed 1] [--out build/bench/link_soak.json]

The host end is :class:`host.run.SerialClient`, unchanged. The board end answers exactly as
the reference board (:func:`golden.serial.board_reply`, which the Verilator tests hold the
hardware to): one answer per request frame of the right length and CRC, in order, none for
a damaged one, and a frame holding a byte marked damaged (a break) dropped. Between them
each direction of the line, per byte and independently:

* ``drop``: the byte is lost (rate ``r``);
* ``flip``: one random bit of it flips (``r``);
* ``garbage``: 1 to 8 random bytes appear after it (``r / 2``);
* ``break``: it and the next 0 to 2 bytes arrive as damaged zero bytes, as a UART break
  reads (``r / 5``).

Every image must end answered with golden's label and scores, or reported unanswered; an
answer that differs from golden is *wrong*, and the soak fails on any. Line time counts
10 bits per byte at ``--baud`` in each direction; images/s is images over the slower
direction's time, beside the fault-free figure of :func:`golden.serial.link_figures`.
"""

import json
import time
from pathlib import Path

import numpy as np

from golden.cli import ArgumentParser, out_path, run_cli
from golden.formats import load_model
from golden.network import run
from golden.serial import END, board_reply, link_figures

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = ROOT / "models" / "mnist_bnn.npz"
KINDS = ("drop", "flip", "garbage", "break")


class FaultyLine:
    """One direction of the line: :meth:`send` returns what arrives, ``(bytes, damaged
    positions)``, and counts the faults it injected in :attr:`faults`."""

    def __init__(self, rate, rng):
        self.rates = {"drop": rate, "flip": rate, "garbage": rate / 2, "break": rate / 5}
        self.rng = rng
        self.faults = dict.fromkeys(KINDS, 0)
        self.bytes = 0

    def send(self, data):
        self.bytes += len(data)
        n = len(data)
        draws = {kind: np.nonzero(self.rng.random(n) < rate)[0] for kind, rate in self.rates.items()}
        if not any(len(v) for v in draws.values()):
            return bytes(data), ()
        events = {}
        for kind, positions in draws.items():
            for k in positions.tolist():
                events.setdefault(k, kind)
        out, bad, k = bytearray(), [], 0
        while k < n:
            kind = events.get(k)
            byte = data[k]
            if kind is not None:
                self.faults[kind] += 1
            if kind == "drop":
                k += 1
                continue
            if kind == "break":
                run_length = 1 + int(self.rng.integers(0, 3))
                for _ in range(min(run_length, n - k)):
                    bad.append(len(out))
                    out.append(0)
                k += run_length
                continue
            if kind == "flip":
                byte ^= 1 << int(self.rng.integers(0, 8))
            out.append(byte)
            if kind == "garbage":
                out += bytes(self.rng.integers(0, 256, int(self.rng.integers(1, 9))).tolist())
            k += 1
        return bytes(out), tuple(bad)


class SoakBoard:
    """The board behind a faulty line, as a port for :class:`host.run.SerialClient`:
    ``write`` sends a request over the up line to the reference board, whose answers come
    back over the down line; ``read`` returns what has arrived (nothing: the port's
    timeout)."""

    def __init__(self, network, rate, rng):
        self.network = network
        self.up, self.down = FaultyLine(rate, rng), FaultyLine(rate, rng)
        self.pending, self.pending_bad = bytearray(), []
        self.rx = bytearray()
        self.requests = 0

    @property
    def in_waiting(self):
        return len(self.rx)

    def write(self, frame):
        self.requests += 1
        data, bad = self.up.send(frame)
        base = len(self.pending)
        self.pending += data
        self.pending_bad += [base + k for k in bad]
        last = self.pending.rfind(bytes((END,)))
        if last < 0:
            return
        # The board answers the frames complete so far; the rest waits for its END.
        done = bytes(self.pending[:last + 1])
        reply = board_reply(self.network, done, [k for k in self.pending_bad if k <= last])
        self.pending = self.pending[last + 1:]
        self.pending_bad = [k - last - 1 for k in self.pending_bad if k > last]
        if reply:
            self.rx += self.down.send(reply)[0]

    def read(self, n):
        data, self.rx = bytes(self.rx[:n]), self.rx[n:]
        return data


def soak(network, frames, rate, seed=1, baud=3_000_000, retries=3):
    """Run ``frames`` random images through the faulty link; returns the figures (dict)."""
    from host.run import SerialClient
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (frames, *network.input.shape), dtype=np.uint8)
    board = SoakBoard(network, rate, rng)
    client = SerialClient(board, network)
    start = time.perf_counter()
    labels, scores = client.classify(images, retries=retries)
    seconds = time.perf_counter() - start
    trace = run(network, images)
    answered = labels >= 0
    right = answered & (labels == trace.labels) & (scores == trace.scores).all(axis=1)
    line_seconds = max(board.up.bytes, board.down.bytes) * 10 / baud
    clean = link_figures(network, baud)["images_per_second"]
    return {
        "model": network.name, "frames": frames, "fault_rate_per_byte": rate, "seed": seed,
        "retries": retries, "requests_sent": board.requests,
        "faults_up": board.up.faults, "faults_down": board.down.faults,
        "faults": sum(board.up.faults.values()) + sum(board.down.faults.values()),
        "resent": len(client.lost), "unanswered": int((~answered).sum()),
        "wrong": int((answered & ~right).sum()), "right": int(right.sum()),
        "malformed_answers_dropped": client.malformed,
        "baud": baud, "images_per_second": round(frames / line_seconds, 1),
        "fault_free_images_per_second": clean,
        "throughput_ratio": round(frames / line_seconds / clean, 4),
        "host_seconds": round(seconds, 1),
    }


def main(argv=None, prog="python -m benchmarks.link_soak"):
    parser = ArgumentParser(prog=prog, description=__doc__.split("\n")[0],
                            examples=[f"{prog} --frames 100000",
                                      f"{prog} --frames 5000 --rate 1e-3"])
    parser.add_argument("--frames", type=int, default=100_000,
                        help="images sent (default 100000)")
    parser.add_argument("--model", default=str(DEFAULT_MODEL),
                        help="model of the board (default: models/mnist_bnn.npz)")
    parser.add_argument("--rate", type=float, default=1e-4,
                        help="per-byte rate of drops and of bit flips; garbage at half, "
                             "breaks at a fifth of it (default 1e-4)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--out", type=out_path, default="build/bench/link_soak.json",
                        help="figures as JSON (default: build/bench/link_soak.json)")
    args = parser.parse_args(argv)
    network = load_model(args.model)
    figures = soak(network, args.frames, args.rate, args.seed)
    for key, value in figures.items():
        print(f"{key}: {value}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if figures["wrong"] == 0 and figures["unanswered"] == 0 else 1


if __name__ == "__main__":
    run_cli(main)
