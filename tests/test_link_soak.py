"""The link soak (:mod:`benchmarks.link_soak`): the host client against a byte-level model
of the board's link with drops, bit flips, garbage and breaks on the line both ways. Every
image ends answered exactly as golden, or reported unanswered after its resends; none is
ever answered wrong."""

import pytest

from benchmarks.link_soak import DEFAULT_MODEL, FaultyLine, soak
from golden.formats import load_model


def check(figures, frames):
    assert figures["wrong"] == 0, figures
    assert figures["right"] + figures["unanswered"] == frames
    assert figures["faults"] > 0 and figures["resent"] > 0
    for side in ("faults_up", "faults_down"):
        assert all(count > 0 for count in figures[side].values()), figures


def test_the_line_model_injects_each_fault_kind_at_its_rate():
    import numpy as np
    line = FaultyLine(1e-2, np.random.default_rng(0))
    sent = bytes(range(256)) * 400
    got, bad = line.send(sent)
    assert line.bytes == len(sent)
    expected = {"drop": 1e-2, "flip": 1e-2, "garbage": 5e-3, "break": 2e-3}
    for kind, rate in expected.items():
        assert abs(line.faults[kind] / len(sent) - rate) < 0.3 * rate, (kind, line.faults)
    assert bad and all(got[k] == 0 for k in bad)


def test_ten_thousand_frames_through_a_bad_line():
    """A fault in every few frames (1e-3 per byte): resends recover them."""
    network = load_model(DEFAULT_MODEL)
    figures = soak(network, 10_000, 1e-3, seed=2)
    check(figures, 10_000)
    assert figures["unanswered"] < 0.02 * 10_000


@pytest.mark.slow
@pytest.mark.parametrize("rate", [1e-4, 1e-3])
def test_a_hundred_thousand_frames(rate):
    network = load_model(DEFAULT_MODEL)
    figures = soak(network, 100_000, rate, seed=1)
    check(figures, 100_000)
    if rate <= 1e-4:
        assert figures["unanswered"] == 0
