"""golden/conv.py, pool.py, residual.py against loops, and the shape checks of a network."""

import numpy as np
import pytest

from golden.conv import Conv2D
from golden.errors import ModelError
from golden.model import BINARY, Bias, Dense, InputQuant, IntCodes, Network, Thresholds
from golden.network import layer_forward, run
from golden.pool import GlobalMaxPool, MaxPool
from golden.residual import Residual


def _conv(rng, shape, oc, k, stride=1, pad=0, pad_value=0, enc=BINARY, count=1, bias=False):
    h, w, c = shape
    weights = rng.choice([-1, 1], (oc, k * k * c))
    if bias:
        act = Bias(rng.integers(-3, 3, oc))
    else:
        act = Thresholds(np.sort(rng.integers(0, k * k * c, (oc, count)), axis=1),
                         offset=0 if count == 1 else -1)
    return Conv2D(shape, Dense(weights, act, input_encoding=enc), k, stride, pad, pad_value)


def _values(codes, enc):
    return 2 * codes - 1 if enc == BINARY else codes + enc.offset


@pytest.mark.parametrize("k,stride,pad,pad_value,enc", [
    (3, 1, 0, 0, BINARY), (3, 1, 1, 0, BINARY), (3, 1, 1, 1, BINARY), (3, 2, 1, 1, BINARY),
    (1, 1, 0, 0, BINARY), (2, 2, 0, 0, BINARY), (3, 1, 1, 2, IntCodes(2, -1, 3)),
    (5, 2, 2, 0, IntCodes(4, 0, 15))])
def test_conv_by_loops(k, stride, pad, pad_value, enc):
    rng = np.random.default_rng(k * 100 + stride * 10 + pad + pad_value)
    shape = (7, 6, 3)
    layer = _conv(rng, shape, 5, k, stride, pad, pad_value, enc, count=1)
    top = 1 if enc == BINARY else enc.top
    x = rng.integers(0, top + 1, (2,) + shape)
    acc, out = layer_forward(layer, x)
    oh, ow, oc = layer.out_shape
    assert (oh, ow) == ((7 + 2 * pad - k) // stride + 1, (6 + 2 * pad - k) // stride + 1)
    w = layer.weights.reshape(oc, k, k, 3)
    for n in range(2):
        for oy in range(oh):
            for ox in range(ow):
                for o in range(oc):
                    total = 0
                    for ky in range(k):
                        for kx in range(k):
                            iy, ix = oy * stride - pad + ky, ox * stride - pad + kx
                            inside = 0 <= iy < 7 and 0 <= ix < 6
                            for ch in range(3):
                                code = x[n, iy, ix, ch] if inside else pad_value
                                total += int(w[o, ky, kx, ch]) * int(_values(code, enc))
                    if enc == BINARY:
                        total = (total + k * k * 3) // 2      # popcount domain
                    assert acc[n, oy, ox, o] == total
                    assert out[n, oy, ox, o] == int(total >= layer.activation.thresholds[o, 0])


def test_max_pool_by_loops():
    rng = np.random.default_rng(1)
    for shape, k, s, top in [((6, 8, 3), 2, 2, 1), ((7, 7, 2), 3, 2, 15), ((5, 5, 4), 5, 1, 1)]:
        pool = MaxPool(shape, k, s)
        x = rng.integers(0, top + 1, (3,) + shape)
        _, y = layer_forward(pool, x)
        oh, ow, c = pool.out_shape
        for n in range(3):
            for oy in range(oh):
                for ox in range(ow):
                    for ch in range(c):
                        assert y[n, oy, ox, ch] == max(x[n, oy * s + a, ox * s + b, ch]
                                                       for a in range(k) for b in range(k))
        if top == 1:   # on bits the max is the OR
            assert set(np.unique(y)) <= {0, 1}
    g = GlobalMaxPool((4, 3, 5))
    x = rng.integers(0, 2, (2, 4, 3, 5))
    assert np.array_equal(layer_forward(g, x)[1][:, 0, 0], x.reshape(2, -1, 5).max(axis=1))


def test_residual_by_hand():
    rng = np.random.default_rng(2)
    shape = (6, 6, 4)
    main = (_conv(rng, shape, 4, 3, pad=1, count=15),)
    skip = (_conv(rng, shape, 4, 1, count=15),)
    t = np.sort(rng.integers(-6, 8, (4, 1)), axis=1)
    block = Residual(shape, main, skip, Thresholds(t))
    assert block.out_shape == (6, 6, 4) and block.sum_range() == (-2, 28)
    x = rng.integers(0, 2, (3,) + shape)
    s, y = layer_forward(block, x)
    a = layer_forward(main[0], x)[1]
    b = layer_forward(skip[0], x)[1]
    assert np.array_equal(s, (a - 1) + (b - 1))
    assert np.array_equal(y, (s >= t[:, 0]).astype(int))


@pytest.mark.parametrize("enc,shifts", [(IntCodes(2, -1, 3), (0, 0)), (IntCodes(2, -1, 3), (2, 0)),
                                        (BINARY, (0, 1)), (BINARY, (3, 2))])
def test_identity_residual_by_hand(enc, shifts):
    """An empty skip path adds the block's input values (``2c - 1`` for a +-1 map), each
    path shifted by its power of two."""
    rng = np.random.default_rng(5)
    shape = (5, 5, 3)
    main = (_conv(rng, shape, 3, 3, pad=1, count=3, enc=enc),)
    t = np.sort(rng.integers(-8, 8, (3, 2)), axis=1)
    block = Residual(shape, main, (), Thresholds(t, offset=-1), shifts)
    x = rng.integers(0, 2 if enc == BINARY else 4, (4,) + shape)
    s, y = layer_forward(block, x)
    a = layer_forward(main[0], x)[1]
    expected = (a - 1) * 2 ** shifts[0] + _values(x, enc) * 2 ** shifts[1]
    assert np.array_equal(s, expected)
    lo, hi = block.sum_range()
    assert lo == -(2 ** shifts[0]) + _values(0, enc) * 2 ** shifts[1]
    assert hi == 2 * 2 ** shifts[0] + _values(1 if enc == BINARY else 3, enc) * 2 ** shifts[1]
    assert np.array_equal(y, (s[..., None] >= t).sum(axis=-1))


def test_residual_refusals():
    rng = np.random.default_rng(6)
    shape = (5, 5, 2)
    main = (_conv(rng, shape, 2, 3, pad=1, count=3),)
    act = Thresholds(np.zeros((2, 1), int))
    for shifts in [(0,), (-1, 0), (0, 16), (0.5, 0), (True, 0)]:
        with pytest.raises(ModelError, match="shifts must be two integers"):
            Residual(shape, main, (), act, shifts)
    with pytest.raises(ModelError, match="at least one layer on its main path"):
        Residual(shape, (), main, act)
    with pytest.raises(ModelError, match="different shapes"):
        Residual(shape, (_conv(rng, shape, 2, 3, count=3),), (), act)


def _mnist_conv_net(rng):
    conv = _conv(rng, (8, 8, 1), 4, 3, pad=1)
    pool = MaxPool((8, 8, 4), 2)
    dense = Dense(rng.choice([-1, 1], (3, 64)), Bias(np.zeros(3, np.int64)))
    return Network("tiny", InputQuant((8, 8), 128), [conv, pool, dense])


def test_conv_network_runs_and_flattens_channels_innermost():
    rng = np.random.default_rng(3)
    net = _mnist_conv_net(rng)
    pixels = rng.integers(0, 256, (4, 8, 8))
    trace = run(net, pixels)
    flat = trace.layers[1].outputs.reshape(4, -1)
    pop = ((2 * flat - 1) @ net.layers[2].weights.T.astype(int) + 64) // 2
    assert np.array_equal(trace.scores, pop)


@pytest.mark.parametrize("make,match", [
    (lambda r: [MaxPool((8, 8, 1), 2), Dense(r.choice([-1, 1], (3, 16)), Bias(np.zeros(3, int)))],
     None),
    (lambda r: [Dense(r.choice([-1, 1], (64, 64)), Thresholds(np.zeros((64, 1), int))),
                _conv(r, (8, 8, 1), 3, 3)], "takes \\(8, 8, 1\\) maps but receives \\(64,\\)"),
    (lambda r: [_conv(r, (8, 8, 1), 3, 3, bias=True), MaxPool((6, 6, 3), 2)],
     "hidden layers must end in thresholds"),
    (lambda r: [_conv(r, (8, 8, 2), 3, 3)], "takes \\(8, 8, 2\\) maps but receives \\(8, 8\\)"),
    (lambda r: [_conv(r, (8, 8, 1), 3, 3), MaxPool((6, 6, 3), 2),
                MaxPool((3, 3, 3), 4)], "does not fit the 3x3 map"),
])
def test_network_shape_errors(make, match):
    rng = np.random.default_rng(4)
    if match is None:   # a valid chain
        Network("ok", InputQuant((8, 8), 128), make(rng))
        return
    with pytest.raises(ModelError, match=match):
        Network("bad", InputQuant((8, 8), 128), make(rng))


def test_conv_parameter_errors():
    rng = np.random.default_rng(6)
    with pytest.raises(ModelError, match=r"pad value \(an input code\) must be .* \[0, 1\], not 2"):
        _conv(rng, (5, 5, 1), 2, 3, pad=1, pad_value=2)
    with pytest.raises(ModelError, match="fan-in 18"):
        Conv2D((5, 5, 2), Dense(rng.choice([-1, 1], (2, 9)), Bias(np.zeros(2, int))), 3)
    with pytest.raises(ModelError, match="padding must be"):
        _conv(rng, (5, 5, 1), 2, 3, pad=3)
    with pytest.raises(ModelError, match="must end in a multi-threshold"):
        Residual((5, 5, 1), (_conv(rng, (5, 5, 1), 2, 3, pad=1),),
                 (_conv(rng, (5, 5, 1), 2, 1),), Thresholds(np.zeros((2, 1), int)))


def test_conv_model_file_roundtrip(tmp_path):
    from golden.formats.npz import load, save
    rng = np.random.default_rng(7)
    shape = (6, 6, 4)
    main = (_conv(rng, shape, 4, 3, pad=1, pad_value=1), _conv(rng, shape, 4, 3, pad=1, count=15))
    skip = (_conv(rng, shape, 4, 1, count=15),)
    block = Residual(shape, main, skip, Thresholds(np.sort(rng.integers(-6, 8, (4, 1)), axis=1)))
    identity = Residual(shape, main[1:], (), Thresholds(np.sort(rng.integers(-6, 8, (4, 1)), axis=1)),
                        (1, 0))
    layers = [_conv(rng, (6, 6, 1), 4, 3, pad=1), block, identity, MaxPool(shape, 2),
              GlobalMaxPool((3, 3, 4)),
              Dense(rng.choice([-1, 1], (3, 4)), Bias(rng.integers(-2, 2, 3)))]
    net = Network("conv", InputQuant((6, 6), 100), layers)
    save(net, tmp_path / "a.npz")
    back = load(tmp_path / "a.npz")
    save(back, tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    x = rng.integers(0, 256, (5, 6, 6))
    assert np.array_equal(run(net, x).scores, run(back, x).scores)
    assert [type(layer).__name__ for layer in back.layers] == \
        ["Conv2D", "Residual", "Residual", "MaxPool", "GlobalMaxPool", "Dense"]
    assert back.layers[2].skip == () and back.layers[2].shifts == (1, 0)


def test_ceil_mode_max_pool_takes_the_maximum_of_partial_windows(tmp_path):
    """PyTorch's ceil mode: a 3x3 stride-2 max-pool over a 6x5 map has 3x2 windows, the
    last row of windows holding rows 4 and 5 only; by loops. The flag round-trips."""
    from golden.formats.npz import load, save
    rng = np.random.default_rng(9)
    x = rng.integers(0, 4, (3, 6, 5, 2))
    pool = MaxPool((6, 5, 2), 3, 2, ceil=True)
    assert pool.out_shape == (3, 2, 2) and pool.padded_shape == (7, 5)
    expected = np.zeros((3, 3, 2, 2), np.int64)
    for oy in range(3):
        for ox in range(2):
            expected[:, oy, ox] = x[:, 2 * oy:2 * oy + 3, 2 * ox:2 * ox + 3].max(axis=(1, 2))
    assert np.array_equal(pool.forward(x), expected)
    assert MaxPool((6, 5, 2), 3, 2).out_shape == (2, 2, 2)
    with pytest.raises(ModelError, match="ceil must be true or false"):
        MaxPool((6, 5, 2), 3, 2, ceil=1)
    net = Network("ceil", InputQuant((6, 5, 2), 9), [
        pool, Dense(rng.choice([-1, 1], (3, 12)), Bias(np.zeros(3, np.int64)))])
    save(net, tmp_path / "a.npz")
    assert load(tmp_path / "a.npz").layers[0].ceil


def test_floor_mode_pools_drop_the_rows_and_columns_no_window_reads():
    """PyTorch's default floor mode: a 2x2 stride-2 max-pool over a 5x5 map reads rows and
    columns 0-3 only, and a sum pool likewise."""
    from golden.model import BINARY
    from golden.pool import SumPool
    x = np.arange(2 * 5 * 5 * 2).reshape(2, 5, 5, 2) % 7
    pool = MaxPool((5, 5, 2), 2)
    assert pool.out_shape == (2, 2, 2) and not pool.tiles
    expected = x[:, :4, :4].reshape(2, 2, 2, 2, 2, 2).max(axis=(2, 4))
    assert np.array_equal(pool.forward(x), expected)
    bits = x % 2
    sums = SumPool((5, 5, 2), BINARY, Thresholds(np.zeros((2, 1), np.int64)), 2, 2).sums(bits)
    assert np.array_equal(sums, bits[:, :4, :4].reshape(2, 2, 2, 2, 2, 2).sum(axis=(2, 4)))


def test_recode_pads_a_pm1_map_with_zero(tmp_path):
    """A +-1 map recoded to codes of -1, 0, +1 and convolved with zero padding equals the
    convolution of the values with a 0 border, by loops; it round-trips through .npz."""
    from golden.formats.npz import load, save
    from golden.recode import ZERO_CODE, ZERO_PADDABLE, Recode
    rng = np.random.default_rng(8)
    shape = (5, 4, 3)
    recode = Recode(shape)
    conv = _conv(rng, shape, 4, 3, pad=1, pad_value=ZERO_CODE, enc=ZERO_PADDABLE, bias=True)
    x = rng.integers(0, 2, (6,) + shape)
    codes = recode.forward(x)
    assert recode.io(shape, BINARY, "r") == (shape, ZERO_PADDABLE)
    acc, _ = layer_forward(conv, codes)
    values = np.pad(2 * x - 1, ((0, 0), (1, 1), (1, 1), (0, 0)))
    w = conv.weights.reshape(4, 3, 3, 3)
    expected = np.zeros((6, 5, 4, 4), np.int64)
    for oy in range(5):
        for ox in range(4):
            expected[:, oy, ox] = np.einsum("nijc,oijc->no", values[:, oy:oy + 3, ox:ox + 3], w)
    assert np.array_equal(acc, expected)
    with pytest.raises(ModelError, match="expects 'binary' inputs"):
        recode.io(shape, ZERO_PADDABLE, "r")
    dense = Dense(rng.choice([-1, 1], (3, 80)), Bias(np.zeros(3, np.int64)),
                  input_encoding=BINARY)
    net = Network("zp", InputQuant((5, 4, 3), 128),
                  [recode, _conv(rng, shape, 4, 3, pad=1, pad_value=ZERO_CODE, enc=ZERO_PADDABLE),
                   dense])
    save(net, tmp_path / "a.npz")
    back = load(tmp_path / "a.npz")
    assert isinstance(back.layers[0], Recode)
    pixels = rng.integers(0, 256, (4, 5, 4, 3))
    assert np.array_equal(run(net, pixels).scores, run(back, pixels).scores)
