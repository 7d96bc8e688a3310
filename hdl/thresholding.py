"""Multi-threshold activation unit (batch-norm and sign folded into thresholds)."""

from amaranth.hdl import Mux, unsigned

from golden.packing import threshold_words, unsigned_width

from .channelwise import ChannelwiseUnit

__all__ = ["Thresholding"]


class Thresholding(ChannelwiseUnit):
    """``y = sum_t (acc >= T_t)`` per channel, complemented for direction -1.

    Uses the hardware form of :func:`golden.packing.threshold_hw`: thresholds clamped to
    ``[acc_lo, acc_hi + 1]`` (so ``unsigned_width(acc_hi + 1)`` bits suffice) and a flip
    bit per channel, ``y = count - c`` when set. Output ``y`` is ``unsigned_width(count)``
    bits; with one threshold it is the binary activation bit.

    Latency 2 cycles (see :class:`~hdl.channelwise.ChannelwiseUnit`).

    Parameters
    ----------
    activation : golden.model.Thresholds
    pe : int
    acc_width : int
        Width of the unsigned input accumulators.
    acc_hi : int
        Proven largest accumulator (MW for a binary layer).
    """

    def __init__(self, activation, *, pe, acc_width, acc_hi):
        if acc_hi >= 1 << acc_width:
            raise ValueError(f"accumulator bound {acc_hi} does not fit {acc_width} bits")
        self.count = activation.count
        self.t_width = unsigned_width(acc_hi + 1)
        words = threshold_words(activation, pe, 0, acc_hi, self.t_width)
        super().__init__(channels=activation.channels, pe=pe, in_shape=unsigned(acc_width),
                         out_shape=unsigned(activation.out_bits),
                         param_width=self.count * self.t_width + 1, param_words=words)

    def lane(self, acc, param):
        w = self.t_width
        reached = [acc >= param[t * w:(t + 1) * w] for t in range(self.count)]
        c = sum(reached[1:], reached[0]) if self.count > 1 else reached[0]
        flip = param[self.count * w]
        return Mux(flip, self.count - c, c)
