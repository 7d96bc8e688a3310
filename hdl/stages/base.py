"""The stage graph: one node per layer of a golden network, each answering for its kind.

A :class:`Stage` wraps one golden layer and answers every question the flow asks of
it: which foldings it allows (:meth:`Stage.foldings`, :meth:`Stage.check`), its cycles
per inference at a folding (:meth:`Stage.cycles`), the stream it hands on
(:meth:`Stage.advance`) and its Amaranth units (:meth:`Stage.build`). The folding
search, the cycle model, the resource model and the network builder all walk the same
:class:`StageGraph`. A new layer kind is one :class:`Stage` subclass registered for its
golden class with :func:`register`.

The stream between stages is a :class:`Stream`: codes per beat, bits per code, and the
length of a dense vector padded by the stage before.
"""

import copy
from dataclasses import dataclass

from golden.errors import ModelError

from ..bias import BiasAdd
from ..dwc import PadGather, WidthConverter
from ..mvau import MatrixVectorUnit
from ..pool import LineMaxPool, WindowMax, WindowSum
from ..recode import BitsToCodes
from ..residual import ResidualBlock
from ..streams import StreamFifo, payload_width
from ..thresholding import Thresholding
from ..window import PadEdge, SkipUnread

__all__ = ["Stage", "ComputeStage", "Stream", "Builder", "STAGE_KINDS", "register",
           "make_stages", "register_handshakes"]

#: Golden layer class -> :class:`Stage` subclass (:func:`register`).
STAGE_KINDS = {}


def register(layer_class):
    """Class decorator: the decorated :class:`Stage` subclass builds ``layer_class``."""
    def add(stage_class):
        STAGE_KINDS[layer_class] = stage_class
        return stage_class
    return add


@dataclass(frozen=True)
class Stream:
    """The stream into a stage: ``cpb`` codes per beat of ``bits`` bits (None before the
    first stage), and ``vec``, the length of the vector a dense stage emitted padded to its
    PE (None when no padded dense vector flows)."""
    cpb: int = None
    bits: int = None
    vec: int = None

    @property
    def width(self):
        """Bits per beat (None before the first stage)."""
        return self.cpb * self.bits if self.cpb else None


class Stage:
    """One node of the stage graph (see the module docstring).

    Attributes
    ----------
    layer : golden layer
    name : str
        ``<index>.<layer class>`` in its chain, prefixed by the enclosing block's name
        and path (``1.residual.main.0.conv2d``).
    first : bool
        The network's first stage (its input is the network's input stream).
    top_level : bool
        In the network's main chain (not inside a block).
    dense_follows : bool
        A dense stage or the class decision takes this stage's output.
    """

    #: Whether the stage takes a folding entry (dense and convolution stages).
    compute = False
    #: Whether the stage reads a whole vector, which the stage before may pad (dense).
    takes_vector = False

    def __init__(self, layer, name, *, first=False, top_level=True, dense_follows=False):
        self.layer, self.name = layer, name
        self.first, self.top_level, self.dense_follows = first, top_level, dense_follows

    def children(self):
        """The chains of stages nested in this one (a residual block's paths)."""
        return ()

    def compute_stages(self):
        """This stage's compute stages in folding order (itself, or its paths')."""
        out = [self] if self.compute else []
        for chain in self.children():
            for stage in chain:
                out += stage.compute_stages()
        return out

    def refold(self, foldings):
        """A copy with the next foldings of the iterator ``foldings`` attached."""
        return copy.copy(self)

    def check(self, stream, index):
        """Raise :class:`~golden.errors.ModelError` if the stage cannot be built behind
        ``stream`` at its folding (``index``: its first compute stage's index)."""
        for chain, inner in self._chains(stream):
            index = check_chain(chain, inner, index)

    def _chains(self, stream):
        return [(chain, stream) for chain in self.children()]

    def advance(self, stream):
        """The stream this stage emits when ``stream`` comes in."""
        return stream

    def cycles(self, stream):
        """``[(name, cycles per inference)]`` of the stage's units behind ``stream``."""
        return []

    def row_lag(self):
        """Complete input rows the stage may hold before it emits its first output row
        (what the skip path of a residual block must buffer, :mod:`hdl.residual`)."""
        return 0

    def build(self, builder, stream):
        """The stage's Amaranth units (in stream order) behind ``stream``."""
        raise NotImplementedError

    def require_stream(self, stream):
        if stream.cpb is None:
            raise ModelError(f"a {type(self.layer).__name__} cannot be the first layer of "
                             f"the hardware; start with a dense or convolution layer")


class ComputeStage(Stage):
    """A stage with a folding (``SIMD`` lanes x ``PE`` rows): its :attr:`folding`."""

    compute = True
    folding = None

    def refold(self, foldings):
        clone = copy.copy(self)
        clone.folding = next(foldings)
        return clone

    def foldings(self):
        """Every folding the stage can be built at without padding."""
        raise NotImplementedError

    def input_simd(self):
        """Codes per beat of the stream into this stage when it is the first."""
        raise NotImplementedError


def walk(stages, stream):
    """``(stage, stream into it)`` along a chain of stages."""
    for stage in stages:
        yield stage, stream
        stream = stage.advance(stream)


def check_chain(stages, stream, index):
    """:meth:`Stage.check` every stage of a chain behind ``stream`` (``index``: the first
    compute stage's); returns the index after the chain's compute stages."""
    for stage, s in walk(stages, stream):
        stage.check(s, index)
        index += len(stage.compute_stages())
    return index


def make_stages(layers, prefix="", top_level=True):
    """The stages of a chain of golden layers (see :class:`Stage` for the flags)."""
    kinds = []
    for layer in layers:
        kind = STAGE_KINDS.get(type(layer))
        if kind is None:
            raise ModelError(f"no hardware for a {type(layer).__name__} layer; the layers "
                             f"built are {', '.join(sorted(c.__name__ for c in STAGE_KINDS))}")
        kinds.append(kind)
    return [kind(layer, f"{prefix}{index}.{type(layer).__name__.lower()}",
                 first=top_level and index == 0, top_level=top_level,
                 dense_follows=top_level and (index + 1 == len(kinds)
                                              or kinds[index + 1].takes_vector))
            for index, (layer, kind) in enumerate(zip(layers, kinds))]


class Builder:
    """What building a chain collects: ``layers``, the ``(mvau, act)`` pair of every
    compute stage in folding order."""

    def __init__(self):
        self.layers = []

    def chain(self, stages, stream):
        """``(units, stream out)`` of a chain of stages, with register slices
        (:func:`register_handshakes`)."""
        units = []
        for stage, s in walk(stages, stream):
            units += stage.build(self, s)
            stream = stage.advance(s)
        return register_handshakes(units), stream


def register_handshakes(units):
    """``units`` with register slices (:class:`~hdl.streams.StreamFifo` of 2 words) where
    a ready chain would run through a whole layer.

    A matrix-vector unit, a line pool, a window max and a width converter pass their
    output's ready to their input through logic (the whole pipeline stalls together), and
    so does an activation unless its input ready is a register (``registered_ready``);
    a sliding window, a FIFO and the argmax take it from registers. A slice goes in front
    of every matrix-vector unit that does not already read a FIFO, behind every
    activation whose ready passes through when a pass-through unit follows, and behind
    every pool (or residual block) that feeds one: so at most two units are on any ready
    chain. A slice is ``2 * width`` flip-flops, one more cycle of latency, one beat per
    cycle.
    """
    out = []
    for index, unit in enumerate(units):
        if isinstance(unit, MatrixVectorUnit) and out and not isinstance(out[-1], StreamFifo):
            out.append(StreamFifo(payload_width(unit.i), 2))
        out.append(unit)
        after = units[index + 1] if index + 1 < len(units) else None
        passes_own = (isinstance(unit, (ResidualBlock, LineMaxPool, WindowMax, WindowSum))
                      or isinstance(unit, (Thresholding, BiasAdd)) and not unit.registered_ready)
        if passes_own and isinstance(after, _PASSES_READY):
            out.append(StreamFifo(payload_width(unit.o), 2))
    return out


# Units whose input ready is their output ready through logic.
_PASSES_READY = (MatrixVectorUnit, Thresholding, BiasAdd, LineMaxPool, WindowMax, WindowSum,
                 WidthConverter, PadGather, SkipUnread, BitsToCodes, PadEdge)
