"""Recode stage: a +-1 map's bits to the 2-bit codes a zero-padded convolution reads."""

from golden.recode import Recode

from ..recode import BitsToCodes
from .base import Stage, Stream, register

__all__ = ["RecodeStage"]


@register(Recode)
class RecodeStage(Stage):
    """A :class:`~golden.recode.Recode`: a :class:`~hdl.recode.BitsToCodes` at the
    incoming stream's codes per beat; wiring, no cycles of its own."""

    def advance(self, stream):
        return Stream(stream.cpb, 2, stream.vec)

    def build(self, builder, stream):
        self.require_stream(stream)
        return [BitsToCodes(stream.cpb)]
