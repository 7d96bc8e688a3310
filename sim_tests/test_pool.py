"""WindowMax in Verilator against golden.pool: max-pool windows and global pooling."""

import numpy as np
import pytest

from golden.conv import im2col
from golden.packing import stream_beats
from golden.pool import GlobalMaxPool, MaxPool
from hdl.pool import WindowMax
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
    sim = Simulation(dut, f"pool_{kind}_{bits}_{simd}")
    for seed, (pv, pr) in enumerate([(1.0, 1.0), (0.5, 0.5), (1.0, 0.3)]):
        res = sim.run(in_beats, len(expected), valid_prob=pv, ready_prob=pr, seed=seed)
        assert res.outputs == expected, f"valid_prob={pv} ready_prob={pr}"
    res = sim.run(in_beats, len(expected))
    assert res.in_cycles == list(range(res.in_cycles[0], res.in_cycles[0] + len(in_beats)))
