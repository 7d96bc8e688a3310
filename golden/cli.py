"""Shared command-line plumbing: bad input becomes one ``error:`` line and exit status 2."""

import argparse
import os
import signal
import sys
import threading

from .errors import ModelError

__all__ = ["run_cli", "ArgumentParser", "console", "out_path"]


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


def out_path(text):
    """An ``--out`` (or other output path) option's value: refused when empty or blank, which
    would otherwise silently mean the current or the default folder (``type=`` of
    ``add_argument``)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path; give a file or folder name")
    if "\0" in text:
        raise argparse.ArgumentTypeError("a path with a NUL character")
    return text


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a CI time limit), raised like Ctrl-C so that the same clean-up runs."""


def _terminate(signum, frame):
    raise Terminated()


def run_cli(main, argv=None):
    """Call ``main(argv)``; turn a :class:`ModelError` into one line on stderr and exit 2,
    and an interrupt (Ctrl-C: exit 130; SIGTERM: exit 143) into one line, after the
    command's own clean-up. Output goes out line by line, also into a pipe or a file
    (``tee``, ``nohup``, CI)."""
    for out in (sys.stdout, sys.stderr):
        if hasattr(out, "reconfigure"):
            out.reconfigure(line_buffering=True)
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return main(argv)
    except ModelError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt as error:
        # The command may say what it left (``interrupted: no bitstream ... written``).
        print("interrupted" + (f": {error}" if str(error) else ""), file=sys.stderr)
        sys.exit(143 if isinstance(error, Terminated) else 130)
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, as a Unix tool does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def console(main, prog):
    """The entry point of a console script (``pyproject.toml`` ``[project.scripts]``):
    ``main(argv, prog=prog)`` under :func:`run_cli`, so ``--help`` and errors name the
    script."""
    def entry():
        return run_cli(lambda argv: main(argv, prog=prog))
    entry.__doc__ = f"The ``{prog}`` command."
    return entry
