"""Bit-exact integer reference model of the networks the generator builds.

Pure numpy, no Amaranth: this package decides what is correct, and the hardware in
``hdl/`` must match it exactly, as integers, for every input.
"""

from .errors import ModelError

__all__ = ["ModelError"]
