"""Reference outputs of Larq models from Larq/TensorFlow itself, for the import's tests.

    TF_USE_LEGACY_KERAS=1 larq-env/bin/python -m training.larq_reference \\
        --data mnist/ --out tests/data/larq/ models/larq_mnist_cnn.h5 models/larq_mnist_mlp.keras

Runs in the TensorFlow environment of :mod:`training.larq_mnist` and imports nothing of the
project. For each model it writes ``<name>.reference.npz`` with:

``scores``
    ``(10000, classes)`` float32: the model's output before its final softmax
    (``model.predict`` of the sub-model), on the 10,000 MNIST test images given as raw
    pixels 0..255.
``bn_names``
    The batch-norm layers that follow a ``QuantDense`` or ``QuantConv2D`` (directly or
    after max-pools), in model order.
``bn<i>_lo``, ``bn<i>_first``, ``bn<i>_rising``
    For batch norm ``i``: TensorFlow's own layer (``BiasAdd`` and the batch norm, called
    as the model calls it: rank 4 after a convolution) evaluated on every integer the
    layer before it can output, ``lo`` to ``-lo``; per channel the first of those values
    whose output is ``>= 0`` (``-lo + 1`` if none) when the output rises with the value
    (``rising``), else the last (``lo - 1`` if none). Each channel is checked to change
    sign at most once over the whole range.
``environment``
    TensorFlow, Larq and oneDNN settings of the run.

The range of a layer's output: ``fan_in`` for +-1 inputs, ``255 * fan_in`` for pixels,
times the largest kernel magnitude (1 for sign kernels).
"""

import argparse
import os
from pathlib import Path

from .larq_mnist import load_mnist


def _fan_in_bound(layer, model_input_is_raw):
    import numpy as np

    kernel = layer.get_weights()[0]
    quantizer = layer.kernel_quantizer
    qk = quantizer(kernel).numpy() if quantizer is not None else kernel
    fan_in = int(np.prod(kernel.shape[:-1]))
    x_max = 1 if layer.input_quantizer is not None else (255 if model_input_is_raw else 1)
    return fan_in * x_max * float(np.abs(qk).max())


def sign_table(model, chunk=8192):
    """Per batch norm after a quant layer: (name, lo, first, rising)."""
    import larq as lq
    import numpy as np
    import tensorflow as tf

    tables = []
    layers = model.layers
    for i, layer in enumerate(layers[:-1]):
        if not isinstance(layer, (lq.layers.QuantDense, lq.layers.QuantConv2D)):
            continue
        # A max-pool between them keeps the set of values the batch norm sees.
        j = i + 1
        while j < len(layers) - 1 and isinstance(layers[j], tf.keras.layers.MaxPool2D):
            j += 1
        after = layers[j]
        if not isinstance(after, tf.keras.layers.BatchNormalization):
            continue
        raw = i == 0 or all(isinstance(l, (tf.keras.layers.Flatten, tf.keras.layers.InputLayer))
                            for l in layers[:i])
        bound = _fan_in_bound(layer, raw)
        if bound != int(bound):
            raise SystemExit(f"{layer.name}: outputs are not integers; no table")
        lo = -int(bound)
        channels = layer.get_weights()[0].shape[-1]
        bias = layer.bias if layer.use_bias else None
        conv = isinstance(layer, lq.layers.QuantConv2D)
        values = np.arange(lo, -lo + 1, dtype=np.int64)
        signs = []
        for start in range(0, len(values), chunk):
            v = values[start:start + chunk].astype(np.float32)
            x = np.broadcast_to(v[:, None], (len(v), channels))
            x = tf.constant(x.reshape(1, len(v), 1, channels) if conv else x)
            if bias is not None:
                x = tf.nn.bias_add(x, bias)
            y = after(x, training=False).numpy().reshape(len(v), channels)
            signs.append(y >= 0)
        signs = np.concatenate(signs)
        flips = np.abs(np.diff(signs.astype(np.int8), axis=0)).sum(axis=0)
        if flips.max() > 1:
            raise SystemExit(f"{after.name}: the sign changes more than once in a channel")
        rising = signs[-1] | ~signs[0]
        first = np.where(rising,
                         np.where(signs.any(axis=0), lo + np.argmax(signs, axis=0), -lo + 1),
                         np.where(signs.any(axis=0),
                                  lo + len(values) - 1 - np.argmax(signs[::-1], axis=0), lo - 1))
        tables.append((after.name, lo, first, rising))
    return tables


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m training.larq_reference")
    parser.add_argument("models", nargs="+", help=".h5 or .keras Larq models")
    parser.add_argument("--data", required=True, help="folder with the MNIST IDX files")
    parser.add_argument("--out", default="tests/data/larq")
    args = parser.parse_args(argv)
    if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        parser.error("Larq needs tf.keras to be Keras 2: set TF_USE_LEGACY_KERAS=1")
    import larq as lq
    import numpy as np
    import tensorflow as tf

    images, _ = load_mnist(args.data, "t10k")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    for path in args.models:
        model = tf.keras.models.load_model(path)
        last = model.layers[-1]
        logits = model
        if isinstance(last, tf.keras.layers.Activation) and last.get_config()["activation"] == "softmax":
            logits = tf.keras.Model(model.inputs, model.layers[-2].output)
        x = images.astype(np.float32).reshape(-1, *model.input_shape[1:])
        scores = logits.predict(x, batch_size=500, verbose=0)
        arrays = {"scores": scores.astype(np.float32)}
        tables = sign_table(model)
        arrays["bn_names"] = np.array([t[0] for t in tables])
        for i, (_, lo, first, rising) in enumerate(tables):
            arrays[f"bn{i}_lo"] = np.int64(lo)
            arrays[f"bn{i}_first"] = first.astype(np.int64)
            arrays[f"bn{i}_rising"] = rising
        onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on)")
        arrays["environment"] = np.array(f"tensorflow {tf.__version__}, larq {lq.__version__}, "
                                         f"oneDNN {onednn}")
        out = Path(args.out) / (Path(path).stem + ".reference.npz")
        np.savez_compressed(out, **arrays)
        print(f"{out}: scores {scores.shape}, {len(tables)} batch-norm tables")


if __name__ == "__main__":
    main()
