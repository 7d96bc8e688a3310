"""Small QONNX graphs built by hand with onnx.helper, for the importer's tests.

Each builder returns an ``onnx.ModelProto`` in the spelling a QONNX producer uses (custom
ops in the ``qonnx.custom_op.general`` domain unless another is asked for). Weights are
seeded random; scales are powers of two unless asked otherwise, so that the graph's float32
arithmetic is exact and golden must equal qonnx's executor on every input.
"""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

QONNX = "qonnx.custom_op.general"


class Builder:
    def __init__(self, domain=QONNX):
        self.nodes, self.inits, self.n, self.domain = [], [], 0, domain

    def const(self, value, dtype=np.float32):
        self.n += 1
        name = f"c{self.n}"
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def op(self, op_type, inputs, custom=False, **attrs):
        self.n += 1
        out = f"t{self.n}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=f"{op_type}_{self.n}",
                                           domain=self.domain if custom else "", **attrs))
        return out

    def quant(self, x, scale, bits, signed=1, narrow=0, rounding="ROUND", zeropt=0.0):
        return self.op("Quant", [x, self.const(scale), self.const(zeropt), self.const(float(bits))],
                       custom=True, signed=signed, narrow=narrow, rounding_mode=rounding)

    def bipolar(self, x, scale=1.0):
        return self.op("BipolarQuant", [x, self.const(scale)], custom=True)

    def model(self, out, in_shape, out_shape, out_type=TensorProto.FLOAT):
        graph = helper.make_graph(
            self.nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
            [helper.make_tensor_value_info(out, out_type, out_shape)], self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                        helper.make_opsetid(self.domain, 1)])
        model.ir_version = 8
        return model


def _bn(b, x, rng, channels, negative=0):
    gamma = rng.uniform(0.5, 2.0, channels).astype(np.float32)
    gamma[:negative] *= -1
    return b.op("BatchNormalization", [
        x, b.const(gamma), b.const(rng.normal(0, 1, channels)),
        b.const(rng.normal(0, 3, channels)), b.const(rng.uniform(1, 30, channels))],
        epsilon=1e-5)


def mlp(seed=0, *, rounding="ROUND", act="quant2", weight_bits=3, per_channel=True,
        pow2=True, final=None, domain=QONNX, hidden=24, features=64):
    """``x (1, features)`` -> 2x - 1 -> 2-bit input Quant -> MatMul (k-bit weights,
    per-channel scale) -> BN (two negative gains) -> activation -> MatMul -> Add bias ->
    optional Softmax/ArgMax. ``act``: "quant2" (unsigned 2-bit, after Relu), "bipolar",
    "sign", "zero_one" (unsigned 1-bit, {0, 1}), "mt" (FINN MultiThreshold, 3 levels)."""
    rng = np.random.default_rng(seed)
    b = Builder(domain)
    x = b.op("Sub", [b.op("Mul", ["x", b.const(2.0)]), b.const(1.0)])
    x = b.quant(x, 0.5 if pow2 else 0.37, 2, signed=1, narrow=1)
    qmax = (1 << (weight_bits - 1)) - 1
    w1 = rng.uniform(-qmax - 1, qmax + 1, (features, hidden)).astype(np.float32)
    s1 = (2.0 ** rng.integers(-3, 1, (1, hidden)) if per_channel else np.float32(0.25))
    if not pow2:
        s1 = s1 * 0.8123
    w1q = b.quant(b.const(w1 * s1), s1, weight_bits, signed=1, narrow=0)
    h = _bn(b, b.op("MatMul", [x, w1q]), rng, hidden, negative=2)
    if act == "quant2":
        h = b.quant(b.op("Relu", [h]), 0.5, 2, signed=0, rounding=rounding)
    elif act == "bipolar":
        h = b.bipolar(h)
    elif act == "sign":
        h = b.op("Sign", [h])
    elif act == "zero_one":
        h = b.quant(b.op("Relu", [h]), 1.0, 1, signed=0)      # {0, 1}
    elif act == "mt":
        thr = np.sort(rng.normal(0, 1, (hidden, 2)), axis=1)
        h = b.op("MultiThreshold", [h, b.const(thr)], custom=True, out_dtype="INT2",
                 out_scale=1.0, out_bias=-1.0)
    w2 = rng.integers(-4, 4, (hidden, 10)).astype(np.float32)
    w2q = b.quant(b.const(w2 * 0.5), 0.5, 3, signed=1, narrow=0)
    scores = b.op("Add", [b.op("MatMul", [h, w2q]), b.const(rng.integers(-8, 8, 10) * 0.25)])
    out_shape, out_type = [1, 10], TensorProto.FLOAT
    if final == "softmax":
        scores = b.op("Softmax", [scores], axis=-1)
    elif final == "argmax":
        scores = b.op("ArgMax", [scores], axis=-1, keepdims=0)
        out_shape, out_type = [1], TensorProto.INT64
    return b.model(scores, [1, features], out_shape, out_type)


def conv(seed=0, *, pad=1):
    """``x (1, 2, 10, 10)`` -> 8-bit unsigned input Quant -> Conv 3x3 (pads, 2-bit per-channel
    weights, bias) -> BN -> Relu -> 2-bit Quant -> MaxPool 2x2 -> Conv -> BN -> bipolar ->
    Flatten -> Gemm (transB, bias) -> scores."""
    rng = np.random.default_rng(seed)
    b = Builder()
    x = b.quant("x", 1 / 256, 8, signed=0)
    w = rng.integers(-2, 2, (6, 2, 3, 3)).astype(np.float32)
    s = 2.0 ** rng.integers(-2, 1, (6, 1, 1, 1))
    wq = b.quant(b.const(w * s), s, 2, signed=1)
    h = b.op("Conv", [x, wq, b.const(rng.normal(0, 0.05, 6))], kernel_shape=[3, 3],
             pads=[pad] * 4, strides=[1, 1])
    h = _bn(b, h, rng, 6, negative=1)
    h = b.quant(b.op("Relu", [h]), 0.25, 2, signed=0)
    h = b.op("MaxPool", [h], kernel_shape=[2, 2], strides=[2, 2])
    w = rng.choice([-1.0, 1.0], (4, 6, 3, 3))
    h = b.op("Conv", [h, b.bipolar(b.const(w))], kernel_shape=[3, 3])
    h = b.bipolar(_bn(b, h, rng, 4))
    side = (10 + 2 * pad - 2) // 2 - 2
    h = b.op("Flatten", [h], axis=1)
    w = rng.choice([-1.0, 1.0], (10, 4 * side * side))
    scores = b.op("Gemm", [h, b.bipolar(b.const(w)), b.const(rng.integers(-4, 4, 10))],
                  transB=1)
    return b.model(scores, [1, 2, 10, 10], [1, 10])


def binary_classifier(seed=0):
    """``x (1, 32)`` -> bipolar -> MatMul -> BN -> bipolar -> MatMul (one output) -> BN
    (negative gain) -> bipolar: a binary classifier, class 1 when the output is +1."""
    rng = np.random.default_rng(seed)
    b = Builder()
    x = b.bipolar(b.op("Sub", ["x", b.const(0.5)]))
    h = b.op("MatMul", [x, b.bipolar(b.const(rng.choice([-1.0, 1.0], (32, 16))))])
    h = b.bipolar(_bn(b, h, rng, 16))
    h = b.op("MatMul", [h, b.bipolar(b.const(rng.choice([-1.0, 1.0], (16, 1))))])
    gamma = np.array([-1.5], np.float32)
    h = b.op("BatchNormalization", [h, b.const(gamma), b.const([0.3]), b.const([1.0]),
                                    b.const([4.0])], epsilon=1e-5)
    return b.model(b.bipolar(h), [1, 32], [1, 1])


def _norm(b, x, mean, var, gamma, beta):
    """A BatchNormalization with the given per-channel statistics."""
    f = np.float32
    return b.op("BatchNormalization", [x, b.const(np.asarray(gamma, f)),
                                       b.const(np.asarray(beta, f)), b.const(np.asarray(mean, f)),
                                       b.const(np.asarray(var, f))], epsilon=1e-5)


def pooled(seed=0, *, avg="global", act_after_avg="quant2"):
    """``x (1, 1, 11, 11)`` -> 8-bit unsigned input Quant -> Conv 3x3 (bipolar weights) ->
    BN -> bipolar -> MaxPool 2x2 stride 2 over the 9x9 map (PyTorch's floor mode: 4x4) ->
    an average pool (``"global"``: GlobalAveragePool; ``"window"``: AveragePool 2x2
    stride 1, then a Conv 1x1) -> BN -> a quantizer (``act_after_avg``: "quant2", unsigned
    2-bit after Relu; "bipolar") -> Flatten -> Gemm -> scores. The batch norms' statistics
    are set so that on uniform random inputs every quantizer's levels all occur (about 1 in
    6 bits set before the max-pool, half after it; the averages spread over the levels)."""
    rng = np.random.default_rng(seed)
    b = Builder()
    x = b.quant("x", 1 / 256, 8, signed=0)
    w = rng.choice([-1.0, 1.0], (6, 1, 3, 3))
    # The conv of uniform [0, 1) pixels by +-1 weights: mean sum(w)/2, deviation sqrt(9/12).
    gain = rng.choice([-1.0, 1.0], 6)
    h = b.op("Conv", [x, b.bipolar(b.const(w))], kernel_shape=[3, 3])
    h = _norm(b, h, w.sum(axis=(1, 2, 3)) / 2 + gain * 0.87, np.full(6, 0.75), gain,
              np.zeros(6))
    h = b.bipolar(h)
    h = b.op("MaxPool", [h], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=0)   # 9 -> 4
    if avg == "global":
        h = b.op("GlobalAveragePool", [h])                                          # 6x1x1
        side, channels, spread = 1, 6, 0.25
    else:
        h = b.op("AveragePool", [h], kernel_shape=[2, 2], strides=[1, 1])            # 4 -> 3
        side, channels, spread = 3, 6, 0.5
    gamma = rng.uniform(0.8, 1.2, channels) * rng.choice([-1.0, 1.0], channels)
    beta = np.full(channels, 0.75 if act_after_avg == "quant2" else 0.0)
    h = _norm(b, h, rng.normal(0, spread / 4, channels), np.full(channels, spread ** 2),
              gamma, beta)
    if act_after_avg == "quant2":
        h = b.quant(b.op("Relu", [h]), 0.5, 2, signed=0)
    else:
        h = b.bipolar(h)
    if avg == "window":
        w = rng.choice([-1.0, 1.0], (4, channels, 1, 1))
        h = b.op("Conv", [h, b.bipolar(b.const(w))], kernel_shape=[1, 1])
        h = b.bipolar(_bn(b, h, rng, 4))
        channels = 4
    h = b.op("Flatten", [h], axis=1)
    w = rng.choice([-1.0, 1.0], (10, channels * side * side))
    scores = b.op("Gemm", [h, b.bipolar(b.const(w)), b.const(rng.integers(-4, 4, 10))],
                  transB=1)
    return b.model(scores, [1, 1, 11, 11], [1, 10])


def unquantized_input_mlp(seed=0, *, kind="bipolar", features=48):
    """An MLP whose input no quantizer quantizes: ``"bipolar"``, a +-1 vector mapped to
    {0, 1} by ``(x + 1) / 2`` (the QONNX zoo's UNSW-NB15 MLP does this), or ``"fixed"``,
    8-bit fixed-point numbers (scale 1/16) straight into the first MatMul (as QKeras exports
    a network fed with fixed-point features) -> 3-bit weights -> BN -> 2-bit ReLU ->
    MatMul -> scores."""
    rng = np.random.default_rng(seed)
    b = Builder()
    x = "x"
    if kind == "bipolar":
        x = b.op("Div", [b.op("Add", [x, b.const(1.0)]), b.const(2.0)])
    w1 = rng.integers(-4, 4, (features, 24)).astype(np.float32)
    h = b.op("MatMul", [x, b.quant(b.const(w1 * 0.25), 0.25, 3, signed=1)])
    spread = 2.0 if kind == "bipolar" else 8.0
    h = b.op("BatchNormalization", [
        h, b.const(rng.uniform(0.5, 1.5, 24)), b.const(np.full(24, 0.75, np.float32)),
        b.const(rng.normal(0, spread / 4, 24)), b.const(np.full(24, spread ** 2, np.float32))],
        epsilon=1e-5)
    h = b.quant(b.op("Relu", [h]), 0.5, 2, signed=0)
    w2 = rng.integers(-4, 4, (24, 10)).astype(np.float32)
    scores = b.op("MatMul", [h, b.quant(b.const(w2 * 0.5), 0.5, 3, signed=1)])
    return b.model(scores, [1, features], [1, 10])


def residual(seed=0, *, skip="identity", ratio=2.0, bipolar_fork=False, negative=0,
             fork_pad=-1.0):
    """``x (1, 1, 8, 8)`` -> 8-bit unsigned input Quant -> Conv 3x3 pad 1 (bipolar
    weights) -> BN -> the fork map: 2-bit unsigned codes, scale 0.5 (``bipolar_fork``: a
    +-1 map, padded by a ``Pad`` of ``fork_pad``) -> main path: Conv 3x3 pad 1 -> BN ->
    Relu -> 2-bit Quant, scale
    ``0.5 * ratio``; skip path (``skip``): ``"identity"`` (the fork map itself), ``"conv"``
    (Conv 1x1 -> BN -> Relu -> 2-bit Quant, scale 0.5) or ``"self"`` (the main path's own
    output: an add of a map to itself) -> Add -> BN (``negative`` channels with a
    negative gain) -> signed 3-bit Quant -> Flatten -> Gemm -> scores."""
    rng = np.random.default_rng(seed)
    b = Builder()
    x = b.quant("x", 1 / 256, 8, signed=0)
    c = 4
    w = rng.choice([-1.0, 1.0], (c, 1, 3, 3))
    h = b.op("Conv", [x, b.bipolar(b.const(w))], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    h = _norm(b, h, w.sum(axis=(1, 2, 3)) / 2, np.full(c, 0.75), np.ones(c), np.full(c, 0.6))
    fork = b.bipolar(h) if bipolar_fork else b.quant(b.op("Relu", [h]), 0.5, 2, signed=0)
    fork_pads = [1, 1, 1, 1] if not bipolar_fork else [0, 0, 0, 0]
    src = b.op("Pad", [fork, b.const(np.array([0, 0, 1, 1, 0, 0, 1, 1]), np.int64),
                       b.const(fork_pad)], mode="constant") if bipolar_fork else fork

    def path(src, k, pads, scale):
        w = rng.choice([-1.0, 1.0], (c, c, k, k))
        y = b.op("Conv", [src, b.bipolar(b.const(w))], kernel_shape=[k, k], pads=pads)
        spread = np.sqrt(k * k * c) * (1.0 if bipolar_fork else 0.6)
        y = _norm(b, y, rng.normal(0, 1, c), np.full(c, spread ** 2), np.ones(c),
                  np.full(c, 0.75))
        return b.quant(b.op("Relu", [y]), scale, 2, signed=0)

    main = path(src, 3, fork_pads, 0.5 * ratio)
    other = {"identity": fork, "self": main}.get(skip) or path(fork, 1, [0, 0, 0, 0], 0.5)
    h = b.op("Add", [main, other])
    gamma = rng.uniform(0.8, 1.2, c)
    gamma[:negative] *= -1
    h = _norm(b, h, np.full(c, 1.5), np.full(c, 1.0), gamma, np.zeros(c))
    h = b.quant(h, 0.5, 3, signed=1)
    h = b.op("Flatten", [h], axis=1)
    w = rng.choice([-1.0, 1.0], (10, c * 64))
    scores = b.op("Gemm", [h, b.bipolar(b.const(w)), b.const(rng.integers(-4, 4, 10))],
                  transB=1)
    return b.model(scores, [1, 1, 8, 8], [1, 10])


def zero_padded_binary(seed=0, *, via_pad=False):
    """``x (1, 1, 8, 8)`` -> ``2x - 1`` -> bipolar input -> Conv 3x3 with pads 1 (the +-1
    input map padded with 0) -> BN -> bipolar -> Conv 3x3, its +-1 map padded with 0 by its
    ``pads`` or, ``via_pad``, by a constant ``Pad`` of value 0 -> BN -> bipolar -> Flatten ->
    Gemm -> scores. PyTorch's ``padding=1`` after a sign."""
    rng = np.random.default_rng(seed)
    b = Builder()
    x = b.op("Sub", [b.op("Mul", ["x", b.const(2.0)]), b.const(1.0)])
    h = b.bipolar(x)
    for layer, (cin, cout) in enumerate([(1, 4), (4, 6)]):
        w = rng.choice([-1.0, 1.0], (cout, cin, 3, 3))
        pads = [1, 1, 1, 1]
        if via_pad and layer == 1:
            h = b.op("Pad", [h, b.const(np.array([0, 0, 1, 1, 0, 0, 1, 1]), np.int64),
                             b.const(0.0)], mode="constant")
            pads = [0, 0, 0, 0]
        h = b.op("Conv", [h, b.bipolar(b.const(w))], kernel_shape=[3, 3], pads=pads)
        h = b.bipolar(_norm(b, h, rng.normal(0, 1, cout), np.full(cout, 9.0 * cin),
                            rng.uniform(0.5, 1.5, cout) * rng.choice([-1.0, 1.0], cout),
                            np.zeros(cout)))
    h = b.op("Flatten", [h], axis=1)
    w = rng.choice([-1.0, 1.0], (10, 6 * 64))
    scores = b.op("Gemm", [h, b.bipolar(b.const(w)), b.const(rng.integers(-4, 4, 10))],
                  transB=1)
    return b.model(scores, [1, 1, 8, 8], [1, 10])


def channel_scaled(seed=0, *, conv=False, ratio=2.0, bipolar=False):
    """A hidden quantizer with a scale per channel, powers of two apart (``ratio`` 2: scales
    0.25, 0.5, 1 and 2 in turn; other ratios are refused): ``conv`` False, ``x (1, 32)`` ->
    8-bit Quant -> MatMul -> BN -> 2-bit unsigned Quant per channel (``bipolar``: a
    BipolarQuant per channel) -> MatMul (3-bit weights) -> scores; ``conv`` True,
    ``x (1, 1, 10, 10)`` -> Conv 3x3 -> BN -> the per-channel Quant -> MaxPool 2x2 (8 -> 4)
    -> Conv 3x3 (3-bit weights) -> BN -> 2-bit Quant -> Flatten -> MatMul -> scores."""
    rng = np.random.default_rng(seed)
    b = Builder()
    c = 8
    scales = (0.25 * ratio ** (np.arange(c) % 4)).astype(np.float32)
    x = b.quant("x", 1 / 256, 8, signed=0)
    if conv:
        w = rng.choice([-1.0, 1.0], (c, 1, 3, 3))
        h = b.op("Conv", [x, b.bipolar(b.const(w))], kernel_shape=[3, 3])
        h = _norm(b, h, w.sum(axis=(1, 2, 3)) / 2, np.full(c, 0.75), np.ones(c),
                  scales * 1.5)
        shape = (1, c, 1, 1)
    else:
        w = rng.choice([-1.0, 1.0], (32, c))
        h = b.op("MatMul", [x, b.bipolar(b.const(w))])
        h = _norm(b, h, w.sum(axis=0) / 2, np.full(c, 2.7), np.ones(c), scales * 1.5)
        shape = (1, c)
    if bipolar:
        h = b.op("BipolarQuant", [h, b.const(scales.reshape(shape))], custom=True)
    else:
        h = b.op("Quant", [b.op("Relu", [h]), b.const(scales.reshape(shape)), b.const(0.0),
                           b.const(2.0)], custom=True, signed=0, narrow=0, rounding_mode="ROUND")
    if conv:
        h = b.op("MaxPool", [h], kernel_shape=[2, 2], strides=[2, 2])             # 8 -> 4
        w = rng.integers(-3, 4, (4, c, 3, 3)).astype(np.float32)
        h = b.op("Conv", [h, b.quant(b.const(w * 0.5), 0.5, 3)], kernel_shape=[3, 3])
        h = b.quant(b.op("Relu", [_bn(b, h, rng, 4)]), 0.5, 2, signed=0)
        h = b.op("Flatten", [h], axis=1)
        w = rng.choice([-1.0, 1.0], (16, 10))
        scores = b.op("MatMul", [h, b.bipolar(b.const(w))])
        return b.model(scores, [1, 1, 10, 10], [1, 10])
    w = rng.integers(-3, 4, (c, 10)).astype(np.float32)
    scores = b.op("MatMul", [h, b.quant(b.const(w * 0.5), 0.5, 3)])
    return b.model(scores, [1, 32], [1, 10])
