"""Whole networks in Verilator against golden.network: labels and every class score.

A random network exercises every block (negative directions, extreme thresholds, all
width-converter cases); the imported BNN-PYNQ LFC-W1A1 runs on real MNIST images. Measured
cycles per inference in steady state must equal the analytical initiation interval.
"""

import numpy as np
import pytest

from golden.datasets import load_mnist
from golden.formats import load_model
from golden.model import BINARY, Bias, Dense, InputQuant, Network, Thresholds
from golden.network import accumulate, layer_forward, run
from golden.packing import pack_lanes
from golden.weights import LutWeights, ShiftWeights, TernaryWeights, weight_encoding
from hdl.flow.build import choose_folding
from hdl.folding import LayerFolding
from hdl.network import NetworkTop
from hdl.stages import initiation_interval
from sim_tests.harness import Simulation


def random_network(seed, sizes=(64, 48, 24, 10), counts=(1, 1)):
    """Random layers; hidden layer i has counts[i] thresholds (more than one: multi-bit
    codes with offset -1, so the next layer sign-flips integer inputs)."""
    rng = np.random.default_rng(seed)
    layers = []
    encoding = BINARY
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        w = rng.choice([-1, 1], (n_out, n_in))
        centre, spread = (n_in // 2, 6) if encoding == BINARY else (0, n_in // 3)
        if i == len(sizes) - 2:
            act = Bias(rng.integers(-n_in, n_in, n_out))
        else:
            count = counts[i]
            direction = rng.choice([-1, 1], n_out)
            t = np.sort(rng.integers(centre - spread, centre + spread, (n_out, count)), axis=1)
            t[0], t[1] = -3 * n_in, 3 * n_in   # extreme: always / never reached
            t[direction < 0] = t[direction < 0, ::-1]
            act = Thresholds(t, direction, offset=0 if count == 1 else -1)
        layers.append(Dense(w, act, input_encoding=encoding))
        encoding = act.next_encoding() if isinstance(act, Thresholds) else None
    return Network("random", InputQuant((8, 8), 128), layers)


def expected_outputs(top, trace):
    width = top.argmax.width
    return [int(label) | (pack_lanes(row[None], width, signed=True)[0] << top.argmax.label_width)
            for label, row in zip(trace.labels, trace.scores)]


def check_network(network, folding, name, pixels, *, stall_runs=((0.5, 0.5),), netlist=None):
    """Simulate ``network`` at ``folding`` (its generated Verilog, or with ``netlist`` its
    synthesised netlist, see :class:`~sim_tests.harness.Simulation`) on ``pixels``: every
    label and score equal to golden, the exact II, and the ``stall_runs``; returns the
    simulation."""
    top = NetworkTop(network, folding)
    sim = Simulation(top, name, netlist=netlist)
    trace = run(network, pixels)
    x = network.input(pixels)
    in_bits = top.layers[0][0].in_bits
    in_beats = [v for row in x for v in pack_lanes(row.reshape(-1, top.in_simd), in_bits)]
    expected = expected_outputs(top, trace)

    ii = initiation_interval(network, folding)
    # SPRAM weights: the load bytes first, one per cycle at most.
    load = top.spram_image() if top.spram_units else None
    budget = (len(pixels) + 2 * len(folding) + 4) * ii * 2 + 5000 + 2 * len(load or b"")
    res = sim.run(in_beats, len(expected), max_cycles=budget, load=load)
    assert res.outputs == expected, "labels/scores differ from golden at full throughput"
    intervals = np.diff(res.out_cycles)
    # After the pipeline has filled, one inference per II cycles exactly.
    assert intervals[2:].tolist() == [ii] * (len(intervals) - 2), (ii, intervals.tolist())
    if load is not None:
        # Every load byte is a cycle; no input is taken before the weights are in.
        assert len(load) <= res.loaded_cycle <= res.in_cycles[0], (res.loaded_cycle,
                                                                  res.in_cycles[:1])

    for seed, (pv, pr) in enumerate(stall_runs):
        res = sim.run(in_beats, len(expected), valid_prob=pv, ready_prob=pr, seed=seed,
                      max_cycles=budget / min(pv, pr), load=load)
        assert res.outputs == expected, f"differs from golden with valid={pv} ready={pr}"
    return sim


@pytest.mark.parametrize("folding", [
    [LayerFolding(16, 8), LayerFolding(12, 4), LayerFolding(8, 5)],   # gather, split, mixed
    [LayerFolding(64, 1), LayerFolding(1, 24), LayerFolding(24, 10)],  # SF=1 and NF=1 layers
    pytest.param([LayerFolding(4, 6), LayerFolding(16, 3), LayerFolding(3, 2)],  # lcm
                 marks=pytest.mark.slow),
], ids=["fold_a", "fold_b", "fold_c"])
def test_random_network(verilator, folding):
    network = random_network(7)
    rng = np.random.default_rng(11)
    pixels = rng.integers(0, 256, (14, 8, 8), dtype=np.uint8)
    pixels[0], pixels[1] = 255, 0   # all +1 and all -1 inputs
    name = "net_random_" + "_".join(str(f) for f in folding)
    check_network(network, folding, name, pixels, stall_runs=((0.5, 0.5), (0.9, 0.2)))


@pytest.mark.parametrize("counts,folding", [
    # SIMD 24 on 64 inputs (gathered from 8-bit beats), PE 7 on 48 rows, then 2-bit codes
    # split to single codes and gathered to SIMD 10 over 49 (48 + 1 padded) inputs, PE 4 on
    # the 10 classes: every pad path of golden.padding.
    ((3, 1), [LayerFolding(24, 7), LayerFolding(10, 5), LayerFolding(7, 4)]),
], ids=["padded"])
def test_padded_network(verilator, counts, folding):
    network = random_network(9, counts=counts)
    rng = np.random.default_rng(14)
    pixels = rng.integers(0, 256, (12, 8, 8), dtype=np.uint8)
    pixels[0], pixels[1] = 255, 0
    check_network(network, folding, "net_padded", pixels, stall_runs=((0.5, 0.5), (0.9, 0.2)))


@pytest.mark.parametrize("counts,folding", [
    ((3, 1), [LayerFolding(16, 8), LayerFolding(12, 4), LayerFolding(8, 5)]),
    ((2, 3), [LayerFolding(8, 6), LayerFolding(16, 3), LayerFolding(6, 2)]),
], ids=["a2_then_binary", "a2_then_a2"])
def test_random_network_multibit(verilator, counts, folding):
    network = random_network(8, counts=counts)
    rng = np.random.default_rng(12)
    pixels = rng.integers(0, 256, (12, 8, 8), dtype=np.uint8)
    pixels[0], pixels[1] = 255, 0
    name = "net_multibit_" + "_".join(map(str, counts))
    check_network(network, folding, name, pixels, stall_runs=((0.5, 0.5),))


def lowbit_network(seed, threshold, specs, sizes=(64, 32, 24, 10)):
    """Random layers with the weight encodings and threshold counts of ``specs``
    [(encoding, count), ..., (encoding, None)], thresholds at quantiles of the accumulators
    of random data (so that every code occurs), random directions and power-of-two scales."""
    rng = np.random.default_rng(seed)
    inp = InputQuant((8, 8), threshold)
    x = inp(rng.integers(0, 256, (200, 8, 8), dtype=np.uint8))
    encoding, layers = inp.encoding, []
    for (n_in, n_out), (w_enc, count) in zip(zip(sizes[:-1], sizes[1:]), specs):
        w = rng.choice(np.array(w_enc.values), (n_out, n_in))
        scale = rng.integers(0, 3, n_out)
        probe = Dense(w, Bias(np.zeros(n_out, np.int64)), weight_encoding=w_enc,
                      input_encoding=encoding, scale_exp=scale)
        acc = accumulate(probe, x)
        if count is None:
            act = Bias(rng.integers(-20, 20, n_out))
        else:
            q = np.quantile(acc, np.linspace(0.15, 0.85, count), axis=0).T.round().astype(np.int64)
            direction = rng.choice([-1, 1], n_out)
            q[direction < 0] = q[direction < 0, ::-1]
            act = Thresholds(q, direction, offset=0 if count == 1 else -1)
        layer = Dense(w, act, weight_encoding=w_enc, input_encoding=encoding, scale_exp=scale)
        layers.append(layer)
        x = layer_forward(layer, x)[1]
        encoding = act.next_encoding() if count else None
    return Network("lowbit", inp, layers)


@pytest.mark.parametrize("threshold,specs,folding", [
    # 8-bit pixels x ternary -> 2-bit codes x {-2..2} -> bits x DoReFa 2-bit levels.
    (None, [(TernaryWeights(), 2), (ShiftWeights(1), 1), (LutWeights.dorefa(2), None)],
     [LayerFolding(8, 4), LayerFolding(16, 2), LayerFolding(6, 5)]),
    # 8-bit pixels x binary -> 2-bit codes x DoReFa 2-bit -> bits x {0, +-1..8}.
    (None, [(weight_encoding("binary"), 3), (LutWeights.dorefa(2), 1), (ShiftWeights(3), None)],
     [LayerFolding(16, 8), LayerFolding(8, 3), LayerFolding(24, 2)]),
    # The same with foldings that pad every layer (ternary, shift and LUT pad lanes).
    (None, [(TernaryWeights(), 2), (ShiftWeights(1), 1), (LutWeights.dorefa(2), None)],
     [LayerFolding(12, 5), LayerFolding(9, 5), LayerFolding(5, 3)]),
    # Bit-plane elements on the code inputs (pixels x binary, 2-bit codes x DoReFa), padded.
    (None, [(weight_encoding("binary"), 3), (LutWeights.dorefa(2), 1), (ShiftWeights(3), None)],
     [LayerFolding(12, 8, "bitplane"), LayerFolding(9, 3, "bitplane"), LayerFolding(24, 2)]),
], ids=["ternary_shift_lut", "binary_lut_shift", "padded_ternary_shift_lut",
        "bitplane_binary_lut_shift"])
def test_lowbit_network(verilator, threshold, specs, folding):
    network = lowbit_network(21, threshold, specs)
    rng = np.random.default_rng(13)
    pixels = rng.integers(0, 256, (10, 8, 8), dtype=np.uint8)
    pixels[0], pixels[1] = 255, 0
    trace = run(network, pixels)
    for layer_trace in trace.layers[:-1]:   # the thresholds really produce several codes
        assert len(np.unique(layer_trace.outputs)) > 1
    name = "net_lowbit_" + "_".join(layer.weight_encoding.kind for layer in network.layers) \
        + "_" + "_".join(str(f).replace(":", "_") for f in folding)
    check_network(network, folding, name, pixels, stall_runs=((0.5, 0.5),))


@pytest.mark.slow
def test_lfc_w1a2_mnist(verilator, shared):
    network, images, labels = _lfc(shared, 20, "lfcW1A2")
    folding = choose_folding(network, cycles=2048)
    check_network(network, folding, "net_lfcW1A2_2048", images, stall_runs=())


def _lfc(shared, count, name="lfcW1A1"):
    network = load_model(shared / "models/bnn-pynq" / name)
    images, labels = load_mnist(shared / "data/mnist", limit=count)
    return network, images, labels


@pytest.mark.slow
def test_lfc_w1a1_mnist(verilator, shared):
    # A 2048-cycle folding (392-512 lanes per layer) keeps the Verilator build near a minute;
    # the default 512-cycle folding runs under the slow mark.
    network, images, labels = _lfc(shared, 20)
    folding = choose_folding(network, cycles=2048)
    check_network(network, folding, "net_lfcW1A1_2048", images, stall_runs=())


@pytest.mark.parametrize("folding", [
    pytest.param("64x8,32x16,64x8,8x16", marks=pytest.mark.slow),
    pytest.param("64x32,32x64,64x32,8x16", marks=pytest.mark.slow),
], ids=["bnnpynq_simd", "bnnpynq"])
def test_lfc_w1a1_bnnpynq_folding(verilator, shared, folding):
    """BNN-PYNQ's own LFC folding (its config.h: SIMD 64 on the 784 pixels, padded to 832,
    and PE 16 on the 10 classes), and its SIMDs at a quarter of its PEs, reproduced by
    padding: every score equal to golden on MNIST digits, exact II."""
    network, images, _ = _lfc(shared, 8)
    check_network(network, choose_folding(network, folding), "net_lfcW1A1_" + folding.replace(",", "_"),
                  images, stall_runs=((0.7, 0.7),))


@pytest.mark.slow
def test_lfc_w1a1_mnist_many(verilator, shared):
    network, images, labels = _lfc(shared, 300)
    folding = choose_folding(network)
    check_network(network, folding, "net_lfcW1A1_512", images, stall_runs=((0.7, 0.7),))


@pytest.mark.parametrize("name", ["TFC_1W1A",
                                  # 75 s of one worker: the default run keeps the 1-bit one.
                                  pytest.param("TFC_1W2A", marks=pytest.mark.slow)])
def test_qonnx_tfc_mnist(verilator, shared, name):
    # Brevitas exports imported from QONNX (1W2A: a 3-level input code table and 2-bit
    # activations); every class score equal to golden on 20 MNIST digits, exact II.
    network = load_model(shared / "models/qonnx" / f"{name}.onnx")
    images, _ = load_mnist(shared / "data/mnist", limit=20)
    folding = choose_folding(network, cycles=1024)
    check_network(network, folding, f"net_{name}_1024", images, stall_runs=((0.6, 0.7),))


def test_zero_one_activations(verilator, tmp_path):
    """A QONNX MLP whose hidden activations are unsigned 1-bit {0, 1} codes (not +-1 bits):
    imported, and run in Verilator equal to golden (the next layer's lanes take 1-bit
    integer codes)."""
    import onnx

    from golden.formats.qonnx import import_qonnx
    from tests import qonnx_graphs as graphs
    path = tmp_path / "zero_one.onnx"
    onnx.save(graphs.mlp(17, act="zero_one"), path)
    network = import_qonnx(path).network
    assert network.layers[1].input_encoding.top == 1
    pixels = np.random.default_rng(18).integers(0, 256, (16, 64))
    pixels[0], pixels[1] = 0, 255
    check_network(network, [LayerFolding(16, 8), LayerFolding(8, 5)], "net_zero_one", pixels)


@pytest.mark.slow
def test_declared_bipolar_input(verilator, tmp_path):
    """A QONNX MLP whose +-1 input the graph maps to {0, 1} without a quantizer, imported
    with a declared bipolar input: 1-bit input codes into the first layer, in Verilator equal
    to golden."""
    import onnx

    from golden.formats.qonnx import import_qonnx
    from tests import qonnx_graphs as graphs
    path = tmp_path / "unsw_like.onnx"
    onnx.save(graphs.unquantized_input_mlp(5, kind="bipolar"), path)
    network = import_qonnx(path, input_type="bipolar").network
    assert network.layers[0].input_encoding.top == 1
    codes = np.random.default_rng(6).integers(0, 2, (16, 48))
    codes[0], codes[1] = 0, 1
    check_network(network, [LayerFolding(12, 8), LayerFolding(8, 5)], "net_declared_bipolar",
                  codes)


@pytest.mark.parametrize("kind", ["mlp_bipolar", "conv"])
def test_per_channel_activation_scales(verilator, tmp_path, kind):
    """Activation scales per channel, powers of two apart (tests/qonnx_graphs.py), taken
    into the next layer's weights: imported and run in Verilator equal to golden."""
    import onnx

    from golden.formats.qonnx import import_qonnx
    from hdl.flow.build import choose_folding
    from tests import qonnx_graphs as graphs
    model = graphs.channel_scaled(81, conv=kind == "conv", bipolar=kind == "mlp_bipolar")
    path = tmp_path / f"{kind}.onnx"
    onnx.save(model, path)
    result = import_qonnx(path)
    network = result.network
    rng = np.random.default_rng(82)
    pixels = rng.integers(0, 256, (8,) + network.input.shape, dtype=np.uint8)
    folding = choose_folding(network, cycles=64) if kind != "conv" else [
        LayerFolding(1, 8), LayerFolding(2, 4), LayerFolding(1, 1)]
    check_network(network, folding, f"net_channel_scaled_{kind}", pixels)
