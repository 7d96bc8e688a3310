"""SlidingWindow in Verilator against golden's im2col, with idle cycles and backpressure."""

import numpy as np
import pytest

from golden.conv import im2col, window_order
from golden.packing import stream_beats
from hdl.window import SlidingWindow
from sim_tests.harness import Simulation

# (H, W, C, SIMD, bits, K, S, P, pad value)
CASES = [
    (5, 6, 4, 2, 1, 3, 1, 1, 0),     # padded 3x3, two channel folds
    (7, 5, 3, 3, 1, 3, 2, 1, 0),     # stride 2 with padding, odd sizes
    (4, 5, 1, 1, 3, 3, 1, 2, 5),     # padding K-1 on every side, 3-bit codes, pad code 5
    (6, 7, 3, 9, 8, 3, 1, 1, 7),     # taps mode: a whole kernel column of RGB pixels per beat
    (5, 4, 2, 4, 2, 2, 2, 1, 1),     # taps mode, 2x2 stride 2, the ring shorter than 2K
    (12, 9, 1, 5, 1, 5, 1, 2, 1),    # taps mode, a binary 5x5 first layer, padding 2
    # The networks' windows (sim_tests/test_conv_network.py) cover 2x2 stride 2 and 1x1;
    # these run under -m slow.
    pytest.param((5, 6, 4, 4, 1, 3, 1, 1, 1), marks=pytest.mark.slow),   # pad bit 1 (+1)
    pytest.param((6, 6, 2, 1, 2, 2, 2, 0, 0), marks=pytest.mark.slow),   # 2x2 s2, 2-bit codes
    pytest.param((4, 4, 2, 2, 4, 1, 1, 0, 0), marks=pytest.mark.slow),   # 1x1, 4-bit codes
    pytest.param((3, 3, 2, 1, 1, 3, 1, 0, 0), marks=pytest.mark.slow),   # kernel = map (R = H)
]


@pytest.mark.parametrize("case", CASES,
                         ids=lambda c: "x".join(map(str, c)) if isinstance(c, tuple) else None)
def test_sliding_window(verilator, case):
    h, w, c, simd, bits, k, s, p, pv = case
    rng = np.random.default_rng(sum(case))
    maps = rng.integers(0, 1 << bits, (3, h, w, c))
    maps[0] = (1 << bits) - 1          # all ones
    maps[1] = 0                        # all zeros
    dut = SlidingWindow(height=h, width=w, channels=c, simd=simd, bits=bits, kernel=k,
                        stride=s, pad=p, pad_value=pv)
    sim = Simulation(dut, "window_" + "_".join(map(str, case)))
    windows = im2col(maps, k, s, p, pv)[..., window_order(k, c, simd)]
    expected = stream_beats(windows, simd, bits)
    assert len(expected) == 3 * dut.out_beats
    in_beats = stream_beats(maps, dut.in_simd, bits)
    for seed, (pv_, pr) in enumerate([(1.0, 1.0), (0.5, 0.5), (1.0, 0.3), (0.3, 1.0)]):
        res = sim.run(in_beats, len(expected), valid_prob=pv_, ready_prob=pr, seed=seed)
        assert res.outputs == expected, f"valid_prob={pv_} ready_prob={pr}"
