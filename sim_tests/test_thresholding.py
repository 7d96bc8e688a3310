"""Thresholding in Verilator against golden.thresholding: boundaries, extremes, both directions."""

import numpy as np
import pytest

from golden.model import Thresholds
from golden.packing import AccMap, pack_lanes, threshold_hw
from golden.thresholding import threshold
from hdl.thresholding import Thresholding
from sim_tests.harness import Simulation

# (name, channels, PE, count, acc_hi)
CASES = [
    ("thr_12ch_pe3_n1", 12, 3, 1, 40),
    ("thr_8ch_pe8_n3", 8, 8, 3, 100),
    ("thr_5ch_pe1_n1", 5, 1, 1, 7),
]


def make_activation(rng, channels, count, acc_hi):
    t = np.sort(rng.integers(-3, acc_hi + 4, (channels, count)), axis=1)
    t[0] = -5             # below the range: always reached
    t[1] = acc_hi + 7     # above the range: never reached
    direction = rng.choice([-1, 1], channels)
    t[direction < 0] = t[direction < 0, ::-1]
    return Thresholds(t, direction)


def boundary_inputs(act, acc_hi, rng, n_random):
    """Every threshold of every channel hit at T-1, T and T+1, plus 0, acc_hi and random."""
    points = np.unique(np.concatenate([act.thresholds.ravel() + d for d in (-1, 0, 1)]
                                      + [[0, acc_hi]]))
    points = points[(points >= 0) & (points <= acc_hi)]
    rows = [np.full(act.channels, p) for p in points]
    rows += list(rng.integers(0, acc_hi + 1, (n_random, act.channels)))
    return np.array(rows, np.int64)


@pytest.mark.parametrize("name,channels,pe,count,acc_hi", CASES, ids=[c[0] for c in CASES])
def test_thresholding(verilator, name, channels, pe, count, acc_hi):
    rng = np.random.default_rng(sum(map(ord, name)))
    act = make_activation(rng, channels, count, acc_hi)
    acc_map = AccMap(0, acc_hi, np.zeros(channels, np.int64), np.zeros(channels, np.int64))
    acc_width = acc_map.width
    dut = Thresholding(act, pe=pe, acc=acc_map)
    sim = Simulation(dut, name)
    acc = boundary_inputs(act, acc_hi, rng, 20)
    y = threshold(acc, act)
    in_beats = [w for row in acc for w in pack_lanes(row.reshape(-1, pe), acc_width)]
    expected = [w for row in y for w in pack_lanes(row.reshape(-1, pe), act.out_bits)]

    res = sim.run(in_beats, len(expected))
    assert res.outputs == expected
    # One beat per cycle, each result dut.latency cycles after its input.
    c0 = res.in_cycles[0]
    assert res.in_cycles == list(range(c0, c0 + len(in_beats)))
    assert res.out_cycles == [c + dut.latency for c in res.in_cycles]

    for seed, (pv, pr) in enumerate([(0.5, 0.5), (0.9, 0.3)]):
        res = sim.run(in_beats, len(expected), valid_prob=pv, ready_prob=pr, seed=seed)
        assert res.outputs == expected


@pytest.mark.parametrize("name,channels,pe,count,acc_hi", CASES[:2], ids=[c[0] for c in CASES[:2]])
def test_thresholding_registered_ready(verilator, name, channels, pe, count, acc_hi):
    """Behind a producer that offers a beat every ``latency + 1`` cycles at most (a
    matrix-vector unit with SF >= that), ``i.ready`` is a flip-flop: one beat in the unit at
    a time. Offered a beat every cycle, it takes one per ``latency + 1`` cycles."""
    rng = np.random.default_rng(sum(map(ord, name)) + 1)
    act = make_activation(rng, channels, count, acc_hi)
    acc_map = AccMap(0, acc_hi, np.zeros(channels, np.int64), np.zeros(channels, np.int64))
    probe = Thresholding(act, pe=pe, acc=acc_map)
    dut = Thresholding(act, pe=pe, acc=acc_map, interval=probe.latency + 1)
    assert dut.registered_ready and not probe.registered_ready
    sim = Simulation(dut, name + "_rr")
    acc = boundary_inputs(act, acc_hi, rng, 20)
    y = threshold(acc, act)
    in_beats = [w for row in acc for w in pack_lanes(row.reshape(-1, pe), acc_map.width)]
    expected = [w for row in y for w in pack_lanes(row.reshape(-1, pe), act.out_bits)]
    res = sim.run(in_beats, len(expected))
    assert res.outputs == expected
    step, c0 = dut.latency + 1, res.in_cycles[0]
    assert res.in_cycles == list(range(c0, c0 + step * len(in_beats), step))
    assert res.out_cycles == [c + dut.latency for c in res.in_cycles]
    for seed, (pv, pr) in enumerate([(0.5, 0.5), (0.9, 0.3), (1.0, 0.1)]):
        res = sim.run(in_beats, len(expected), valid_prob=pv, ready_prob=pr, seed=seed)
        assert res.outputs == expected
        # One beat at a time: the next is taken only after the previous has left.
        assert all(i > o for i, o in zip(res.in_cycles[1:], res.out_cycles))


def test_threshold_hw_form_is_exact():
    """The clamped, flipped hardware form equals golden for every accumulator value."""
    rng = np.random.default_rng(1)
    act = make_activation(rng, 16, 3, 30)
    t, flip = threshold_hw(act, AccMap(0, 30, np.zeros(16, np.int64), np.zeros(16, np.int64)))
    acc = np.arange(31)[:, None].repeat(16, axis=1)
    c = (acc[:, :, None] >= t[None]).sum(axis=2)
    assert np.array_equal(np.where(flip[None] == 1, 3 - c, c), threshold(acc, act))


def test_thresholding_signed_with_shift(verilator):
    """Signed accumulators (sign-flip layers) with a per-channel constant and power-of-two
    scale folded in: golden acc = (acc_hw << exp) + const."""
    rng = np.random.default_rng(9)
    channels, pe, lo, hi = 8, 4, -60, 60
    act = make_activation(rng, channels, 2, 4 * hi)
    shift = rng.integers(-20, 20, channels)
    exp = rng.integers(0, 3, channels)
    acc_map = AccMap(lo, hi, exp, shift)
    acc_width = acc_map.width
    assert acc_width == 7
    dut = Thresholding(act, pe=pe, acc=acc_map)
    sim = Simulation(dut, "thr_signed_shift")
    # Hardware accumulators at every folded boundary, the extremes, and random values.
    folded, _ = threshold_hw(act, acc_map)
    points = np.concatenate([folded.ravel() + d for d in (-1, 0, 1)])
    rows = [np.full(channels, p) for p in np.unique(np.clip(points, lo, hi))]
    rows += [np.full(channels, lo), np.full(channels, hi)]
    rows += list(rng.integers(lo, hi + 1, (20, channels)))
    acc_hw = np.array(rows, np.int64)
    y = threshold(acc_map.golden(acc_hw), act)
    in_beats = [w for row in acc_hw for w in pack_lanes(row.reshape(-1, pe), acc_width, signed=True)]
    expected = [w for row in y for w in pack_lanes(row.reshape(-1, pe), act.out_bits)]
    res = sim.run(in_beats, len(expected))
    assert res.outputs == expected
    res = sim.run(in_beats, len(expected), valid_prob=0.6, ready_prob=0.6, seed=2)
    assert res.outputs == expected
