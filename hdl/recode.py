"""Recode of a +-1 map's bits as 2-bit codes of {-1, 0, +1} (:mod:`golden.recode`)."""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .params import check_positive_int

__all__ = ["BitsToCodes"]


class BitsToCodes(wiring.Component):
    """Lane ``l`` of a beat of ``lanes`` bits becomes the 2-bit code ``2 * b``: bit ``b``
    at bit ``2l + 1``, 0 at bit ``2l``. Wiring only: no logic, latency 0, ``valid`` and
    ``ready`` pass through."""

    def __init__(self, lanes):
        check_positive_int("lanes", lanes)
        self.lanes = lanes
        super().__init__({"i": In(stream.Signature(lanes)),
                          "o": Out(stream.Signature(2 * lanes))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += [self.o.valid.eq(self.i.valid), self.i.ready.eq(self.o.ready)]
        for lane in range(self.lanes):
            m.d.comb += [self.o.payload[2 * lane].eq(0),
                         self.o.payload[2 * lane + 1].eq(self.i.payload[lane])]
        return m
