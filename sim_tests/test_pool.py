"""WindowMax in Verilator against golden.pool: max-pool windows and global pooling."""

import numpy as np
import pytest

from golden.conv import im2col
from golden.packing import stream_beats
from golden.pool import GlobalMaxPool, MaxPool
from hdl.pool import LineMaxPool, WindowMax
from sim_tests.harness import Simulation


@pytest.mark.parametrize("bits,simd,kind", [(1, 2, "window"), (3, 1, "window"),
                                            (2, 2, "global")])
def test_window_max(verilator, bits, simd, kind):
    rng = np.random.default_rng(bits * 10 + simd)
    shape = (6, 4, 4)
    maps = rng.integers(0, 1 << bits, (4,) + shape)
    maps[0], maps[1] = (1 << bits) - 1, 0
    if kind == "window":
        pool = MaxPool(shape, 2)
        in_beats = stream_beats(im2col(maps, 2, 2, 0, 0), simd, bits)   # the windows
        positions = 4
    else:
        pool = GlobalMaxPool(shape)
        in_beats = stream_beats(maps, simd, bits)                      # the whole map
        positions = 6 * 4
    expected = stream_beats(pool.forward(maps), simd, bits)
    dut = WindowMax(channels=4, simd=simd, bits=bits, positions=positions)
    _check_beats(Simulation(dut, f"pool_{kind}_{bits}_{simd}"), in_beats, expected)


def _check_beats(sim, in_beats, expected):
    """Every output beat as ``expected`` under random stalls; one input beat per cycle."""
    for seed, (pv, pr) in enumerate([(1.0, 1.0), (0.5, 0.5), (1.0, 0.3)]):
        res = sim.run(in_beats, len(expected), valid_prob=pv, ready_prob=pr, seed=seed)
        assert res.outputs == expected, f"valid_prob={pv} ready_prob={pr}"
    res = sim.run(in_beats, len(expected))
    assert res.in_cycles == list(range(res.in_cycles[0], res.in_cycles[0] + len(in_beats)))


@pytest.mark.parametrize("shape,kernel,bits,simd", [
    ((6, 4, 4), 2, 1, 2),       # binary, two channel folds
    ((6, 6, 3), 3, 2, 3),       # 2-bit codes, K = 3, one fold
    ((4, 2, 4), 2, 3, 1),       # one output column, four folds
    ((2, 2, 1), 2, 1, 1),       # one word of line memory: written and read back
])
def test_line_max_pool(verilator, shape, kernel, bits, simd):
    rng = np.random.default_rng(sum(shape) * kernel + bits)
    maps = rng.integers(0, 1 << bits, (5,) + shape)
    maps[0], maps[1] = (1 << bits) - 1, 0          # all ones, all zeros
    maps[2] = 0
    maps[2][kernel - 1::kernel, kernel - 1::kernel] = (1 << bits) - 1  # a window's last pixel
    in_beats = stream_beats(maps, simd, bits)
    expected = stream_beats(MaxPool(shape, kernel).forward(maps), simd, bits)
    h, w, c = shape
    dut = LineMaxPool(height=h, width=w, channels=c, simd=simd, bits=bits, kernel=kernel)
    sim = Simulation(dut, f"line_pool_{'_'.join(map(str, shape))}_{kernel}_{bits}_{simd}")
    for seed, (pv, pr) in enumerate([(1.0, 1.0), (0.5, 0.5), (1.0, 0.3), (0.3, 1.0)]):
        res = sim.run(in_beats, len(expected), valid_prob=pv, ready_prob=pr, seed=seed)
        assert res.outputs == expected, f"valid_prob={pv} ready_prob={pr}"
    res = sim.run(in_beats, len(expected))
    # One beat per cycle, and each window's result 1 cycle after its last input beat.
    assert res.in_cycles == list(range(res.in_cycles[0], res.in_cycles[0] + len(in_beats)))
    cf, per_map = c // simd, h * w * (c // simd)
    last_beats = [n * per_map + ((oy * kernel + kernel - 1) * w + ox * kernel + kernel - 1) * cf + f
                  for n in range(len(maps)) for oy in range(h // kernel)
                  for ox in range(w // kernel) for f in range(cf)]
    assert res.out_cycles == [res.in_cycles[b] + 1 for b in last_beats]


def test_line_max_pool_refuses_what_it_cannot_pool():
    with pytest.raises(ValueError, match="K must divide H and W"):
        LineMaxPool(height=5, width=4, channels=2, simd=2, bits=1, kernel=2)
    with pytest.raises(ValueError, match="identity"):
        LineMaxPool(height=4, width=4, channels=2, simd=2, bits=1, kernel=1)
    with pytest.raises(ValueError, match="does not divide"):
        LineMaxPool(height=4, width=4, channels=3, simd=2, bits=1, kernel=2)


@pytest.mark.parametrize("bits,top,simd,kind", [
    (1, 1, 2, "window"), pytest.param(2, 3, 1, "window", marks=pytest.mark.slow),
    (3, 7, 2, "global"), pytest.param(1, 1, 4, "global", marks=pytest.mark.slow)])
def test_window_sum(verilator, bits, top, simd, kind):
    """Per channel the sum of the codes over the window positions: every sum equal to
    golden's (all-ones and all-zeros maps included), under random stalls, one beat per
    cycle."""
    from golden.model import BINARY, IntCodes, Thresholds
    from golden.pool import SumPool
    from hdl.pool import WindowSum
    rng = np.random.default_rng(bits * 10 + simd)
    shape = (6, 4, 4)
    maps = rng.integers(0, top + 1, (4,) + shape)
    maps[0], maps[1] = top, 0
    enc = BINARY if bits == 1 else IntCodes(bits, 0, top)
    act = Thresholds(np.zeros((4, 1), np.int64))
    if kind == "window":
        pool = SumPool(shape, enc, act, kernel=2, stride=2)
        in_beats = stream_beats(im2col(maps, 2, 2, 0, 0), simd, bits)
    else:
        pool = SumPool(shape, enc, act)
        in_beats = stream_beats(maps, simd, bits)
    dut = WindowSum(channels=4, simd=simd, bits=bits, positions=pool.positions, top=top)
    assert dut.sum_width == max(1, int(pool.sum_range[1]).bit_length())
    expected = stream_beats(pool.sums(maps), simd, dut.sum_width)
    _check_beats(Simulation(dut, f"pool_sum_{kind}_{bits}_{simd}"), in_beats, expected)
