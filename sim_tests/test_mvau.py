"""MatrixVectorUnit in Verilator against golden, with backpressure and exact cycle counts.

Binary layers against golden.mvau; every other element (sign flip, zero skip, shift, lookup
table) against golden.elements.hw_dot, with the extremes of the proven accumulator range
driven on purpose.
"""

import itertools

import numpy as np
import pytest

from golden.elements import hw_dot, lane_range
from golden.model import BINARY, PIXELS, IntCodes
from golden.mvau import xnor_popcount
from golden.packing import pack_lanes, weight_words
from golden.weights import LutWeights, ShiftWeights, TernaryWeights, weight_encoding
from hdl.mvau import MatrixVectorUnit
from sim_tests.harness import Simulation, pack_beats

# (name, MW, MH, SIMD, PE, weights): folded, SF=1/NF=1, odd widths, and all-+1 weights.
CASES = [
    ("mvau_16x12_s4p3", 16, 12, 4, 3, "random"),
    ("mvau_64x16_s64p16", 64, 16, 64, 16, "random"),
    ("mvau_30x10_s5p1", 30, 10, 5, 1, "random"),
    ("mvau_96x4_s32p4_ones", 96, 4, 32, 4, "ones"),
]


def expected_beats(acc, pe, width):
    """Output beats (one per neuron fold) of accumulators (N, MH)."""
    return [w for row in acc for w in pack_lanes(row.reshape(-1, pe), width)]


def make_inputs(rng, n, mw):
    x = rng.integers(0, 2, (n, mw), dtype=np.uint8)
    x[0] = 1  # all ones: with all-+1 weights the accumulator reaches MW, its maximum
    x[1] = 0  # all zeros
    return x


@pytest.mark.parametrize("name,mw,mh,simd,pe,kind", CASES, ids=[c[0] for c in CASES])
def test_mvau(verilator, name, mw, mh, simd, pe, kind):
    rng = np.random.default_rng(sum(map(ord, name)))
    w = (np.ones((mh, mw), np.uint8) if kind == "ones"
         else rng.integers(0, 2, (mh, mw), dtype=np.uint8))
    dut = MatrixVectorUnit(mw=mw, mh=mh, simd=simd, pe=pe, weight_words=weight_words(w, simd, pe))
    sim = Simulation(dut, name)
    x = make_inputs(rng, 12, mw)
    acc = xnor_popcount(x, w)
    if kind == "ones":
        assert acc[0].tolist() == [mw] * mh  # the maximum fan-in case is really exercised
    expected = expected_beats(acc, pe, dut.acc_width)
    sf, nf = mw // simd, mh // pe

    # Full throughput: exact handshake cycles from the analytical model.
    res = sim.run(pack_beats(x, simd), len(expected))
    assert res.outputs == expected
    c0 = res.in_cycles[0]
    assert res.in_cycles == [c0 + k * sf * nf + s for k in range(len(x)) for s in range(sf)]
    assert res.out_cycles == [c0 + k * sf * nf + f * sf + sf - 1 + dut.latency
                              for k in range(len(x)) for f in range(nf)]

    # Random idle cycles and backpressure: same values.
    for seed, (pv, pr) in enumerate([(0.5, 0.5), (0.9, 0.2), (0.2, 0.9)]):
        res = sim.run(pack_beats(x, simd), len(expected), valid_prob=pv, ready_prob=pr, seed=seed)
        assert res.outputs == expected, f"mismatch with valid_prob={pv}, ready_prob={pr}"


def test_mvau_rejects_bad_folding():
    with pytest.raises(ValueError, match=r"SIMD 5 does not divide MW 16"):
        MatrixVectorUnit(mw=16, mh=4, simd=5, pe=1, weight_words=[0] * 4)
    with pytest.raises(ValueError, match=r"PE 3 does not divide MH 4"):
        MatrixVectorUnit(mw=16, mh=4, simd=4, pe=3, weight_words=[0] * 4)
    with pytest.raises(TypeError, match=r"simd must be a positive integer, not 0"):
        MatrixVectorUnit(mw=16, mh=4, simd=0, pe=1, weight_words=[])
    with pytest.raises(ValueError, match=r"expected 16 weight words"):
        MatrixVectorUnit(mw=16, mh=4, simd=4, pe=1, weight_words=[0] * 3)


# (name, weight encoding, input encoding, MW, MH, SIMD, PE)
ELEMENT_CASES = [
    # Binary weights on multi-bit activations: sign flip.
    ("el_binary_codes2", weight_encoding("binary"), IntCodes(2, 0, 2), 24, 6, 4, 3),
    ("el_binary_codes3", weight_encoding("binary"), IntCodes(3, 0, 7), 32, 4, 32, 2),
    ("el_ternary_bits", TernaryWeights(), BINARY, 24, 6, 8, 3),
    ("el_ternary_codes2", TernaryWeights(), IntCodes(2, -1, 2), 20, 4, 5, 2),
    ("el_shift1_bits", ShiftWeights(1), BINARY, 16, 4, 16, 1),
    ("el_shift3_pixels", ShiftWeights(3), PIXELS, 12, 6, 4, 3),
    ("el_dorefa2_codes2", LutWeights.dorefa(2), IntCodes(2, 0, 3), 18, 4, 6, 4),
    # (4-bit x 4-bit tables: tests/test_layer_properties.py draws 3-bit ones; cost in benchmarks.)
    # Bit-plane style: binary weights (shared code sum, two lane groups), ternary (no shared
    # term), DoReFa (affine masks), power-of-two weights on pixels (one mask per value).
    ("bp_binary_codes3", weight_encoding("binary"), IntCodes(3, 0, 7), 32, 4, 16, 2),
    ("bp_ternary_codes2", TernaryWeights(), IntCodes(2, -1, 2), 20, 4, 5, 2),
    ("bp_dorefa2_codes2", LutWeights.dorefa(2), IntCodes(2, 0, 3), 18, 4, 6, 4),
    ("bp_shift3_pixels", ShiftWeights(3), PIXELS, 12, 6, 4, 3),
]


def extreme_pairs(w_enc, x_enc):
    """(x code, weight code) pairs giving one lane its largest and its smallest value."""
    xs = range(2 if x_enc == BINARY else x_enc.top + 1)
    ws = w_enc.encode(np.array(w_enc.values))
    pairs = [(x, int(w)) for x, w in itertools.product(xs, ws)]
    value = {p: int(hw_dot(w_enc, x_enc, [[p[0]]], [[p[1]]])[0, 0]) for p in pairs}
    return max(pairs, key=value.get), min(pairs, key=value.get)


@pytest.mark.parametrize("name,w_enc,x_enc,mw,mh,simd,pe", ELEMENT_CASES,
                         ids=[c[0] for c in ELEMENT_CASES])
def test_mvau_elements(verilator, name, w_enc, x_enc, mw, mh, simd, pe):
    rng = np.random.default_rng(sum(map(ord, name)))
    x_top = 1 if x_enc == BINARY else x_enc.top
    w_codes = w_enc.encode(rng.choice(np.array(w_enc.values), (mh, mw)))
    x = rng.integers(0, x_top + 1, (12, mw))
    # Rows 0/1 of the weights with inputs 0/1 reach the two ends of the proven range.
    (x_hi, w_hi), (x_lo, w_lo) = extreme_pairs(w_enc, x_enc)
    w_codes[0], w_codes[1] = w_hi, w_lo
    x[0], x[1] = x_hi, x_lo
    x[2], x[3] = 0, x_top
    dut = MatrixVectorUnit(mw=mw, mh=mh, simd=simd, pe=pe,
                           weight_words=weight_words(w_codes, simd, pe, w_enc.code_bits),
                           weight_encoding=w_enc, input_encoding=x_enc,
                           element_style="bitplane" if name.startswith("bp_") else "tree")
    assert dut.element.style == ("bitplane" if name.startswith("bp_") else "tree")
    acc = hw_dot(w_enc, x_enc, x, w_codes)
    lo, hi = lane_range(w_enc, x_enc)
    assert (acc[0, 0], acc[1, 1]) == (mw * hi, mw * lo) == (dut.acc_hi, dut.acc_lo)
    sim = Simulation(dut, name)
    expected = [v for row in acc for v in pack_lanes(row.reshape(-1, pe), dut.acc_width,
                                                     signed=dut.acc_lo < 0)]
    in_beats = [v for row in x for v in pack_lanes(row.reshape(-1, simd), dut.in_bits)]
    sf, nf = mw // simd, mh // pe
    res = sim.run(in_beats, len(expected))
    assert res.outputs == expected
    c0 = res.in_cycles[0]
    assert res.out_cycles == [c0 + k * sf * nf + f * sf + sf - 1 + dut.latency
                              for k in range(len(x)) for f in range(nf)]
    for seed, (pv, pr) in enumerate([(0.5, 0.5), (0.9, 0.2)]):
        res = sim.run(in_beats, len(expected), valid_prob=pv, ready_prob=pr, seed=seed)
        assert res.outputs == expected, f"mismatch with valid_prob={pv}, ready_prob={pr}"
