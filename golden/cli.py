"""Shared command-line plumbing: bad input becomes one ``error:`` line and exit status 2."""

import sys

from .errors import ModelError

__all__ = ["run_cli"]


def run_cli(main, argv=None):
    """Call ``main(argv)``; turn a :class:`ModelError` into one line on stderr and exit 2."""
    try:
        return main(argv)
    except ModelError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
