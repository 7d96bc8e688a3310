"""Train the default iCEBreaker network with Brevitas, export it as QONNX, import it.

    python -m training.mnist_qat --data ../shared/data/mnist [--epochs 25] [--channels 32 64]
                                 [--hidden N] [--seed 0] [--out build/training/mnist_bcnn.npz]

The path a user takes: quantization-aware training in PyTorch with Brevitas (the ``train``
extra: ``python -m pip install -e '.[train]'``), ``brevitas.export.export_qonnx`` to a QONNX
graph (written beside ``--out`` as ``.onnx``), and this project's QONNX importer
(:mod:`golden.formats.qonnx`) to the integer model file.

The network (binary weights and activations, BinaryNet-style):
``2x - 1`` and a bipolar input quantizer (pixel >= 128), 5x5 convolution to C1 channels,
batch-norm, sign, 2x2 max-pool (12x12), 3x3 convolution to C2 channels, batch-norm, sign,
2x2 max-pool (5x5), with ``--hidden N`` a dense 25*C2 -> N, batch-norm and sign, then dense
-> 10 (``--channels C1 C2``, default 32 64 and no hidden layer, the shipped model) and one
learnt scalar scale (a per-tensor scale keeps the
integer scores an exact affine map of the float logits).

Data: the MNIST training set (60,000 images, standard IDX files) in ``--data``; the last
10,000 training images are held out for validation and pick the epoch (with
``--all-images`` none are: the recipe fixed on validation is trained again on all 60,000
and the last epoch kept); the test set is only evaluated at the end and reported.
Augmentation: random shifts of up to 2 pixels.
Seeded and deterministic (same command, same machine: same model file).
"""

import copy
import time
from pathlib import Path

import numpy as np

from golden.cli import ArgumentParser, out_path, run_cli
from golden.datasets import load_mnist, read_idx
from golden.errors import ModelError
from golden.formats import save_model
from golden.formats.qonnx import import_qonnx
from golden.network import run

from .augment import random_shifts
from .mnist_bnn import TRAINING_OUT

__all__ = ["main", "load_training_set", "build_model"]

MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/ (or yann.lecun.com/exdb/mnist/)"
VALIDATION = 10000


def load_training_set(folder):
    """The 60,000 MNIST training images (uint8, (N, 28, 28)) and labels from ``folder``."""
    folder = Path(folder)
    found = {}
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        path = next((folder / n for n in (stem + ".gz", stem) if (folder / n).is_file()), None)
        if path is None:
            raise ModelError(f"{folder}: no {stem}[.gz]; the MNIST training set is at "
                             f"{MNIST_URL}: put its four IDX files in --data")
        found[stem] = read_idx(path)
    images, labels = found["train-images-idx3-ubyte"], found["train-labels-idx1-ubyte"]
    if images.shape[1:] != (28, 28) or len(images) != len(labels) or len(images) <= VALIDATION:
        raise ModelError(f"{folder}: the training images {images.shape} and labels "
                         f"{labels.shape} are not an MNIST training set")
    return images, labels.astype(np.int64)


def _torch():
    try:
        import brevitas.nn  # noqa: F401
        import torch
    except ImportError:
        raise ModelError("training needs PyTorch and Brevitas: "
                         "python -m pip install -e '.[train]'") from None
    return torch


def build_model(c1=16, c2=32, hidden=0):
    """The binary CNN (see the module docstring); ``hidden`` > 0 adds a binary dense layer
    of that many neurons (batch norm and sign) before the class layer."""
    torch = _torch()
    import brevitas.nn as qnn
    from brevitas.quant import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst
    nn = torch.nn

    class Centre(nn.Module):
        def forward(self, x):
            return 2 * x - 1

    class Scale(nn.Module):
        """One learnt scalar: the logits' temperature, the same for every class."""

        def __init__(self):
            super().__init__()
            self.s = nn.Parameter(torch.tensor(0.1))

        def forward(self, x):
            return x * self.s

    w = dict(weight_quant=SignedBinaryWeightPerTensorConst, bias=False)
    a = dict(act_quant=SignedBinaryActPerTensorConst)
    return nn.Sequential(
        Centre(), qnn.QuantIdentity(**a),
        qnn.QuantConv2d(1, c1, 5, **w), nn.BatchNorm2d(c1), qnn.QuantIdentity(**a),
        nn.MaxPool2d(2),
        qnn.QuantConv2d(c1, c2, 3, **w), nn.BatchNorm2d(c2), qnn.QuantIdentity(**a),
        nn.MaxPool2d(2), nn.Flatten(),
        *([qnn.QuantLinear(c2 * 25, hidden, **w), nn.BatchNorm1d(hidden),
           qnn.QuantIdentity(**a)] if hidden else []),
        qnn.QuantLinear(hidden or c2 * 25, 10, **w), Scale())


def _float(images):
    return (images.astype(np.float32) / np.float32(255))[:, None]


def _recalibrate_batch_norm(model, images, batch=500):
    """Batch-norm running statistics from one pass over ``images`` at the final weights
    (a cumulative average), instead of the moving average the weights outran during
    training: with binary activations a small drift in them flips many signs."""
    torch = _torch()
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None
    model.train()
    with torch.no_grad():
        for k in range(0, len(images), batch):
            model(torch.tensor(_float(images[k:k + batch])))
    for bn in norms:
        bn.momentum = 0.1
    model.eval()


def train(images, labels, epochs=12, seed=0, batch=100, lr=2e-3, channels=(16, 32), hidden=0,
          log=print, holdout=VALIDATION):
    """Train on all but the last ``holdout`` images; returns the model whose validation
    accuracy on those was best (ties: the earlier epoch). With ``holdout=0`` it trains on
    every image and returns the model after the last epoch (the recipe chosen beforehand
    on validation, trained again on all the data)."""
    torch = _torch()
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(2)
    rng = np.random.default_rng(seed)
    train_x, train_y = images[:len(images) - holdout], labels[:len(images) - holdout]
    val_x = torch.tensor(_float(images[len(images) - holdout:]))
    val_y = labels[len(images) - holdout:]
    model = build_model(*channels, hidden)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * (len(train_x) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps)
    best = (-1.0, None, 0)
    for epoch in range(epochs):
        model.train()
        start = time.perf_counter()
        order = rng.permutation(len(train_x))
        x_all = random_shifts(train_x[order], rng)
        y_all = torch.tensor(train_y[order])
        for k in range(0, len(order) - batch + 1, batch):
            x = torch.tensor(_float(x_all[k:k + batch]))
            loss = torch.nn.functional.cross_entropy(model(x), y_all[k:k + batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        _recalibrate_batch_norm(model, train_x[:10000])
        if not holdout:
            log(f"epoch {epoch + 1}/{epochs}: loss {loss.item():.3f} "
                f"({time.perf_counter() - start:.0f} s)")
            continue
        with torch.no_grad():
            pred = torch.cat([model(val_x[k:k + 1000]).argmax(1)
                              for k in range(0, len(val_x), 1000)]).numpy()
        acc = float((pred == val_y).mean())
        log(f"epoch {epoch + 1}/{epochs}: loss {loss.item():.3f}, validation {acc:.4f} "
            f"({time.perf_counter() - start:.0f} s)")
        if acc > best[0]:
            best = (acc, copy.deepcopy(model.state_dict()), epoch + 1)
    if holdout:
        model.load_state_dict(best[1])
        log(f"chosen: epoch {best[2]} (validation {best[0]:.4f})")
    model.eval()
    return model


def export_onnx(model, path):
    torch = _torch()
    import onnx
    from brevitas.export import export_qonnx
    path = Path(path)
    export_qonnx(model, torch.zeros(1, 1, 28, 28), export_path=str(path))
    graph = onnx.load(str(path))
    Path(str(path) + ".data").unlink(missing_ok=True)
    onnx.save(graph, str(path))


def main(argv=None, prog="python -m training.mnist_qat"):
    parser = ArgumentParser(prog=prog, description=__doc__.split("\n")[0],
                            examples=[f"{prog} --data mnist/",
                                      f"{prog} --data mnist/ --out models/mnist_bcnn.npz   "
                                      f"(replace the shipped model)"])
    # The defaults are the recipe of the shipped models/mnist_bcnn.npz.
    parser.add_argument("--data", required=True, help="folder with the MNIST IDX files (required)")
    parser.add_argument("--epochs", type=int, default=25, help="training epochs (default 25)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--lr", type=float, default=2e-3,
                        help="peak learning rate of the one-cycle schedule (default 2e-3)")
    parser.add_argument("--channels", type=int, nargs=2, default=(32, 64),
                        help="channels of the two convolutions (default 32 64)")
    parser.add_argument("--hidden", type=int, default=0,
                        help="neurons of a binary dense layer before the class layer "
                             "(default 0: none)")
    parser.add_argument("--all-images", action="store_true",
                        help="train on all 60,000 training images and keep the last epoch "
                             "(no validation: fix the recipe on validation first)")
    parser.add_argument("--out", type=out_path, default=str(TRAINING_OUT / "mnist_bcnn.npz"),
                        help="model file (.npz; the QONNX graph goes beside it as .onnx; "
                             "default build/training/mnist_bcnn.npz)")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        raise ModelError(f"--epochs must be a positive integer, not {args.epochs}")
    if args.hidden < 0:
        raise ModelError(f"--hidden must be 0 or a positive integer, not {args.hidden}")
    out = Path(args.out)
    if out.suffix != ".npz" or out.is_dir():
        raise ModelError(f"{out}: --out must be a .npz file")
    if args.out == parser.get_default("out"):
        out.parent.mkdir(parents=True, exist_ok=True)
    if not out.parent.is_dir():
        raise ModelError(f"{out}: the folder {out.parent} does not exist; create it first")
    start = time.perf_counter()
    images, labels = load_training_set(args.data)
    holdout = 0 if args.all_images else VALIDATION
    model = train(images, labels, args.epochs, args.seed, lr=args.lr, channels=args.channels,
                  hidden=args.hidden, holdout=holdout)
    onnx_path = out.with_suffix(".onnx")
    export_onnx(model, onnx_path)
    result = import_qonnx(onnx_path)
    network = result.network
    save_model(network, out)
    if holdout:
        val = run(network, images[-holdout:]).labels
        print(f"golden validation accuracy: {(val == labels[-holdout:]).mean():.4f}")
    test_images, test_labels = load_mnist(args.data)
    acc = (run(network, test_images).labels == test_labels).mean()
    print(f"wrote {onnx_path} and {out} in {time.perf_counter() - start:.0f} s")
    print(f"golden test accuracy: {acc:.4f}")
    return 0


if __name__ == "__main__":
    run_cli(main)
