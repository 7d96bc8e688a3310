"""Train two binary MNIST networks with Larq (Keras), the way Larq users do, for the Larq
import (:mod:`golden.formats.larq`).

    python -m training.larq_mnist --data mnist/ [--model mlp|cnn|both] [--epochs N]
                                  [--seed 0] [--out models/]

Needs TensorFlow and Larq, which pin numpy below 2, so they live in their own environment
(docs/larq.md)::

    python -m venv larq-env
    larq-env/bin/pip install larq==0.14.0 tensorflow-cpu==2.21.0 tf-keras==2.21.0
    TF_USE_LEGACY_KERAS=1 larq-env/bin/python -m training.larq_mnist --data mnist/

The networks (inputs: the raw pixels 0..255 as float32, the convention of the Larq
import; any preprocessing is a layer of the model):

``larq_mnist_mlp.keras``
    BinaryNet-style MLP: ``QuantDense(256)`` of the 8-bit pixels by sign weights (no input
    quantizer), batch norm, ``QuantDense(256)`` with ``ste_sign`` inputs and weights, batch
    norm, ``QuantDense(10)``, ``Rescaling(1/16)``, softmax. Saved as a ``.keras`` file.
``larq_mnist_cnn.h5``
    A small binary CNN: ``Rescaling(1/127.5, -1)``, ``QuantConv2D`` 5x5 to 32 channels
    ("valid", ``ste_sign`` inputs and weights), 2x2 max-pool, batch norm (``scale=False``),
    ``QuantConv2D`` 3x3 to 64 channels with ``padding="same"`` and ``pad_values=1``, 2x2
    max-pool, batch norm, flatten, ``QuantDense(10)``, ``Rescaling(1/64)``, softmax; the
    batch norms with momentum 0.9, whose moving statistics keep up with the flipping binary
    weights. Saved as Keras H5; it fits the iCEBreaker (docs/larq.md has the variants tried
    and their figures).

Binary kernels keep latent weights clipped to [-1, 1] (``weight_clip``). The last layers
have no bias and a power-of-two rescaling, so the class scores are an exact integer
function of the accumulators. Training uses the 60,000 training images, the last 5,000
held out for validation (which picks the epoch); the test accuracy is printed at the end.
Adam, learning rate 1e-3 decaying by 0.9 per epoch, batch 128, seeded.

This script imports nothing of the project, so it runs in the TensorFlow environment.
"""

import argparse
import gzip
import os
import time
from pathlib import Path


def load_mnist(folder, split):
    """uint8 images (N, 28, 28) and labels of an MNIST IDX split ("train" or "t10k")."""
    import numpy as np

    folder = Path(folder)
    with gzip.open(folder / f"{split}-images-idx3-ubyte.gz", "rb") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(folder / f"{split}-labels-idx1-ubyte.gz", "rb") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    return images, labels


CNN_CHANNELS = (32, 64)
CNN_FIRST_KERNEL = 5


def build(kind):
    """The Keras model ``kind`` ("mlp" or "cnn"), uncompiled."""
    import larq as lq
    import tensorflow as tf

    binary = dict(kernel_quantizer="ste_sign", kernel_constraint="weight_clip", use_bias=False)
    both = dict(input_quantizer="ste_sign", **binary)
    layers = tf.keras.layers
    if kind == "mlp":
        stack = [
            layers.Flatten(input_shape=(28, 28)),
            lq.layers.QuantDense(256, **binary),
            layers.BatchNormalization(),
            lq.layers.QuantDense(256, **both),
            layers.BatchNormalization(),
            lq.layers.QuantDense(10, **both),
        ]
    else:
        stack = [
            layers.Rescaling(1 / 127.5, offset=-1, input_shape=(28, 28, 1)),
            lq.layers.QuantConv2D(CNN_CHANNELS[0], CNN_FIRST_KERNEL, **both),
            layers.MaxPool2D(2),
            layers.BatchNormalization(scale=False, momentum=0.9),
            lq.layers.QuantConv2D(CNN_CHANNELS[1], 3, padding="same", pad_values=1.0, **both),
            layers.MaxPool2D(2),
            layers.BatchNormalization(scale=False, momentum=0.9),
            layers.Flatten(),
            lq.layers.QuantDense(10, **both),
        ]
    # A power-of-two scale on the integer scores keeps the softmax out of saturation.
    stack += [layers.Rescaling(1 / 16 if kind == "mlp" else 1 / 64),
              layers.Activation("softmax")]
    return tf.keras.Sequential(stack, name=f"larq_mnist_{kind}")


def train(kind, data, epochs, seed, out, lr=1e-3):
    import numpy as np
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    images, labels = load_mnist(data, "train")
    test_images, test_labels = load_mnist(data, "t10k")
    shape = (28, 28) if kind == "mlp" else (28, 28, 1)
    x = images.astype(np.float32).reshape(-1, *shape)
    xt = test_images.astype(np.float32).reshape(-1, *shape)
    x_train, y_train, x_val, y_val = x[:-5000], labels[:-5000], x[-5000:], labels[-5000:]
    model = build(kind)
    steps = int(np.ceil(len(x_train) / 128))
    schedule = tf.keras.optimizers.schedules.ExponentialDecay(lr, steps, 0.9)
    model.compile(tf.keras.optimizers.Adam(schedule), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    suffix = ".keras" if kind == "mlp" else ".h5"
    path = Path(out) / f"larq_mnist_{kind}{suffix}"
    best = tf.keras.callbacks.ModelCheckpoint(str(path), monitor="val_accuracy",
                                              save_best_only=True)
    start = time.time()
    history = model.fit(x_train, y_train, batch_size=128, epochs=epochs,
                        validation_data=(x_val, y_val), callbacks=[best], verbose=2)
    minutes = (time.time() - start) / 60
    import larq as lq

    model = tf.keras.models.load_model(str(path))
    # Saved again without the optimizer's state: the file holds the network alone.
    bare = tf.keras.models.clone_model(model)
    bare.set_weights(model.get_weights())
    bare.save(str(path))
    model.compile(metrics=["accuracy"], loss="sparse_categorical_crossentropy")
    _, test = model.evaluate(xt, test_labels, verbose=0)
    val = max(history.history["val_accuracy"])
    print(f"{path}: validation {100 * val:.2f} %, test {100 * test:.2f} %, "
          f"{epochs} epochs in {minutes:.1f} min")
    lq.models.summary(model)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m training.larq_mnist",
                                     description="Train the Larq MNIST networks.")
    parser.add_argument("--data", required=True, help="folder with the MNIST IDX files")
    parser.add_argument("--model", choices=("mlp", "cnn", "both"), default="both")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs (default 12 for the MLP, 15 for the CNN)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=None,
                        help="initial learning rate (default 1e-3)")
    parser.add_argument("--out", default="build/training", help="folder for the model files")
    args = parser.parse_args(argv)
    if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        parser.error("Larq needs tf.keras to be Keras 2: set TF_USE_LEGACY_KERAS=1")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    for kind in ("mlp", "cnn") if args.model == "both" else (args.model,):
        train(kind, args.data, args.epochs or {"mlp": 12, "cnn": 15}[kind], args.seed,
              args.out, args.lr or 1e-3)


if __name__ == "__main__":
    main()
