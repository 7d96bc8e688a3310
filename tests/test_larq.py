"""Larq (Keras) import: exact against Larq/TensorFlow's own outputs, and refusals.

* The shipped Larq models (``models/larq_mnist_*``, trained by ``training/larq_mnist.py``):
  golden gives the same class as ``model.predict`` on all 10,000 MNIST test images, and its
  integer scores are an affine map of Larq's (stored by ``training/larq_reference.py``, run
  with TensorFlow); every threshold equals the sign change of TensorFlow's own batch-norm
  layer over the whole range of the layer's outputs.
* Models written here without TensorFlow (``tests/keras_files.py``), for every supported
  layer and quantizer in both file formats: golden against a float32 numpy forward pass.
* Unsupported layers, quantizers and damaged files: one ``error:`` line naming the layer.
"""

from pathlib import Path

import numpy as np
import pytest

from golden.errors import ModelError
from golden.formats import import_larq, load_model
from golden.model import BINARY, Thresholds
from golden.network import run

from . import keras_files as kf

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = Path(__file__).resolve().parent / "data" / "larq"
SHIPPED = ["larq_mnist_cnn.h5", "larq_mnist_mlp.keras"]


def _affine(golden, larq):
    """Golden's integer scores map to Larq's by one increasing affine map."""
    s = golden.astype(np.float64).ravel()
    f = larq.astype(np.float64).ravel()
    a = np.stack([s, np.ones_like(s)], axis=1)
    (alpha, beta), *_ = np.linalg.lstsq(a, f, rcond=None)
    assert alpha > 0
    assert np.abs(a @ (alpha, beta) - f).max() <= 1e-5 * max(1.0, np.abs(f).max())


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_equals_larq_on_all_test_images(shared, name):
    from golden.datasets import load_mnist
    images, labels = load_mnist(shared / "data" / "mnist")
    result = import_larq(ROOT / "models" / name)
    assert result.exact_matmul and result.exact_scores
    trace = run(result.network, images)
    reference = np.load(REFERENCE / (Path(name).stem + ".reference.npz"))
    larq = reference["scores"]
    assert np.array_equal(trace.labels, larq.argmax(axis=1))
    _affine(trace.scores, larq)


@pytest.mark.parametrize("name", SHIPPED)
def test_thresholds_equal_tensorflow_over_the_whole_range(name):
    """TensorFlow's batch-norm layer, evaluated on every integer its quant layer can give
    (``training/larq_reference.py``), changes sign exactly at golden's thresholds."""
    network = load_model(ROOT / "models" / name)
    reference = np.load(REFERENCE / (Path(name).stem + ".reference.npz"))
    layers = [layer for layer in network.layers
              if isinstance(getattr(layer, "activation", None), Thresholds)]
    assert len(layers) == len(reference["bn_names"]) > 0
    for i, layer in enumerate(layers):
        dense = getattr(layer, "dense", layer)
        act = dense.activation
        first, rising = reference[f"bn{i}_first"], reference[f"bn{i}_rising"]
        # TensorFlow's table covers the whole proven range of the accumulator.
        assert -int(reference[f"bn{i}_lo"]) >= dense.acc_bound
        assert np.array_equal(act.direction > 0, rising)
        t = act.thresholds[:, 0]
        if dense.input_encoding == BINARY and dense.weight_encoding.kind == "binary":
            # Keras's value is the +-1 dot product 2 * popcount - MW; golden's the popcount.
            mw = dense.in_features
            expect = np.where(rising, -(-(first + mw) // 2), (first + mw) // 2)
            expect = np.clip(expect, -1, mw + 1)
        else:
            lo, hi = -dense.acc_bound, dense.acc_bound
            expect = np.clip(first, lo - 1, hi + 1)
        assert np.array_equal(t, expect), f"layer {i}"


# -- models written here --------------------------------------------------------------------

SIGN = {"class_name": "SteSign", "config": {"clip_value": 1.0}}


def _bn(rng, name, channels, **config):
    w = {"moving_mean": rng.normal(0, 3, channels), "moving_variance": rng.uniform(0.5, 9, channels)}
    if config.get("scale", True):
        w["gamma"] = rng.normal(0, 1, channels)
    if config.get("center", True):
        w["beta"] = rng.normal(0, 1, channels)
    return kf.layer("BatchNormalization", name, axis=[-1], epsilon=1e-3, **config), w


def _case(kind, rng):
    """(layers, weights, input shape, exact): a small network of each supported kind."""
    layers, weights = [], {}

    def add(spec, w=None):
        layers.append(spec)
        if w:
            weights[spec["config"]["name"]] = w

    if kind == "mlp":
        shape = (6, 6)
        add(kf.layer("Flatten", "flat"))
        add(kf.layer("QuantDense", "d0", units=12, kernel_quantizer="ste_sign", use_bias=True,
                     activation="linear"), {"kernel": rng.normal(0, 1, (36, 12)),
                                            "bias": rng.normal(0, 20, 12)})
        add(*_bn(rng, "bn0", 12))
        add(kf.layer("Dropout", "drop", rate=0.5))
        add(kf.layer("QuantDense", "d1", units=5, input_quantizer="approx_sign",
                     kernel_quantizer=SIGN, use_bias=False), {"kernel": rng.normal(0, 1, (12, 5))})
        add(kf.layer("Rescaling", "out", scale=0.25, offset=0.0))
        add(kf.layer("Activation", "soft", activation="softmax"))
        return layers, weights, shape, True
    shape = (8, 8, 2)
    add(kf.layer("Rescaling", "pre", scale=1 / 127.5, offset=-1.0))
    conv = dict(kernel_size=[3, 3], strides=[1, 1], use_bias=False, input_quantizer="ste_sign")
    if kind == "tern":
        add(kf.layer("QuantConv2D", "c0", filters=6, padding="same", pad_values=1.0,
                     kernel_quantizer={"class_name": "SteTern",
                                       "config": {"threshold_value": 0.3}}, **conv),
            {"kernel": rng.normal(0, 0.5, (3, 3, 2, 6))})
        add(*_bn(rng, "bn0", 6, scale=False))
        add(kf.layer("MaxPool2D", "p0", pool_size=[2, 2], padding="valid"))
        add(kf.layer("QuantConv2D", "c1", filters=4, padding="valid",
                     kernel_quantizer="swish_sign", **conv),
            {"kernel": rng.normal(0, 1, (3, 3, 6, 4))})
        add(*_bn(rng, "bn1", 4))
        add(kf.layer("Flatten", "flat"))
        exact = True
    elif kind == "gap":
        add(kf.layer("QuantConv2D", "c0", filters=6, padding="same", pad_values=0.0,
                     kernel_quantizer="ste_sign", **conv),
            {"kernel": rng.normal(0, 1, (3, 3, 2, 6))})
        add(*_bn(rng, "bn0", 6))
        add(kf.layer("Activation", "s0", activation="ste_sign"))
        add(kf.layer("AveragePooling2D", "a0", pool_size=[2, 2], padding="valid"))
        add(kf.layer("QuantConv2D", "c1", filters=5, padding="valid",
                     kernel_quantizer="ste_sign", **conv),
            {"kernel": rng.normal(0, 1, (3, 3, 6, 5))})
        add(*_bn(rng, "bn1", 5))
        add(kf.layer("SteSign", "s1", clip_value=1.0))
        add(kf.layer("GlobalAveragePooling2D", "g0"))
        exact = True
    else:   # "scaled": magnitude-aware and DoReFa kernels, DoReFa activations: not exact
        add(kf.layer("QuantConv2D", "c0", filters=6, padding="valid",
                     kernel_quantizer="magnitude_aware_sign", **conv),
            {"kernel": rng.normal(0, 1, (3, 3, 2, 6))})
        add(*_bn(rng, "bn0", 6))
        add(kf.layer("MaxPool2D", "p0", pool_size=[2, 2], padding="valid"))
        add(kf.layer("Flatten", "flat"))
        add(kf.layer("QuantDense", "d0", units=7, use_bias=False,
                     input_quantizer={"class_name": "DoReFa",
                                      "config": {"k_bit": 2, "mode": "activations"}},
                     kernel_quantizer={"class_name": "DoReFa",
                                       "config": {"k_bit": 2, "mode": "weights"}}),
            {"kernel": rng.normal(0, 1, (layers_out(layers, shape), 7))})
        add(*_bn(rng, "bn1", 7, center=True))
        exact = False
    add(kf.layer("QuantDense", "d9", units=4, input_quantizer="ste_sign",
                 kernel_quantizer="ste_sign", use_bias=False),
        {"kernel": rng.normal(0, 1, (layers_out(layers, shape), 4))})
    return layers, weights, shape, exact


def layers_out(layers, shape):
    """The flat width entering the last dense layer (the model's shape arithmetic)."""
    h, w, c = shape
    for spec in layers:
        cfg = spec["config"]
        if spec["class_name"] == "QuantConv2D":
            k = cfg["kernel_size"][0]
            if cfg["padding"] == "valid":
                h, w = h - k + 1, w - k + 1
            c = cfg["filters"]
        elif spec["class_name"] in ("MaxPool2D", "AveragePooling2D"):
            h, w = h // 2, w // 2
        elif spec["class_name"] == "GlobalAveragePooling2D":
            h = w = 1
        elif spec["class_name"] == "QuantDense":
            h, w, c = 1, 1, cfg["units"]
    return h * w * c


def _model(kind, seed):
    layers, weights, shape, exact = _case(kind, np.random.default_rng(seed))
    return kf.sequential(layers, shape), weights, shape, exact


@pytest.mark.parametrize("suffix", [".h5", ".keras"])
@pytest.mark.parametrize("kind", ["mlp", "tern", "gap", "scaled"])
def test_written_models_against_numpy_forward(tmp_path, kind, suffix):
    config, weights, shape, exact = _model(kind, 3)
    path = tmp_path / f"{kind}{suffix}"
    (kf.write_h5 if suffix == ".h5" else kf.write_keras)(path, config, weights)
    result = import_larq(path)
    assert result.exact_matmul == exact
    rng = np.random.default_rng(4)
    pixels = rng.integers(0, 256, (400, *shape)).astype(np.uint8)
    expect = kf.forward(config, weights, pixels.astype(np.float32))
    trace = run(result.network, pixels)
    if exact:
        assert np.array_equal(trace.labels, expect.argmax(axis=1))
        _affine(trace.scores, expect)
    else:
        # Keras's float sums of scaled values may round where golden's integers do not.
        assert (trace.labels == expect.argmax(axis=1)).mean() >= 0.97


def test_rescaling_before_the_flatten_of_an_image_input(tmp_path):
    """An (H, W) input rescaled, then flattened: the flatten applies to the rescaled
    tensor, not only to the raw input."""
    rng = np.random.default_rng(6)
    layers = [kf.layer("Rescaling", "pre", scale=1 / 127.5, offset=-1.0),
              kf.layer("Flatten", "f"),
              kf.layer("QuantDense", "d", units=3, input_quantizer="ste_sign",
                       kernel_quantizer="ste_sign", use_bias=False)]
    weights = {"d": {"kernel": rng.normal(0, 1, (16, 3))}}
    config = kf.sequential(layers, (4, 4))
    kf.write_h5(tmp_path / "r.h5", config, weights)
    result = import_larq(tmp_path / "r.h5")
    pixels = rng.integers(0, 256, (200, 4, 4)).astype(np.uint8)
    expect = kf.forward(config, weights, pixels.astype(np.float32))
    assert np.array_equal(run(result.network, pixels).labels, expect.argmax(axis=1))


def test_negative_gain_batch_norm_before_a_max_pool(tmp_path):
    """A batch norm with negative gains before the pool: thresholds of direction -1, then
    the max-pool of their bits, as the float model computes."""
    rng = np.random.default_rng(5)
    layers = [kf.layer("QuantConv2D", "c0", filters=4, kernel_size=[3, 3], padding="valid",
                       input_quantizer="ste_sign", kernel_quantizer="ste_sign", use_bias=False),
              kf.layer("BatchNormalization", "bn0", axis=[3], epsilon=1e-3),
              kf.layer("MaxPool2D", "p0", pool_size=[2, 2]),
              kf.layer("Flatten", "f"),
              kf.layer("QuantDense", "d", units=3, input_quantizer="ste_sign",
                       kernel_quantizer="ste_sign", use_bias=False)]
    weights = {"c0": {"kernel": rng.normal(0, 1, (3, 3, 1, 4))},
               "bn0": {"gamma": np.array([-1.0, 2.0, -0.5, 1.0]), "beta": rng.normal(0, 1, 4),
                       "moving_mean": rng.normal(0, 2, 4), "moving_variance": np.ones(4)},
               "d": {"kernel": rng.normal(0, 1, (144, 3))}}
    config = kf.sequential(layers, (14, 14, 1))
    kf.write_h5(tmp_path / "neg.h5", config, weights)
    result = import_larq(tmp_path / "neg.h5")
    assert (result.network.layers[0].activation.direction < 0).any()
    pixels = rng.integers(0, 256, (300, 14, 14, 1)).astype(np.uint8)
    expect = kf.forward(config, weights, pixels.astype(np.float32))
    assert np.array_equal(run(result.network, pixels[..., 0]).labels, expect.argmax(axis=1))


# -- refusals -------------------------------------------------------------------------------


def _refused(tmp_path, layers, weights, shape=(4, 4, 1), match=""):
    path = tmp_path / "bad.h5"
    kf.write_h5(path, kf.sequential(layers, shape), weights)
    with pytest.raises(ModelError, match=match) as info:
        load_model(path)
    assert "\n" not in str(info.value) and str(info.value).startswith(str(path))
    return str(info.value)


DENSE_OK = kf.layer("QuantDense", "d", units=2, input_quantizer="ste_sign",
                    kernel_quantizer="ste_sign", use_bias=False)
CONV = dict(kernel_size=[3, 3], padding="valid", input_quantizer="ste_sign",
            kernel_quantizer="ste_sign", use_bias=False)


@pytest.mark.parametrize("layers,weights,match", [
    ([kf.layer("Flatten", "f"), kf.layer("Dense", "dense", units=2)], {}, "'dense' .*QuantDense"),
    ([kf.layer("QuantDepthwiseConv2D", "dw", kernel_size=[3, 3])], {}, "'dw'.*depthwise"),
    ([kf.layer("LayerNormalization", "ln")], {}, "'ln'.*BatchNormalization"),
    ([kf.layer("Reshape", "r", target_shape=[16])], {}, "'r'.*Flatten"),
    ([kf.layer("Flatten", "f"), kf.layer("QuantDense", "d", units=2,
                                         input_quantizer="ste_heaviside",
                                         kernel_quantizer="ste_sign")],
     {"d": {"kernel": np.ones((16, 2))}}, "'d'.*ste_heaviside"),
    ([kf.layer("Flatten", "f"), kf.layer("QuantDense", "d", units=2, kernel_quantizer=None)],
     {"d": {"kernel": np.ones((16, 2))}}, "'d'.*float weights"),
    ([kf.layer("QuantConv2D", "c", filters=2, dilation_rate=[2, 2], **CONV)],
     {"c": {"kernel": np.ones((3, 3, 1, 2))}}, "'c'.*dilated"),
    ([kf.layer("Flatten", "f"), kf.layer("QuantDense", "d", units=2, activation="tanh",
                                         kernel_quantizer="ste_sign")],
     {"d": {"kernel": np.ones((16, 2))}}, "'d'.*activation 'tanh'"),
    ([kf.layer("Activation", "a", activation="sigmoid")], {}, "'a'.*sigmoid"),
    ([kf.layer("Flatten", "f"), kf.layer("QuantDense", "d", units=2,
                                         kernel_quantizer={"class_name": "DoReFa",
                                                           "config": {"k_bit": 2}})],
     {"d": {"kernel": np.ones((16, 2))}}, "'d'.*mode='weights'"),
    ([kf.layer("Flatten", "f"), kf.layer("QuantDense", "d", units=2,
                                         input_quantizer="magnitude_aware_sign",
                                         kernel_quantizer="ste_sign")],
     {"d": {"kernel": np.ones((16, 2))}}, "'d'.*kernels only"),
])
def test_unsupported_layers_and_quantizers(tmp_path, layers, weights, match):
    _refused(tmp_path, layers, weights, match=match)


def test_damaged_and_foreign_files(tmp_path):
    path = tmp_path / "x.keras"
    path.write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="not a .keras file"):
        load_model(path)
    path = tmp_path / "x.h5"
    path.write_bytes(b"\x89HDF\r\n garbage")
    with pytest.raises(ModelError, match="not an HDF5 file"):
        load_model(path)
    import h5py
    with h5py.File(tmp_path / "w.h5", "w") as f:
        f.create_dataset("kernel", data=np.ones(3))
    with pytest.raises(ModelError, match="weights only"):
        load_model(tmp_path / "w.h5")
    # A NaN in a batch norm and a kernel of the wrong shape.
    layers = [kf.layer("Flatten", "f"), DENSE_OK]
    msg = _refused(tmp_path, layers, {"d": {"kernel": np.ones((15, 2))}}, match="kernel of shape")
    assert "'d'" in msg
    bn = kf.layer("BatchNormalization", "bn", axis=[1])
    _refused(tmp_path, [kf.layer("Flatten", "f"), DENSE_OK, bn, DENSE_OK],
             {"d": {"kernel": np.ones((16, 2))},
              "bn": {"gamma": [1, np.nan], "beta": [0, 0], "moving_mean": [0, 0],
                     "moving_variance": [1, 1]}}, match="NaN")


def test_branching_functional_model_is_refused(tmp_path):
    config = {"class_name": "Functional", "config": {"name": "f", "layers": [
        {"class_name": "InputLayer", "name": "in", "config": {"name": "in",
                                                              "batch_input_shape": [None, 4]},
         "inbound_nodes": []},
        {"class_name": "QuantDense", "name": "a", "config": {"name": "a", "units": 4},
         "inbound_nodes": [[["in", 0, 0, {}]]]},
        {"class_name": "QuantDense", "name": "b", "config": {"name": "b", "units": 4},
         "inbound_nodes": [[["in", 0, 0, {}]]]},
        {"class_name": "Add", "name": "add", "config": {"name": "add"},
         "inbound_nodes": [[["a", 0, 0, {}], ["b", 0, 0, {}]]]}]}}
    kf.write_h5(tmp_path / "f.h5", config, {})
    with pytest.raises(ModelError, match="'b' does not take just the layer before it"):
        load_model(tmp_path / "f.h5")


def test_command_lines_take_keras_files(tmp_path, capsys):
    """bnn-qonnx import prints the exactness flags of a Keras model; bnn-eval --inputs takes
    the Keras model's own (N, H, W, C) floats and saves golden's classes, which equal the
    float model's."""
    from golden import evaluate, qonnx
    config, weights, shape, _ = _model("tern", 8)
    kf.write_keras(tmp_path / "net.keras", config, weights)
    assert qonnx.main(["import", "--model", str(tmp_path / "net.keras"),
                       "--out", str(tmp_path / "net.npz")]) == 0
    assert "float32 MatMul exact: yes" in capsys.readouterr().out
    x = np.random.default_rng(9).integers(0, 256, (50, *shape)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    assert evaluate.main(["--model", str(tmp_path / "net.keras"), "--inputs",
                          str(tmp_path / "x.npy"), "--save", str(tmp_path / "p.npz")]) == 0
    assert np.array_equal(np.load(tmp_path / "p.npz")["pred"],
                          kf.forward(config, weights, x).argmax(axis=1))


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_models_export_verilog(tmp_path, name):
    """``bnn-build --model x.h5 --out DIR``: Verilog and a report for both Larq models."""
    import json

    from hdl.flow.build import main
    assert main(["--model", str(ROOT / "models" / name), "--out", str(tmp_path)]) == 0
    assert "module" in (tmp_path / "bnn_top.v").read_text()
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["cycles_per_inference"] > 0
