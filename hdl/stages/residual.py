"""Residual stage: two chains of stages over one input, added and re-thresholded."""

from golden.errors import ModelError
from golden.residual import Residual

from .. import residual
from ..dwc import WidthConverter
from ..streams import Chain
from .base import Stage, Stream, make_stages, register, walk

__all__ = ["ResidualStage"]


@register(Residual)
class ResidualStage(Stage):
    """A :class:`~golden.residual.Residual` block: its ``main`` and ``skip`` paths are
    chains of stages (:meth:`children`) over the same stream, ending at the same PE; a
    :class:`~hdl.residual.ResidualBlock` joins them. An empty skip path (an identity
    shortcut) is a width converter from the block's input beats to the main path's PE.
    The add moves ``H*W*C / PE`` beats per inference."""

    def __init__(self, layer, name, **flags):
        super().__init__(layer, name, **flags)
        self.main = make_stages(layer.main, name + ".main.", top_level=False)
        self.skip = make_stages(layer.skip, name + ".skip.", top_level=False)

    def children(self):
        return (self.main, self.skip)

    def refold(self, foldings):
        clone = super().refold(foldings)
        clone.main = [stage.refold(foldings) for stage in self.main]
        clone.skip = [stage.refold(foldings) for stage in self.skip]
        return clone

    def ends(self):
        """The last compute stage of the main and of the skip path (the main path's only,
        for an identity shortcut)."""
        return tuple(next(s for stage in reversed(path) for s in reversed(stage.compute_stages()))
                     for path in (self.main, self.skip) if path)

    def check(self, stream, index):
        super().check(stream, index)
        if not self.skip:
            pe, c = self.ends()[0].folding.pe, self.layer.in_shape[2]
            if c % pe or c % stream.cpb or stream.vec is not None:
                raise ModelError(f"the identity shortcut of the residual block at layer {index} "
                                 f"adds the block's input ({stream.cpb} codes a beat) to the "
                                 f"main path's output ({pe} a beat) lane by lane: both must "
                                 f"divide its {c} channels; choose a PE that does")
            return
        main, skip = self.ends()
        if main.folding.pe != skip.folding.pe:
            ends = [index + i for i, s in enumerate(self.compute_stages()) if s in (main, skip)]
            raise ModelError(f"the residual paths end in layers {ends[0]} and {ends[1]} with PE "
                             f"{main.folding.pe} and {skip.folding.pe}; the add takes both "
                             f"lane by lane, give them the same PE")

    def _chains(self, stream):
        return [(self.main, Stream(stream.cpb, stream.bits)),
                (self.skip, Stream(stream.cpb, stream.bits))]

    @staticmethod
    def _end(chain, stream):
        for stage, s in walk(chain, stream):
            stream = stage.advance(s)
        return stream

    def advance(self, stream):
        return Stream(self._end(self.main, stream).cpb, self.layer.activation.out_bits)

    def cycles(self, stream):
        out = []
        for chain, s in self._chains(stream):
            for stage, inner in walk(chain, s):
                out += stage.cycles(inner)
        h, w, c = self.layer.out_shape
        return out + [(self.name + ".add", h * w * c // self.advance(stream).cpb)]

    def row_lag(self):
        return max(self._lags())

    def _lags(self):
        """Rows of lag of the main and of the skip path (see :func:`hdl.residual.skip_fifo_depth`)."""
        return tuple(sum(stage.row_lag() for stage in path) for path in (self.main, self.skip))

    def build(self, builder, stream):
        self.require_stream(stream)
        chains = []
        for chain, s in self._chains(stream):
            if chain:
                units, out = builder.chain(chain, s)
                chains.append(Chain(units, out.cpb, out.bits))
            else:
                pe = chains[0].out_pe
                chains.append(Chain([WidthConverter(s.width, pe * s.bits)], pe, s.bits))
        c, width = self.layer.in_shape[2], self.layer.in_shape[1]
        # The path that lags less waits behind a FIFO for the other's rows.
        main_lag, skip_lag = self._lags()
        depth = residual.skip_fifo_depth(max(main_lag, skip_lag), width, c // stream.cpb)
        skip_depth, main_depth = (depth, 2) if main_lag >= skip_lag else (2, depth)
        return [residual.ResidualBlock(self.layer, *chains, stream.width, skip_depth,
                                       main_depth)]
