"""Multi-threshold activation unit (batch-norm and sign folded into thresholds)."""

from amaranth.hdl import Mux, signed, unsigned

from golden.packing import signed_width, threshold_words, unsigned_width

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
        Width of the input accumulators (two's complement when ``acc_lo < 0``).
    acc_lo, acc_hi : int
        Proven accumulator bounds (``[0, MW]`` for a binary layer).
    shift : array of int, optional
        Per-channel constant with golden ``acc = acc_hw + shift`` (see
        :func:`golden.packing.hw_accumulator`), folded into the thresholds.
    """

    def __init__(self, activation, *, pe, acc_width, acc_hi, acc_lo=0, shift=None):
        self.signed = acc_lo < 0
        lo_cap, hi_cap = ((-(1 << (acc_width - 1)), (1 << (acc_width - 1)) - 1) if self.signed
                          else (0, (1 << acc_width) - 1))
        if not lo_cap <= acc_lo <= acc_hi <= hi_cap:
            raise ValueError(f"accumulator range [{acc_lo}, {acc_hi}] does not fit "
                             f"{acc_width} bits")
        self.count = activation.count
        self.t_width = (signed_width(acc_lo, acc_hi + 1) if self.signed
                        else unsigned_width(acc_hi + 1))
        words = threshold_words(activation, pe, acc_lo, acc_hi, self.t_width, shift)
        in_shape = signed(acc_width) if self.signed else unsigned(acc_width)
        super().__init__(channels=activation.channels, pe=pe, in_shape=in_shape,
                         out_shape=unsigned(activation.out_bits),
                         param_width=self.count * self.t_width + 1, param_words=words)

    def lane(self, acc, param):
        w = self.t_width
        fields = [param[t * w:(t + 1) * w] for t in range(self.count)]
        if self.signed:
            fields = [f.as_signed() for f in fields]
        reached = [acc >= f for f in fields]
        c = sum(reached[1:], reached[0]) if self.count > 1 else reached[0]
        flip = param[self.count * w]
        return Mux(flip, self.count - c, c)
