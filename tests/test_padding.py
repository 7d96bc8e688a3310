"""Padding for foldings whose SIMD does not divide MW or PE does not divide MH: the padded
layer's real outputs equal the layer's for every element kind (golden.padding), and
the folding rules that allow it."""

import itertools

import numpy as np
import pytest

from golden.errors import ModelError
from golden.model import Bias, Dense, Thresholds
from golden.network import dense_forward
from golden.padding import PAD_CODE, pad_dense
from tests.test_elements import W_ENCODINGS, X_ENCODINGS, random_values


def random_layer(rng, w_enc, x_enc, mh, mw, kind):
    w = random_values(rng, w_enc, (mh, mw))
    scale = rng.integers(0, 3, mh)
    probe = Dense(w, Bias(np.zeros(mh, np.int64)), weight_encoding=w_enc, input_encoding=x_enc,
                  scale_exp=scale)
    top = 1 if x_enc == "binary" else x_enc.top
    x = rng.integers(0, top + 1, (64, mw))
    x[0], x[1] = 0, top
    acc, _ = dense_forward(probe, x)
    if kind == "bias":
        act = Bias(rng.integers(-50, 50, mh))
    else:
        count = 1 if kind == "sign" else 3
        t = np.sort(np.quantile(acc, rng.uniform(0, 1, (count,)), axis=0).T.round(), axis=1)
        act = Thresholds(t.astype(np.int64), offset=0 if count == 1 else -1)
    return Dense(w, act, weight_encoding=w_enc, input_encoding=x_enc, scale_exp=scale), x


@pytest.mark.parametrize("w_name,x_name", list(itertools.product(W_ENCODINGS, X_ENCODINGS)))
def test_padded_layer_outputs_equal_the_layer(w_name, x_name):
    rng = np.random.default_rng(abs(hash((w_name, x_name))) % 2**32)
    for kind in ("sign", "multi", "bias"):
        layer, x = random_layer(rng, W_ENCODINGS[w_name], X_ENCODINGS[x_name], 5, 13, kind)
        padded = pad_dense(layer, 16, 8)
        x_pad = np.concatenate([x, np.full((len(x), 3), PAD_CODE)], axis=1)
        _, y = dense_forward(layer, x)
        _, y_pad = dense_forward(padded, x_pad)
        assert np.array_equal(y_pad[:, :5], y), kind
        if kind != "bias":
            # Padded rows output code 0, which the next layer takes as padding.
            assert (y_pad[:, 5:] == PAD_CODE).all()


def test_padding_nothing_is_the_layer_and_dropping_is_refused():
    rng = np.random.default_rng(0)
    layer, _ = random_layer(rng, W_ENCODINGS["binary"], X_ENCODINGS["bits"], 4, 8, "sign")
    assert pad_dense(layer, 8, 4) is layer
    with pytest.raises(ValueError, match="drop"):
        pad_dense(layer, 6, 4)


def test_folding_rules_for_padding():
    """A dense layer may take any SIMD up to its (padded) input and any PE up to its
    outputs; a convolution's SIMD and PE must still fit its window and channels."""
    from pathlib import Path

    from golden.formats import load_model
    from hdl.folding import LayerFolding
    from hdl.stages import check_folding
    network = load_model(Path(__file__).resolve().parents[1] / "models" / "mnist_bcnn.npz")
    conv_ok = ["1x16", "8x8", "1x10"]

    def folding(*entries):
        return [LayerFolding(*map(int, e.split("x"))) for e in entries]

    check_folding(network, folding(*conv_ok[:2], "64x3"))      # dense: 1600 % 64 = 0, 10 % 3
    check_folding(network, folding(*conv_ok[:2], "30x16"))     # dense: 1600 % 30, PE > MH
    with pytest.raises(ModelError, match="PE 5 does not divide"):
        check_folding(network, folding("1x5", *conv_ok[1:]))   # a convolution: no padding
    with pytest.raises(ModelError, match="SIMD 1601"):
        check_folding(network, folding(*conv_ok[:2], "1601x1"))
