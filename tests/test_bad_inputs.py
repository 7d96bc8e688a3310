"""The bad-input campaign: every entry point answers a bad input with one ``error:`` line,
exit status 2 and nothing written, never a traceback and never a silently different design.

Per entry point a table of hand-made bad inputs (damaged and hand-edited model files,
broken BNN-PYNQ folders, damaged QONNX files, bad data files, bad options and output
paths), then hypothesis mutation of real model files: truncation, byte flips and edited
JSON fields or array values and dtypes must each load or give a ModelError, nothing else.
"""

import gzip
import io
import json
import shutil
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from golden.cli import run_cli
from golden.errors import ModelError
from golden.formats import load_model, save_model
from golden.model import Bias, Dense, InputQuant, Network, Thresholds

ROOT = Path(__file__).resolve().parents[1]
CONV_MODEL = ROOT / "models" / "mnist_bcnn.npz"
ONNX_MODEL = ROOT / "models" / "mnist_bcnn.onnx"


# --- helpers --------------------------------------------------------------------------

def small_network():
    rng = np.random.default_rng(5)
    h = Dense(rng.choice([-1, 1], (8, 16)), Thresholds(rng.integers(5, 11, (8, 1))))
    out = Dense(rng.choice([-1, 1], (3, 8)), Bias(rng.integers(-3, 3, 3)))
    return Network("small", InputQuant((4, 4), 128), [h, out], ["a", "b", "c"])


def members(path):
    """``{name: bytes}`` of a zip archive."""
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def write_members(path, files, compress=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compress) as archive:
        for name, data in files.items():
            archive.writestr(name, data)


def npy_bytes(array, allow_pickle=False):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asanyarray(array), allow_pickle=allow_pickle)
    return buffer.getvalue()


def edited(src, dst, *, header=None, arrays=None, raw=None):
    """Copy the model file ``src`` to ``dst`` with ``header(dict)`` applied to model.json,
    ``arrays`` ({key: array}) replacing members, ``raw`` ({name: bytes}) replacing bytes."""
    files = members(src)
    if header is not None:
        spec = json.loads(str(np.load(io.BytesIO(files["model.json.npy"]))[()]))
        header(spec)
        files["model.json.npy"] = npy_bytes(np.array(json.dumps(spec)))
    for key, array in (arrays or {}).items():
        files[key + ".npy"] = npy_bytes(array)
    files.update(raw or {})
    write_members(dst, files)
    return dst


def assert_one_error(capsys, main, argv, out=None, contains=None):
    """``main(argv)`` exits 2 with one ``error:`` line and leaves ``out`` absent."""
    with pytest.raises(SystemExit) as info:
        run_cli(main, argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2, err
    assert len(err) == 1 and err[0].startswith("error: "), err
    if contains:
        assert contains in err[0], err
    if out is not None:
        assert not Path(out).exists(), f"{out} was left behind"
    return err[0]


def build_main(argv):
    from hdl.flow.build import main
    return main(argv)


def evaluate_main(argv):
    from golden.evaluate import main
    return main(argv)


# --- model files (.npz) ---------------------------------------------------------------

def _set(path, value):
    def edit(spec):
        node = spec
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return edit


def _deep_json(spec):
    spec["name"] = json.loads("[" * 50 + "]" * 50)   # valid but the wrong type


def npz_cases(tmp):
    """``[(case id, bad file, words the error must contain)]``."""
    good = tmp / "good.npz"
    save_model(small_network(), good)
    data = good.read_bytes()
    cases = []

    def case(name, path, words):
        cases.append((name, path, words))

    p = tmp / "truncated.npz"
    p.write_bytes(data[:len(data) // 2])
    case("truncated", p, "")
    p = tmp / "flipped.npz"
    flipped = bytearray(data)
    for i in range(60, len(flipped) - 200, 37):
        flipped[i] ^= 0x5A
    p.write_bytes(bytes(flipped))
    case("flipped bytes", p, "")
    p = tmp / "text.npz"
    p.write_text("hello")
    case("not a zip", p, "not a readable .npz")
    p = tmp / "bare.npz"
    np.save(p.with_suffix(".npy"), np.zeros(3))
    shutil.move(p.with_suffix(".npy"), p)
    case("a bare .npy", p, "single .npy")
    p = tmp / "empty.npz"
    p.write_bytes(b"")
    case("empty file", p, "")
    case("bad JSON", edited(good, tmp / "badjson.npz",
                            raw={"model.json.npy": npy_bytes(np.array("{nope"))}), "JSON")
    deep = "[" * 200_000 + "]" * 200_000
    case("200000-deep JSON", edited(good, tmp / "deep.npz",
                                    raw={"model.json.npy": npy_bytes(np.array(deep))}), "")
    case("nested name", edited(good, tmp / "nested.npz", header=_deep_json), "name")
    case("JSON not text", edited(good, tmp / "jsonint.npz",
                                 raw={"model.json.npy": npy_bytes(np.arange(4))}), "model.json")
    case("thresholds uint64 2**64-5", edited(
        good, tmp / "u64.npz",
        arrays={"layer0.thresholds": np.full((8, 1), 2 ** 64 - 5, np.uint64)}), "thresholds")
    case("direction int16 255", edited(
        good, tmp / "dir.npz", arrays={"layer0.direction": np.full(8, 255, np.int16)}),
        "direction")
    case("float thresholds", edited(
        good, tmp / "fthr.npz", arrays={"layer0.thresholds": np.full((8, 1), 5.5)}),
        "integers")
    case("bias 2**62", edited(
        good, tmp / "bias.npz", arrays={"layer1.bias": np.full(3, 2 ** 62, np.int64)}), "biases")
    case("classes a string", edited(good, tmp / "cls.npz", header=_set(["classes"], "abc")),
         "classes")
    case("classes of numbers", edited(good, tmp / "cls2.npz",
                                      header=_set(["classes"], [1, 2, 3])), "classes")
    case("three classes named for 3 outputs, 4 given", edited(
        good, tmp / "cls3.npz", header=_set(["classes"], ["a", "b", "c", "d"])), "class names")
    case("version 99", edited(good, tmp / "v99.npz", header=_set(["version"], 99)), "version")
    case("not our format", edited(good, tmp / "fmt.npz", header=_set(["format"], "x")),
         "not a bnn-rtl-model")
    case("unknown layer type", edited(good, tmp / "type.npz",
                                      header=_set(["layers", 0, "type"], "lstm")), "lstm")
    case("in_features a float", edited(good, tmp / "inf.npz",
                                       header=_set(["layers", 0, "in_features"], 16.0)),
         "in_features")
    case("in_features a bool", edited(good, tmp / "inb.npz",
                                      header=_set(["layers", 0, "in_features"], True)),
         "in_features")
    case("threshold 300", edited(good, tmp / "thr.npz",
                                 header=_set(["input", "binarize_threshold"], 300)),
         "threshold")
    case("input shape negative", edited(good, tmp / "shape.npz",
                                        header=_set(["input", "shape"], [-4, -4])), "shape")
    case("input shape huge", edited(good, tmp / "hshape.npz",
                                    header=_set(["input", "shape"], [100000, 100000])), "")
    files = members(good)
    del files["layer0.weights.npy"]
    write_members(tmp / "nowts.npz", files)
    case("an array missing", tmp / "nowts.npz", "missing")
    case("weights wrong shape", edited(
        good, tmp / "wshape.npz", arrays={"layer0.weights": np.zeros((8, 1), np.uint8)}),
        "weights")
    case("weights int8 not uint8", edited(
        good, tmp / "wdtype.npz", arrays={"layer0.weights": np.zeros((8, 2), np.int8)}),
        "weights")
    case("pickled object array", edited(good, tmp / "pickle.npz", raw={
        "layer0.weights.npy": npy_bytes(np.array([{"a": 1}], dtype=object), True)}), "object")
    # A header that claims 10**10 rows: must not try to allocate them.
    header = npy_bytes(np.zeros((2, 2), np.int64))
    huge = header.replace(b"(2, 2)", b"(10000000000, 2)")
    case("header claims 1e10 rows", edited(good, tmp / "huge.npz",
                                            raw={"layer0.thresholds.npy": huge}), "claims")
    # Cut data inside a member.
    cut = npy_bytes(np.zeros((8, 1), np.int64))[:-16]
    case("member cut short", edited(good, tmp / "cut.npz",
                                     raw={"layer0.thresholds.npy": cut}), "")
    # Unknown compression method and the encrypted flag, set in the zip headers.
    for name, patch in (("unknown compression", _compression_99),
                        ("encrypted member", _encrypted)):
        p = tmp / (name.replace(" ", "_") + ".npz")
        p.write_bytes(patch(data))
        case(name, p, "")
    # Conv fields: a float in_shape (28.9 used to become 28), a string kernel.
    if CONV_MODEL.exists():
        case("conv in_shape 28.9", edited(CONV_MODEL, tmp / "c289.npz",
                                          header=_set(["layers", 0, "in_shape"], [28.9, 28, 1])),
             "positive integers")
        case("conv kernel string", edited(CONV_MODEL, tmp / "ck.npz",
                                          header=_set(["layers", 0, "kernel"], "5")), "kernel")
        case("pool stride 0", edited(CONV_MODEL, tmp / "ps.npz",
                                     header=_set(["layers", 1, "stride"], 0)), "")
    return cases


def _compression_99(data):
    out = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        start = 0
        while (start := out.find(signature, start)) >= 0:
            out[start + offset:start + offset + 2] = struct.pack("<H", 99)
            start += 4
    return bytes(out)


def _encrypted(data):
    out = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (start := out.find(signature, start)) >= 0:
            out[start + offset] |= 1
            start += 4
    return bytes(out)


@pytest.fixture(scope="module")
def npz_table(tmp_path_factory):
    return npz_cases(tmp_path_factory.mktemp("npz"))


def check_bad_models(cases, tmp_path, capsys, evaluate=False):
    """Each ``(name, model, words)`` case: ``hdl.build --target verilog`` (and, with
    ``evaluate``, ``golden.evaluate``) give one error line containing ``words``, no output."""
    for index, (name, path, words) in enumerate(cases):
        out = tmp_path / f"out{index}"
        line = assert_one_error(capsys, build_main,
                                ["--target", "verilog", "--model", str(path), "--out", str(out)],
                                out)
        assert words.lower() in line.lower(), (name, line)
        if evaluate:
            assert_one_error(capsys, evaluate_main, ["--model", str(path), "--inputs", str(path)])


def test_bad_model_files_each_give_one_error_line(npz_table, tmp_path, capsys):
    assert len(npz_table) >= 30
    check_bad_models(npz_table, tmp_path, capsys, evaluate=True)


# --- BNN-PYNQ folders ------------------------------------------------------------------

def write_bnnpynq(folder, *, simd=(16, 16), pe=(4, 2), mh=(16, 10), thresholds=None):
    """A small two-layer LFC-style BNN-PYNQ folder (784 pixels padded to 800)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    mws = (800, mh[0])
    lines = []
    for layer, (mw, h, s, p) in enumerate(zip(mws, mh, simd, pe)):
        sf, nf = mw // max(s, 1), h // max(p, 1)
        for key, value in (("MW", mw), ("MH", h), ("SIMD", s), ("PE", p), ("WMEM", sf * nf),
                           ("TMEM", nf), ("WPI", 1), ("API", 1)):
            lines.append(f"#define L{layer}_{key} {value}")
        bits = rng.integers(0, 2, (h, mw))
        if layer == 0:
            bits[:, 784:] = 1
        for q in range(abs(p)):
            rows = bits[q::abs(p)]
            words = [sum(int(b) << k for k, b in enumerate(row[f * s:(f + 1) * s]))
                     for row in rows for f in range(sf)] if s > 0 else []
            np.array(words, "<u8").tofile(folder / f"{layer}-{q}-weights.bin")
            t = thresholds if thresholds is not None else rng.integers(0, mw, len(rows))
            np.array(t, "<i8")[:len(rows)].tofile(folder / f"{layer}-{q}-thres.bin")
    (folder / "config.h").write_text("\n".join(lines) + "\n")
    return folder


def bnnpynq_cases(tmp):
    cases = []
    good = write_bnnpynq(tmp / "good")
    load_model(good)          # the generator makes a valid folder

    def variant(name, words, edit):
        folder = tmp / name.replace(" ", "_")
        shutil.copytree(good, folder)
        edit(folder)
        cases.append((name, folder, words))

    def config(old, new):
        def edit(folder):
            text = (folder / "config.h").read_text()
            assert old in text
            (folder / "config.h").write_text(text.replace(old, new))
        return edit

    variant("negative SIMD and PE that still add up", "positive",
            config("#define L1_SIMD 16\n#define L1_PE 2", "#define L1_SIMD -16\n#define L1_PE -2"))
    variant("SIMD 0", "positive", config("#define L1_SIMD 16", "#define L1_SIMD 0"))
    variant("WMEM inconsistent", "inconsistent", config("#define L1_WMEM 5", "#define L1_WMEM 6"))
    variant("huge MW", "", config("#define L0_MW 800", "#define L0_MW 999999999"))
    variant("layer gap", "consecutive", config("#define L1_", "#define L2_"))
    variant("empty config.h", "no consecutive", lambda f: (f / "config.h").write_text(""))
    variant("weights file missing", "missing", lambda f: (f / "1-1-weights.bin").unlink())
    variant("weights file cut", "bytes", lambda f: (f / "1-1-weights.bin").write_bytes(
        (f / "1-1-weights.bin").read_bytes()[:-3]))
    variant("thresholds file cut", "bytes", lambda f: (f / "0-0-thres.bin").write_bytes(b"12"))
    variant("threshold 2**63-1", "damaged", lambda f: np.full(
        4, 2 ** 63 - 1, "<i8").tofile(f / "0-0-thres.bin"))
    variant("classes.txt not text", "UTF-8", lambda f: (f / "classes.txt").write_bytes(
        bytes(range(128, 256))))
    variant("more classes than rows", "classes", lambda f: (f / "classes.txt").write_text(
        "\n".join(map(str, range(11)))))
    variant("pad columns not +1", "pad columns", lambda f: (f / "0-0-weights.bin").write_bytes(
        bytes(len((f / "0-0-weights.bin").read_bytes()))))
    variant("2-bit weights", "supported", config("#define L0_WPI 1", "#define L0_WPI 2"))
    return cases


def test_bad_bnnpynq_folders_each_give_one_error_line(tmp_path, capsys):
    cases = bnnpynq_cases(tmp_path)
    assert len(cases) >= 14
    check_bad_models(cases, tmp_path, capsys)


# --- QONNX files -------------------------------------------------------------------------

def test_damaged_onnx_files_each_give_one_error_line(tmp_path, capsys):
    data = ONNX_MODEL.read_bytes()
    cases = {"truncated.onnx": data[:len(data) // 3], "empty.onnx": b"",
             "text.onnx": b"ir_version: 7\n", "random.onnx": bytes(range(256)) * 40,
             "flipped.onnx": bytes(b ^ 0xFF if 100 < i < 400 else b for i, b in enumerate(data))}
    for index, (name, content) in enumerate(cases.items()):
        (tmp_path / name).write_bytes(content)
        out = tmp_path / f"out{index}"
        assert_one_error(capsys, build_main, ["--target", "verilog", "--model",
                                              str(tmp_path / name), "--out", str(out)], out)


# --- data files ----------------------------------------------------------------------------

def mnist_folder(folder, images=None, labels=None, gz=True):
    folder.mkdir(parents=True, exist_ok=True)
    if images is None:
        imgs = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
        images = bytes([0, 0, 8, 3]) + struct.pack(">III", 5, 28, 28) + imgs.tobytes()
    if labels is None:
        labels = bytes([0, 0, 8, 1]) + struct.pack(">I", 5) + bytes([1, 2, 3, 4, 5])
    opener = gzip.compress if gz else (lambda b: b)
    suffix = ".gz" if gz else ""
    (folder / f"t10k-images-idx3-ubyte{suffix}").write_bytes(opener(images))
    (folder / f"t10k-labels-idx1-ubyte{suffix}").write_bytes(opener(labels))
    return folder


def test_bad_data_each_give_one_error_line(tmp_path, capsys):
    model = tmp_path / "m.npz"
    save_model(Network("mnist", InputQuant((28, 28), 128),
                       [Dense(np.ones((3, 784), np.int64), Bias(np.zeros(3, np.int64)))]), model)
    mnist_folder(tmp_path / "ok")
    assert run_cli(evaluate_main, ["--model", str(model), "--data", str(tmp_path / "ok")]) == 0
    capsys.readouterr()
    header = bytes([0, 0, 8, 3]) + struct.pack(">III", 5, 28, 28)
    folders = {
        "truncated gzip": (tmp_path / "ok" / "t10k-images-idx3-ubyte.gz").read_bytes()[:100],
        "bad magic": bytes([1, 2, 3, 4]) * 10,
        "4e9 images claimed": bytes([0, 0, 8, 3]) + struct.pack(">III", 2 ** 32 - 1, 2 ** 32 - 1,
                                                                 2 ** 32 - 1),
        "cut data": header + bytes(100),
        "empty": b"",
    }
    for index, (name, content) in enumerate(folders.items()):
        folder = mnist_folder(tmp_path / f"d{index}", gz=False)
        gz = name == "truncated gzip"
        target = folder / ("t10k-images-idx3-ubyte" + (".gz" if gz else ""))
        (folder / "t10k-images-idx3-ubyte").unlink()
        target.write_bytes(content)
        assert_one_error(capsys, evaluate_main, ["--model", str(model), "--data", str(folder)])
    bad_label = mnist_folder(tmp_path / "label", labels=bytes([0, 0, 8, 1]) + struct.pack(">I", 5)
                             + bytes([1, 2, 3, 4, 200]))
    assert_one_error(capsys, evaluate_main, ["--model", str(model), "--data", str(bad_label)],
                     contains="0..9")
    inputs = {
        "object array": None,
        "float with NaN": np.full((2, 28, 28), np.nan),
        "wrong shape": np.zeros((2, 27, 28), np.uint8),
        "no batch axis": np.zeros((28, 28), np.uint8),
        "values above 255": np.full((2, 28, 28), 300, np.int64),
    }
    for index, array in enumerate(inputs.values()):
        path = tmp_path / f"x{index}.npy"
        if array is None:
            path.write_bytes(npy_bytes(np.array([{}], dtype=object), True))
        else:
            np.save(path, array)
        assert_one_error(capsys, evaluate_main, ["--model", str(model), "--inputs", str(path)])
    good_x = tmp_path / "x.npy"
    np.save(good_x, np.zeros((2, 28, 28), np.uint8))
    huge = tmp_path / "huge.npy"
    huge.write_bytes(npy_bytes(np.zeros((2, 28, 28), np.uint8)).replace(b"(2, 28, 28)",
                                                                        b"(9999999, 28, 28)"))
    assert_one_error(capsys, evaluate_main, ["--model", str(model), "--inputs", str(huge)],
                     contains="claims")
    for labels in (np.zeros(3, np.int64), np.zeros(2), np.zeros((2, 1), np.int64)):
        np.save(tmp_path / "y.npy", labels)
        assert_one_error(capsys, evaluate_main, ["--model", str(model), "--inputs", str(good_x),
                                                 "--labels", str(tmp_path / "y.npy")])
    for limit in ("0", "-5"):
        assert_one_error(capsys, evaluate_main, ["--model", str(model), "--inputs", str(good_x),
                                                 "--limit", limit], contains="--limit")
    out = tmp_path / "save" / "p.npz"
    (tmp_path / "save").write_text("a file")
    assert_one_error(capsys, evaluate_main, ["--model", str(model), "--inputs", str(good_x),
                                             "--save", str(out)])


# --- options and output paths ----------------------------------------------------------------

def test_bad_options_and_paths_each_give_one_error_line(tmp_path, capsys):
    model = tmp_path / "small.npz"
    save_model(small_network(), model)
    afile = tmp_path / "afile"
    afile.write_text("x")
    base = ["--target", "verilog", "--model", str(model)]
    cases = [
        (["--out", str(afile)], "is a file"),
        (["--out", str(afile / "sub")], "is a file"),
        (["--name", "module"], "keyword"),
        (["--name", "always_ff"], "keyword"),
        (["--name", "a" * 300], "characters"),
        (["--name", "9lives"], "identifier"),
        (["--name", "a-b"], "identifier"),
        (["--folding", "17x1,1x1"], "not in [1, 16]"),
        (["--folding", "0x1,1x1"], "not in [1, 16]"),
        (["--folding", "16x8"], "entries"),
        (["--folding", "16x8,8xq"], "SIMDxPE"),
        (["--folding", "-16x8,8x3"], ""),
        (["--cycles", "0"], "positive"),
        (["--cycles", "-3"], "positive"),
        (["--target-fps", "1e-320", "--clock-mhz", "100"], ""),
        (["--target-fps", "nan"], "positive"),
        (["--target-fps", "1e9"], "more than one inference per cycle"),
        (["--clock-mhz", "inf", "--target-fps", "10"], "positive"),
        (["--cycles", "100", "--target-fps", "10"], "not both"),
        (["--interface", "pcie"], "invalid choice"),
    ]
    for index, (extra, words) in enumerate(cases):
        out = tmp_path / f"out{index}"
        argv = base + (extra if "--out" in extra else extra + ["--out", str(out)])
        line = assert_one_error(capsys, build_main, argv, None if "--out" in extra else out)
        assert words.lower() in line.lower(), (extra, line)
    assert afile.read_text() == "x"
    # Board options are checked before any tool runs.
    for extra, words in ((["--baud", "0"], "positive"), (["--target-mhz", "-1"], "positive"),
                         (["--fit", "icebreaker", "--cycles", "8"], "drop"),
                         (["--fit", "icebreaker", "--board", "ulx3s"], "different boards"),
                         (["--board", "icebreaker", "--out", str(afile)], "is a file")):
        assert_one_error(capsys, build_main, ["--board", "icebreaker", "--model", str(model)]
                         + extra if "--board" not in extra else ["--model", str(model)] + extra,
                         contains=words)


def test_model_writers_refuse_bad_output_paths(tmp_path, capsys):
    from golden.convert import main as convert_main
    from golden.qonnx import main as qonnx_main
    model = tmp_path / "m.npz"
    save_model(small_network(), model)
    afile = tmp_path / "afile"
    afile.write_text("x")
    for out in (afile / "x.npz", tmp_path / "missing" / "x.npz", tmp_path):
        assert_one_error(capsys, convert_main, [str(model), "--out", str(out)])
    assert_one_error(capsys, qonnx_main, ["export", str(model), "--out", str(afile / "x.onnx")])
    assert afile.read_text() == "x" and sorted(p.name for p in tmp_path.iterdir()) == ["afile", "m.npz"]


def test_the_widest_memory_word_is_never_chosen_and_refused_when_given():
    """Fully unrolled, the default MLP's first layer would need 784*256-bit weight words
    (over Amaranth's 65,536-bit limit): the automatic folding stays within it and an
    explicit folding beyond it is refused with the reason."""
    from hdl.flow.folding import auto_folding, fastest_folding
    from hdl.folding import MAX_WORD_BITS, LayerFolding
    from hdl.stages import check_folding, compute_layers
    network = load_model(ROOT / "models" / "mnist_bnn.npz")
    layers = compute_layers(network)
    for folding in (auto_folding(network, 1), fastest_folding(network)):
        assert all(f.simd * f.pe * layer.weight_encoding.code_bits <= MAX_WORD_BITS
                   for layer, f in zip(layers, folding))
    full = [LayerFolding(layer.in_features, layer.out_features) for layer in layers]
    with pytest.raises(ModelError, match="bits a memory word"):
        check_folding(network, full)


# --- hypothesis: mutated real model files ----------------------------------------------------

_SMALL = io.BytesIO()


def _small_bytes():
    if not _SMALL.getvalue():
        import tempfile
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "m.npz"
            save_model(small_network(), path)
            _SMALL.write(path.read_bytes())
    return _SMALL.getvalue()


def _loads_or_model_error(path):
    try:
        load_model(path)
    except ModelError as error:
        assert "\n" not in str(error)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(cut=st.integers(0, 4000), flips=st.lists(st.tuples(st.integers(0, 4000),
                                                          st.integers(1, 255)), max_size=6))
def test_mutated_model_bytes_load_or_give_a_model_error(tmp_path_factory, cut, flips):
    data = bytearray(_small_bytes())
    for position, mask in flips:
        data[position % len(data)] ^= mask
    path = tmp_path_factory.mktemp("mut") / "m.npz"
    path.write_bytes(bytes(data[:max(1, len(data) - cut % len(data))]))
    _loads_or_model_error(path)


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.floats(allow_nan=True)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                 max_size=3),
    max_leaves=6)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, prefix + (index,))


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(choice=st.integers(0, 10 ** 6), value=_JSON_VALUES)
def test_edited_json_fields_load_or_give_a_model_error(tmp_path_factory, choice, value):
    folder = tmp_path_factory.mktemp("json")
    (folder / "src.npz").write_bytes(_small_bytes())
    spec = json.loads(str(np.load(folder / "src.npz")["model.json"][()]))
    paths = [p for p in _paths(spec) if p]
    path = paths[choice % len(paths)]
    edited(folder / "src.npz", folder / "m.npz", header=_set(list(path), value))
    _loads_or_model_error(folder / "m.npz")


_DTYPES = ["u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8", "f4", "f8", "b1", "U3"]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(choice=st.integers(0, 100), dtype=st.sampled_from(_DTYPES),
       values=st.lists(st.integers(-2 ** 64, 2 ** 64), min_size=0, max_size=30),
       ndim=st.integers(0, 3))
def test_edited_arrays_load_or_give_a_model_error(tmp_path_factory, choice, dtype, values, ndim):
    folder = tmp_path_factory.mktemp("arr")
    (folder / "src.npz").write_bytes(_small_bytes())
    keys = [k[:-4] for k in members(folder / "src.npz") if k != "model.json.npy"]
    key = keys[choice % len(keys)]
    raw = np.array(values, dtype=object)
    try:
        array = raw.astype(np.dtype(dtype)) if dtype[0] != "U" else raw.astype(str)
    except (OverflowError, ValueError):
        array = np.zeros(len(values), np.dtype(dtype))
    if ndim == 0:
        array = array[:1].reshape(()) if array.size else np.zeros((), array.dtype)
    elif ndim == 2 and array.size % 2 == 0:
        array = array.reshape(2, -1)
    edited(folder / "src.npz", folder / "m.npz", arrays={key: array})
    _loads_or_model_error(folder / "m.npz")


# --- scalars out of range, non-finite numbers, empty data, output paths ------------------------

def lut_network():
    """A two-layer network with 2-bit codes into a lookup-weight layer: every scalar kind
    (threshold offset, code offset, lookup levels) in one small model."""
    from golden.weights import LutWeights
    rng = np.random.default_rng(1)
    h = Dense(rng.choice([-1, 1], (8, 16)),
              Thresholds(np.sort(rng.integers(0, 11, (8, 3)), axis=1)))
    out = Dense(rng.choice([-2, -1, 1, 2], (3, 8)), Bias(rng.integers(-3, 3, 3)),
                weight_encoding=LutWeights(3, (-2, -1, 1, 2)),
                input_encoding=h.activation.next_encoding())
    return Network("lut", InputQuant((4, 4), 128), [h, out], ["a", "b", "c"])


SCALAR_CASES = [
    # (JSON path in model.json, value, words of the error)
    (["layers", 1, "weights", "levels", 3], 10 ** 30, "lut weight level"),
    (["layers", 1, "weights", "levels", 0], -(2 ** 40), "lut weight level"),
    (["layers", 0, "activation", "offset"], 10 ** 30, "offset"),
    (["layers", 0, "activation", "offset"], -(2 ** 62), "offset"),
    (["layers", 1, "inputs", "offset"], 2 ** 63, "offset"),
    (["layers", 1, "inputs", "offset"], 1e30, "integer"),
    (["layers", 1, "inputs", "offset"], True, "integer"),
    (["input", "binarize_threshold"], 10 ** 20, "threshold"),
    (["input", "binarize_threshold"], 128.0, "integer"),
    (["layers", 0, "in_features"], 10 ** 30, ""),
]


def test_scalars_out_of_range_each_give_one_error_line(tmp_path, capsys):
    """Every scalar field of a model file, far outside what the hardware holds (10**30,
    2**63, a float, a bool), is one error line from golden.evaluate and hdl.build: never
    an OverflowError, never a design built on a wrapped value."""
    good = tmp_path / "good.npz"
    save_model(lut_network(), good)
    np.save(tmp_path / "x.npy", np.random.default_rng(0).integers(0, 256, (5, 4, 4), np.uint8))
    for index, (path, value, words) in enumerate(SCALAR_CASES):
        bad = edited(good, tmp_path / f"bad{index}.npz", header=_set(path, value))
        out = tmp_path / f"out{index}"
        line = assert_one_error(capsys, build_main, ["--model", str(bad), "--out", str(out)], out)
        assert words in line, (path, value, line)
        assert_one_error(capsys, evaluate_main, ["--model", str(bad), "--inputs",
                                                 str(tmp_path / "x.npy")], contains=words)


def test_a_layer_whose_accumulator_could_overflow_is_refused():
    """The accumulator bound (fan-in x weight x input value x 2**scale) is proven within
    2**56 when the layer is made: here 2**15 weights, inputs up to 2**16 and a 2**30 scale."""
    from golden.model import IntCodes
    from golden.weights import ShiftWeights
    enc = IntCodes(16, 2 ** 16 - 3000, 2 ** 16 - 1)
    weights = np.full((2, 4), 2 ** 15)
    Dense(weights, Bias(np.zeros(2, np.int64)), ShiftWeights(15), enc)   # within the bound
    with pytest.raises(ModelError, match="accumulator could reach"):
        Dense(weights, Bias(np.zeros(2, np.int64)), ShiftWeights(15), enc,
              scale_exp=np.full(2, 30))


def test_a_shift_weight_of_two_to_the_fifteen_survives_saving(tmp_path):
    from golden.weights import ShiftWeights
    layer = Dense(np.array([[2 ** 15, -(2 ** 15), 1, 0]]), Bias(np.zeros(1, np.int64)),
                  ShiftWeights(15))
    save_model(Network("w", InputQuant((2, 2), 128), [layer], ["a"]), tmp_path / "w.npz")
    assert (load_model(tmp_path / "w.npz").layers[0].weights == layer.weights).all()


def _onnx_edit(tmp_path, name, edit):
    import onnx
    model = onnx.load(str(ONNX_MODEL))
    edit(model)
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def _set_scale(value):
    from onnx import numpy_helper

    def edit(model):
        inits = {i.name: i for i in model.graph.initializer}
        init = next(inits[n.input[1]] for n in model.graph.node
                    if n.op_type in ("Quant", "BipolarQuant") and n.input[1] in inits)
        array = numpy_helper.to_array(init).copy()
        array[...] = value
        init.CopyFrom(numpy_helper.from_array(array.astype(np.float32), init.name))
    return edit


def _wrong_dims(model):
    init = next(i for i in model.graph.initializer if len(i.dims) >= 2)
    init.dims[0] += 1


def test_qonnx_numbers_that_do_not_compute_each_give_one_error_line(tmp_path, capsys):
    """A quantizer scale that is NaN or infinite, or an initializer whose dims disagree
    with its data: one error line from golden.evaluate (its QONNX path) and hdl.build, and
    no numpy warning on the way."""
    pytest.importorskip("onnx")
    mnist = mnist_folder(tmp_path / "mnist")
    cases = [("inf.onnx", _set_scale(np.inf), "infinite or NaN"),
             ("nan.onnx", _set_scale(np.nan), "infinite or NaN"),
             ("neg.onnx", _set_scale(-1.0), "positive"),
             ("dims.onnx", _wrong_dims, "damaged or malformed")]
    for index, (name, edit, words) in enumerate(cases):
        path = _onnx_edit(tmp_path, name, edit)
        out = tmp_path / f"out{index}"
        assert_one_error(capsys, build_main, ["--model", str(path), "--out", str(out)], out,
                         contains=words)
        assert_one_error(capsys, evaluate_main, ["--model", str(path), "--data", str(mnist)],
                         contains=words)


def test_an_empty_data_set_gives_one_error_line(tmp_path, capsys):
    model = tmp_path / "m.npz"
    save_model(lut_network(), model)
    empty = mnist_folder(tmp_path / "empty",
                         images=bytes([0, 0, 8, 3]) + struct.pack(">III", 0, 28, 28),
                         labels=bytes([0, 0, 8, 1]) + struct.pack(">I", 0))
    assert_one_error(capsys, evaluate_main, ["--model", str(CONV_MODEL), "--data", str(empty)],
                     contains="no images")
    np.save(tmp_path / "none.npy", np.zeros((0, 4, 4), np.uint8))
    assert_one_error(capsys, evaluate_main, ["--model", str(model), "--inputs",
                                             str(tmp_path / "none.npy")], contains="(0, 4, 4)")


def test_empty_output_paths_are_refused(tmp_path, capsys, monkeypatch):
    """``--out ''`` (or blanks) would silently mean the default or the current folder."""
    from golden.convert import main as convert_main
    from golden.qonnx import main as qonnx_main
    monkeypatch.chdir(tmp_path)
    model = tmp_path / "m.npz"
    save_model(small_network(), model)
    for out in ("", "   "):
        assert_one_error(capsys, build_main, ["--model", str(model), "--out", out],
                         contains="empty path")
        assert_one_error(capsys, build_main, ["--board", "icebreaker", "--model", str(model),
                                              "--out", out], contains="empty path")
        assert_one_error(capsys, convert_main, ["--model", str(model), "--out", out],
                         contains="empty path")
        assert_one_error(capsys, qonnx_main, ["export", "--model", str(model), "--out", out],
                         contains="empty path")
        assert_one_error(capsys, evaluate_main, ["--model", str(model), "--inputs", str(model),
                                                 "--save", out], contains="empty path")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


def test_a_folder_where_a_file_goes_leaves_nothing_behind(tmp_path, capsys):
    model = tmp_path / "m.npz"
    save_model(small_network(), model)
    out = tmp_path / "out"
    (out / "report.json").mkdir(parents=True)
    assert_one_error(capsys, build_main, ["--model", str(model), "--out", str(out)],
                     contains="is a folder")
    assert sorted(p.name for p in out.iterdir()) == ["report.json"]
    assert not any((out / "report.json").iterdir())


# --- hypothesis: mutated QONNX graphs ------------------------------------------------------

_NUMBERS = (st.integers(-2 ** 40, 2 ** 40) | st.floats(allow_nan=True, allow_infinity=True)
            | st.sampled_from([0, 1, -1, 0.5, 1e-30, 1e30]))


def _mutated_graph(data, path):
    """The shipped QONNX graph with hypothesis's edits: attribute values, initializer
    values and dims, node order."""
    import onnx
    from onnx import helper, numpy_helper
    model = onnx.load(str(ONNX_MODEL))
    graph = model.graph
    for _ in range(data.draw(st.integers(1, 3))):
        kind = data.draw(st.sampled_from(["attribute", "values", "dims", "order"]))
        if kind == "attribute":
            nodes = [n for n in graph.node if n.attribute]
            node = nodes[data.draw(st.integers(0, len(nodes) - 1))]
            attr = node.attribute[data.draw(st.integers(0, len(node.attribute) - 1))]
            value = data.draw(_NUMBERS | st.text(max_size=4)
                              | st.lists(st.integers(-3, 40), min_size=1, max_size=4))
            attr.CopyFrom(helper.make_attribute(attr.name, value))
        elif kind == "values":
            init = graph.initializer[data.draw(st.integers(0, len(graph.initializer) - 1))]
            try:
                array = numpy_helper.to_array(init).copy()
            except ValueError:          # dims edited before: leave it so
                continue
            if array.size:
                index = data.draw(st.integers(0, array.size - 1))
                value = data.draw(_NUMBERS)
                try:
                    with np.errstate(all="ignore"):
                        array.reshape(-1)[index] = value
                except (OverflowError, ValueError):
                    array.reshape(-1)[index] = 0
            init.CopyFrom(numpy_helper.from_array(array, init.name))
        elif kind == "dims":
            init = graph.initializer[data.draw(st.integers(0, len(graph.initializer) - 1))]
            if init.dims:
                init.dims[data.draw(st.integers(0, len(init.dims) - 1))] = data.draw(
                    st.integers(-1, 100))
        else:
            nodes = list(graph.node)
            i, j = (data.draw(st.integers(0, len(nodes) - 1)) for _ in range(2))
            nodes[i], nodes[j] = nodes[j], nodes[i]
            del graph.node[:]
            graph.node.extend(nodes)
    onnx.save(model, str(path))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_mutated_qonnx_graphs_load_or_give_a_model_error(tmp_path_factory, data):
    """Edited attributes, initializer values and dims, and swapped nodes of a real QONNX
    graph: each loads (then runs golden) or gives one ModelError line, never a numpy
    warning or another exception."""
    import warnings
    pytest.importorskip("onnx")
    path = tmp_path_factory.mktemp("onnx") / "m.onnx"
    _mutated_graph(data, path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            network = load_model(path)
        except ModelError as error:
            assert "\n" not in str(error)
            return
        from golden.network import run
        run(network, np.random.default_rng(0).integers(0, 256, (3, *network.input.shape),
                                                       dtype=np.uint8))
