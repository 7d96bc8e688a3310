"""The checking helpers every number of a model goes through, whatever its format.

Each model object (:mod:`golden.model`, :mod:`golden.weights`, the layers) validates its own
fields with these in ``__init__``, so a reader cannot hand over a value that the golden
arithmetic or the hardware generator would overflow on, and a new field is checked by the
object that owns it rather than by each reader. :func:`reading` is the safety net around a
reader: numpy floating-point trouble is an error there, and anything a damaged file raises
beyond the readers' own checks becomes one :class:`~golden.errors.ModelError` line.

Limits
------
:data:`VALUE_LIMIT` (``2**56``)
    The largest magnitude of a stored threshold, bias or accumulator: far above any real
    accumulator, and far enough below ``2**63`` that the int64 arithmetic on it (offsets,
    shifts, sums of two paths) cannot wrap.
:data:`OFFSET_LIMIT` (``2**16``)
    The largest magnitude of a code offset (the value of code 0 of an integer activation).
:data:`WEIGHT_LIMIT` (``2**15``)
    The largest magnitude of one weight value (a shift weight ``2**15``, a lookup level).
"""

import contextlib
import math
import warnings
import zlib

import numpy as np

from .errors import ModelError

__all__ = ["VALUE_LIMIT", "OFFSET_LIMIT", "WEIGHT_LIMIT", "MAX_DIM", "check_int", "check_bool",
           "int_array", "check_shape", "reading"]

VALUE_LIMIT = 1 << 56
OFFSET_LIMIT = 1 << 16
WEIGHT_LIMIT = 1 << 15
#: The largest kernel, stride or map side.
MAX_DIM = 1 << 20

#: What a reader may raise on a damaged file that its own checks did not foresee.
DAMAGE = (ValueError, OSError, EOFError, KeyError, IndexError, TypeError, AttributeError,
          RecursionError, MemoryError, OverflowError, UnicodeError, ArithmeticError, zlib.error)


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_int(value, what, lo=-VALUE_LIMIT, hi=VALUE_LIMIT):
    """``value`` as a Python int in ``[lo, hi]``; a one-line ModelError for anything else
    (a bool, a float such as 2.0 or 1e30, a number out of range)."""
    if not _is_int(value):
        raise ModelError(f"{what} must be an integer, not {value!r}")
    value = int(value)
    if not lo <= value <= hi:
        raise ModelError(f"{what} must be an integer in [{lo}, {hi}], not {value}")
    return value


def check_bool(value, what):
    """``value`` as a Python bool; only true and false are accepted."""
    if not isinstance(value, (bool, np.bool_)):
        raise ModelError(f"{what} must be true or false, not {value!r}")
    return bool(value)


def int_array(value, dtype, what, limit=VALUE_LIMIT):
    """``value`` as an integer array of ``dtype``, checked before the conversion: integer
    typed, and every value within ``dtype`` and ``limit`` (a cast would wrap: uint64
    ``2**64-5`` would become -5, int16 255 as int8 -1)."""
    array = np.asarray(value)
    if array.dtype.kind not in "iu":
        raise ModelError(f"{what} must be integers, not {array.dtype}")
    if array.size:
        lo, hi = int(array.min()), int(array.max())
        info = np.iinfo(dtype)
        bound_lo, bound_hi = max(int(info.min), -limit), min(int(info.max), limit)
        if lo < bound_lo or hi > bound_hi:
            raise ModelError(f"{what} must lie in [{bound_lo}, {bound_hi}], found "
                             f"{lo if lo < bound_lo else hi}")
    return array.astype(dtype)


def check_shape(shape, what, dims=None):
    """``shape`` as a tuple of positive Python ints; a ModelError for anything else (a
    float such as 28.9 is refused, not truncated)."""
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
        raise ModelError(f"{what} must be a tuple of positive integers, not {shape!r}")
    shape = tuple(shape)
    if (not shape or (dims is not None and len(shape) != dims)
            or not all(_is_int(d) and d > 0 for d in shape)):
        raise ModelError(f"{what} must be {dims or 'a tuple of'} positive integers, "
                         f"not {shape!r}")
    if math.prod(int(d) for d in shape) > 1 << 40:
        raise ModelError(f"{what} {shape} is larger than this tool handles")
    return tuple(int(d) for d in shape)


@contextlib.contextmanager
def reading(path, what="model file"):
    """The safety net around a reader of ``path``: numpy floating-point warnings (an
    overflow, a NaN) are errors, and whatever a damaged file raises that the reader's own
    checks did not foresee is one ModelError line naming the file."""
    try:
        with np.errstate(all="raise"), warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            yield
    except ModelError:
        raise
    except (FloatingPointError, RuntimeWarning) as error:
        raise ModelError(f"{path}: the {what} holds numbers that do not compute (an "
                         f"infinite, NaN or overflowing value: {_text(error)})") from None
    except DAMAGE as error:
        text = _text(error)
        raise ModelError(f"{path}: damaged or malformed {what} "
                         f"({type(error).__name__}{': ' + text if text else ''})") from None


def _text(error):
    return " ".join(str(error).split())[:160]
