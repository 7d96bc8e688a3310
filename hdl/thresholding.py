"""Multi-threshold activation unit (batch-norm and sign folded into thresholds)."""

from amaranth.hdl import Mux, signed, unsigned

from golden.packing import signed_width, threshold_words, unsigned_width

from .channelwise import ChannelwiseUnit

__all__ = ["Thresholding"]


class Thresholding(ChannelwiseUnit):
    """``y = sum_t (acc >= T_t)`` per channel, complemented for direction -1.

    Uses the hardware form of :func:`golden.packing.threshold_hw`: the map from hardware to
    golden accumulator (offsets, scales) folded in, thresholds clamped to
    ``[acc.lo, acc.hi + 1]`` (so the smallest width holding that range suffices) and a flip
    bit per channel, ``y = count - c`` when set. Output ``y`` is ``unsigned_width(count)``
    bits; with one threshold it is the binary activation bit.

    Latency 2 cycles (see :class:`~hdl.channelwise.ChannelwiseUnit`).

    Parameters
    ----------
    activation : golden.model.Thresholds
    pe : int
    acc : golden.packing.AccMap
        Proven range of the input accumulators (their width is ``acc.width``) and their
        map to the golden accumulator.
    interval : optional
        Cycles between input beats at most (see :class:`~hdl.channelwise.ChannelwiseUnit`).
    """

    def __init__(self, activation, *, pe, acc, interval=1):
        self.acc = acc
        self.signed = acc.signed
        self.count = activation.count
        self.t_width = (signed_width(acc.lo, acc.hi + 1) if self.signed
                        else unsigned_width(acc.hi + 1))
        words = threshold_words(activation, pe, acc, self.t_width)
        in_shape = signed(acc.width) if self.signed else unsigned(acc.width)
        super().__init__(channels=activation.channels, pe=pe, in_shape=in_shape,
                         out_shape=unsigned(activation.out_bits),
                         param_width=self.count * self.t_width + 1, param_words=words,
                         interval=interval)

    def lane(self, acc, param):
        w = self.t_width
        fields = [param[t * w:(t + 1) * w] for t in range(self.count)]
        if self.signed:
            fields = [f.as_signed() for f in fields]
        reached = [acc >= f for f in fields]
        c = sum(reached[1:], reached[0]) if self.count > 1 else reached[0]
        flip = param[self.count * w]
        return Mux(flip, self.count - c, c)
