"""benchmarks/: the iCE40 bench top plans without running the FPGA tools."""

import numpy as np
import pytest

from golden.packing import weight_words
from hdl.mvau import MatrixVectorUnit


def test_ice40_bench_plan():
    pytest.importorskip("amaranth_boards")
    from amaranth_boards.icebreaker import ICEBreakerPlatform

    from benchmarks.ice40_mvau import MvauBench, parse_config
    mw, mh, simd, pe = parse_config("32x8/8x2")
    bits = np.random.default_rng(0).integers(0, 2, (mh, mw), dtype=np.uint8)
    mvau = MatrixVectorUnit(mw=mw, mh=mh, simd=simd, pe=pe, weight_words=weight_words(bits, simd, pe))
    plan = ICEBreakerPlatform().prepare(MvauBench(mvau), name="bench")
    files = dict(plan.files)
    assert "bench.il" in files and "bench.pcf" in files
    assert "synth_ice40" in files["bench.ys"]
