"""BiasAdd in Verilator against golden.bias, including the extreme biases and accumulators."""

import numpy as np
import pytest

from golden.bias import add_bias
from golden.model import Bias
from golden.packing import pack_lanes, unsigned_width
from hdl.bias import BiasAdd
from sim_tests.harness import Simulation


@pytest.mark.parametrize("channels,pe,acc_hi", [(10, 5, 1024), (6, 1, 15)])
def test_bias(verilator, channels, pe, acc_hi):
    name = f"bias_{channels}ch_pe{pe}_{acc_hi}"
    rng = np.random.default_rng(channels * 100 + pe)
    b = rng.integers(-2 * acc_hi, 2 * acc_hi, channels)
    b[0], b[-1] = -3 * acc_hi, 3 * acc_hi
    act = Bias(b)
    acc_width = unsigned_width(acc_hi)
    dut = BiasAdd(act, pe=pe, acc_width=acc_width, acc_hi=acc_hi)
    sim = Simulation(dut, name)
    acc = np.concatenate([np.zeros((1, channels), np.int64), np.full((1, channels), acc_hi),
                          rng.integers(0, acc_hi + 1, (10, channels))])
    y = add_bias(acc, act)
    in_beats = [w for row in acc for w in pack_lanes(row.reshape(-1, pe), acc_width)]
    expected = [w for row in y for w in pack_lanes(row.reshape(-1, pe), dut.out_width, signed=True)]
    res = sim.run(in_beats, len(expected))
    assert res.outputs == expected
    assert res.out_cycles == [c + 2 for c in res.in_cycles]
    res = sim.run(in_beats, len(expected), valid_prob=0.6, ready_prob=0.4, seed=3)
    assert res.outputs == expected
