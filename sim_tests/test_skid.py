"""SkidBuffer in Verilator: the stream passes unchanged under random idle cycles and
backpressure, one beat per cycle when nothing stalls, and at most two beats held."""

import numpy as np

from hdl.skid import SkidBuffer
from sim_tests.harness import Simulation


def test_skid_buffer(verilator):
    rng = np.random.default_rng(7)
    width = 12
    beats = [int(v) for v in rng.integers(0, 1 << width, 400)]
    beats[:4] = [0, (1 << width) - 1, 0, (1 << width) - 1]
    sim = Simulation(SkidBuffer(width), "skid")
    for seed, (pv, pr) in enumerate([(0.5, 0.5), (1.0, 0.3), (0.3, 1.0), (0.9, 0.9)]):
        res = sim.run(beats, len(beats), valid_prob=pv, ready_prob=pr, seed=seed)
        assert res.outputs == beats, f"valid_prob={pv} ready_prob={pr}"
        # Beat k leaves at least a cycle after it entered, and beat k+2 can only enter
        # once beat k has left (two words of storage).
        assert all(o > i for i, o in zip(res.in_cycles, res.out_cycles))
        assert all(i >= o for i, o in zip(res.in_cycles[2:], res.out_cycles))
    res = sim.run(beats, len(beats))
    assert res.outputs == beats
    assert res.out_cycles == list(range(res.in_cycles[0] + 1, res.in_cycles[0] + 1 + len(beats)))
