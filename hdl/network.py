"""Network top: the layers of a golden model as a streaming dataflow ending in an argmax."""

from amaranth.hdl import Module, Value
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from golden.model import Bias, Thresholds
from golden.packing import hw_accumulator, weight_words

from .argmax import Argmax
from .bias import BiasAdd
from .dwc import WidthConverter
from .folding import check_folding
from .mvau import GROUP, MatrixVectorUnit
from .thresholding import Thresholding

__all__ = ["NetworkTop", "build_layer", "connect_streams"]


def connect_streams(m, src, dst):
    """Connect two stream interfaces whose payloads have the same width (any layout)."""
    m.d.comb += [
        Value.cast(dst.payload).eq(Value.cast(src.payload)),
        dst.valid.eq(src.valid),
        src.ready.eq(dst.ready),
    ]


def build_layer(layer, f, group=GROUP):
    """The matrix-vector unit and activation unit of one golden Dense layer at folding ``f``
    (``group``: lanes summed per cycle before a pipeline register, see the MVAU)."""
    w_enc = layer.weight_encoding
    mvau = MatrixVectorUnit(mw=layer.in_features, mh=layer.out_features, simd=f.simd, pe=f.pe,
                            weight_words=weight_words(layer.weight_codes, f.simd, f.pe,
                                                      w_enc.code_bits),
                            weight_encoding=w_enc, input_encoding=layer.input_encoding,
                            group=group)
    acc = hw_accumulator(layer)
    # The unit's own range (from its element) and golden's must be the same proof.
    assert (acc.lo, acc.hi, acc.width) == (mvau.acc_lo, mvau.acc_hi, mvau.acc_width)
    act_cls = {Thresholds: Thresholding, Bias: BiasAdd}[type(layer.activation)]
    return mvau, act_cls(layer.activation, pe=f.pe, acc=acc)


class NetworkTop(wiring.Component):
    """A whole network: ``i`` takes input bits or pixels, ``o`` gives label and scores.

    Per layer a :class:`~hdl.mvau.MatrixVectorUnit` and its activation
    (:class:`~hdl.thresholding.Thresholding` or :class:`~hdl.bias.BiasAdd`); between
    layers a :class:`~hdl.dwc.WidthConverter` from PE to the next layer's SIMD lanes (of
    one bit, or of the activation's code width for multi-bit activations), then a FIFO of
    two input vectors (``2*SF`` words). A layer reads its input at
    SIMD bits per cycle during its first neuron fold; the FIFO sits after the converter so
    that a vector the previous layer finished earlier is delivered at that full rate, not
    at the previous layer's PE bits per cycle. It is deep enough for the previous layer to
    finish the next vector while this one still reads the current one, so in steady state
    the slowest layer never waits: one inference per ``max(SF*NF)`` cycles.

    Members
    -------
    i : ``In(stream.Signature(SIMD * x_bits of layer 0))``
        The model's input after its quantiser: bits (feature ``b*SIMD + k`` in bit ``k`` of
        beat ``b``), or 8-bit pixels for an un-binarised first layer (feature ``b*SIMD + k``
        in bits ``[8k, 8k+8)``).
    o : ``Out(stream.Signature(StructLayout({"label", "scores"})))``
        See :class:`~hdl.argmax.Argmax`.
    """

    def __init__(self, network, folding):
        self.network = network
        self.folding = check_folding(network, folding)
        self.layers = [build_layer(layer, f) for layer, f in zip(network.layers, self.folding)]
        _, last_act = self.layers[-1]
        self.argmax = Argmax(classes=network.layers[-1].out_features, pe=self.folding[-1].pe,
                             width=last_act.out_width)
        super().__init__({
            "i": In(stream.Signature(self.folding[0].simd * self.layers[0][0].in_bits)),
            "o": Out(stream.Signature(self.argmax.o.payload.shape())),
        })

    def elaborate(self, platform):
        m = Module()
        upstream = wiring.flipped(self.i)
        for index, ((mvau, act), f) in enumerate(zip(self.layers, self.folding)):
            if index:
                prev_width = len(upstream.payload.as_value())
                in_width = f.simd * mvau.in_bits
                if prev_width != in_width:
                    m.submodules[f"dwc{index}"] = dwc = WidthConverter(prev_width, in_width)
                    connect_streams(m, upstream, dwc.i)
                    upstream = dwc.o
                fifo = SyncFIFOBuffered(width=in_width, depth=2 * mvau.sf)
                m.submodules[f"fifo{index}"] = fifo
                connect_streams(m, upstream, fifo.w_stream)
                upstream = fifo.r_stream
            m.submodules[f"mvau{index}"] = mvau
            m.submodules[f"act{index}"] = act
            connect_streams(m, upstream, mvau.i)
            wiring.connect(m, mvau.o, act.i)
            upstream = act.o
        m.submodules.argmax = self.argmax
        wiring.connect(m, upstream, self.argmax.i)
        wiring.connect(m, self.argmax.o, wiring.flipped(self.o))
        return m
