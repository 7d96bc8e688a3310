"""Interrupted and overlapping runs: Ctrl-C or SIGTERM during a Verilog export, a fit search
or place and route ends in one line and leaves no result that looks complete; two builds
into one folder at once: the second refuses in one line. The tools are stand-ins
(:func:`tests.test_board.icebreaker_tools`); the designs are elaborated for real."""

import os
import signal

import pytest

from golden.cli import run_cli
from tests.test_board import MLP, icebreaker_tools, passing_place_and_route

RESULTS = ("report.json", "model.npz", "bnn_icebreaker.bin")


_passing = passing_place_and_route


def _build(out, *extra):
    from hdl.flow.build import main
    return run_cli(main, ["--board", "icebreaker", "--model", str(MLP), "--out", str(out),
                          "--data", str(out.parent / "no-data"), *extra])


def _one_line_exit(capsys, call, code):
    with pytest.raises(SystemExit) as info:
        call()
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == code, err
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
@pytest.mark.parametrize("when", ["place and route", "fit search", "bitstream copy"])
def test_a_signal_during_a_board_build_leaves_no_result(monkeypatch, tmp_path, capsys,
                                                        signum, code, when):
    """The signal arrives while nextpnr runs (a fixed folding), during the fit search's
    place and route, or while the bitstream is being copied out: one line, the signal's
    exit status, no report, bitstream or model copy, and an earlier build's results gone
    too (they would pass for this one's)."""
    import shutil

    import hdl.flow.bitstream as bitstream

    def place_and_route(cmd, cwd, timeout):
        if when != "bitstream copy":
            os.kill(os.getpid(), signum)
        return _passing(cmd, cwd, timeout)

    out = tmp_path / "build"
    out.mkdir()
    for name in RESULTS:
        (out / name).write_text("from an earlier build")
    monkeypatch.setattr(bitstream, "_run", icebreaker_tools(place_and_route, []))
    if when == "bitstream copy":
        real_copy = shutil.copyfile

        def copy(src, dst, *args, **kwargs):
            real_copy(src, dst)
            os.kill(os.getpid(), signum)
        monkeypatch.setattr(bitstream.shutil, "copyfile", copy)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        extra = () if when == "fit search" else ("--cycles", "4096")
        line = _one_line_exit(capsys, lambda: _build(out, *extra), code)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert line.startswith("interrupted: no bitstream or report written"), line
    left = sorted(p.name for p in out.iterdir() if p.is_file())
    assert not set(left) & set(RESULTS), left


def test_an_interrupted_verilog_export_writes_nothing(monkeypatch, tmp_path, capsys):
    import hdl.flow.build as build

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(build, "to_verilog", interrupted)
    out = tmp_path / "v"
    line = _one_line_exit(capsys, lambda: run_cli(build.main, ["--model", str(MLP), "--out",
                                                                str(out)]), 130)
    assert line == "interrupted: no Verilog or report written"
    assert not out.exists()


def test_a_second_build_into_the_same_folder_is_refused(monkeypatch, tmp_path, capsys):
    """While one build places and routes, a second one into the same --out refuses in one
    line and touches nothing; the first ends normally and leaves no lock behind. A Verilog
    build into that folder meanwhile is refused the same way."""
    import hdl.flow.bitstream as bitstream
    from hdl.flow.build import LOCK_NAME
    from hdl.flow.build import main as build_main
    out = tmp_path / "build"
    second = []

    def place_and_route(cmd, cwd, timeout):
        if not second:
            second.append(_one_line_exit(capsys, lambda: _build(out, "--cycles", "4096"), 2))
            second.append(_one_line_exit(capsys, lambda: run_cli(
                build_main, ["--model", str(MLP), "--out", str(out)]), 2))
        return _passing(cmd, cwd, timeout)

    monkeypatch.setattr(bitstream, "_run", icebreaker_tools(place_and_route, []))
    assert _build(out, "--cycles", "4096") == 0
    for line in second:
        assert "another build (process" in line and str(os.getpid()) in line, line
    assert all((out / name).is_file() for name in RESULTS)
    assert not (out / LOCK_NAME).exists()


def test_an_unchanged_build_reuses_its_results(monkeypatch, tmp_path, capsys):
    """The same command twice: the second runs no tool, says it reused the results and
    leaves them as they were; another option (here the baud), an altered bitstream or
    --rebuild run the tools again. Tools are stand-ins counting their runs."""
    import time

    import hdl.flow.bitstream as bitstream
    commands = []
    monkeypatch.setattr(bitstream, "_run", icebreaker_tools(_passing, commands))
    out = tmp_path / "build"
    assert _build(out, "--cycles", "4096") == 0
    first = len(commands)
    report = (out / "report.json").read_text()
    capsys.readouterr()
    start = time.perf_counter()
    assert _build(out, "--cycles", "4096") == 0
    assert time.perf_counter() - start < 30
    assert len(commands) == first
    text = capsys.readouterr().out
    assert "unchanged since the build" in text and "bitstream:" in text
    assert (out / "report.json").read_text() == report
    assert _build(out, "--cycles", "4096", "--rebuild") == 0
    assert len(commands) == 2 * first
    assert _build(out, "--cycles", "4096", "--baud", "1000000") == 0
    assert len(commands) == 3 * first
    # An altered bitstream: the build runs again, every tool run restored from the cache.
    bitstream_bytes = (out / "bnn_icebreaker.bin").read_bytes()
    (out / "bnn_icebreaker.bin").write_bytes(b"altered")
    assert _build(out, "--cycles", "4096", "--baud", "1000000") == 0
    assert len(commands) == 3 * first
    assert (out / "bnn_icebreaker.bin").read_bytes() == bitstream_bytes


def test_a_changed_build_reruns_only_the_tool_runs_that_changed(monkeypatch, tmp_path,
                                                                 capsys):
    """Another data set for the accuracy changes no design: the build runs again but every
    tool run is restored from ``tool-cache/`` (and says so); another folding runs the
    tools on its new design; --rebuild clears the cache and runs everything. An
    interrupted place and route is not kept: the next build runs it."""
    import hdl.flow.bitstream as bitstream
    from hdl.flow.toolcache import CACHE_NAME
    commands = []
    monkeypatch.setattr(bitstream, "_run", icebreaker_tools(_passing, commands))
    out = tmp_path / "build"
    assert _build(out, "--cycles", "4096") == 0
    first = len(commands)
    capsys.readouterr()
    assert run_cli(__import__("hdl.flow.build", fromlist=["main"]).main, [
        "--board", "icebreaker", "--model", str(MLP), "--out", str(out), "--cycles", "4096",
        "--data", str(tmp_path / "other-data")]) == 0
    text = capsys.readouterr().out
    assert len(commands) == first
    assert "reused the run" in text and "unchanged since" not in text
    assert _build(out, "--cycles", "2048") == 0
    assert len(commands) > first
    changed = len(commands)
    assert _build(out, "--cycles", "2048", "--rebuild") == 0
    assert len(commands) == changed + (changed - first)
    assert (out / CACHE_NAME).is_dir()

    def interrupted(cmd, cwd, timeout):
        raise KeyboardInterrupt
    monkeypatch.setattr(bitstream, "_run", icebreaker_tools(interrupted, commands))
    with pytest.raises(SystemExit):
        _build(out, "--cycles", "1024")
    monkeypatch.setattr(bitstream, "_run", icebreaker_tools(_passing, commands))
    before = len(commands)
    assert _build(out, "--cycles", "1024") == 0
    ran = commands[before:]
    # Synthesis and packing were kept from the interrupted build; place and route, the
    # bitstream and the breakdown (not reached before) run.
    assert [c[0] for c in ran] == ["nextpnr-ice40", "icepack", "yosys"], ran
    assert "--pack-only" not in ran[0] and "breakdown.ys" in ran[2]
