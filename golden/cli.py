"""Shared command-line plumbing: bad input becomes one ``error:`` line and exit status 2."""

import argparse
import os
import sys

from .errors import ModelError

__all__ = ["run_cli", "ArgumentParser", "console"]


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad command line is one ``error:`` line (with the program name and
    a pointer to ``--help``) and exit status 2, like every other bad input; ``examples``
    (command lines) end the ``--help`` text."""

    def __init__(self, *args, examples=(), **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        if examples:
            kwargs["epilog"] = "examples:\n" + "\n".join(f"  {line}" for line in examples)
        super().__init__(*args, **kwargs)

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
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, as a Unix tool does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)


def console(main, prog):
    """The entry point of a console script (``pyproject.toml`` ``[project.scripts]``):
    ``main(argv, prog=prog)`` under :func:`run_cli`, so ``--help`` and errors name the
    script."""
    def entry():
        return run_cli(lambda argv: main(argv, prog=prog))
    entry.__doc__ = f"The ``{prog}`` command."
    return entry
