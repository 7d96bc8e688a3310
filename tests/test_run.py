"""host.run's host client against a stand-in board that answers with golden's results."""

import numpy as np
import pytest

from golden.errors import ModelError
from golden.formats import load_model
from golden.network import run
from golden.packing import score_width
from hdl.flow.build import DEFAULT_MODEL
from host.run import SerialClient


class FakeBoard:
    """Answers every complete image with label + scores as the protocol says (hdl/serial.py)."""

    def __init__(self, network, drop_after=None):
        self.network, self.pending, self.out = network, bytearray(), bytearray()
        self.width_bytes = -(-score_width(network) // 8)
        self.answered, self.drop_after = 0, drop_after

    def write(self, data):
        self.pending += data
        n = self.network.input.features
        while len(self.pending) >= n:
            image = np.frombuffer(bytes(self.pending[:n]), np.uint8).reshape(1, *self.network.input.shape)
            del self.pending[:n]
            trace = run(self.network, image)
            if self.drop_after is not None and self.answered >= self.drop_after:
                continue
            self.out.append(int(trace.labels[0]))
            for s in trace.scores[0]:
                self.out += int(s).to_bytes(self.width_bytes, "little", signed=True)
            self.answered += 1

    def read(self, n):
        data, self.out = bytes(self.out[:n]), self.out[n:]
        return data


def test_client_reads_golden_answers():
    network = load_model(DEFAULT_MODEL)
    images = np.random.default_rng(0).integers(0, 256, (7, 28, 28), dtype=np.uint8)
    labels, scores = SerialClient(FakeBoard(network), network).classify(images, window=3)
    trace = run(network, images)
    assert labels.tolist() == trace.labels.tolist()
    assert np.array_equal(scores, trace.scores)


def test_client_reports_a_silent_board():
    network = load_model(DEFAULT_MODEL)
    images = np.zeros((3, 28, 28), np.uint8)
    with pytest.raises(ModelError, match=r"the board answered 0 of \d+ bytes for image 1"):
        SerialClient(FakeBoard(network, drop_after=1), network).classify(images)
