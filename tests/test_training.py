"""training/: the batch-norm fold and the export reproduce the float network exactly.

No mlxtend needed: the parameters here are random, the point is that the exported golden
network computes what the trained float network computes.
"""

import numpy as np

from golden.network import run
from training.mnist_bnn import export, fold_thresholds


def test_fold_thresholds_is_exact_for_every_popcount():
    rng = np.random.default_rng(0)
    mw, channels = 37, 200
    mean = rng.normal(0, 6, channels)
    var = rng.uniform(0.5, 30, channels)
    gamma = rng.normal(0, 1, channels)
    gamma[:5] = 0                       # constant outputs
    beta = rng.normal(0, 1, channels)
    t, d = fold_thresholds(mean, var, gamma, beta, mw)
    p = np.arange(mw + 1)[:, None]
    float_bit = gamma * ((2 * p - mw) - mean) / np.sqrt(var) + beta >= 0
    int_bit = np.where(d > 0, p >= t[:, 0], p <= t[:, 0])
    assert np.array_equal(float_bit, int_bit)


def test_export_matches_the_float_forward_pass():
    rng = np.random.default_rng(1)
    sizes = [784, 32, 16, 10]
    w = [rng.uniform(-1, 1, (o, i)) for i, o in zip(sizes[:-1], sizes[1:])]
    params = {
        "w": w,
        "mean": [rng.normal(0, 5, o) for o in sizes[1:-1]],
        "var": [rng.uniform(1, 40, o) for o in sizes[1:-1]],
        "gamma": [rng.normal(0, 1, o) for o in sizes[1:-1]],
        "beta": [rng.normal(0, 1, o) for o in sizes[1:-1]],
        # (b - MW)/2 integral, so that the integer bias is exact.
        "out_bias": (sizes[-2] + 2 * rng.integers(-4, 5, 10)).astype(np.float64),
    }
    network = export(params)
    images = rng.integers(0, 256, (300, 28, 28), dtype=np.uint8)
    h = np.where(images.reshape(300, -1) >= 128, 1.0, -1.0)
    for k in range(2):
        a = h @ np.where(w[k] >= 0, 1.0, -1.0).T
        z = params["gamma"][k] * (a - params["mean"][k]) / np.sqrt(params["var"][k]) + params["beta"][k]
        h = np.where(z >= 0, 1.0, -1.0)
    logits = h @ np.where(w[2] >= 0, 1.0, -1.0).T + params["out_bias"]
    trace = run(network, images)
    assert np.array_equal(2 * trace.scores, logits.astype(np.int64))
    assert np.array_equal(trace.labels, logits.argmax(axis=1))


def test_conv_export_matches_the_float_forward_pass():
    """The residual conv net (training/mnist_conv.py) with random parameters and batch-norm
    statistics: every layer of the exported golden network equals the float model in
    evaluation mode, including the 4-bit codes of both residual paths."""
    from training.mnist_conv import CH, Model, _inputs, export
    rng = np.random.default_rng(2)
    model = Model(rng)
    for layer, mw in ((model.conv0, 9), (model.main, 9 * CH), (model.skip, CH)):
        layer.w = rng.uniform(-1, 1, layer.w.shape)
        layer.mean = rng.normal(0, mw ** 0.5, CH)
        layer.var = rng.uniform(0.3, 2, CH) * mw
        layer.gamma = rng.normal(0, 1, CH)
        layer.gamma[0] = 0                       # a constant channel
        layer.beta = rng.normal(0, 1, CH)
    model.norm.mean, model.norm.var = rng.normal(1, 3, CH), rng.uniform(2, 20, CH)
    model.norm.gamma, model.norm.beta = rng.normal(0, 1, CH), rng.normal(0, 1, CH)
    model.out_bias = (7 * 7 * CH + 2 * rng.integers(-4, 5, 10)).astype(np.float64)
    network = export(model)
    images = rng.integers(0, 256, (60, 28, 28), dtype=np.uint8)
    logits = model.forward(_inputs(images), train=False) / model.out_scale[0]
    trace = run(network, images)
    conv0, _, block, _, _ = trace.layers
    assert np.array_equal(2 * conv0.outputs - 1, np.where(model.conv0.z >= 0, 1, -1))
    main, skip = network.layers[2].main[0], network.layers[2].skip[0]
    from golden.network import layer_forward
    assert np.array_equal(layer_forward(main, block.inputs)[1] - 7,
                          np.clip(np.floor(3 * model.main.z + 0.5), -7, 8))
    assert np.array_equal(layer_forward(skip, block.inputs)[1] - 7,
                          np.clip(np.floor(3 * model.skip.z + 0.5), -7, 8))
    assert np.array_equal(2 * block.outputs - 1, np.where(model.norm.z >= 0, 1, -1))
    assert np.array_equal(2 * trace.scores, logits.astype(np.int64))
