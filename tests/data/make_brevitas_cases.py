"""Export the small Brevitas networks the QONNX importer is tested on.

    python tests/data/make_brevitas_cases.py [--shared ../shared] [--only NAME ...]

Needs PyTorch, Brevitas and onnxoptimizer (``python -m pip install torch brevitas
onnxoptimizer``). Each network is trained briefly (seeded, 2 passes over the first 10,000
MNIST training digits, about 10 s each on 2 cores) so that its classes mean something, then
exported with ``brevitas.export.export_qonnx`` to ``tests/data/brevitas_<name>.onnx``. The
graphs are Brevitas' own; the tests compare the imported golden model with qonnx's executor
on them, so this script is only needed to renew them.

Cases (input: float32 ``pixel / 255``, shape (1, 1, 28, 28)):

* ``mlp_w2a2``: 4-bit signed input quantizer, 784 -> 32 Gemm with bias and 2-bit weights
  with per-channel power-of-two scales, batch-norm, 2-bit ReLU, 32 -> 10 with 3-bit weights.
* ``cnn_w2a2``: 8-bit input, two zero-padded 3x3 convolutions (2-bit per-channel weights,
  biases), batch-norm, 2-bit ReLU and 2x2 max-pools, dense 784 -> 10.
* ``cnn_w1a1_binary``: a binary classifier (digit >= 5): ``2x - 1`` and a bipolar input
  quantizer, two unpadded binary
  convolutions with batch-norm, bipolar activations and a max-pool, a one-output binary
  dense layer, batch-norm and a final bipolar quantizer.
* ``mlp_float_scales``: Brevitas' default float (not power-of-two) scales, 4-bit weights and
  activations: the graph's float32 MatMul is not exact, the import reports it.
* ``cnn_avgpool``: 8-bit input, two unpadded 3x3 convolutions (16 and 64 channels, 2-bit
  per-channel weights, biases, batch-norm, 2-bit ReLU), 2x2 max-pools, the second over the
  odd 11x11 map in
  PyTorch's floor mode (5x5), a global average pool (exported as ``ReduceMean``),
  batch-norm and a 4-bit ReLU, dense 64 -> 10.

* ``resnet_w2a2``: 8-bit input, an unpadded 3x3 convolution to 2-bit ReLU codes and a
  2x2 max-pool (13x13), a Bi-Real-style block (a padded 3x3 convolution, its 2-bit ReLU
  output added to the block's input, the identity shortcut, then a 2-bit ReLU), a
  BiNeal-style downsampling block (a 3x3 stride-2 padded convolution to 4-bit codes plus
  a 1x1 stride-2 convolution to 2-bit codes, each with its own power-of-two scale, added,
  2-bit ReLU), dense 32*7*7 -> 10.
* ``binary_resnet``: a binary ResNet: ``2x - 1`` and a bipolar input, a binary 3x3
  convolution to a +-1 map, a max-pool (13x13), an identity block (a -1 padded binary 3x3
  convolution to 4-bit signed codes added to the +-1 input, then a sign), a
  downsampling block (a -1 padded binary 3x3 stride-2 convolution and a binary 1x1 stride-2
  convolution, each to 4-bit signed codes, added, then a sign), a dense layer with 2-bit
  weights; the binary weights' scale is 1 (a power of two: the graph's sums are exact).
* ``binary_resnet_small``: the same kind, small enough for the iCEBreaker: 8 channels,
  one identity block, a floor-mode max-pool (13 -> 6), a dense layer with 2-bit weights.
* ``cnn_truncavgpool``: two 3x3 convolutions to 2-bit ReLU codes (16, 32 channels), a
  max-pool, Brevitas's ``TruncAvgPool2d`` 2x2 over the 11x11 map in floor mode (an
  ``AveragePool`` and a 3-bit ``Trunc``), dense 32*5*5 -> 10.
* ``binary_cnn_zeropad``: binary convolutions with ``padding=1`` after a sign (the +-1 input
  and a hidden +-1 map padded with 0), max-pools, a dense layer with 2-bit weights.
* ``cnn_ceilpool``: two 3x3 convolutions to 2-bit ReLU codes, each followed by a 2x2
  max-pool in ceil mode (26 -> 13, then 11 -> 6 with a partial last row and column).

``--only`` renews the named cases (the others keep their files; each case's seed is its
position in the list).
"""

import argparse
import gzip
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _idx(path):
    data = gzip.open(path, "rb").read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def networks():
    import torch.nn as nn

    class Centre(nn.Module):
        """``2x - 1``: pixels in [0, 1] to [-1, 1], so that a bipolar input means something."""

        def forward(self, x):
            return 2 * x - 1

    import brevitas.nn as qnn
    from brevitas.quant import (
        Int8ActPerTensorFixedPoint,
        Int8WeightPerTensorFixedPoint,
        SignedBinaryActPerTensorConst,
        SignedBinaryWeightPerTensorConst,
        Uint8ActPerTensorFixedPoint,
    )
    w2 = dict(weight_quant=Int8WeightPerTensorFixedPoint, weight_bit_width=2,
              weight_scaling_per_output_channel=True)
    relu2 = dict(act_quant=Uint8ActPerTensorFixedPoint, bit_width=2)
    relu4 = dict(act_quant=Uint8ActPerTensorFixedPoint, bit_width=4)
    binw = dict(weight_quant=SignedBinaryWeightPerTensorConst, bias=False)
    bina = dict(act_quant=SignedBinaryActPerTensorConst)
    int4 = dict(act_quant=Int8ActPerTensorFixedPoint, bit_width=4)
    bin1 = dict(binw, weight_scaling_const=1.0)     # a power-of-two scale: exact float32 sums

    class Add(nn.Module):
        """``quant(main(x) + skip(x))``: a residual block (``skip`` None: the identity)."""

        def __init__(self, main, skip, quant):
            super().__init__()
            self.main, self.skip, self.quant = main, skip, quant

        def forward(self, x):
            return self.quant(self.main(x) + (x if self.skip is None else self.skip(x)))

    def pad_minus_one():
        return nn.ConstantPad2d(1, -1.0)

    return {
        "mlp_w2a2": (nn.Sequential(
            qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, bit_width=4), nn.Flatten(),
            qnn.QuantLinear(784, 32, bias=True, **w2), nn.BatchNorm1d(32), qnn.QuantReLU(**relu2),
            qnn.QuantLinear(32, 10, bias=True, weight_quant=Int8WeightPerTensorFixedPoint,
                            weight_bit_width=3)), "class"),
        "cnn_w2a2": (nn.Sequential(
            qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, bit_width=8),
            qnn.QuantConv2d(1, 8, 3, padding=1, bias=True, **w2), nn.BatchNorm2d(8),
            qnn.QuantReLU(**relu2), nn.MaxPool2d(2),
            qnn.QuantConv2d(8, 16, 3, padding=1, bias=True, **w2), nn.BatchNorm2d(16),
            qnn.QuantReLU(**relu2), nn.MaxPool2d(2), nn.Flatten(),
            qnn.QuantLinear(16 * 7 * 7, 10, bias=True, **w2)), "class"),
        "cnn_w1a1_binary": (nn.Sequential(
            Centre(), qnn.QuantIdentity(**bina), qnn.QuantConv2d(1, 8, 3, **binw),
            nn.BatchNorm2d(8),
            qnn.QuantIdentity(**bina), nn.MaxPool2d(2),
            qnn.QuantConv2d(8, 8, 3, **binw), nn.BatchNorm2d(8), qnn.QuantIdentity(**bina),
            nn.Flatten(), qnn.QuantLinear(8 * 11 * 11, 1, **binw), nn.BatchNorm1d(1),
            qnn.QuantIdentity(**bina)), "binary"),
        "mlp_float_scales": (nn.Sequential(
            qnn.QuantIdentity(bit_width=4), nn.Flatten(),
            qnn.QuantLinear(784, 32, bias=True, weight_bit_width=4), nn.BatchNorm1d(32),
            qnn.QuantReLU(bit_width=4), qnn.QuantLinear(32, 10, bias=True, weight_bit_width=4)),
            "class"),
        "cnn_avgpool": (nn.Sequential(
            qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, bit_width=8),
            qnn.QuantConv2d(1, 16, 3, bias=True, **w2), nn.BatchNorm2d(16),
            qnn.QuantReLU(**relu2), nn.MaxPool2d(2),                       # 26 -> 13
            qnn.QuantConv2d(16, 64, 3, bias=True, **w2), nn.BatchNorm2d(64),
            qnn.QuantReLU(**relu2), nn.MaxPool2d(2),                       # 11 -> 5 (floor)
            nn.AdaptiveAvgPool2d(1), nn.BatchNorm2d(64), qnn.QuantReLU(**relu4),
            nn.Flatten(), qnn.QuantLinear(64, 10, bias=True, **w2)), "class"),
        "resnet_w2a2": (nn.Sequential(
            qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, bit_width=8),
            qnn.QuantConv2d(1, 16, 3, bias=True, **w2), nn.BatchNorm2d(16),
            qnn.QuantReLU(**relu2), nn.MaxPool2d(2),                       # 26 -> 13
            Add(nn.Sequential(qnn.QuantConv2d(16, 16, 3, padding=1, bias=True, **w2),
                              nn.BatchNorm2d(16), qnn.QuantReLU(**relu2)),
                None, qnn.QuantReLU(**relu2)),
            Add(nn.Sequential(qnn.QuantConv2d(16, 32, 3, stride=2, padding=1, bias=True, **w2),
                              nn.BatchNorm2d(32), qnn.QuantReLU(**relu4)),   # 13 -> 7
                nn.Sequential(qnn.QuantConv2d(16, 32, 1, stride=2, bias=True, **w2),
                              nn.BatchNorm2d(32), qnn.QuantReLU(**relu2)),
                qnn.QuantReLU(**relu2)),
            nn.Flatten(), qnn.QuantLinear(32 * 7 * 7, 10, bias=True, **w2)), "class"),
        "binary_resnet": (nn.Sequential(
            Centre(), qnn.QuantIdentity(**bina), qnn.QuantConv2d(1, 16, 3, **bin1),
            nn.BatchNorm2d(16), qnn.QuantIdentity(**bina), nn.MaxPool2d(2),   # 26 -> 13
            Add(nn.Sequential(pad_minus_one(), qnn.QuantConv2d(16, 16, 3, **bin1),
                              nn.BatchNorm2d(16), qnn.QuantIdentity(**int4)),
                None, qnn.QuantIdentity(**bina)),
            Add(nn.Sequential(pad_minus_one(), qnn.QuantConv2d(16, 32, 3, stride=2, **bin1),
                              nn.BatchNorm2d(32), qnn.QuantIdentity(**int4)),  # 13 -> 7
                nn.Sequential(qnn.QuantConv2d(16, 32, 1, stride=2, **bin1),
                              nn.BatchNorm2d(32), qnn.QuantIdentity(**int4)),
                qnn.QuantIdentity(**bina)),
            nn.Flatten(), qnn.QuantLinear(32 * 7 * 7, 10, bias=False, **w2)), "class"),
        "binary_resnet_small": (nn.Sequential(
            Centre(), qnn.QuantIdentity(**bina), qnn.QuantConv2d(1, 8, 3, **bin1),
            nn.BatchNorm2d(8), qnn.QuantIdentity(**bina), nn.MaxPool2d(2),     # 26 -> 13
            Add(nn.Sequential(pad_minus_one(), qnn.QuantConv2d(8, 8, 3, **bin1),
                              nn.BatchNorm2d(8), qnn.QuantIdentity(**int4)),
                None, qnn.QuantIdentity(**bina)),
            nn.MaxPool2d(2),                                                   # 13 -> 6
            nn.Flatten(), qnn.QuantLinear(8 * 6 * 6, 10, bias=False, **w2)), "class"),
        "cnn_truncavgpool": (nn.Sequential(
            qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, bit_width=8),
            qnn.QuantConv2d(1, 16, 3, bias=True, **w2), nn.BatchNorm2d(16),
            qnn.QuantReLU(**relu2), nn.MaxPool2d(2),                       # 26 -> 13
            qnn.QuantConv2d(16, 32, 3, bias=True, **w2), nn.BatchNorm2d(32),
            qnn.QuantReLU(return_quant_tensor=True, **relu2),              # 11
            qnn.TruncAvgPool2d(kernel_size=2, stride=2, bit_width=3),      # 11 -> 5, Trunc
            nn.Flatten(), qnn.QuantLinear(32 * 5 * 5, 10, bias=True, **w2)), "class"),
        "binary_cnn_zeropad": (nn.Sequential(
            Centre(), qnn.QuantIdentity(**bina),
            qnn.QuantConv2d(1, 16, 3, padding=1, **bin1), nn.BatchNorm2d(16),
            qnn.QuantIdentity(**bina), nn.MaxPool2d(2),                        # 28 -> 14
            qnn.QuantConv2d(16, 32, 3, padding=1, **bin1), nn.BatchNorm2d(32),
            qnn.QuantIdentity(**bina), nn.MaxPool2d(2),                        # 14 -> 7
            nn.Flatten(), qnn.QuantLinear(32 * 7 * 7, 10, bias=False, **w2)), "class"),
        "cnn_ceilpool": (nn.Sequential(
            qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, bit_width=8),
            qnn.QuantConv2d(1, 16, 3, bias=True, **w2), nn.BatchNorm2d(16),
            qnn.QuantReLU(**relu2), nn.MaxPool2d(2, ceil_mode=True),       # 26 -> 13
            qnn.QuantConv2d(16, 32, 3, bias=True, **w2), nn.BatchNorm2d(32),
            qnn.QuantReLU(**relu2), nn.MaxPool2d(2, ceil_mode=True),       # 11 -> 6, partial
            nn.Flatten(), qnn.QuantLinear(32 * 6 * 6, 10, bias=True, **w2)), "class"),
    }


#: Passes over the training digits per case (default 2): a global average pool head and
#: binary convolutions learn more slowly.
PASSES = {"cnn_avgpool": 8, "resnet_w2a2": 4, "binary_resnet": 10, "binary_resnet_small": 10,
          "cnn_truncavgpool": 8, "binary_cnn_zeropad": 4,
          "cnn_ceilpool": 4}


def train(model, kind, images, labels, seed, passes=2):
    import torch
    torch.manual_seed(seed)
    x = torch.tensor(images[:, None].astype(np.float32) / 255)
    y = torch.tensor(labels.astype(np.int64))
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    model.train()
    gen = torch.Generator().manual_seed(seed)
    for _ in range(passes):
        for idx in torch.randperm(len(x), generator=gen).split(100):
            out = model(x[idx])
            if kind == "binary":
                target = (y[idx] >= 5).float() * 2 - 1
                loss = torch.relu(1 - out.reshape(-1) * target).mean()   # hinge on +-1
            else:
                loss = torch.nn.functional.cross_entropy(out, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", default=str(HERE.parents[2] / "shared"))
    parser.add_argument("--only", nargs="*", help="case names to renew (default: all)")
    args = parser.parse_args()
    import onnx
    import torch
    from brevitas.export import export_qonnx
    torch.set_num_threads(2)
    mnist = Path(args.shared) / "data" / "mnist"
    images = _idx(mnist / "train-images-idx3-ubyte.gz")[:10000]
    labels = _idx(mnist / "train-labels-idx1-ubyte.gz")[:10000]
    for seed, (name, (model, kind)) in enumerate(networks().items()):
        if args.only and name not in args.only:
            continue
        train(model, kind, images, labels, seed, PASSES.get(name, 2))
        out = HERE / f"brevitas_{name}.onnx"
        export_qonnx(model, torch.rand(1, 1, 28, 28), export_path=str(out))
        # The exporter puts the weights in a side file; keep one self-contained .onnx.
        graph = onnx.load(str(out))
        Path(str(out) + ".data").unlink(missing_ok=True)
        onnx.save(graph, str(out))
        print(name, "->", out.name, out.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
