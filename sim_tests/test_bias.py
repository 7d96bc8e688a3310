"""BiasAdd in Verilator against golden.bias, including the extreme biases and accumulators."""

import numpy as np
import pytest

from golden.bias import add_bias
from golden.model import Bias
from golden.packing import AccMap, pack_lanes
from hdl.bias import BiasAdd
from sim_tests.harness import Simulation


@pytest.mark.parametrize("channels,pe,acc_hi", [(10, 5, 1024), (6, 1, 15), (10, 10, 300)])
def test_bias(verilator, channels, pe, acc_hi):
    name = f"bias_{channels}ch_pe{pe}_{acc_hi}"
    rng = np.random.default_rng(channels * 100 + pe)
    b = rng.integers(-2 * acc_hi, 2 * acc_hi, channels)
    b[0], b[-1] = -3 * acc_hi, 3 * acc_hi
    act = Bias(b)
    zeros = np.zeros(channels, np.int64)
    acc_map = AccMap(0, acc_hi, zeros, zeros)
    acc_width = acc_map.width
    dut = BiasAdd(act, pe=pe, acc=acc_map)
    sim = Simulation(dut, name)
    acc = np.concatenate([np.zeros((1, channels), np.int64), np.full((1, channels), acc_hi),
                          rng.integers(0, acc_hi + 1, (10, channels))])
    y = add_bias(acc, act)
    in_beats = [w for row in acc for w in pack_lanes(row.reshape(-1, pe), acc_width)]
    expected = [w for row in y for w in pack_lanes(row.reshape(-1, pe), dut.out_width, signed=True)]
    res = sim.run(in_beats, len(expected))
    assert res.outputs == expected
    assert res.out_cycles == [c + dut.latency for c in res.in_cycles]
    res = sim.run(in_beats, len(expected), valid_prob=0.6, ready_prob=0.4, seed=3)
    assert res.outputs == expected


@pytest.mark.parametrize("pe", [3, 6])
def test_bias_with_per_channel_scale(verilator, pe):
    """Signed accumulators, per-channel constants and different power-of-two scales
    (IR-Net): each lane shifts by its own stored exponent (at PE 6, one neuron fold, a
    constant)."""
    channels, lo, hi = 6, -40, 40
    rng = np.random.default_rng(17)
    exp = np.array([0, 3, 1, 2, 0, 3])
    const = rng.integers(-30, 30, channels)
    acc_map = AccMap(lo, hi, exp, const)
    act = Bias(rng.integers(-100, 100, channels))
    dut = BiasAdd(act, pe=pe, acc=acc_map)
    assert dut.exp_width == 2
    sim = Simulation(dut, f"bias_scaled_pe{pe}")
    acc_hw = np.concatenate([np.full((1, channels), lo), np.full((1, channels), hi),
                             rng.integers(lo, hi + 1, (10, channels))])
    y = add_bias(acc_map.golden(acc_hw), act)
    in_beats = [w for row in acc_hw for w in pack_lanes(row.reshape(-1, pe), acc_map.width,
                                                        signed=True)]
    expected = [w for row in y for w in pack_lanes(row.reshape(-1, pe), dut.out_width, signed=True)]
    res = sim.run(in_beats, len(expected), valid_prob=0.7, ready_prob=0.5, seed=4)
    assert res.outputs == expected
