"""Importer for the trained parameter folders published with Xilinx's BNN-PYNQ.

A folder holds ``config.h`` (per layer ``L<n>_MW``, ``_MH``, ``_SIMD``, ``_PE``, ``_WMEM``,
``_TMEM``, ``_WPI``, ``_API``) and per layer ``L`` and processing element ``P`` the files
``L-P-weights.bin`` (little-endian uint64, WMEM words ordered [nf][sf]; word (nf, sf) holds
synapses ``sf*SIMD ..`` of neuron ``nf*PE + P``, first synapse in the lowest bit, 1 = +1)
and ``L-P-thres.bin`` (int64, TMEM*API thresholds ordered [nf][t]).

How the published semantics map onto :mod:`golden.model` (settled here, once):

* BNN-PYNQ's hardware (finn-hlslib ``ThresholdsActivation`` with ``std::less``) outputs
  ``thr < acc``. For integers that is ``acc >= thr + 1``, so each threshold is stored
  plus one. This gives 98.34 % on the MNIST test set for LFC-W1A1, the published 98.35 %
  within one image in ten thousand; ``thr <= acc`` would give 98.41 %.
* The last layer's class is ``argmax(acc - thr)``: a :class:`~golden.model.Bias` of ``-thr``.
  Its rows padded up to a multiple of PE are dropped (one row per line of ``classes.txt``).
* The first layer's 784 pixel columns are padded to 832 with weight +1 against input bit 0;
  XNOR(0, 1) = 0 adds nothing to a popcount, so the padding is checked and dropped exactly.
* MNIST input bit = pixel >= 128, pixels in row-major order.
* W1A2 (2-bit activations -1, 0, +1): ``value = -1 + sum_t (thr_t < acc)`` with ``acc`` the
  signed dot product; stored as codes 0..2 with offset -1 and thresholds plus one. Layer 0
  (binary inputs) compares against the dot product over all 832 columns, pads included;
  its thresholds are converted to the popcount of the 784 real columns (see the code).
  LFC-W1A2 then scores 98.55 % on the MNIST test set, the published figure.
"""

import re
from pathlib import Path

import numpy as np

from ..checks import check_int
from ..conv import Conv2D
from ..errors import ModelError
from ..model import BINARY, VALUE_LIMIT, Bias, Dense, InputQuant, IntCodes, Network, Thresholds
from ..pool import MaxPool

__all__ = ["is_bnnpynq_folder", "read_config", "load_bnnpynq"]

_DEFINE = re.compile(r"^\s*#define\s+L(\d+)_([A-Z_]+)\s+(-?\d+)\s*$", re.M)
_KEYS = ("MW", "MH", "SIMD", "PE", "WMEM", "TMEM", "WPI", "API")
MNIST_PIXELS = 28 * 28
_POSITIVE = ("MW", "MH", "SIMD", "PE", "WMEM", "TMEM", "WPI", "API", "K", "IFM_CH", "IFM_DIM",
             "OFM_CH", "OFM_DIM")

#: The largest magnitude of a config.h value (sizes, memory depths, bit widths).
CONFIG_LIMIT = 1 << 24


def is_bnnpynq_folder(path):
    path = Path(path)
    return (path / "config.h").is_file() and any(path.glob("*-weights.bin"))


def read_config(path):
    """Per-layer parameter dicts from ``config.h``, in layer order."""
    config = Path(path) / "config.h"
    if config.stat().st_size > 1 << 20:
        raise ModelError(f"{config}: {config.stat().st_size} bytes; not a BNN-PYNQ config.h")
    text = config.read_text(errors="replace")
    layers = {}
    for index, key, value in _DEFINE.findall(text):
        if len(index) > 4 or len(value) > 9:
            raise ModelError(f"{config}: L{index}_{key} = {value} is out of range")
        layers.setdefault(int(index), {})[key] = check_int(int(value), f"{config}: L{index}_{key}",
                                                           -CONFIG_LIMIT, CONFIG_LIMIT)
    if not layers or sorted(layers) != list(range(len(layers))):
        raise ModelError(f"{config}: no consecutive L0.. layer definitions found")
    for index, cfg in layers.items():
        for key, value in cfg.items():
            # API 0 has no thresholds; every size and count read here is at least 1.
            if key in _POSITIVE and value < (0 if key == "API" else 1):
                raise ModelError(f"{config}: L{index}_{key} is {value}; it must be "
                                 f"{'non-negative' if key == 'API' else 'positive'}")
    return [layers[i] for i in range(len(layers))]


def _read(path, dtype, count):
    if not path.is_file():
        raise ModelError(f"{path}: missing; the BNN-PYNQ folder is incomplete")
    size = path.stat().st_size
    if size != count * 8:
        raise ModelError(f"{path}: {size} bytes ({size / 8:g} values), config.h implies "
                         f"{count} 8-byte values")
    data = np.fromfile(path, dtype=dtype)
    if dtype == "<i8" and len(data) and np.abs(data).max(initial=0) > VALUE_LIMIT:
        raise ModelError(f"{path}: a threshold of magnitude above 2**56; the file is damaged")
    return data


def _layer_matrix(folder, index, cfg):
    mw, mh, simd, pe = cfg["MW"], cfg["MH"], cfg["SIMD"], cfg["PE"]
    sf, nf = mw // simd, mh // pe
    if simd > 64 or mw % simd or mh % pe or cfg["WMEM"] != sf * nf or cfg["TMEM"] != nf:
        raise ModelError(f"{folder}/config.h: layer {index} has inconsistent MW/MH/SIMD/PE/WMEM/TMEM "
                         f"({mw}/{mh}/{simd}/{pe}/{cfg['WMEM']}/{cfg['TMEM']})")
    # The weight files must exist with their sizes before the matrix is allocated.
    for p in range(pe):
        _size_check(folder / f"{index}-{p}-weights.bin", sf * nf)
    bits = np.zeros((mh, mw), np.uint8)
    thresholds = np.zeros((mh, cfg["API"]), np.int64)  # API 0: no threshold files
    lanes = np.arange(simd, dtype=np.uint64)
    for p in range(pe):
        words = _read(folder / f"{index}-{p}-weights.bin", "<u8", sf * nf).reshape(nf, sf)
        lane_bits = ((words[:, :, None] >> lanes) & np.uint64(1)).astype(np.uint8)
        bits[p::pe] = lane_bits.reshape(nf, sf * simd)
        if cfg["API"]:
            thresholds[p::pe] = _read(folder / f"{index}-{p}-thres.bin", "<i8",
                                      nf * cfg["API"]).reshape(nf, cfg["API"])
    return bits, thresholds


def _size_check(path, count):
    if not path.is_file():
        raise ModelError(f"{path}: missing; the BNN-PYNQ folder is incomplete")
    if path.stat().st_size != count * 8:
        raise ModelError(f"{path}: {path.stat().st_size} bytes, config.h implies {count} "
                         f"8-byte words")


def _classes(folder):
    path = folder / "classes.txt"
    if not path.is_file():
        return None
    if path.stat().st_size > 1 << 20:
        raise ModelError(f"{path}: {path.stat().st_size} bytes; not a list of class names")
    try:
        return [line.strip() for line in path.read_text("utf-8").splitlines() if line.strip()]
    except UnicodeDecodeError:
        raise ModelError(f"{path}: not UTF-8 text (one class name per line)") from None


def _thresholds(folder, index, t, offset):
    try:
        return Thresholds(t, offset=offset)
    except ModelError as error:
        raise ModelError(f"{folder}: layer {index}: {error}") from None


def load_bnnpynq(folder):
    """Import a BNN-PYNQ folder (LFC W1A1/W1A2, CNV W1A1) as a :class:`Network`."""
    folder = Path(folder)
    configs = read_config(folder)
    if any("K" in cfg for cfg in configs):
        return load_cnv(folder, configs)
    for i, cfg in enumerate(configs):
        missing = [k for k in _KEYS if k not in cfg]
        if missing:
            raise ModelError(f"{folder}/config.h: layer {i} lacks L{i}_{missing[0]}")
        if cfg["WPI"] != 1 or cfg["API"] not in (1, 2):
            raise ModelError(f"{folder}: layer {i} has {cfg['WPI']}-bit weights and "
                             f"{cfg['API']}-bit activations; only W1A1 and W1A2 models are "
                             f"supported yet")
    classes = _classes(folder)

    layers = []
    encoding = BINARY
    for i, cfg in enumerate(configs):
        bits, thr = _layer_matrix(folder, i, cfg)
        mw_padded = cfg["MW"]
        if i == 0:
            if cfg["MW"] < MNIST_PIXELS:
                raise ModelError(f"{folder}: layer 0 takes {cfg['MW']} inputs, fewer than the "
                                 f"{MNIST_PIXELS} pixels of a 28x28 image")
            if not bits[:, MNIST_PIXELS:].all():
                raise ModelError(f"{folder}: layer 0 pad columns {MNIST_PIXELS}.. are not all +1, "
                                 f"so they cannot be dropped exactly")
            bits = bits[:, :MNIST_PIXELS]
        if i == len(configs) - 1:
            rows = len(classes) if classes else cfg["MH"]
            if rows > cfg["MH"] or cfg["API"] != 1:
                raise ModelError(f"{folder}: the last layer must have one threshold per row and "
                                 f"at least the {rows} rows named in classes.txt")
            act = Bias(-thr[:rows, 0])
            bits = bits[:rows]
        elif cfg["API"] == 1:
            act = Thresholds(thr + 1)
        elif encoding == BINARY:
            # 2-bit output from binary inputs: BNN-PYNQ compares against the signed +-1 dot
            # product over all MW columns, pads included (input -1 against weight +1), which
            # is 2*pop - MW_padded: thr < 2*pop - MW  <=>  pop >= floor((thr + MW)/2) + 1.
            act = _thresholds(folder, i, (thr + mw_padded) // 2 + 1, -1)
        else:
            act = _thresholds(folder, i, thr + 1, -1)
        layers.append(Dense(2 * bits.astype(np.int8) - 1, act, input_encoding=encoding))
        encoding = act.next_encoding() if isinstance(act, Thresholds) else None
    return Network(folder.name, InputQuant((28, 28), 128), layers, classes)


CNV_KEYS = ("K", "IFM_CH", "IFM_DIM", "OFM_CH", "OFM_DIM")


def cnv_input_table():
    """CNV's input codes: ``q = clip(floor((p/255*2 - 1)*128 + 0.5), -128, 127)`` for every
    pixel ``p``, computed exactly as ``floor((512*p - 65025) / 510)``, stored as ``q + 128``."""
    p = np.arange(256, dtype=np.int64)
    q = np.clip((512 * p - 65025) // 510, -128, 127)
    return q + 128


def load_cnv(folder, configs):
    """Import a BNN-PYNQ CNV folder (convolutions, then fully-connected layers); see the
    module docstring for the semantics."""
    layers = []
    shape = None
    encoding = IntCodes(8, -128, 255)
    classes = _classes(folder)
    for i, cfg in enumerate(configs):
        conv = "K" in cfg
        keys = (CNV_KEYS if conv else ("MW", "MH")) + ("SIMD", "PE", "WMEM", "TMEM", "WPI", "API")
        missing = [k for k in keys if k not in cfg]
        if missing:
            raise ModelError(f"{folder}/config.h: layer {i} lacks L{i}_{missing[0]}")
        last = i == len(configs) - 1
        if cfg["WPI"] != 1 or (cfg["API"] != 1 and not last):
            raise ModelError(f"{folder}: layer {i} has {cfg['WPI']}-bit weights and "
                             f"{cfg['API']}-bit activations; only CNV W1A1 is supported")
        if conv:
            k, dim, ch = cfg["K"], cfg["IFM_DIM"], cfg["IFM_CH"]
            cfg = dict(cfg, MW=k * k * ch, MH=cfg["OFM_CH"])
            if shape is None:
                shape = (dim, dim, ch)
            elif shape != (dim, dim, ch):
                # A 2x2 max-pool (stride 2) sits between conv layers whose sizes halve.
                if shape[2] != ch or shape[0] != 2 * dim:
                    raise ModelError(f"{folder}: layer {i} takes {dim}x{dim}x{ch} maps, the "
                                     f"layer before gives {shape}")
                layers.append(MaxPool(shape, 2, 2))
                shape = layers[-1].out_shape
            if dim - k + 1 != cfg["OFM_DIM"]:
                raise ModelError(f"{folder}: layer {i}: a {k}x{k} unpadded convolution of a "
                                 f"{dim}x{dim} map gives {dim - k + 1}, config.h says "
                                 f"{cfg['OFM_DIM']}")
        elif shape is not None and int(np.prod(shape)) != cfg["MW"]:
            raise ModelError(f"{folder}: layer {i} takes {cfg['MW']} inputs, the layer before "
                             f"gives {int(np.prod(shape))}")
        if last:
            # No thresholds: the class is the argmax of the popcounts; padded rows dropped.
            bits, _ = _layer_matrix(folder, i, dict(cfg, API=0))
            rows = len(classes) if classes else cfg["MH"]
            bits = bits[:rows]
            act = Bias(np.zeros(rows, np.int64))
        else:
            bits, thr = _layer_matrix(folder, i, cfg)
            if i == 0:
                # Stored at 256x the real threshold: thr < 2*acc  <=>  acc >= floor(thr/2) + 1.
                act = Thresholds(thr // 2 + 1)
            else:
                act = Thresholds(thr + 1)
        dense = Dense(2 * bits.astype(np.int8) - 1, act, input_encoding=encoding)
        if conv:
            layers.append(Conv2D(shape, dense, cfg["K"]))
            shape = layers[-1].out_shape
        else:
            layers.append(dense)
            shape = (dense.out_features,)
        encoding = BINARY
    return Network(folder.name, InputQuant((32, 32, 3), None, cnv_input_table(),
                                           IntCodes(8, -128, 255)), layers, classes)

