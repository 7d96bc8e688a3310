"""Convolutional networks in Verilator against golden: sliding windows, pools, a residual
block, and BNN-PYNQ's CNV-W1A1. Labels and every class score must equal golden, and the
measured cycles per inference in steady state the analytical initiation interval."""

import numpy as np
import pytest

from golden.conv import Conv2D
from golden.model import BINARY, Bias, Dense, InputQuant, Network, Thresholds
from golden.network import layer_forward
from golden.packing import pack_lanes
from golden.pool import GlobalMaxPool, MaxPool
from golden.residual import Residual
from hdl.folding import LayerFolding
from sim_tests.test_network import check_network


def quantile_act(rng, acc, count, offset):
    """Thresholds at quantiles of the accumulators ``acc`` (..., C) of random data, so
    that every output code occurs; random directions."""
    flat = acc.reshape(-1, acc.shape[-1])
    q = np.quantile(flat, np.linspace(0.2, 0.8, count), axis=0).T.round().astype(np.int64)
    direction = rng.choice([-1, 1], len(q))
    q[direction < 0] = q[direction < 0, ::-1]
    return Thresholds(q, direction, offset=offset if count > 1 else 0)


def make_conv(rng, x, in_shape, oc, k, *, stride=1, pad=0, pad_value=0, count=1, enc=BINARY):
    """A convolution with random +-1 weights and quantile thresholds on the sample ``x``."""
    fan_in = k * k * in_shape[2]
    w = rng.choice([-1, 1], (oc, fan_in))
    probe = Conv2D(in_shape, Dense(w, Bias(np.zeros(oc, np.int64)), input_encoding=enc), k,
                   stride, pad, pad_value)
    acc, _ = layer_forward(probe, x)
    act = quantile_act(rng, acc, count, offset=-(count // 2))
    layer = Conv2D(in_shape, Dense(w, act, input_encoding=enc), k, stride, pad, pad_value)
    return layer, layer_forward(layer, x)[1]


def pooled_network(seed):
    """8x8 bits -> 3x3 conv (pad 1, pad bit 1) 4 ch -> 2x2 max-pool -> 3x3 conv 8 ch, 2-bit
    codes -> global max-pool -> dense 8 -> 3 scores."""
    rng = np.random.default_rng(seed)
    inp = InputQuant((8, 8), 128)
    x = inp(rng.integers(0, 256, (300, 8, 8))).reshape(300, 8, 8, 1)
    c0, x = make_conv(rng, x, (8, 8, 1), 4, 3, pad=1, pad_value=1)
    pool = MaxPool((8, 8, 4), 2)
    x = pool.forward(x)
    c1, x = make_conv(rng, x, (4, 4, 4), 8, 3, count=3)
    gpool = GlobalMaxPool((2, 2, 8))
    dense = Dense(rng.choice([-1, 1], (3, 8)), Bias(rng.integers(-4, 4, 3)),
                  input_encoding=c1.activation.next_encoding())
    return Network("pooled", inp, [c0, pool, c1, gpool, dense])


def residual_network(seed, deep=False):
    """BiNeal-style: 3x3 conv to bits, a residual block (main 3x3 pad 1 and skip 1x1,
    both to 4-bit codes, added and re-binarised), 2x2 max-pool, dense scores. ``deep``:
    the main path is two 3x3 convolutions (bits, then 4-bit codes)."""
    rng = np.random.default_rng(seed)
    inp = InputQuant((6, 6), 100)
    x = inp(rng.integers(0, 256, (300, 6, 6))).reshape(300, 6, 6, 1)
    c0, x = make_conv(rng, x, (6, 6, 1), 4, 3, pad=1)
    main = []
    a = x
    if deep:
        layer, a = make_conv(rng, a, (6, 6, 4), 4, 3, pad=1)
        main.append(layer)
    layer, a = make_conv(rng, a, (6, 6, 4), 4, 3, pad=1, count=15)
    main.append(layer)
    skip, b = make_conv(rng, x, (6, 6, 4), 4, 1, count=15)
    probe = Residual((6, 6, 4), main, (skip,), Thresholds(np.zeros((4, 1), np.int64)))
    s = probe.add(a, b)
    block = Residual((6, 6, 4), main, (skip,), quantile_act(rng, s, 1, 0))
    x = layer_forward(block, x)[1]
    pool = MaxPool((6, 6, 4), 2)
    dense = Dense(rng.choice([-1, 1], (3, 36)), Bias(rng.integers(-4, 4, 3)))
    return Network("residual", inp, [c0, block, pool, dense])


def identity_residual_network(seed, binary_skip=False):
    """Bi-Real-style: 3x3 conv to 2-bit codes (or to bits, ``binary_skip``), a residual
    block whose main path is a 3x3 pad-1 conv to 2-bit codes and whose skip path is the
    identity, the two added with the skip's values doubled (``shifts`` (0, 1)) and
    re-quantised to 2 bits, 2x2 max-pool, dense scores."""
    rng = np.random.default_rng(seed)
    inp = InputQuant((6, 6), 100)
    x = inp(rng.integers(0, 256, (300, 6, 6))).reshape(300, 6, 6, 1)
    c0, x = make_conv(rng, x, (6, 6, 1), 4, 3, pad=1, count=1 if binary_skip else 3)
    layer, a = make_conv(rng, x, (6, 6, 4), 4, 3, pad=1, count=3,
                         enc=c0.activation.next_encoding())
    probe = Residual((6, 6, 4), (layer,), (), Thresholds(np.zeros((4, 1), np.int64)), (0, 1))
    s = probe.add(a, x)
    block = Residual((6, 6, 4), (layer,), (), quantile_act(rng, s, 3, -1), (0, 1))
    pool = MaxPool((6, 6, 4), 2)
    dense = Dense(rng.choice([-1, 1], (3, 36)), Bias(rng.integers(-4, 4, 3)),
                  input_encoding=block.activation.next_encoding())
    return Network("identity_residual", inp, [c0, block, pool, dense])


@pytest.mark.parametrize("binary_skip,folding", [
    (False, [LayerFolding(1, 2), LayerFolding(4, 4), LayerFolding(4, 3)]),
    (True, [LayerFolding(1, 4), LayerFolding(2, 2), LayerFolding(12, 1)]),
], ids=["codes", "bits"])
def test_identity_residual_network(verilator, binary_skip, folding):
    """An identity shortcut (a width converter from the block's input PE to the main
    path's), the skip's values shifted by one, on 2-bit codes and on a +-1 map."""
    network = identity_residual_network(45 + binary_skip, binary_skip)
    pixels = images(np.random.default_rng(46), (6, 6), 8)
    check_network(network, folding, "conv_identity_residual_" + "_".join(map(str, folding))
                  + ("_bits" if binary_skip else ""), pixels)


def strided_network(seed):
    """Strides larger than the kernel (rows and columns no window reads): 9x9 bits ->
    3x3 conv pad 1 to 4 channels -> 1x1 conv stride 2 (9 -> 5) -> 2x2 conv stride 3 to 2-bit
    codes (5 -> 2, the last row and column unread) -> dense scores."""
    rng = np.random.default_rng(seed)
    inp = InputQuant((9, 9), 100)
    x = inp(rng.integers(0, 256, (300, 9, 9))).reshape(300, 9, 9, 1)
    c0, x = make_conv(rng, x, (9, 9, 1), 4, 3, pad=1)
    c1, x = make_conv(rng, x, (9, 9, 4), 4, 1, stride=2)
    c2, x = make_conv(rng, x, (5, 5, 4), 6, 2, stride=3, count=3)
    dense = Dense(rng.choice([-1, 1], (3, 24)), Bias(rng.integers(-4, 4, 3)),
                  input_encoding=c2.activation.next_encoding())
    return Network("strided", inp, [c0, c1, c2, dense])


@pytest.mark.parametrize("folding", [
    [LayerFolding(1, 2), LayerFolding(2, 4), LayerFolding(4, 3), LayerFolding(6, 1)],
    pytest.param([LayerFolding(1, 4), LayerFolding(4, 1), LayerFolding(8, 2), LayerFolding(24, 3)],
                 marks=pytest.mark.slow),
], ids=["a", "b"])
def test_stride_larger_than_kernel(verilator, folding):
    """:class:`hdl.window.SkipUnread` drops the pixels no window reads."""
    network = strided_network(47)
    assert network.layers[2].out_shape == (2, 2, 6)
    pixels = images(np.random.default_rng(48), (9, 9), 8)
    check_network(network, folding, "conv_strided_" + "_".join(map(str, folding)), pixels)


def ceil_pool_network(seed):
    """PyTorch's ceil mode: 7x7 bits -> 3x3 conv pad 1 to 4 channels -> 2x2 stride-2
    max-pool in ceil mode (4x4, the last row and column of windows partial) -> 3x3 conv to
    2-bit codes -> dense scores."""
    rng = np.random.default_rng(seed)
    inp = InputQuant((7, 7), 128)
    x = inp(rng.integers(0, 256, (300, 7, 7))).reshape(300, 7, 7, 1)
    c0, x = make_conv(rng, x, (7, 7, 1), 4, 3, pad=1)
    pool = MaxPool((7, 7, 4), 2, 2, ceil=True)
    x = pool.forward(x)
    c1, x = make_conv(rng, x, (4, 4, 4), 6, 3, count=3)
    dense = Dense(rng.choice([-1, 1], (3, 24)), Bias(rng.integers(-4, 4, 3)),
                  input_encoding=c1.activation.next_encoding())
    return Network("ceil_pool", inp, [c0, pool, c1, dense])


@pytest.mark.parametrize("folding", [
    [LayerFolding(1, 2), LayerFolding(4, 3), LayerFolding(6, 1)],
    [LayerFolding(1, 4), LayerFolding(2, 6), LayerFolding(8, 3)],
], ids=["pe2", "pe4"])
def test_ceil_mode_max_pool(verilator, folding):
    """:class:`hdl.window.PadEdge` pads the map with code 0 for the partial windows."""
    network = ceil_pool_network(49)
    assert network.layers[1].out_shape == (4, 4, 4)
    pixels = images(np.random.default_rng(50), (7, 7), 8)
    check_network(network, folding, "conv_ceil_pool_" + "_".join(map(str, folding)), pixels)


def images(rng, shape, n):
    pixels = rng.integers(0, 256, (n,) + shape, dtype=np.uint8)
    pixels[0], pixels[1] = 255, 0
    return pixels


@pytest.mark.parametrize("folding", [
    [LayerFolding(1, 2), LayerFolding(2, 4), LayerFolding(4, 1)],
    pytest.param([LayerFolding(1, 4), LayerFolding(4, 2), LayerFolding(8, 3)],
                 marks=pytest.mark.slow),
    # Taps mode: a 3x3 window column per beat (SIMD 3*C) in both convolutions.
    [LayerFolding(3, 4), LayerFolding(12, 2), LayerFolding(8, 3)],
], ids=["narrow", "wide", "taps"])
def test_pooled_network(verilator, folding):
    network = pooled_network(31)
    pixels = images(np.random.default_rng(32), (8, 8), 8)
    check_network(network, folding, "conv_pooled_" + "_".join(map(str, folding)), pixels)


@pytest.mark.parametrize("folding", [
    [LayerFolding(1, 2), LayerFolding(2, 2), LayerFolding(4, 2), LayerFolding(4, 3)],
    pytest.param([LayerFolding(1, 4), LayerFolding(4, 4), LayerFolding(1, 4), LayerFolding(12, 1)],
                 marks=pytest.mark.slow),
], ids=["a", "b"])
def test_residual_network(verilator, folding):
    network = residual_network(41)
    pixels = images(np.random.default_rng(42), (6, 6), 8)
    check_network(network, folding, "conv_residual_" + "_".join(map(str, folding)), pixels)


DEEP_FOLDING = [LayerFolding(1, 2), LayerFolding(2, 4), LayerFolding(4, 2), LayerFolding(4, 2),
                LayerFolding(4, 3)]


def test_residual_skip_fifo_depth_is_needed(verilator, monkeypatch):
    """With a two-convolution main path (4 rows of lag) the computed skip FIFO depth runs at
    the analytical rate; a 2-word FIFO deadlocks the block (the add waits for the main
    path, which waits for rows the full skip path keeps the broadcast from sending). The
    register slices (:func:`hdl.stages.register_handshakes`) hold a few words more on
    each path, enough for this small map, so the deadlock is shown without them: the
    depth must not rely on them."""
    import hdl.residual
    import hdl.stages.base
    network = residual_network(43, deep=True)
    pixels = images(np.random.default_rng(44), (6, 6), 6)
    check_network(network, DEEP_FOLDING, "conv_residual_deep", pixels)

    monkeypatch.setattr(hdl.residual, "skip_fifo_depth", lambda *args: 2)
    monkeypatch.setattr(hdl.stages.base, "register_handshakes", lambda units: units)
    from hdl.network import NetworkTop
    from sim_tests.harness import Simulation
    top = NetworkTop(network, DEEP_FOLDING)
    block = next(u for u in top.units if hasattr(u, "skip_depth"))
    assert block.skip_depth == 2
    sim = Simulation(top, "conv_residual_deep_fifo2")
    x = network.input(pixels)
    beats = [v for row in x for v in pack_lanes(row.reshape(-1, 1), 1)]
    res = sim.run(beats, len(pixels), max_cycles=20000)
    assert len(res.outputs) < len(pixels), "expected a deadlock with a 2-word skip FIFO"


def cifar_like_images(count, seed):
    """Synthetic 32x32 RGB images with image-like structure (smooth colour fields, edges
    and noise): CIFAR-10 is not in ../shared, and the RTL must equal golden on any input."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:32, 0:32] / 31.0
    out = np.empty((count, 32, 32, 3), np.uint8)
    for n in range(count):
        img = np.zeros((32, 32, 3))
        for c in range(3):
            a, b, d = rng.uniform(-1, 1, 3)
            img[..., c] = 128 + 90 * (a * xx + b * yy + d * np.sin(6 * (xx - yy) + c))
        cy, cx, r = rng.uniform(8, 24), rng.uniform(8, 24), rng.uniform(4, 10)
        blob = (yy * 31 - cy) ** 2 + (xx * 31 - cx) ** 2 < r * r
        img[blob] = rng.uniform(0, 255, 3)
        img += rng.normal(0, 12, img.shape)
        out[n] = np.clip(img, 0, 255).astype(np.uint8)
    out[0], out[1] = 255, 0
    return out


def _cnv(shared, cycles, count):
    from golden.formats import load_model
    from hdl.flow.build import choose_folding
    network = load_model(shared / "models/bnn-pynq/cnvW1A1")
    return network, choose_folding(network, cycles=cycles), cifar_like_images(count, 51)


@pytest.mark.slow
def test_cnv_w1a1(verilator, shared):
    """BNN-PYNQ CNV-W1A1 (6 conv + 3 dense, 8-bit first layer, two OR max-pools) at a
    32768-cycle folding, on synthetic images: every score equals golden, exact II."""
    network, folding, pixels = _cnv(shared, 32768, 5)
    check_network(network, folding, "net_cnvW1A1_32768", pixels, stall_runs=())


@pytest.mark.slow     # about 7 min of one worker from a cold Verilator cache
def test_cnv_w1a1_taps(verilator, shared):
    """CNV-W1A1 with its first two convolutions in taps mode (a whole 3-tap kernel column
    per beat: SIMD 9 on the RGB layer, 192 on the 64-channel one), the first layers that
    set the floor of 8,100 cycles per inference before: equal to golden, exact II."""
    from hdl.flow.folding import auto_folding
    network, _, pixels = _cnv(shared, 32768, 4)
    folding = auto_folding(network, 32768)
    folding[:2] = [LayerFolding(9, 8), LayerFolding(192, 4)]
    # Backpressure on the taps window is covered by sim_tests/test_window.py and the
    # pooled network; here full throughput only, to keep the default run short.
    check_network(network, folding, "net_cnvW1A1_taps", pixels, stall_runs=())


@pytest.mark.slow
def test_cnv_w1a1_many(verilator, shared):
    network, folding, pixels = _cnv(shared, 32768, 10)
    # Its own build directory: tests may run in parallel (pytest-xdist).
    check_network(network, folding, "net_cnvW1A1_32768_many", pixels,
                  stall_runs=((0.8, 0.8),))


@pytest.mark.slow
def shipped_model(name, count, seed):
    """``(network, pixels)``: the model ``models/NAME`` and ``count`` MNIST test digits
    (random 28x28 images from ``seed`` when ../shared is not there)."""
    from pathlib import Path

    from golden.datasets import load_mnist
    from golden.formats import load_model
    root = Path(__file__).resolve().parent.parent
    network = load_model(root / "models" / name)
    mnist = root.parent / "shared" / "data" / "mnist"
    if mnist.is_dir():
        return network, load_mnist(mnist, limit=count)[0]
    return network, images(np.random.default_rng(seed), (28, 28), count)


def test_trained_residual_conv_net(verilator):
    """The project's own trained conv net with a residual block (models/, trained by
    training/mnist_conv.py) end to end in RTL: every score equals golden, exact II."""
    from hdl.flow.build import choose_folding
    network, pixels = shipped_model("mnist_conv_residual.npz", 6, 61)
    folding = choose_folding(network, cycles=8192)
    check_network(network, folding, "net_mnist_conv_residual", pixels, stall_runs=((0.7, 0.7),))


@pytest.mark.slow
def test_brevitas_cnn_from_qonnx(verilator, shared):
    # Brevitas' own QONNX export (tests/data/make_brevitas_cases.py): an 8-bit input table,
    # zero-padded convolutions with 2-bit per-channel weights (shift elements), 2-bit ReLU
    # codes, max-pools and power-of-two score scales; every score equal to golden.
    from pathlib import Path

    from golden.datasets import load_mnist
    from golden.formats import load_model
    from hdl.flow.build import choose_folding
    root = Path(__file__).resolve().parent.parent
    network = load_model(root / "tests/data/brevitas_cnn_w2a2.onnx")
    images, _ = load_mnist(shared / "data/mnist", limit=4)
    folding = choose_folding(network, cycles=8192)
    check_network(network, folding, "net_brevitas_cnn_w2a2", images, stall_runs=((0.7, 0.7),))


def test_binary_cnn_board_model(verilator):
    """The smaller shipped binary CNN (models/mnist_bcnn.npz, no hidden dense layer) at
    a board folding (1x16,8x8,1x10), on real digits when ../shared is there: every score
    equals golden, exact II."""
    from hdl.flow.build import choose_folding
    network, pixels = shipped_model("mnist_bcnn.npz", 4, 62)
    folding = choose_folding(network, "1x16,8x8,1x10")
    check_network(network, folding, "net_mnist_bcnn", pixels, stall_runs=())


def test_default_board_model(verilator):
    """The default model (``models/mnist_bcnn_h512.npz``, the 512-neuron binary CNN) at
    the folding its no-option iCEBreaker build takes
    (``5x8,32x4,16x4:spram,1x1``: the 1600 x 512 dense layer's 819,200 weight bits in four
    SPRAM cell models, loaded from reset), on MNIST digits: every score equals golden,
    exact II."""
    from hdl.flow.build import choose_folding
    from hdl.network import NetworkTop
    network, pixels = shipped_model("mnist_bcnn_h512.npz", 4, 64)
    folding = choose_folding(network, "5x8,32x4,16x4:spram,1x1")
    assert sum(u.spram.cells for u in NetworkTop(network, folding).spram_units) == 4
    check_network(network, folding, "net_mnist_bcnn_h512", pixels, stall_runs=())


def test_larq_cnn(verilator):
    """The Larq-trained binary CNN (models/larq_mnist_cnn.h5: the sign of the pixels, a 5x5
    and a 3x3 convolution of sign kernels, the second padded with +1 (Larq's
    pad_values=1), max-pools before the batch norms), imported from its Keras H5 file:
    every score equals golden, exact II."""
    from hdl.flow.build import choose_folding
    network, pixels = shipped_model("larq_mnist_cnn.h5", 3, 63)
    folding = choose_folding(network, "1x32,32x8,1x10")
    check_network(network, folding, "net_larq_mnist_cnn", pixels, stall_runs=((0.7, 0.7),))


def average_pool_network(seed, kind):
    """7x7 bits -> 3x3 conv (pad 1) 4 ch -> an average pool and its quantizer (a sum pool:
    ``global`` over the map to 2-bit codes, or ``window``, 2x2 stride 2 in floor mode over
    the odd map, to bits) -> 2x2 floor-mode max-pool (``window``) -> dense 3 scores."""
    from golden.pool import SumPool
    rng = np.random.default_rng(seed)
    inp = InputQuant((7, 7), 128)
    x = inp(rng.integers(0, 256, (300, 7, 7))).reshape(300, 7, 7, 1)
    c0, x = make_conv(rng, x, (7, 7, 1), 4, 3, pad=1)
    layers = [c0]
    if kind == "global":
        probe = SumPool((7, 7, 4), BINARY, Thresholds(np.zeros((4, 1), np.int64)))
        pool = SumPool((7, 7, 4), BINARY, quantile_act(rng, probe.sums(x), 3, 0))
        x = pool.forward(x)
        layers.append(pool)
    else:
        probe = SumPool((7, 7, 4), BINARY, Thresholds(np.zeros((4, 1), np.int64)), 2, 2)
        pool = SumPool((7, 7, 4), BINARY, quantile_act(rng, probe.sums(x), 1, 0), 2, 2)
        x = pool.forward(x)                       # (3, 3, 4) bits
        layers += [pool, MaxPool((3, 3, 4), 2)]   # floor: one 2x2 window of the 3x3 map
        x = layers[-1].forward(x)
    enc = BINARY if kind == "window" else pool.activation.next_encoding()
    n = int(np.prod(x.shape[1:]))
    layers.append(Dense(rng.choice([-1, 1], (3, n)), Bias(rng.integers(-4, 4, 3)),
                        input_encoding=enc))
    return Network("avgpool_" + kind, inp, layers)


@pytest.mark.parametrize("kind,folding", [
    pytest.param("global", [LayerFolding(1, 2), LayerFolding(4, 3)], marks=pytest.mark.slow),
    ("window", [LayerFolding(3, 4), LayerFolding(2, 1)]),
])
def test_average_pool_network(verilator, kind, folding):
    """Sum pools (an average pool's window sums, thresholded per channel) and a floor-mode
    max-pool over an odd map, in Verilator: every score equal to golden, the exact II."""
    network = average_pool_network(51, kind)
    pixels = images(np.random.default_rng(52), (7, 7), 8)
    check_network(network, folding, f"conv_avgpool_{kind}", pixels)


@pytest.mark.slow
def test_imported_average_pool_graph(verilator, tmp_path):
    """A QONNX graph with a floor-mode max-pool over an odd map, a 2x2 average pool and a
    quantizer (tests/qonnx_graphs.py), imported and run in Verilator equal to golden."""
    import onnx

    from golden.formats.qonnx import import_qonnx
    from tests import qonnx_graphs as graphs
    path = tmp_path / "pooled.onnx"
    onnx.save(graphs.pooled(15, avg="window"), path)
    network = import_qonnx(path).network
    folding = [LayerFolding(1, 6), LayerFolding(6, 2), LayerFolding(4, 5)]
    pixels = images(np.random.default_rng(61), (11, 11), 8)
    check_network(network, folding, "conv_imported_avgpool", pixels)


@pytest.mark.slow
def test_brevitas_average_pool_cnn(verilator, shared):
    """Brevitas' own export of a CNN with a floor-mode max-pool over an odd map and a
    global average pool (a ``ReduceMean``) before a 4-bit ReLU
    (tests/data/make_brevitas_cases.py): every score equal to golden, exact II."""
    from pathlib import Path

    from golden.datasets import load_mnist
    from golden.formats import load_model
    from golden.pool import SumPool
    from hdl.flow.build import choose_folding
    root = Path(__file__).resolve().parent.parent
    network = load_model(root / "tests/data/brevitas_cnn_avgpool.onnx")
    assert any(isinstance(layer, SumPool) for layer in network.layers)
    images, _ = load_mnist(shared / "data/mnist", limit=4)
    folding = choose_folding(network, cycles=8192)
    check_network(network, folding, "net_brevitas_cnn_avgpool", images, stall_runs=((0.7, 0.7),))


@pytest.mark.parametrize("name", ["resnet_w2a2", "binary_resnet"])
def test_brevitas_residual_cnn(verilator, shared, name):
    """Brevitas' own exports of residual CNNs (tests/data/make_brevitas_cases.py): an
    identity shortcut whose paths' scales differ by a power of two, and a downsampling block
    with a 1x1 stride-2 skip convolution; on 2-bit codes and on +-1 maps padded with -1.
    Every score equal to golden, exact II, random backpressure."""
    from pathlib import Path

    from golden.datasets import load_mnist
    from golden.formats import load_model
    from hdl.flow.build import choose_folding
    root = Path(__file__).resolve().parent.parent
    network = load_model(root / f"tests/data/brevitas_{name}.onnx")
    blocks = [layer for layer in network.layers if isinstance(layer, Residual)]
    assert [len(b.skip) for b in blocks] == [0, 1]
    images, _ = load_mnist(shared / "data/mnist", limit=4)
    folding = choose_folding(network, cycles=8192)
    check_network(network, folding, f"net_brevitas_{name}", images, stall_runs=((0.7, 0.7),))


@pytest.mark.parametrize("graph", ["zero_padded", "zero_padded_residual"])
def test_zero_padded_binary_graphs(verilator, tmp_path, graph):
    """+-1 maps padded with 0 (tests/qonnx_graphs.py): the input map through an input table
    of the codes of -1, 0, +1, a hidden map through a :class:`~hdl.recode.BitsToCodes`, and
    the main path of a residual block; imported and run in Verilator equal to golden."""
    import onnx

    from golden.formats.qonnx import import_qonnx
    from golden.recode import Recode
    from hdl.flow.build import choose_folding
    from tests import qonnx_graphs as graphs
    model = (graphs.zero_padded_binary(71) if graph == "zero_padded"
             else graphs.residual(72, bipolar_fork=True, fork_pad=0.0, skip="conv"))
    path = tmp_path / f"{graph}.onnx"
    onnx.save(model, path)
    network = import_qonnx(path).network
    layers = network.layers if graph == "zero_padded" else network.layers[1].main
    assert any(isinstance(layer, Recode) for layer in layers)
    folding = choose_folding(network, cycles=256)
    pixels = images(np.random.default_rng(73), (8, 8), 8)
    check_network(network, folding, f"conv_{graph}", pixels)
