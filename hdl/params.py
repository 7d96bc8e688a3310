"""Parameter validation shared by the components (raised from ``__init__``)."""

from amaranth.hdl import Mux, Signal

__all__ = ["check_positive_int", "check_code", "counter", "wrap_counter", "memory_depth",
           "NO_COLLISION"]

#: Memory attributes for a memory whose read port never reads, for use, a word written in
#: the same cycle: Yosys then maps it to block RAM as it is, without the bypass logic (a
#: register of the write data, an address compare and a multiplexer per bit) that keeps
#: the read-old-data meaning of a collision the block RAM does not define.
NO_COLLISION = {"no_rw_check": 1}


def check_positive_int(name, value):
    """Raise ``TypeError`` unless ``value`` is an ``int`` (not a bool) of at least 1."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise TypeError(f"{name} must be a positive integer, not {value!r}")


def check_code(name, value, bits):
    """Raise ``ValueError`` unless ``value`` is a ``bits``-bit code (``0 <= value < 2**bits``)."""
    if not 0 <= value < 1 << bits:
        raise ValueError(f"{name} {value} is not a {bits}-bit code")


def memory_depth(words):
    """The depth of a memory that holds ``words`` words: at least 2, since a one-word
    memory has a 0-bit address, which Verilog writes as ``[-1:0]``."""
    return max(2, words)


def counter(n, **kwargs):
    """A ``Signal`` for the values ``0..n-1``, at least one bit wide: ``range(1)`` would be
    a zero-width signal, which Verilog writes as ``wire [-1:0]`` (two bits to a reader, a
    lint warning to Verilator)."""
    # src_loc_at=1: the signal takes the caller's variable name (not "$signal"), so that
    # critical paths and waveforms name it.
    return Signal(range(max(2, n)), src_loc_at=1, **kwargs)


def wrap_counter(m, n, step, name):
    """A counter ``0..n-1`` that advances when ``step`` and wraps, with registered flags:
    returns ``(value, first, last)``, ``first == (value == 0)`` and ``last == (value ==
    n-1)`` as flip-flops, so that logic deciding on the counter's ends (and the wrap
    itself) starts at a register instead of behind a compare. Each flag's next value is a
    compare of the counter against a constant, picked by ``step``."""
    value = Signal(range(max(2, n)), name=name)
    first = Signal(init=1, name=f"{name}_first")
    last = Signal(init=int(n == 1), name=f"{name}_last")
    with m.If(step):
        m.d.sync += [value.eq(Mux(last, 0, value + 1)),
                     first.eq(last),
                     last.eq(Mux(last, n == 1, value == n - 2))]
    return value, first, last
