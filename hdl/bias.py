"""Pass-through activation with a per-channel bias: the last layer's class scores."""

from amaranth.hdl import signed, unsigned

from golden.packing import bias_hw, bias_words, score_range, signed_width, unsigned_width

from .channelwise import ChannelwiseUnit

__all__ = ["BiasAdd"]


class BiasAdd(ChannelwiseUnit):
    """``y = (acc_hw << e) + b`` per channel, signed: the golden ``acc + bias``.

    ``b`` and ``e`` come from :func:`golden.packing.bias_hw` (the bias plus the constant of
    the accumulator map, and its power-of-two scale). The output width is the smallest
    signed width holding every channel's ``[(acc.lo << e) + b, (acc.hi << e) + b]``; the
    bias width the smallest holding the ``b``. When the channels' scales differ, each
    lane's parameter carries its ``e`` and the lane shifts by it; otherwise the shift is
    wired.

    Latency 2 cycles (see :class:`~hdl.channelwise.ChannelwiseUnit`).

    Parameters
    ----------
    activation : golden.model.Bias
    pe : int
    acc : golden.packing.AccMap
    interval : optional
        Cycles between input beats at most (see :class:`~hdl.channelwise.ChannelwiseUnit`).
    """

    def __init__(self, activation, *, pe, acc, interval=1):
        b, e = bias_hw(activation, acc)
        self.bias_width = signed_width(int(b.min()), int(b.max()))
        self.out_width = signed_width(*score_range(activation, acc))
        self.shift = int(e[0]) if (e == e[0]).all() else None
        self.exp_width = 0 if self.shift is not None else unsigned_width(int(e.max()))
        words = bias_words(activation, pe, acc, self.bias_width, self.exp_width)
        in_shape = signed(acc.width) if acc.signed else unsigned(acc.width)
        super().__init__(channels=activation.channels, pe=pe, in_shape=in_shape,
                         out_shape=signed(self.out_width),
                         param_width=self.bias_width + self.exp_width, param_words=words,
                         interval=interval)

    def lane(self, acc, param):
        bias = param[:self.bias_width].as_signed()
        if self.shift is not None:
            return (acc << self.shift) + bias
        return (acc << param[self.bias_width:]) + bias
