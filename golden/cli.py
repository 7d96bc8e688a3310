"""Shared command-line plumbing: bad input becomes one ``error:`` line and exit status 2."""

import argparse
import sys

from .errors import ModelError

__all__ = ["run_cli", "ArgumentParser"]


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad command line is one ``error:`` line (with the program name and
    a pointer to ``--help``) and exit status 2, like every other bad input."""

    def error(self, message):
        print(f"error: {self.prog}: {message} (see --help)", file=sys.stderr)
        sys.exit(2)


def run_cli(main, argv=None):
    """Call ``main(argv)``; turn a :class:`ModelError` into one line on stderr and exit 2,
    and an interrupt (Ctrl-C) into one line and exit 130. Output goes out line by line,
    also into a pipe or a file (``tee``, ``nohup``, CI)."""
    for out in (sys.stdout, sys.stderr):
        if hasattr(out, "reconfigure"):
            out.reconfigure(line_buffering=True)
    try:
        return main(argv)
    except ModelError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
