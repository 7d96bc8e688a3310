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
