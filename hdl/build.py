"""``python -m hdl.build``: the command line of the build flow (:mod:`hdl.flow.build`)."""

from golden.cli import run_cli

from .flow.build import main

if __name__ == "__main__":
    run_cli(main)
