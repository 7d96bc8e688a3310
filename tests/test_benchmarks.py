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


def test_element_bench_verilog():
    """The element bench top elaborates for every element; its ports keep the row alive."""
    from benchmarks.ice40_elements import ELEMENTS, RowBench
    from hdl.elements import make_element
    from hdl.flow.verilog import to_verilog
    for label, w_enc, x_enc in ELEMENTS[:7]:
        element = make_element(w_enc, x_enc)
        text = to_verilog(RowBench(element, 4), "top")
        assert "module top" in text and f"[{4 * element.w_bits - 1}:0] w" in text, label


def test_suite_plot_and_ops(tmp_path):
    """The suite's plot renders from rows shaped like a run's, and its operation count."""
    pytest.importorskip("matplotlib")
    from pathlib import Path

    from benchmarks.suite import network_ops, plot
    from golden.formats import load_model
    root = Path(__file__).resolve().parent.parent
    assert network_ops(load_model(root / "models/mnist_bnn.npz")) == 2 * (784 * 128 + 128 * 64
                                                                         + 64 * 10)
    # A convolution counts its weights once per output pixel (28x28x1 -> 28x28x16 by 3x3).
    conv = load_model(root / "models/mnist_conv_residual.npz")
    assert network_ops(conv) > 2 * 28 * 28 * 9 * 16
    rows = [{"design": f"MVAU {n}", "kind": "unit", "lanes": n, "lut4_per_lane": 3.0,
             "fmax_mhz": 30.0, "bitops_per_cycle_per_lut4": 0.6} for n in (32, 64)]
    rows.append({"design": "net", "kind": "network", "lanes": 100, "lut4_per_lane": 20,
                 "fmax_mhz": 27.0, "bitops_per_cycle_per_lut4": 0.1})
    plot(rows, tmp_path / "suite.png")
    assert (tmp_path / "suite.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

