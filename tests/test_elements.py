"""golden.elements and the accumulator map against plain loops over the weight values.

For every element: what the hardware adds (``hw_dot``), mapped by ``hw_accumulator``,
equals the golden accumulator computed here by explicit loops over values; every lane and
every sum stays in the proven range; the thresholds and biases folded through the map give
the golden activation for every hardware accumulator value in range.
"""

import itertools

import numpy as np
import pytest

from golden.bias import add_bias
from golden.elements import element_kind, hw_dot, lane_range
from golden.errors import ModelError
from golden.model import BINARY, PIXELS, Bias, Dense, InputQuant, IntCodes, Network, Thresholds
from golden.network import accumulate
from golden.packing import bias_hw, hw_accumulator, threshold_hw, unpack_lanes, weight_words
from golden.thresholding import threshold
from golden.weights import LutWeights, ShiftWeights, TernaryWeights, weight_encoding
from tests.test_golden import assert_roundtrip

W_ENCODINGS = {
    "binary": weight_encoding("binary"),
    "ternary": TernaryWeights(),
    "shift1": ShiftWeights(1),
    "shift3": ShiftWeights(3),
    "dorefa2": LutWeights.dorefa(2),
    "dorefa4": LutWeights.dorefa(4),
    "lut3odd": LutWeights(3, (-7, 0, 5, 2, -1)),
}
X_ENCODINGS = {
    "bits": BINARY,
    "codes2": IntCodes(2, -1, 2),
    "codes3": IntCodes(3, 0, 7),
    "pixels": PIXELS,
}


def random_values(rng, enc, shape):
    return rng.choice(np.array(enc.values), shape)


def random_inputs(rng, x_enc, shape):
    return rng.integers(0, 2 if x_enc == BINARY else x_enc.top + 1, shape)


def loop_accumulator(x, w, x_enc, w_enc, scale):
    """The golden accumulator by explicit loops over the values (module docstring)."""
    out = np.zeros((len(x), len(w)), np.int64)
    for n, j in itertools.product(range(len(x)), range(len(w))):
        if x_enc == BINARY and w_enc.kind == "binary":
            total = sum(int(x[n, i] == (w[j, i] > 0)) for i in range(w.shape[1]))
        else:
            values = [2 * v - 1 if x_enc == BINARY else v + x_enc.offset for v in x[n]]
            total = sum(int(w[j, i]) * values[i] for i in range(w.shape[1]))
        out[n, j] = total << int(scale[j])
    return out


@pytest.mark.parametrize("w_name,x_name", list(itertools.product(W_ENCODINGS, X_ENCODINGS)))
def test_element_map_equals_golden(w_name, x_name):
    w_enc, x_enc = W_ENCODINGS[w_name], X_ENCODINGS[x_name]
    rng = np.random.default_rng(len(w_name) * 31 + len(x_name))
    mw, mh = 13, 6
    w = random_values(rng, w_enc, (mh, mw))
    w[0] = max(w_enc.values, key=abs)       # the largest magnitude everywhere
    scale = rng.integers(0, 3, mh)
    layer = Dense(w, Thresholds(np.zeros((mh, 1), np.int64)), weight_encoding=w_enc,
                  input_encoding=x_enc, scale_exp=scale)
    x = random_inputs(rng, x_enc, (20, mw))
    x[0] = 0
    x[1] = 1 if x_enc == BINARY else x_enc.top
    acc = hw_accumulator(layer)
    hw = hw_dot(w_enc, x_enc, x, layer.weight_codes)
    assert acc.lo <= hw.min() and hw.max() <= acc.hi
    lo, hi = lane_range(w_enc, x_enc)
    assert (acc.lo, acc.hi) == (mw * lo, mw * hi)
    expected = loop_accumulator(x, w, x_enc, w_enc, scale)
    assert np.array_equal(acc.golden(hw), expected)
    assert np.array_equal(accumulate(layer, x), expected)


@pytest.mark.parametrize("w_name", W_ENCODINGS)
def test_weight_codes_round_trip(w_name):
    enc = W_ENCODINGS[w_name]
    values = np.array(enc.values)
    codes = enc.encode(values)
    assert codes.min() >= 0 and codes.max() < 1 << enc.code_bits
    assert np.array_equal(enc.decode(codes), values)
    assert len(set(codes.tolist())) == len(values)
    assert weight_encoding(enc.to_json()) == enc


def test_lane_range_is_reached():
    """The proven lane bounds are tight: both ends occur for some code pair."""
    for w_enc, x_enc in itertools.product(W_ENCODINGS.values(), X_ENCODINGS.values()):
        xs = np.arange(2 if x_enc == BINARY else x_enc.top + 1)[:, None]
        ws = w_enc.encode(np.array(w_enc.values))[:, None]
        lanes = hw_dot(w_enc, x_enc, xs, ws)
        assert (lanes.min(), lanes.max()) == lane_range(w_enc, x_enc), (w_enc, x_enc)


def test_dorefa_levels():
    assert LutWeights.dorefa(2).levels == (-3, -1, 1, 3)
    assert LutWeights.dorefa(3).levels == (-7, -5, -3, -1, 1, 3, 5, 7)


def test_element_kinds():
    assert element_kind(W_ENCODINGS["binary"], BINARY) == "xnor"
    assert element_kind(W_ENCODINGS["binary"], PIXELS) == "signflip"
    assert element_kind(TernaryWeights(), BINARY) == "zeroskip"
    assert element_kind(ShiftWeights(1), PIXELS) == "shift"
    assert element_kind(LutWeights.dorefa(2), IntCodes(2, 0, 3)) == "lut"


@pytest.mark.parametrize("w_name,x_name", [("ternary", "bits"), ("shift3", "codes2"),
                                           ("dorefa2", "codes3"), ("binary", "pixels")])
def test_thresholds_and_bias_through_the_map(w_name, x_name):
    """For every acc_hw in range, the folded thresholds and biases give golden's output."""
    w_enc, x_enc = W_ENCODINGS[w_name], X_ENCODINGS[x_name]
    rng = np.random.default_rng(3)
    mw, mh = 5, 8
    w = random_values(rng, w_enc, (mh, mw))
    scale = rng.integers(0, 3, mh)
    layer = Dense(w, Bias(np.zeros(mh, np.int64)), weight_encoding=w_enc, input_encoding=x_enc,
                  scale_exp=scale)
    acc = hw_accumulator(layer)
    hw = np.arange(acc.lo, acc.hi + 1)[:, None].repeat(mh, axis=1)
    golden_acc = acc.golden(hw)
    span = int(np.abs(golden_acc).max())
    direction = rng.choice([-1, 1], mh)
    t = np.sort(rng.integers(-span - 3, span + 4, (mh, 3)), axis=1)
    t[0] = [-10 * span - 5] * 3
    t[1] = [10 * span + 5] * 3
    t[direction < 0] = t[direction < 0, ::-1]
    act = Thresholds(t, direction, offset=-1)
    tt, flip = threshold_hw(act, acc)
    assert tt.min() >= acc.lo and tt.max() <= acc.hi + 1
    c = (hw[:, :, None] >= tt[None]).sum(axis=2)
    assert np.array_equal(np.where(flip[None] == 1, 3 - c, c), threshold(golden_acc, act))
    bias = Bias(rng.integers(-50, 50, mh))
    b, e = bias_hw(bias, acc)
    assert np.array_equal((hw << e[None]) + b[None], add_bias(golden_acc, bias))


def test_weight_words_multibit_layout():
    rng = np.random.default_rng(2)
    codes = rng.integers(0, 4, (6, 8))
    words = weight_words(codes, simd=4, pe=3, width=2)
    assert len(words) == 2 * 2
    for nf, sf in itertools.product(range(2), range(2)):
        lanes = unpack_lanes(words[nf * 2 + sf], 12, 2)
        for p, s in itertools.product(range(3), range(4)):
            assert lanes[p * 4 + s] == codes[nf * 3 + p, sf * 4 + s]


def test_bad_weight_encodings_are_clear():
    with pytest.raises(ModelError, match=r"ternary weights must take values in \[-1, 0, 1\]; found 2"):
        Dense(np.full((2, 2), 2), Bias(np.zeros(2, int)), weight_encoding="ternary")
    with pytest.raises(ModelError, match="weight encoding 'quaternary' is not supported"):
        Dense(np.ones((2, 2), int), Bias(np.zeros(2, int)), weight_encoding="quaternary")
    with pytest.raises(ModelError, match="5 lut weight levels do not fit 2-bit codes"):
        LutWeights(2, (1, 2, 3, 4, 5))
    with pytest.raises(ModelError, match="scale exponents must be 2 integers in"):
        Dense(np.ones((2, 2), int), Bias(np.zeros(2, int)), scale_exp=[-1, 0])


def lowbit_network():
    rng = np.random.default_rng(4)
    l0 = Dense(rng.integers(-1, 2, (6, 16)), Thresholds(np.sort(rng.integers(-900, 900, (6, 2)))),
               weight_encoding="ternary", input_encoding=PIXELS, scale_exp=rng.integers(0, 3, 6))
    l1 = Dense(rng.choice([-3, -1, 1, 3], (4, 6)), Thresholds(rng.integers(-5, 5, (4, 1))),
               weight_encoding=LutWeights.dorefa(2), input_encoding=l0.activation.next_encoding())
    l2 = Dense(rng.choice([-2, -1, 0, 1, 2], (3, 4)), Bias(rng.integers(-5, 5, 3)),
               weight_encoding=ShiftWeights(1), scale_exp=[0, 1, 2])
    return Network("lowbit", InputQuant((4, 4), None), [l0, l1, l2])


def test_lowbit_model_file_roundtrip(tmp_path):
    net = lowbit_network()
    assert any(layer.scale_exp.any() for layer in net.layers)   # scales really stored
    back = assert_roundtrip(net, tmp_path)
    assert back.input.threshold is None


def test_pixel_input_rejects_out_of_range():
    net = lowbit_network()
    with pytest.raises(ModelError, match=r"input pixels must be 8-bit values in \[0, 255\]"):
        net.input(np.full((1, 4, 4), 300))
    with pytest.raises(ModelError, match="layer 0 expects 'binary' inputs but receives"):
        Network("bad", InputQuant((4, 4), None), [Dense(np.ones((3, 16), int), Bias(np.zeros(3, int)))])


# --- Bit-plane style: the same acc_hw as the tree elements, in Amaranth's simulator --------

def _dot_rows(w_enc, x_enc, simd, x_rows, w_rows):
    """Sums of :class:`hdl.elements.DotRow` in both styles for each (x, w) pair of rows."""
    from amaranth.sim import Simulator

    from golden.packing import pack_lanes
    from hdl.elements import STYLES, DotRow, make_element

    out = {}
    for style in STYLES:
        dut = DotRow(make_element(w_enc, x_enc, style), simd)
        got = []

        async def bench(ctx, dut=dut, got=got):
            for xr, wr in zip(x_rows, w_rows):
                ctx.set(dut.x, pack_lanes([xr], dut.element.x_bits)[0])
                ctx.set(dut.w, pack_lanes([wr], dut.element.w_bits)[0])
                got.append(ctx.get(dut.sum))

        sim = Simulator(dut)
        sim.add_testbench(bench)
        sim.run()
        out[style] = got
    return out


@pytest.mark.parametrize("w_name", sorted(W_ENCODINGS))
@pytest.mark.parametrize("x_name", ["codes2", "codes3", "pixels"])
def test_bitplane_equals_tree_and_golden(w_name, x_name):
    """Every weight encoding x multi-bit input: bit-plane sum == tree sum == hw_dot, on
    both ends of the proven range (every lane at its extreme pair), all-zero and all-top
    inputs, and random rows, at SIMD 1, 3 and 8 (odd and even trees)."""
    w_enc, x_enc = W_ENCODINGS[w_name], X_ENCODINGS[x_name]
    rng = np.random.default_rng(sum(map(ord, w_name + x_name)))
    codes = w_enc.encode(np.array(w_enc.values))
    lane = {(x, int(w)): int(hw_dot(w_enc, x_enc, [[x]], [[w]])[0, 0])
            for x in range(x_enc.top + 1) for w in codes}
    hi_pair, lo_pair = max(lane, key=lane.get), min(lane, key=lane.get)
    for simd in (1, 3, 8):
        xs = [np.full(simd, hi_pair[0]), np.full(simd, lo_pair[0]), np.zeros(simd, int),
              np.full(simd, x_enc.top)]
        ws = [np.full(simd, hi_pair[1]), np.full(simd, lo_pair[1]),
              w_enc.encode(random_values(rng, w_enc, simd)),
              w_enc.encode(random_values(rng, w_enc, simd))]
        for _ in range(12):
            xs.append(random_inputs(rng, x_enc, simd))
            ws.append(w_enc.encode(random_values(rng, w_enc, simd)))
        expected = [int(hw_dot(w_enc, x_enc, [x], [w])[0, 0]) for x, w in zip(xs, ws)]
        lo, hi = lane_range(w_enc, x_enc)
        assert expected[0] == simd * hi and expected[1] == simd * lo
        got = _dot_rows(w_enc, x_enc, simd, xs, ws)
        assert got["tree"] == expected
        assert got["bitplane"] == expected


def test_bitplane_masks_and_refusals():
    from hdl.elements import make_element, weight_masks
    # Binary weights and DoReFa levels are affine in the code: one mask per code bit.
    assert weight_masks(W_ENCODINGS["binary"]) == (-1, [(2, 0)])
    assert weight_masks(W_ENCODINGS["dorefa2"]) == (-3, [(2, 0), (4, 1)])
    # Ternary codes (bit 0 non-zero, bit 1 negative; code 2 never occurs): nz - 2*neg,
    # single code bits as masks and no shared term.
    assert weight_masks(W_ENCODINGS["ternary"]) == (0, [(1, 0), (-2, 1)])
    # Not linear in the bits: one mask per value other than the commonest.
    base, masks = weight_masks(W_ENCODINGS["lut3odd"])
    assert base == 0 and sorted(c for c, _ in masks) == [-7, -1, 2, 5]
    with pytest.raises(ValueError, match="needs multi-bit input codes"):
        make_element(W_ENCODINGS["binary"], BINARY, "bitplane")
    with pytest.raises(ValueError, match="style must be one of tree, bitplane"):
        make_element(W_ENCODINGS["binary"], BINARY, "planes")


def test_tree_elements_keep_their_adder_nodes():
    """A tree element's adder over multi-bit lanes keeps every node (Yosys's ``keep``: one
    carry chain per addition instead of one merged ``$macc`` of LUT full adders); a
    popcount and the bit-plane count sums do not (cheaper merged, measured)."""
    from hdl.elements import DotRow, make_element
    from hdl.flow.verilog import to_verilog

    def kept(w_name, x_enc, style="tree", simd=8):
        lines = to_verilog(DotRow(make_element(W_ENCODINGS[w_name], x_enc, style), simd),
                           "top").splitlines()
        return sum(1 for a, b in zip(lines, lines[1:])
                   if "(* keep" in a and b.strip().startswith("wire"))

    assert kept("dorefa2", X_ENCODINGS["codes2"]) == 7           # 8 lanes: 7 adder nodes
    assert kept("dorefa2", X_ENCODINGS["codes2"], simd=1) == 0   # one lane: no adder
    assert kept("binary", X_ENCODINGS["pixels"]) == 14           # code sum (shared) + kept
    assert kept("binary", BINARY) == 0                           # XNOR popcount
    assert kept("ternary", BINARY) == 0                          # masked popcount
    assert kept("dorefa2", X_ENCODINGS["codes2"], "bitplane") == 0
