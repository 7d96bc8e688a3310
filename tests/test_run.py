"""host.run's client against a stand-in board built from the reference board
(:func:`golden.serial.board_reply`, which the Verilator tests hold the hardware to), with
faults on the line: lost and resent frames, a silent board, timeouts."""

import numpy as np

from golden.formats import load_model
from golden.network import run
from golden.serial import board_reply, frames_in_flight
from hdl.flow.build import DEFAULT_MODEL
from host.run import SerialClient


class StandInBoard:
    """Answers as the reference board does, one request frame at a time. ``spoil(k)``
    says whether the k-th frame written is damaged on the line (its middle byte lost);
    ``silent_after``: the board stops answering after that many frames. ``read`` returns
    what has been answered, at most ``n`` bytes; nothing means the port's timeout."""

    def __init__(self, network, spoil=lambda k: False, silent_after=None):
        self.network, self.spoil, self.silent_after = network, spoil, silent_after
        self.out, self.written, self.reads = bytearray(), 0, 0
        self.max_in_flight, self.unanswered = 0, 0

    @property
    def in_waiting(self):
        return len(self.out)

    def write(self, frame):
        frame = bytearray(frame)
        k, self.written = self.written, self.written + 1
        if self.spoil(k):
            del frame[len(frame) // 2]
        if self.silent_after is not None and k >= self.silent_after:
            return
        reply = board_reply(self.network, bytes(frame))
        self.unanswered += 1
        self.max_in_flight = max(self.max_in_flight, self.unanswered)
        self.out += reply

    def read(self, n):
        self.reads += 1
        data, self.out = bytes(self.out[:n]), self.out[n:]
        self.unanswered = 0 if data else self.unanswered
        return data


def _setup(count=11):
    network = load_model(DEFAULT_MODEL)
    images = np.random.default_rng(0).integers(0, 256, (count, 28, 28), dtype=np.uint8)
    return network, images, run(network, images)


def test_client_reads_golden_answers_with_several_in_flight():
    network, images, trace = _setup()
    board = StandInBoard(network)
    client = SerialClient(board, network)
    labels, scores = client.classify(images)
    assert labels.tolist() == trace.labels.tolist()
    assert np.array_equal(scores, trace.scores)
    assert client.lost == []
    assert 1 < client.window == frames_in_flight(network)


def test_lost_frames_are_reported_and_sent_again():
    network, images, trace = _setup()
    # Frames 2 and 5 are damaged the first time they are sent.
    board = StandInBoard(network, spoil=lambda k: k in (2, 5))
    client = SerialClient(board, network)
    labels, scores = client.classify(images)
    assert client.lost == [2, 5]
    assert labels.tolist() == trace.labels.tolist()
    assert np.array_equal(scores, trace.scores)


def test_a_frame_lost_twice_is_reported_unanswered():
    network, images, trace = _setup(6)
    board = StandInBoard(network, spoil=lambda k: k in (3, 6))   # image 3, then its resend
    client = SerialClient(board, network)
    labels, scores = client.classify(images, retries=1)
    assert labels[3] == -1
    assert client.lost == [3, 3]
    keep = np.arange(6) != 3
    assert labels[keep].tolist() == trace.labels[keep].tolist()


def test_a_silent_board_times_out_instead_of_hanging():
    network, images, _ = _setup(5)
    board = StandInBoard(network, silent_after=2)
    client = SerialClient(board, network)
    labels, _ = client.classify(images, retries=1)
    assert (labels[2:] == -1).all() and (labels[:2] >= 0).all()
    assert board.reads < 50
