"""Pass-through activation with a per-channel bias: the last layer's class scores."""

import numpy as np
from amaranth.hdl import signed, unsigned

from golden.packing import bias_words, signed_width

from .channelwise import ChannelwiseUnit

__all__ = ["BiasAdd"]


class BiasAdd(ChannelwiseUnit):
    """``y = acc + bias`` per channel, signed.

    The output width is the smallest signed width holding
    ``[acc_lo + min(bias), acc_hi + max(bias)]``; the bias width the smallest holding the
    biases. A per-channel ``shift`` (golden ``acc = acc_hw + shift``) is added to the biases.

    Latency 2 cycles (see :class:`~hdl.channelwise.ChannelwiseUnit`).
    """

    def __init__(self, activation, *, pe, acc_width, acc_hi, acc_lo=0, shift=None):
        b = activation.bias if shift is None else activation.bias + np.asarray(shift, np.int64)
        self.bias_width = signed_width(int(b.min()), int(b.max()))
        self.out_width = signed_width(acc_lo + int(b.min()), acc_hi + int(b.max()))
        words = bias_words(activation, pe, self.bias_width, shift)
        in_shape = signed(acc_width) if acc_lo < 0 else unsigned(acc_width)
        super().__init__(channels=activation.channels, pe=pe, in_shape=in_shape,
                         out_shape=signed(self.out_width),
                         param_width=self.bias_width, param_words=words)

    def lane(self, acc, param):
        return acc + param.as_signed()
