"""Argmax in Verilator against golden.argmax, with many ties (lowest index must win)."""

import numpy as np
import pytest

from golden.argmax import argmax
from golden.packing import pack_lanes
from hdl.argmax import Argmax
from sim_tests.harness import Simulation


@pytest.mark.parametrize("classes,pe,width", [(10, 5, 12), (10, 10, 6), (7, 1, 4), (10, 4, 8)])
def test_argmax(verilator, classes, pe, width):
    name = f"argmax_{classes}c_pe{pe}_w{width}"
    rng = np.random.default_rng(classes * 1000 + pe * 10 + width)
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    scores = np.concatenate([
        rng.integers(-2, 3, (30, classes)),          # small range: ties everywhere
        rng.integers(lo, hi + 1, (20, classes)),     # full range
        np.full((1, classes), lo), np.full((1, classes), hi),
    ])
    dut = Argmax(classes=classes, pe=pe, width=width)
    sim = Simulation(dut, name)
    nf = -(-classes // pe)
    # A padded layer's lanes past the last class hold the largest score: never taken.
    padded = np.concatenate([scores, np.full((len(scores), nf * pe - classes), hi)], axis=1)
    in_beats = [w for row in padded for w in pack_lanes(row.reshape(-1, pe), width, signed=True)]
    labels = argmax(scores)
    expected = [int(label) | (pack_lanes(row[None], width, signed=True)[0] << dut.label_width)
                for label, row in zip(labels, scores)]
    res = sim.run(in_beats, len(expected))
    assert res.outputs == expected
    assert res.out_cycles == [res.in_cycles[k * nf + nf - 1] + 1 + dut.latency
                              for k in range(len(scores))]
    res = sim.run(in_beats, len(expected), valid_prob=0.5, ready_prob=0.5, seed=1)
    assert res.outputs == expected
