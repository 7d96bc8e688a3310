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
    (["--target", "verilog", "--target-fps", "nan"], "--target-fps must be a positive number"),
    (["--target", "verilog", "--clock-mhz", "-5"], "--clock-mhz must be a positive number"),
    (["--board", "icebreaker", "--target-mhz", "inf"], "--target-mhz must be a positive number"),
])
def test_build_options_out_of_range_get_one_error_line(argv, message, capsys):
    from golden.cli import run_cli
    from hdl.flow.build import main
    with pytest.raises(SystemExit) as info:
        run_cli(main, argv)
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
