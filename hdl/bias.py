"""Pass-through activation with a per-channel bias: the last layer's class scores."""

from amaranth.hdl import signed, unsigned

from golden.packing import bias_words, signed_width

from .channelwise import ChannelwiseUnit

__all__ = ["BiasAdd"]


class BiasAdd(ChannelwiseUnit):
    """``y = acc + bias`` per channel, signed.

    The output width is the smallest signed width holding ``[min(bias), acc_hi + max(bias)]``
    (accumulators are in ``[0, acc_hi]``); the bias width the smallest holding the biases.

    Latency 2 cycles (see :class:`~hdl.channelwise.ChannelwiseUnit`).
    """

    def __init__(self, activation, *, pe, acc_width, acc_hi):
        b = activation.bias
        self.bias_width = signed_width(min(0, int(b.min())), max(0, int(b.max())))
        self.out_width = signed_width(min(0, int(b.min())), acc_hi + max(0, int(b.max())))
        words = bias_words(activation, pe, self.bias_width)
        super().__init__(channels=activation.channels, pe=pe, in_shape=unsigned(acc_width),
                         out_shape=signed(self.out_width),
                         param_width=self.bias_width, param_words=words)

    def lane(self, acc, param):
        return acc + param.as_signed()
