"""QONNX import and export against qonnx's own executor (a peer's implementation).

* The shared Brevitas exports (TFC_1W1A, TFC_1W2A) give exactly the accuracies qonnx's
  executor gives them, and the same class for every one of the 10,000 MNIST test images
  (stored executor outputs, made by ``tests/data/make_qonnx_reference.py``), as do four
  small networks exported by Brevitas itself (``tests/data/make_brevitas_cases.py``).
* Live: golden against ``execute_onnx`` on real and random inputs, for the Brevitas graphs
  and hand-built graphs of every supported quantizer, rounding mode, op and domain.
* Every threshold holds for every accumulator value of its proven range, checked by running
  the graph's own nodes (between the MatMul/Conv and the quantizer) in the executor.
* Export: any project model runs in the executor with exactly golden's scores.
* Unsupported or damaged graphs get one ``error:`` line naming the node and op.
"""

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from golden.datasets import load_mnist
from golden.errors import ModelError
from golden.formats import load_model, save_model
from golden.formats.qonnx import import_qonnx
from golden.network import run
from golden.residual import Residual
from golden.thresholding import threshold

from . import qonnx_graphs as graphs

DATA = Path(__file__).resolve().parent / "data"
ROOT = Path(__file__).resolve().parent.parent
TFC = {"TFC_1W1A": 0.9296, "TFC_1W2A": 0.9474}   # qonnx executor, ../shared README
BREVITAS = sorted(p.stem for p in DATA.glob("brevitas_*.onnx"))


def _path(name, shared):
    return shared / "models/qonnx" / f"{name}.onnx" if name in TFC else DATA / f"{name}.onnx"


def _floats(images):
    return (images.astype(np.float32) / np.float32(255)).reshape(-1, 1, 28, 28)


def _executor(path_or_model, per_row=True):
    qonnx = pytest.importorskip("qonnx")
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.util.cleanup import cleanup_model
    assert qonnx
    model = cleanup_model(ModelWrapper(path_or_model if isinstance(path_or_model, onnx.ModelProto)
                                       else str(path_or_model)))
    iname, oname = model.graph.input[0].name, model.graph.output[0].name

    def execute(batch):
        if not per_row:
            return np.asarray(execute_onnx(model, {iname: batch})[oname])
        return np.concatenate([np.asarray(execute_onnx(model, {iname: x[None]})[oname])
                               .reshape(1, -1) for x in batch])
    return execute


def _classes(result, out):
    if result.binary_output:
        return (out[:, 0] > 0).astype(np.int64)
    return out[:, 0].astype(np.int64) if out.shape[1] == 1 else out.argmax(axis=1)


def _check_scores(result, trace, out):
    """Golden's integer scores are an increasing affine map of the graph's float scores."""
    if result.binary_output or out.shape[1] == 1 or not result.exact_scores:
        return
    s = trace.scores.astype(np.float64).ravel()
    f = out.astype(np.float64).ravel()
    a = np.stack([s, np.ones_like(s)], axis=1)
    (alpha, beta), *_ = np.linalg.lstsq(a, f, rcond=None)
    assert alpha > 0
    assert np.abs(a @ (alpha, beta) - f).max() <= 1e-5 * max(1.0, np.abs(f).max())


@pytest.mark.parametrize("name", sorted(TFC))
def test_tfc_golden_accuracy_equals_the_executor_s(shared, name):
    network = load_model(_path(name, shared))
    images, labels = load_mnist(shared / "data/mnist")
    assert (run(network, images).labels == labels).mean() == TFC[name]


#: Convolutional graphs: all 10,000 images in the slow run, the first 2,000 by default.
CONV = [name for name in BREVITAS if "mlp" not in name]


@pytest.mark.parametrize("name", sorted(TFC) + [
    name if name not in CONV else pytest.param(name, marks=pytest.mark.slow) for name in BREVITAS])
def test_same_class_as_the_executor_on_all_10000_images(shared, name):
    _same_class_as_the_executor(shared, name, None)


@pytest.mark.parametrize("name", CONV)
def test_same_class_as_the_executor_on_2000_images(shared, name):
    _same_class_as_the_executor(shared, name, 2000)


def _same_class_as_the_executor(shared, name, limit):
    stored = DATA / f"{name}.executor.npz"
    if not stored.is_file():
        pytest.skip(f"no stored executor outputs {stored.name} (make_qonnx_reference.py)")
    result = import_qonnx(_path(name, shared))
    images, _ = load_mnist(shared / "data/mnist", limit)
    trace = run(result.network, images)
    reference = np.load(stored)
    assert len(reference["pred"]) == 10000
    reference = {key: reference[key][:len(images)] for key in ("pred", "scores")}
    expected = ((reference["scores"][:, 0] > 0).astype(np.int64) if result.binary_output
                else reference["pred"])
    mismatch = np.nonzero(trace.labels != expected)[0]
    assert not len(mismatch), f"{len(mismatch)} images differ, first {mismatch[:10]}"
    # The float front end on pixel / 255 is the pixel path, image by image.
    assert np.array_equal(result.frontend(_floats(images)), result.network.input(images))


@pytest.mark.parametrize("name", sorted(TFC) + BREVITAS)
def test_live_against_the_executor(shared, name):
    path = _path(name, shared)
    result = import_qonnx(path)
    images, _ = load_mnist(shared / "data/mnist", limit=60)
    rng = np.random.default_rng(3)
    x = np.concatenate([_floats(images), rng.uniform(0, 1, (20, 1, 28, 28)).astype(np.float32)])
    trace = run(result.network, bits=result.frontend(x))
    out = _executor(path)(x)
    assert np.array_equal(_classes(result, out), trace.labels)
    _check_scores(result, trace, out)


HAND_BUILT = {
    **{f"mlp_{mode.lower()}": lambda mode=mode: graphs.mlp(1, rounding=mode)
       for mode in ("ROUND", "HALF_EVEN", "FLOOR", "CEIL", "HALF_UP", "HALF_DOWN", "UP", "DOWN")},
    "mlp_bipolar": lambda: graphs.mlp(2, act="bipolar"),
    "mlp_sign": lambda: graphs.mlp(3, act="sign"),
    "mlp_zero_one": lambda: graphs.mlp(17, act="zero_one"),
    "mlp_multithreshold_finn": lambda: graphs.mlp(4, act="mt", domain="finn.custom_op.general"),
    "mlp_brevitas_domain": lambda: graphs.mlp(5, domain="onnx.brevitas"),
    "mlp_per_tensor_4bit": lambda: graphs.mlp(6, per_channel=False, weight_bits=4),
    "mlp_softmax": lambda: graphs.mlp(7, final="softmax"),
    "mlp_argmax": lambda: graphs.mlp(8, final="argmax"),
    "mlp_not_pow2_scales": lambda: graphs.mlp(9, pow2=False),
    "conv_padded": lambda: graphs.conv(10),
    "conv_unpadded": lambda: graphs.conv(11, pad=0),
    "binary_classifier": lambda: graphs.binary_classifier(12),
    "global_average_pool_quant2": lambda: graphs.pooled(13, avg="global"),
    "global_average_pool_bipolar": lambda: graphs.pooled(14, avg="global",
                                                         act_after_avg="bipolar"),
    "average_pool_window": lambda: graphs.pooled(15, avg="window"),
    "average_pool_window_bipolar": lambda: graphs.pooled(16, avg="window",
                                                         act_after_avg="bipolar"),
    "residual_identity": lambda: graphs.residual(18),
    "residual_identity_same_scale": lambda: graphs.residual(19, ratio=1.0),
    "residual_identity_skip_scaled": lambda: graphs.residual(20, ratio=0.25),
    "residual_conv_skip": lambda: graphs.residual(21, skip="conv"),
    "residual_conv_skip_negative_gain": lambda: graphs.residual(22, skip="conv", ratio=4.0,
                                                                negative=2),
    "residual_bipolar_identity": lambda: graphs.residual(23, bipolar_fork=True),
    "residual_bipolar_conv_skip": lambda: graphs.residual(24, bipolar_fork=True, skip="conv"),
    "residual_bipolar_zero_pad": lambda: graphs.residual(25, bipolar_fork=True, fork_pad=0.0),
    "zero_padded_binary": lambda: graphs.zero_padded_binary(26),
    "zero_padded_binary_via_pad": lambda: graphs.zero_padded_binary(27, via_pad=True),
    "channel_scaled_mlp": lambda: graphs.channel_scaled(28),
    "channel_scaled_mlp_bipolar": lambda: graphs.channel_scaled(29, bipolar=True),
    "channel_scaled_conv": lambda: graphs.channel_scaled(30, conv=True),
    "channel_scaled_conv_bipolar": lambda: graphs.channel_scaled(31, conv=True, bipolar=True),
}


@pytest.mark.parametrize("name", sorted(HAND_BUILT))
def test_hand_built_graphs_against_the_executor(tmp_path, name):
    model = HAND_BUILT[name]()
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, path)
    result = import_qonnx(path)
    x = np.random.default_rng(len(name)).uniform(0, 1, (64,) + result.input_shape)
    x = x.astype(np.float32)
    trace = run(result.network, bits=result.frontend(x))
    out = _executor(model)(x)
    assert np.array_equal(_classes(result, out), trace.labels)
    if name != "mlp_softmax":   # softmax keeps the order, not the affine map
        _check_scores(result, trace, out)
    assert result.exact_matmul == (name != "mlp_not_pow2_scales")


def _subgraph(model, src, dst, shape, out_shape=None):
    """The nodes from tensor ``src`` to ``dst`` (and the constants they read) as a model;
    ``out_shape`` defaults to ``shape``."""
    producer = {o: n for n in model.graph.node for o in n.output}
    inits = {i.name for i in model.graph.initializer}
    keep, stack, seen = set(), [dst], set()
    while stack:
        t = stack.pop()
        if t == src or t in inits or t in seen or t not in producer:
            continue
        seen.add(t)
        keep.add(id(producer[t]))
        stack.extend(producer[t].input)
    nodes = [n for n in model.graph.node if id(n) in keep]
    used = {i for n in nodes for i in n.input}
    graph = helper.make_graph(
        nodes, "sub", [helper.make_tensor_value_info(src, TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info(dst, TensorProto.FLOAT, out_shape or shape)],
        [i for i in model.graph.initializer if i.name in used])
    sub = helper.make_model(graph, opset_imports=model.opset_import)
    sub.ir_version = model.ir_version
    return sub


@pytest.mark.parametrize("name", sorted(TFC) + [
    "brevitas_cnn_w1a1_binary", "mlp_floor", "mlp_half_down", "mlp_multithreshold_finn",
    "mlp_sign", "mlp_not_pow2_scales", "conv_unpadded", "binary_classifier"])
def test_thresholds_hold_for_every_accumulator_value(tmp_path, request, name):
    """Feed each thresholded layer's own graph nodes every accumulator value of its range
    (as the float MatMul output ``mult * (a * acc + b)``) in the executor: the quantizer's
    output must be the value of golden's thresholded code, for every value."""
    if name in TFC:
        path = _path(name, request.getfixturevalue("shared"))
    elif name in HAND_BUILT:
        path = tmp_path / "g.onnx"
        onnx.save(HAND_BUILT[name](), path)
    else:
        path = DATA / f"{name}.onnx"
    result = import_qonnx(path)
    model = onnx.load(str(path))
    checked = 0
    for entry in result.thresholded:
        if entry["source"] is None:
            continue   # a MatMul/Conv with a bias: checked through the whole graph instead
        acc = np.arange(entry["lo"], entry["hi"] + 1)
        x = (entry["mult"][None, :] * (entry["a"] * acc[:, None].astype(np.float64)
                                       + entry["b"][None, :])).astype(np.float32)
        act = entry["activation"]
        sub = _subgraph(model, entry["source"], entry["output"], list(x.shape))
        out = _executor(sub, per_row=False)(x)
        codes = threshold(np.repeat(acc[:, None], x.shape[1], axis=1), act)
        values = 2 * codes - 1 if act.count == 1 else codes + act.offset
        assert np.array_equal(out, (entry["scale"] * values).astype(np.float32)), \
            f"layer {entry['layer']}"
        checked += 1
    assert checked


def _refused(tmp_path, model, *fragments):
    path = tmp_path / "bad.onnx"
    onnx.save(model, path)
    with pytest.raises(ModelError) as info:
        import_qonnx(path)
    text = str(info.value)
    assert "\n" not in text
    for fragment in fragments:
        assert fragment in text, text


def _mutate(model, op, **changes):
    node = next(n for n in model.graph.node if n.op_type == op)
    for key, value in changes.items():
        if key == "op_type":
            node.op_type = value
        elif key == "domain":
            node.domain = value
        else:
            for a in list(node.attribute):
                if a.name == key:
                    node.attribute.remove(a)
            node.attribute.append(helper.make_attribute(key, value))
    return model


def test_refusals_name_the_node_and_op(tmp_path):
    _refused(tmp_path, _mutate(graphs.mlp(), "Relu", op_type="LeakyRelu"), "(LeakyRelu)",
             "not supported")
    _refused(tmp_path, _mutate(graphs.mlp(), "Quant", domain="my.domain"), "domain 'my.domain'")
    _refused(tmp_path, _mutate(graphs.mlp(), "Quant", rounding_mode="STOCHASTIC"), "(Quant)",
             "rounding mode")
    _refused(tmp_path, _mutate(graphs.conv(), "Conv", group=2), "(Conv)", "group 1")
    _refused(tmp_path, _mutate(graphs.conv(), "MaxPool", pads=[1, 1, 1, 1]), "(MaxPool)")
    model = graphs.mlp()
    zp = next(n for n in model.graph.node if n.op_type == "Quant").input[2]
    init = next(i for i in model.graph.initializer if i.name == zp)
    init.CopyFrom(onnx.numpy_helper.from_array(np.asarray(1.0, np.float32), zp))
    _refused(tmp_path, model, "(Quant)", "zero point")
    model = graphs.mlp()
    bits = next(n for n in model.graph.node if n.op_type == "Quant").input[3]
    init = next(i for i in model.graph.initializer if i.name == bits)
    init.CopyFrom(onnx.numpy_helper.from_array(np.asarray(12.0, np.float32), bits))
    _refused(tmp_path, model, "(Quant)", "12-bit")


def test_refuses_an_add_of_unquantized_tensors(tmp_path):
    b = graphs.Builder()
    x = b.bipolar("x")
    h = b.op("MatMul", [x, b.bipolar(b.const(np.ones((8, 8))))])
    _refused(tmp_path, b.model(b.op("Add", [h, h]), [1, 8], [1, 8]), "(Add)",
             "residual add takes two quantizers' outputs")


def test_damaged_or_missing_files_get_one_line(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage" * 10)
    for path in (bad, tmp_path / "missing.onnx"):
        with pytest.raises(ModelError) as info:
            load_model(path)
        assert "\n" not in str(info.value) and str(path.name) in str(info.value)


def _imported(model):
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "g.onnx"
        onnx.save(model, path)
        return import_qonnx(path).network


def _export_models(shared):
    from sim_tests.test_conv_network import average_pool_network, identity_residual_network
    models = {"mnist_bnn": load_model(ROOT / "models/mnist_bnn.npz"),
              "mnist_conv_residual": load_model(ROOT / "models/mnist_conv_residual.npz"),
              "sum_pool_global": average_pool_network(51, "global"),
              "sum_pool_window": average_pool_network(51, "window"),
              "identity_residual": identity_residual_network(45),
              "identity_residual_bits": identity_residual_network(46, True),
              "zero_padded": _imported(graphs.zero_padded_binary(26)),
              "zero_padded_residual": _imported(graphs.residual(25, bipolar_fork=True,
                                                                fork_pad=0.0))}
    if shared is not None:
        models["lfcW1A2"] = load_model(shared / "models/bnn-pynq/lfcW1A2")
        models["TFC_1W2A"] = load_model(shared / "models/qonnx/TFC_1W2A.onnx")
        models["cnvW1A1"] = load_model(shared / "models/bnn-pynq/cnvW1A1")
    return models


@pytest.mark.parametrize("name", ["mnist_bnn", "mnist_conv_residual", "sum_pool_global",
                                  "sum_pool_window", "identity_residual", "identity_residual_bits",
                                  "zero_padded", "zero_padded_residual", "lfcW1A2", "TFC_1W2A",
                                  "cnvW1A1"])
def test_export_runs_in_the_executor_with_golden_scores(tmp_path, request, name):
    local = not name.startswith(("lfc", "TFC", "cnv"))
    shared = None if local else request.getfixturevalue("shared")
    network = _export_models(shared)[name]
    path = tmp_path / f"{name}.onnx"
    save_model(network, path)
    count = 2 if name == "cnvW1A1" else 12 if name.startswith("mnist") else 40
    pixels = np.random.default_rng(4).integers(0, 256, (count,) + network.input.shape)
    pixels[0] = 0
    trace = run(network, pixels)
    # An (H, W, C) input goes into the graph as NCHW.
    graph_pixels = pixels.transpose(0, 3, 1, 2) if pixels.ndim == 4 else pixels
    out = _executor(path)(graph_pixels.astype(np.float32))
    assert np.array_equal(out, trace.scores.astype(np.float32))
    # Deterministic bytes.
    save_model(network, tmp_path / "again.onnx")
    assert path.read_bytes() == (tmp_path / "again.onnx").read_bytes()


ROUND_TRIP = ["mnist_bnn", "mnist_bcnn", "mnist_conv_residual", "sum_pool_global",
              "identity_residual", "zero_padded_residual", "lfcW1A1", "lfcW1A2", "TFC_1W2A",
              "cnvW1A1", "brevitas_binary_resnet", "brevitas_cnn_ceilpool"]


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_export_then_import_gives_the_same_network(tmp_path, request, name):
    """Every shipped model (and the reference models, when they are there) written by
    the QONNX export and read back by the importer: the same input stage, the same layers,
    and on random and edge-case inputs every layer's outputs and every class score equal."""
    if name.startswith(("lfc", "TFC", "cnv")):
        shared = request.getfixturevalue("shared")
        models = _export_models(shared)
        models["lfcW1A1"] = load_model(shared / "models/bnn-pynq/lfcW1A1")
        network = models[name]
    elif name.startswith("brevitas"):
        network = load_model(ROOT / "tests/data" / f"{name}.onnx")
    elif name == "mnist_bcnn":
        network = load_model(ROOT / "models/mnist_bcnn.npz")
    else:
        network = _export_models(None)[name]
    path = tmp_path / "round.onnx"
    save_model(network, path)
    back = load_model(path)
    assert back.input.shape == network.input.shape
    assert back.input.threshold == network.input.threshold
    assert (back.input.table is None) == (network.input.table is None)
    if network.input.table is not None:
        assert np.array_equal(back.input.table, network.input.table)
    assert [type(layer) for layer in back.layers] == [type(layer) for layer in network.layers]
    assert back.classes == network.classes
    count = 3 if name == "cnvW1A1" else 60
    pixels = np.random.default_rng(7).integers(0, 256, (count,) + network.input.shape)
    pixels[0], pixels[1] = 0, 255
    a, b = run(network, pixels), run(back, pixels)
    for k, (la, lb) in enumerate(zip(a.layers, b.layers)):
        assert np.array_equal(la.outputs, lb.outputs), f"layer {k}"
    assert np.array_equal(a.scores, b.scores) and np.array_equal(a.labels, b.labels)


def test_import_and_export_commands(tmp_path, shared, capsys):
    from golden.qonnx import main
    src = shared / "models/qonnx/TFC_1W1A.onnx"
    main(["import", str(src), "--out", str(tmp_path / "tfc.npz")])
    assert "imported in" in capsys.readouterr().out
    images, _ = load_mnist(shared / "data/mnist", limit=200)
    assert np.array_equal(run(load_model(tmp_path / "tfc.npz"), images).scores,
                          run(load_model(src), images).scores)
    main(["export", str(tmp_path / "tfc.npz"), "--out", str(tmp_path / "tfc.onnx")])
    out = _executor(tmp_path / "tfc.onnx")(images[:5].astype(np.float32))
    assert np.array_equal(out, run(load_model(src), images[:5]).scores.astype(np.float32))
    with pytest.raises(ModelError, match="name the imported model file .npz"):
        main(["import", str(src), "--out", str(tmp_path / "tfc.bin")])


def test_evaluate_on_own_inputs(tmp_path, shared, capsys):
    from golden.evaluate import main
    images, labels = load_mnist(shared / "data/mnist", limit=300)
    np.save(tmp_path / "x.npy", _floats(images))
    np.save(tmp_path / "y.npy", labels)
    model = shared / "models/qonnx/TFC_1W2A.onnx"
    main(["--model", str(model), "--inputs", str(tmp_path / "x.npy"), "--labels",
          str(tmp_path / "y.npy"), "--save", str(tmp_path / "pred.npz")])
    trace = run(load_model(model), images)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == f"accuracy: {(trace.labels == labels).mean():.4f}"
    saved = np.load(tmp_path / "pred.npz")
    assert np.array_equal(saved["pred"], trace.labels)
    assert np.array_equal(saved["scores"], trace.scores)
    # A project model takes its 8-bit pixels.
    np.save(tmp_path / "p.npy", images)
    main(["--model", str(ROOT / "models/mnist_bnn.npz"), "--inputs", str(tmp_path / "p.npy"),
          "--save", str(tmp_path / "p.npz")])
    assert np.array_equal(np.load(tmp_path / "p.npz")["pred"],
                          run(load_model(ROOT / "models/mnist_bnn.npz"), images).labels)
    with pytest.raises(ModelError, match="this graph takes"):
        main(["--model", str(model), "--inputs", str(tmp_path / "p.npy")])


@pytest.mark.parametrize("name", ["global_average_pool_quant2", "global_average_pool_bipolar",
                                  "average_pool_window", "average_pool_window_bipolar"])
def test_average_pool_thresholds_hold_for_every_sum(tmp_path, name):
    """The graph's own nodes from the average pool's input to its quantizer, fed +-1 maps
    whose windows hold every count of +1 (global: 0 to H*W, one map per count; windows: all
    2x2 patterns): the executor's output is the value of golden's thresholded sum."""
    from golden.pool import SumPool
    model = HAND_BUILT[name]()
    path = tmp_path / "g.onnx"
    onnx.save(model, path)
    result = import_qonnx(path)
    entry = next(e for e in result.thresholded if e["kind"] == "sumpool")
    pool = result.network.layers[entry["layer"]]
    assert isinstance(pool, SumPool)
    h, w, c = pool.in_shape
    if pool.kernel is None:
        bits = (np.arange(h * w)[None, :] < np.arange(h * w + 1)[:, None]).astype(np.int64)
        maps = np.repeat(bits.reshape(-1, h, w, 1), c, axis=3)
    else:
        patterns = (np.arange(1 << (h * w))[:, None] >> np.arange(h * w)) & 1
        rng = np.random.default_rng(0)
        maps = np.stack([patterns[rng.integers(0, len(patterns), c)].T.reshape(h, w, c)
                         for _ in range(300)])
    x = (2.0 * maps - 1).astype(np.float32).transpose(0, 3, 1, 2)        # NCHW values
    out_shape = (len(x), c) + pool.out_shape[:2]
    sub = _subgraph(model, entry["pool_input"], entry["output"], list(x.shape), list(out_shape))
    out = _executor(sub, per_row=False)(x)
    act = entry["activation"]
    codes = pool.forward(maps)                                            # (N, OH, OW, C)
    values = 2 * codes - 1 if act.count == 1 else codes + act.offset
    expected = (entry["scale"] * values).astype(np.float32).transpose(0, 3, 1, 2)
    assert np.array_equal(out, expected)
    assert len(np.unique(pool.sums(maps))) == pool.sum_range[1] + 1      # every sum occurs


@pytest.mark.parametrize("name", ["residual_identity", "residual_identity_skip_scaled",
                                  "residual_conv_skip_negative_gain", "residual_bipolar_identity",
                                  "brevitas_resnet_w2a2", "brevitas_binary_resnet"])
def test_residual_thresholds_hold_for_every_pair_of_operand_codes(tmp_path, name):
    """Feed the Add and its quantizer (the graph's own nodes) every pair of the two
    operands' codes, in every channel: the output must be the value of golden's
    thresholded sum ``s``."""
    model = onnx.load(DATA / f"{name}.onnx") if name.startswith("brevitas") else HAND_BUILT[name]()
    path = tmp_path / "g.onnx"
    onnx.save(model, path)
    result = import_qonnx(path)
    blocks = [e for e in result.thresholded if e["kind"] == "residual"]
    assert blocks
    for entry in blocks:
        block = next(layer for layer in result.network.layers if isinstance(layer, Residual)
                     and layer.activation is entry["activation"])
        va, vb = entry["values"]
        ia, ib = np.meshgrid(np.arange(len(va)), np.arange(len(vb)), indexing="ij")
        ia, ib = ia.ravel(), ib.ravel()
        c = block.out_shape[2]
        shape = [len(ia), c, 1, 1]
        main, skip = entry["operands"]
        producer = {o: n for n in model.graph.node for o in n.output}
        keep, stack = [], [entry["output"]]
        while stack:
            t = stack.pop()
            if t in (main, skip) or t not in producer or producer[t] in keep:
                continue
            keep.append(producer[t])
            stack.extend(producer[t].input)
        nodes = [n for n in model.graph.node if n in keep]
        used = {i for n in nodes for i in n.input}
        graph = helper.make_graph(
            nodes, "sub", [helper.make_tensor_value_info(t, TensorProto.FLOAT, shape)
                           for t in (main, skip)],
            [helper.make_tensor_value_info(entry["output"], TensorProto.FLOAT, shape)],
            [i for i in model.graph.initializer if i.name in used])
        sub = helper.make_model(graph, opset_imports=model.opset_import)
        sub.ir_version = model.ir_version
        pytest.importorskip("qonnx")
        from qonnx.core.modelwrapper import ModelWrapper
        from qonnx.core.onnx_exec import execute_onnx
        from qonnx.util.cleanup import cleanup_model
        sub = cleanup_model(ModelWrapper(sub))      # may rename the tensors, keeps the order
        ins = [i.name for i in sub.graph.input]
        feeds = {ins[0]: np.repeat(va[ia][:, None], c, 1).reshape(shape),
                 ins[1]: np.repeat(vb[ib][:, None], c, 1).reshape(shape)}
        out = execute_onnx(sub, feeds)[sub.graph.output[0].name].reshape(len(ia), c)
        s = block.add(np.repeat(ia[:, None], c, 1), np.repeat(ib[:, None], c, 1))
        act = entry["activation"]
        codes = threshold(s, act)
        values = 2 * codes - 1 if act.count == 1 else codes + act.offset
        assert np.array_equal(out, (entry["scale"] * values).astype(np.float32)), name


def test_per_channel_activation_scales_not_powers_of_two_apart_are_refused(tmp_path):
    _refused(tmp_path, graphs.channel_scaled(1, ratio=3.0), "(Quant)",
             "not powers of two apart")


def test_residual_refusals_are_one_line(tmp_path):
    """Operand scales that differ by a factor that is not a power of two; an add of a map
    to itself."""
    _refused(tmp_path, graphs.residual(1, ratio=3.0), "(Add)", "not a power of two")
    _refused(tmp_path, graphs.residual(1, skip="self"), "(Add)", "adds a map to itself")


def test_trunc_version_1_and_per_channel_trunc_scales_are_refused(tmp_path):
    for inputs, fragment in ((5, "Trunc with 5 inputs"), (6, "one positive number each")):
        b = graphs.Builder()
        h = b.op("AveragePool", [b.quant("x", 0.25, 2, signed=0)], kernel_shape=[2, 2],
                 strides=[2, 2])
        scale = b.const(0.0625 if fragment.startswith("Trunc") else [0.0625, 0.0625])
        args = [h, scale, b.const(0.0), b.const(4.0)]
        args += [b.const(0.125), b.const(3.0)] if inputs == 6 else [b.const(3.0)]
        h = b.op("Trunc", args, custom=True, rounding_mode="FLOOR", signed=0)
        _refused(tmp_path, b.model(h, [1, 1, 4, 4], [1, 1, 2, 2]), "(Trunc)", fragment)


@pytest.mark.parametrize("seed", [33, 34])
def test_ceil_mode_max_pool_with_partial_windows_against_the_executor(tmp_path, seed):
    """PyTorch's ceil_mode over a map its windows do not tile: a 2x2 stride-2 max-pool over
    the 9x9 map gives 5x5, the last row and column of windows partial."""
    from golden.pool import MaxPool
    model = _mutate(graphs.pooled(seed), "MaxPool", ceil_mode=1)
    path = tmp_path / "ceil.onnx"
    onnx.save(model, path)
    result = import_qonnx(path)
    pool = next(layer for layer in result.network.layers if isinstance(layer, MaxPool))
    assert pool.ceil and pool.out_shape[:2] == (5, 5) and pool.padded_shape == (10, 10)
    x = np.random.default_rng(seed).uniform(0, 1, (64,) + result.input_shape).astype(np.float32)
    trace = run(result.network, bits=result.frontend(x))
    out = _executor(model)(x)
    assert np.array_equal(_classes(result, out), trace.labels)


def test_pool_and_pad_refusals_are_one_line(tmp_path):
    """ceil_mode with a partial last window, an average pool of computed (unquantized)
    values or before the scores, a Pad with a value that is no code of the map, and a Pad
    that feeds anything but a Conv."""
    model = _mutate(graphs.pooled(1, avg="window"), "AveragePool", kernel_shape=[3, 3],
                    strides=[2, 2], ceil_mode=1)
    _refused(tmp_path, model, "(AveragePool)", "ceil_mode")
    b = graphs.Builder()
    x = b.bipolar("x")
    h = b.op("Conv", [x, b.bipolar(b.const(np.ones((2, 1, 3, 3))))], kernel_shape=[3, 3])
    _refused(tmp_path, b.model(b.op("GlobalAveragePool", [h]), [1, 1, 6, 6], [1, 2, 1, 1]),
             "(GlobalAveragePool)", "quantized maps")
    b = graphs.Builder()
    h = b.op("GlobalAveragePool", [b.bipolar("x")])
    _refused(tmp_path, b.model(h, [1, 3, 4, 4], [1, 3, 1, 1]), "average pool before the output")
    for value, fragment in ((0.5, "no value of the map"),):
        b = graphs.Builder()
        x = b.bipolar("x")
        x = b.op("Pad", [x, b.const(np.array([0, 0, 1, 1, 0, 0, 1, 1]), np.int64),
                         b.const(np.float32(value))], mode="constant")
        h = b.op("Conv", [x, b.bipolar(b.const(np.ones((2, 1, 3, 3))))], kernel_shape=[3, 3])
        _refused(tmp_path, b.model(h, [1, 1, 6, 6], [1, 2, 6, 6]), "(Pad)", fragment)
    b = graphs.Builder()
    x = b.op("Pad", [b.bipolar("x"), b.const(np.array([0, 0, 1, 1, 0, 0, 1, 1]), np.int64),
                     b.const(np.float32(1.0))], mode="constant")
    h = b.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])
    _refused(tmp_path, b.model(h, [1, 1, 6, 6], [1, 1, 4, 4]), "(MaxPool)", "feed a Conv")


def test_a_pad_node_with_a_map_value_is_the_conv_s_padding(tmp_path):
    """A constant Pad of a +-1 map by +1 before an unpadded Conv: the Conv's padding with pad
    code 1, equal to qonnx's executor."""
    rng = np.random.default_rng(5)
    b = graphs.Builder()
    x = b.bipolar(b.op("Sub", ["x", b.const(0.5)]))
    x = b.op("Pad", [x, b.const(np.array([0, 0, 1, 1, 0, 0, 1, 1]), np.int64),
                     b.const(np.float32(1.0))], mode="constant")
    h = b.op("Conv", [x, b.bipolar(b.const(rng.choice([-1.0, 1.0], (4, 1, 3, 3))))],
             kernel_shape=[3, 3])
    h = b.bipolar(graphs._bn(b, h, rng, 4))
    h = b.op("Flatten", [h], axis=1)
    scores = b.op("MatMul", [h, b.bipolar(b.const(rng.choice([-1.0, 1.0], (4 * 36, 10))))])
    model = b.model(scores, [1, 1, 6, 6], [1, 10])
    path = tmp_path / "pad.onnx"
    onnx.save(model, path)
    result = import_qonnx(path)
    conv = result.network.layers[0]
    assert (conv.pad, conv.pad_value) == (1, 1)
    x = rng.uniform(0, 1, (64, 1, 6, 6)).astype(np.float32)
    trace = run(result.network, bits=result.frontend(x))
    out = _executor(model)(x)
    assert np.array_equal(_classes(result, out), trace.labels)
    _check_scores(result, trace, out)


@pytest.mark.parametrize("kind,input_type", [("bipolar", "bipolar"), ("fixed", "int8:0.0625")])
def test_a_declared_input_type_imports_a_graph_with_an_unquantized_input(tmp_path, kind,
                                                                          input_type):
    """Without a quantizer on its input a graph needs the input's values declared; then
    golden equals the executor on random inputs of that type (every hidden level occurs),
    and the model file keeps the input as codes."""
    from golden.formats.qonnx import parse_input_type
    model = graphs.unquantized_input_mlp(3, kind=kind)
    path = tmp_path / f"{kind}.onnx"
    onnx.save(model, path)
    _refused(tmp_path, model, "(MatMul)", "--input-type")
    result = import_qonnx(path, input_type=input_type)
    rng = np.random.default_rng(7)
    t = parse_input_type(input_type)
    x = t.values()[rng.integers(0, t.codes, (200, 48))].astype(np.float32)
    x[0], x[1] = t.values()[0], t.values()[-1]
    trace = run(result.network, bits=result.frontend(x))
    assert len(np.unique(trace.layers[0].outputs)) == 4
    out = _executor(model)(x)
    assert np.array_equal(_classes(result, out), trace.labels)
    _check_scores(result, trace, out)
    # Saved and loaded again, the network takes the codes on the wire (bytes).
    save_model(result.network, tmp_path / "m.npz")
    again = load_model(tmp_path / "m.npz")
    codes = t.code(x)
    assert np.array_equal(run(again, codes).labels, trace.labels)


def test_input_type_refusals(tmp_path):
    from golden.formats.qonnx import parse_input_type
    for text in ("uint9", "int1", "float", "uint4:-1", "uint4:nan", "bipolar:2"):
        with pytest.raises(ModelError, match="input type"):
            parse_input_type(text)
    path = tmp_path / "q.onnx"
    onnx.save(graphs.mlp(1), path)          # quantizes its own input
    with pytest.raises(ModelError, match="drop the declared input type"):
        import_qonnx(path, input_type="uint4")
    with pytest.raises(ModelError, match="for .onnx graphs and Keras models only"):
        load_model(ROOT / "models/mnist_bnn.npz", "bipolar")
    for op, const, fragment in (("Add", 0.5, "whole-number offset"),
                                ("Max", 2.0, "evenly spaced")):
        b = graphs.Builder()
        x = b.op(op, ["x", b.const(const)])
        h = b.op("MatMul", [x, b.bipolar(b.const(np.ones((8, 4))))])
        if op == "Max":
            # Max is no supported op: the same graph with a Relu (flat below 0) instead.
            b.nodes[0].op_type, b.nodes[0].input[:] = "Relu", ["x"]
        onnx.save(b.model(h, [1, 8], [1, 4]), path)
        with pytest.raises(ModelError, match=fragment):
            import_qonnx(path, input_type="int4")
    with pytest.raises(ModelError, match="--input-type"):
        import_qonnx(path)


def test_declared_input_type_on_the_command_line(tmp_path, capsys):
    """``--input-type`` on hdl.build and golden.evaluate: Verilog for a graph whose input is
    a +-1 vector, and the accuracy on its own inputs."""
    from golden.evaluate import main as evaluate_main
    from hdl.flow.build import main as build_main
    path = tmp_path / "unsw_like.onnx"
    onnx.save(graphs.unquantized_input_mlp(4, kind="bipolar"), path)
    assert build_main(["--target", "verilog", "--model", str(path), "--input-type", "bipolar",
                       "--out", str(tmp_path / "v")]) == 0
    assert (tmp_path / "v" / "bnn_top.v").stat().st_size > 1000
    x = np.where(np.random.default_rng(2).random((30, 48)) < 0.5, -1, 1).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", np.zeros(30, np.int64))
    assert evaluate_main(["--model", str(path), "--input-type", "bipolar", "--inputs",
                          str(tmp_path / "x.npy"), "--labels", str(tmp_path / "y.npy")]) == 0
    assert "accuracy" in capsys.readouterr().out
