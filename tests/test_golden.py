"""golden/: arithmetic against independent formulations, the model file, the importer."""

import numpy as np
import pytest

from golden.errors import ModelError
from golden.formats import load_model
from golden.formats.npz import load, save
from golden.model import Bias, Dense, InputQuant, Network, Thresholds
from golden.mvau import signed_dot, xnor_popcount, xnor_popcount_reference
from golden.network import run
from golden.packing import pack_lanes, signed_width, unpack_lanes, unsigned_width, weight_words
from golden.thresholding import threshold


@pytest.mark.parametrize("mw", [1, 7, 63, 64, 65, 784, 1024])
def test_xnor_popcount_matches_dot_product(mw):
    rng = np.random.default_rng(mw)
    x = rng.integers(0, 2, (9, mw), dtype=np.uint8)
    w = rng.integers(0, 2, (13, mw), dtype=np.uint8)
    x[0], x[1], w[0] = 1, 0, 1
    acc = xnor_popcount(x, w)
    assert np.array_equal(acc, xnor_popcount_reference(x, w))
    assert acc[0, 0] == mw and acc[1, 0] == 0 and acc.min() >= 0 and acc.max() <= mw


def test_threshold_directions_by_loops():
    rng = np.random.default_rng(0)
    t = np.sort(rng.integers(-2, 12, (6, 3)), axis=1)
    d = np.array([1, -1, 1, -1, 1, -1])
    t[d < 0] = t[d < 0, ::-1]
    act = Thresholds(t, d)
    acc = rng.integers(-1, 12, (40, 6))
    y = threshold(acc, act)
    for n in range(40):
        for c in range(6):
            want = sum((acc[n, c] >= v) if d[c] > 0 else (acc[n, c] <= v) for v in t[c])
            assert y[n, c] == want


def test_widths_are_minimal():
    for hi in [0, 1, 2, 3, 4, 255, 256, 1024]:
        w = unsigned_width(hi)
        assert hi < 1 << w and (w == 1 or hi >= 1 << (w - 1))
    for lo, hi in [(-1, 0), (-128, 127), (-129, 127), (-128, 128), (0, 1), (-32767, 1025)]:
        w = signed_width(lo, hi)
        assert -(1 << (w - 1)) <= lo and hi < 1 << (w - 1)
        assert w == 1 or not (-(1 << (w - 2)) <= lo and hi < 1 << (w - 2))


def test_pack_lanes_roundtrip_and_overflow():
    values = np.array([[-4, 3, 0, -1]])
    word = pack_lanes(values, 3, signed=True)[0]
    assert unpack_lanes(word, 4, 3, signed=True) == [-4, 3, 0, -1]
    with pytest.raises(ValueError, match="do not fit signed 3-bit"):
        pack_lanes([[4]], 3, signed=True)


def test_weight_words_layout():
    rng = np.random.default_rng(3)
    bits = rng.integers(0, 2, (6, 8), dtype=np.uint8)
    words = weight_words(bits, simd=4, pe=3)
    sf, nf = 2, 2
    for f in range(nf):
        for s in range(sf):
            for p in range(3):
                for k in range(4):
                    assert (words[f * sf + s] >> (p * 4 + k)) & 1 == bits[f * 3 + p, s * 4 + k]


def small_network(seed=0):
    rng = np.random.default_rng(seed)
    l0 = Dense(rng.choice([-1, 1], (8, 16)),
               Thresholds(rng.integers(4, 12, (8, 1)), rng.choice([-1, 1], 8)))
    l1 = Dense(rng.choice([-1, 1], (3, 8)), Bias(rng.integers(-5, 5, 3)))
    return Network("small", InputQuant((4, 4), 100), [l0, l1], ["a", "b", "c"])


def assert_roundtrip(net, tmp_path):
    """Save ``net`` twice (byte-identical), load it back, and check every layer's weights,
    encodings and scales and the scores on random images; returns the loaded network."""
    save(net, tmp_path / "a.npz")
    save(net, tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    back = load(tmp_path / "a.npz")
    for a, b in zip(net.layers, back.layers):
        assert a.weight_encoding == b.weight_encoding
        assert np.array_equal(a.weights, b.weights)
        assert np.array_equal(a.scale_exp, b.scale_exp)
    pixels = np.random.default_rng(1).integers(0, 256, (50, *net.input.shape), dtype=np.uint8)
    assert np.array_equal(run(net, pixels).scores, run(back, pixels).scores)
    return back


def test_model_file_roundtrip_is_deterministic(tmp_path):
    back = assert_roundtrip(small_network(), tmp_path)
    assert back.classes == ("a", "b", "c") and back.input.threshold == 100


def test_model_errors_are_one_clear_line(tmp_path):
    with pytest.raises(ModelError, match="no such model file or folder"):
        load_model(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="not a readable .npz model file"):
        load_model(tmp_path / "junk.npz")
    with pytest.raises(ModelError, match="not a BNN-PYNQ parameter folder"):
        load_model(tmp_path)
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ModelError, match="array 'model.json' is missing"):
        load_model(tmp_path / "other.npz")
    rng = np.random.default_rng(0)
    with pytest.raises(ModelError, match="layer 1 takes 9 inputs but receives 8"):
        Network("bad", InputQuant((4, 4), 128),
                [Dense(np.ones((8, 16), int), Thresholds(np.zeros((8, 1), int))),
                 Dense(np.ones((3, 9), int), Bias(np.zeros(3, int)))])
    with pytest.raises(ModelError, match=r"binary weights must take values in \[-1, 1\]; found 0"):
        Dense(rng.integers(-1, 2, (3, 4)) * 0, Bias(np.zeros(3, int)))
    with pytest.raises(ModelError, match="not sorted"):
        Thresholds(np.array([[3, 1]]))


def test_truncated_model_file(tmp_path):
    import zipfile
    save(small_network(), tmp_path / "m.npz")
    with zipfile.ZipFile(tmp_path / "m.npz") as src, \
            zipfile.ZipFile(tmp_path / "cut.npz", "w") as dst:
        for item in src.infolist():
            if item.filename != "layer1.bias.npy":
                dst.writestr(item, src.read(item))
    with pytest.raises(ModelError, match="array 'layer1.bias' is missing"):
        load(tmp_path / "cut.npz")


def test_bnnpynq_lfc_import(shared, tmp_path):
    net = load_model(shared / "models/bnn-pynq/lfcW1A1")
    assert [(l.in_features, l.out_features) for l in net.layers] == \
        [(784, 1024), (1024, 1024), (1024, 1024), (1024, 10)]
    # Conversion to the project's format is exact.
    save(net, tmp_path / "lfc.npz")
    back = load_model(tmp_path / "lfc.npz")
    for a, b in zip(net.layers, back.layers):
        assert np.array_equal(a.weights, b.weights)


def test_bnnpynq_cnv_import_follows_the_documented_semantics(shared):
    """CNV-W1A1 against the README's rules applied to the raw files by loops: layer 0 is
    ``thr < 2*sum(w*q)`` on the signed 8-bit pixels, layer 1 ``thr < popcount``, windows in
    (ky, kx, c) order, no padding, then a 2x2 OR max-pool."""
    folder = shared / "models/bnn-pynq/cnvW1A1"
    net = load_model(folder)
    kinds = [type(layer).__name__ for layer in net.layers]
    assert kinds == ["Conv2D", "Conv2D", "MaxPool", "Conv2D", "Conv2D", "MaxPool", "Conv2D",
                     "Conv2D", "Dense", "Dense", "Dense"]
    assert [layer.out_shape for layer in net.layers[:8]] == [
        (30, 30, 64), (28, 28, 64), (14, 14, 64), (12, 12, 128), (10, 10, 128), (5, 5, 128),
        (3, 3, 256), (1, 1, 256)]
    assert net.layers[-1].out_features == 10 and net.classes[0] == "Airplane"

    def raw(layer, mw, mh, simd, pe):
        bits = np.zeros((mh, mw), np.uint8)
        thr = []
        for p in range(pe):
            words = np.fromfile(folder / f"{layer}-{p}-weights.bin", "<u8")
            for idx, word in enumerate(words):
                nf, sf = divmod(idx, mw // simd)
                for s_ in range(simd):
                    bits[nf * pe + p, sf * simd + s_] = (int(word) >> s_) & 1
            thr.append(np.fromfile(folder / f"{layer}-{p}-thres.bin", "<i8"))
        t = np.zeros(mh, np.int64)
        for p in range(pe):
            t[p::pe] = thr[p]
        return 2 * bits.astype(np.int64) - 1, t

    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (1, 32, 32, 3))
    trace = run(net, image)
    q = np.clip(np.floor((image[0] / 255 * 2 - 1) * 128 + 0.5), -128, 127).astype(np.int64)
    w0, t0 = raw(0, 27, 64, 3, 16)
    for oy, ox in [(0, 0), (5, 17), (29, 29)]:
        window = q[oy:oy + 3, ox:ox + 3].reshape(-1)
        want = (t0 < 2 * (w0 @ window)).astype(int)
        assert np.array_equal(trace.layers[0].outputs[0, oy, ox], want)
    w1, t1 = raw(1, 576, 64, 32, 32)
    y0 = trace.layers[0].outputs[0]
    for oy, ox in [(0, 0), (27, 3)]:
        window = y0[oy:oy + 3, ox:ox + 3].reshape(-1)
        pop = (w1 == 2 * window - 1).sum(axis=1)
        assert np.array_equal(trace.layers[1].outputs[0, oy, ox], (t1 < pop).astype(int))
    y1 = trace.layers[1].outputs[0]
    assert np.array_equal(trace.layers[2].outputs[0, 3, 4], y1[6:8, 8:10].max(axis=(0, 1)))


def test_bnnpynq_cnv_input_table_is_the_float_formula():
    from golden.formats.bnnpynq import cnv_input_table
    p = np.arange(256)
    q = np.clip(np.floor((p / 255 * 2 - 1) * 128 + 0.5), -128, 127).astype(np.int64)
    assert np.array_equal(cnv_input_table() - 128, q)


def test_evaluate_reproduces_published_accuracy(shared, capsys):
    from golden.evaluate import main
    main(["--model", str(shared / "models/bnn-pynq/lfcW1A1"), "--data", str(shared / "data/mnist")])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("accuracy: ")
    accuracy = float(last.split()[1])
    assert 0.983 <= accuracy <= 0.984   # published 98.35 %; thr < acc gives 9834/10000


def test_evaluate_lfc_w1a2_published_accuracy(shared, capsys):
    from golden.evaluate import main
    main(["--model", str(shared / "models/bnn-pynq/lfcW1A2"), "--data", str(shared / "data/mnist")])
    accuracy = float(capsys.readouterr().out.strip().splitlines()[-1].split()[1])
    assert accuracy == 0.9855   # published 98.55 %


def test_signed_dot_by_loops():
    rng = np.random.default_rng(5)
    values = rng.integers(-1, 2, (4, 9))
    w = rng.integers(-3, 4, (5, 9))
    acc = signed_dot(values, w)
    for n in range(4):
        for j in range(5):
            assert acc[n, j] == sum(w[j, i] * values[n, i] for i in range(9))
    # Past the float64-exact bound it switches to int64 and stays exact.
    big = np.full((1, 4), 1 << 40)
    assert signed_dot(big, np.full((1, 4), 1 << 12)).item() == 4 << 52


def test_bnnpynq_convert_command(shared, tmp_path):
    from golden.convert import main
    main([str(shared / "models/bnn-pynq/lfcW1A1"), "--out", str(tmp_path / "lfc.npz")])
    net = load_model(tmp_path / "lfc.npz")
    assert net.name == "lfcW1A1" and len(net.layers) == 4
