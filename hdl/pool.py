"""Max over window positions, for max-pooling (after a sliding window) and global pooling."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .params import check_positive_int, counter

__all__ = ["WindowMax"]


class WindowMax(wiring.Component):
    """Per channel, the largest code over ``positions`` consecutive groups of beats.

    Input: per output pixel ``positions`` groups of ``CF = C/SIMD`` beats (position outer,
    channel fold inner): a :class:`~hdl.window.SlidingWindow`'s windows (``K*K``
    positions) for max-pooling, or a whole map (``H*W`` positions) for global pooling.
    Output: per output pixel ``CF`` beats holding, lane by lane, the maximum code; on bits
    (``bits == 1``) the bitwise OR. Codes order like their values
    (:mod:`golden.pool`), so this is the max-pool of the values.

    The partial maxima of the ``CF`` channel folds circulate in a shift register of ``CF``
    words (``C*bits`` flip-flops); the last position's beats leave as they arrive.
    Latency 1 cycle; one beat per cycle.

    Parameters
    ----------
    channels, simd, bits, positions : int
    """

    def __init__(self, *, channels, simd, bits, positions):
        for name, value in (("channels", channels), ("simd", simd), ("bits", bits),
                            ("positions", positions)):
            check_positive_int(name, value)
        if channels % simd:
            raise ValueError(f"SIMD {simd} does not divide the {channels} channels")
        self.channels, self.simd, self.bits, self.positions = channels, simd, bits, positions
        self.cf = channels // simd
        super().__init__({
            "i": In(stream.Signature(simd * bits)),
            "o": Out(stream.Signature(simd * bits)),
        })

    def lane_max(self, a, b):
        if self.bits == 1:
            return a | b
        lanes = []
        for s in range(self.simd):
            x, y = a[s * self.bits:(s + 1) * self.bits], b[s * self.bits:(s + 1) * self.bits]
            lanes.append(Mux(x >= y, x, y))
        return Cat(*lanes)

    def elaborate(self, platform):
        m = Module()
        width = self.simd * self.bits
        ring = [Signal(width, name=f"partial{k}") for k in range(self.cf)]
        c = counter(self.cf)
        pos = counter(self.positions)
        head = ring[0]
        value = Signal(width)
        m.d.comb += value.eq(Mux(pos == 0, self.i.payload, self.lane_max(self.i.payload, head)))

        move = ~self.o.valid | self.o.ready
        accept = self.i.valid & move
        m.d.comb += self.i.ready.eq(move)
        last = pos == self.positions - 1
        with m.If(move):
            m.d.sync += self.o.valid.eq(accept & last)
        with m.If(accept):
            m.d.sync += [ring[k].eq(ring[k + 1]) for k in range(self.cf - 1)]
            m.d.sync += ring[-1].eq(value)
            with m.If(last):
                m.d.sync += self.o.payload.eq(value)
            m.d.sync += c.eq(Mux(c == self.cf - 1, 0, c + 1))
            with m.If(c == self.cf - 1):
                m.d.sync += pos.eq(Mux(last, 0, pos + 1))
        return m
