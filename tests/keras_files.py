"""Keras model files written without TensorFlow (h5py and json), and a float32 numpy forward
pass of the same models as Keras computes it, for the Larq import's tests.

:func:`write_h5` and :func:`write_keras` write the two formats ``model.save`` writes (the
model config JSON and the weights); :func:`forward` runs the config in numpy: the kernels
through the Larq quantizers, the layers in NHWC, batch norm in TensorFlow's order.
"""

import io
import json
import zipfile

import numpy as np

F32 = np.float32


def layer(cls, name, **config):
    return {"class_name": cls, "config": {"name": name, **config}}


def sequential(layers, input_shape):
    first = layer("InputLayer", "input", batch_input_shape=[None, *input_shape],
                  dtype="float32")
    return {"class_name": "Sequential", "config": {"name": "net", "layers": [first, *layers]}}


def write_h5(path, config, weights):
    """``weights``: per layer name, a dict of role -> array (kernel, bias, gamma, ...)."""
    import h5py

    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(config)
        f.attrs["keras_version"] = "2.21.0"
        f.attrs["backend"] = "tensorflow"
        group = f.create_group("model_weights")
        for name, arrays in weights.items():
            g = group.create_group(name)
            names = []
            for role, value in arrays.items():
                full = f"{name}/{role}:0"
                g.create_dataset(full, data=np.asarray(value, F32))
                names.append(full.encode())
            g.attrs["weight_names"] = names


def write_keras(path, config, weights):
    import h5py

    order = ("kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance")
    blob = io.BytesIO()
    with h5py.File(blob, "w") as f:
        for name, arrays in weights.items():
            g = f.create_group(f"layers/{name}/vars")
            for i, role in enumerate(r for r in order if r in arrays):
                g.create_dataset(str(i), data=np.asarray(arrays[role], F32))
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", json.dumps(config))
        z.writestr("metadata.json", json.dumps({"keras_version": "2.21.0"}))
        z.writestr("model.weights.h5", blob.getvalue())


# -- the forward pass ---------------------------------------------------------------------


def _sign(x):
    return np.where(x >= 0, F32(1), F32(-1))


def _quantize(spec, x, kernel=False):
    if spec is None:
        return x
    cls = spec if isinstance(spec, str) else spec["class_name"]
    cfg = {} if isinstance(spec, str) else spec.get("config", {})
    if cls in ("ste_sign", "SteSign", "approx_sign", "ApproxSign", "swish_sign", "SwishSign"):
        return _sign(x)
    if cls in ("magnitude_aware_sign", "MagnitudeAwareSign"):
        alpha = np.mean(np.abs(x).astype(np.float64), axis=tuple(range(x.ndim - 1))).astype(F32)
        return alpha * _sign(x)
    if cls in ("ste_tern", "SteTern"):
        t = F32(cfg.get("threshold_value", 0.05))
        return np.sign(np.sign(x + t) + np.sign(x - t)).astype(F32)
    if cls in ("DoReFa", "dorefa_quantizer"):
        n = F32(2 ** cfg.get("k_bit", 2) - 1)
        if cfg.get("mode", "activations") == "weights":
            lim = np.tanh(x.astype(np.float64)).astype(F32)
            x = lim / (F32(2) * F32(np.abs(lim).max())) + F32(0.5)
            return (F32(2) * (np.round(x * n) / n) - F32(1)).astype(F32)
        return (np.round(np.clip(x, F32(0), F32(1)) * n) / n).astype(F32)
    raise AssertionError(cls)


def _fma(a, b, c):
    from golden.formats.qonnx import fma32
    return fma32(a, b, c)


def forward(config, weights, x):
    """The model's output (before a final softmax) for float32 inputs ``x`` (N, ...)."""
    x = np.asarray(x, F32)
    for spec in config["config"]["layers"]:
        cls, cfg = spec["class_name"], spec["config"]
        w = weights.get(cfg["name"], {})
        if cls in ("InputLayer", "Dropout"):
            continue
        if cls == "Rescaling":
            x = (x * F32(cfg["scale"]) + F32(cfg.get("offset", 0.0))).astype(F32)
        elif cls == "Flatten":
            x = x.reshape(len(x), -1)
        elif cls == "QuantDense":
            x = _quantize(cfg.get("input_quantizer"), x)
            k = _quantize(cfg.get("kernel_quantizer"), np.asarray(w["kernel"], F32), True)
            x = (x.astype(np.float64) @ k.astype(np.float64)).astype(F32)
            if cfg.get("use_bias", True):
                x = (x + np.asarray(w["bias"], F32)).astype(F32)
        elif cls == "QuantConv2D":
            x = _quantize(cfg.get("input_quantizer"), x)
            kern = _quantize(cfg.get("kernel_quantizer"), np.asarray(w["kernel"], F32), True)
            kk, s = kern.shape[0], cfg.get("strides", [1, 1])[0]
            if cfg.get("padding") == "same":
                p = (kk - 1) // 2
                x = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)),
                           constant_values=cfg.get("pad_values", 0.0))
            n, h, wd, c = x.shape
            oh, ow = (h - kk) // s + 1, (wd - kk) // s + 1
            cols = np.stack([x[:, ky:ky + s * (oh - 1) + 1:s, kx:kx + s * (ow - 1) + 1:s]
                             for ky in range(kk) for kx in range(kk)], axis=3)
            cols = cols.reshape(n, oh, ow, -1).astype(np.float64)
            x = (cols @ kern.reshape(-1, kern.shape[3]).astype(np.float64)).astype(F32)
            if cfg.get("use_bias", True):
                x = (x + np.asarray(w["bias"], F32)).astype(F32)
        elif cls == "BatchNormalization":
            ch = x.shape[-1]
            gamma = np.asarray(w.get("gamma", np.ones(ch)), F32)
            beta = np.asarray(w.get("beta", np.zeros(ch)), F32)
            mean, var = (np.asarray(w[r], F32) for r in ("moving_mean", "moving_variance"))
            r = (F32(1) / np.sqrt(var + F32(cfg.get("epsilon", 1e-3)))).astype(F32)
            if x.ndim == 4:
                x = _fma(((x - mean) * r).astype(F32), gamma, beta)
            else:
                inv = (r * gamma).astype(F32)
                x = (x * inv + (beta - mean * inv)).astype(F32)
        elif cls in ("MaxPool2D", "AveragePooling2D"):
            k = cfg.get("pool_size", [2, 2])[0]
            n, h, wd, c = x.shape
            oh, ow = h // k, wd // k
            v = x[:, :oh * k, :ow * k].reshape(n, oh, k, ow, k, c)
            x = v.max(axis=(2, 4)) if cls == "MaxPool2D" else \
                (v.sum(axis=(2, 4), dtype=np.float64).astype(F32) / F32(k * k)).astype(F32)
        elif cls == "GlobalAveragePooling2D":
            x = (x.sum(axis=(1, 2), dtype=np.float64).astype(F32)
                 / F32(x.shape[1] * x.shape[2])).astype(F32)
        elif cls in ("SteSign", "DoReFa"):
            x = _quantize({"class_name": cls, "config": cfg}, x)
        elif cls == "Activation":
            act = cfg["activation"]
            if act == "softmax":
                break
            x = _quantize(act, x) if act != "relu" else np.maximum(x, F32(0))
        else:
            raise AssertionError(cls)
    return x
