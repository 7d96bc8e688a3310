"""Dense stage: a folded matrix-vector unit and its activation unit."""

from math import gcd

from golden.errors import ModelError
from golden.model import Bias, Dense, Thresholds
from golden.packing import hw_accumulator, layer_weight_codes, weight_words
from golden.padding import PAD_CODE, pad_dense, padded_size

from ..bias import BiasAdd
from ..dwc import PadGather, WidthConverter
from ..folding import ELEMENT_STYLES, MAX_WORD_BITS, LayerFolding, bitplane_applies, divisors
from ..mvau import GROUP, MatrixVectorUnit
from ..streams import StreamFifo
from ..thresholding import Thresholding
from .base import ComputeStage, Stream, register

__all__ = ["DenseStage", "build_layer"]


def build_layer(layer, f, group=GROUP):
    """The matrix-vector unit and activation unit of one golden Dense layer (or of a
    convolution's matrix) at folding ``f`` (``group``: lanes summed per cycle before a
    pipeline register, see the MVAU)."""
    w_enc = layer.weight_encoding
    mvau = MatrixVectorUnit(mw=layer.in_features, mh=layer.out_features, simd=f.simd, pe=f.pe,
                            weight_words=weight_words(layer_weight_codes(layer, f.simd), f.simd,
                                                      f.pe, w_enc.code_bits),
                            weight_encoding=w_enc, input_encoding=layer.input_encoding,
                            group=group, element_style=f.element, replay=f.replay,
                            weights=f.weights)
    acc = hw_accumulator(layer)
    # The unit's own range (from its element) and golden's must be the same proof.
    assert (acc.lo, acc.hi, acc.width) == (mvau.acc_lo, mvau.acc_hi, mvau.acc_width)
    act_cls = {Thresholds: Thresholding, Bias: BiasAdd}[type(layer.activation)]
    # The unit emits a beat at most every SF cycles.
    return mvau, act_cls(layer.activation, pe=f.pe, acc=acc, interval=mvau.sf)


@register(Dense)
class DenseStage(ComputeStage):
    """A :class:`~golden.model.Dense` layer: ``SF = ceil(in_vec / SIMD)`` by
    ``NF = ceil(MH / PE)`` issue cycles per vector (FINN's figure).

    In the network's main chain it takes any SIMD up to its input vector and any PE,
    padded when they do not divide (:mod:`golden.padding`); its PE must divide MH unless a
    dense stage or the class decision takes its output. Inside a block both must divide.
    Its input is gathered to SIMD codes per beat (a width converter, a padding gather),
    and held in a FIFO of two vectors so the stage before can finish the next vector
    while this one still reads the current one.
    """

    takes_vector = True
    kind = "dense"

    @property
    def windows(self):
        """Vectors per inference."""
        return 1

    def in_vec(self, stream):
        """The length of the vector that reaches the stage (its MW, or more when the dense
        stage before padded its outputs)."""
        mw = self.layer.in_features
        return max(stream.vec or 0, mw) if self.top_level else mw

    def out_vec(self):
        """The length of the vector the stage emits: ``ceil(MH/PE)*PE`` where padding
        applies, else MH."""
        mh, pe = self.layer.out_features, self.folding.pe
        return -(-mh // pe) * pe if self.pads_rows else mh

    @property
    def pads_rows(self):
        return self.top_level and self.dense_follows

    def simd_choices(self):
        """SIMD values that divide the stage's input vector."""
        return divisors(self.layer.in_features)

    def foldings(self):
        return [LayerFolding(simd, pe) for simd in self.simd_choices()
                for pe in divisors(self.layer.out_features)
                if simd * pe * self.layer.weight_encoding.code_bits <= MAX_WORD_BITS]

    def input_simd(self):
        """A dense stage whose SIMD does not divide MW takes ``gcd(MW, SIMD)`` codes per
        beat (then gathered to SIMD with padding)."""
        return gcd(self.layer.in_features, self.folding.simd)

    def vector_cycles(self, f=None, in_vec=None):
        """Issue cycles per inference at folding ``f`` (default: the stage's):
        ``windows * SF * NF``; ``in_vec`` defaults to MW."""
        f = f or self.folding
        sf = -(-(in_vec or self.layer.in_features) // f.simd)
        return self.windows * sf * -(-self.layer.out_features // f.pe)

    def check(self, stream, index):
        f, layer = self.folding, self.layer
        mh = layer.out_features
        if self.top_level:
            in_vec = self.in_vec(stream)
            if not 1 <= f.simd <= in_vec:
                raise ModelError(f"layer {index}: SIMD {f.simd} is not in [1, {in_vec}] (the "
                                 f"layer's {in_vec} inputs)")
            if f.pe < 1 or (mh % f.pe and not self.pads_rows):
                raise ModelError(f"layer {index}: PE {f.pe} does not divide MH {mh}; choose "
                                 f"one of {divisors(mh)} (rows are padded only where a dense "
                                 f"layer or the class decision follows)")
        else:
            self.check_divides(index)
        self.check_element(index)

    def check_element(self, index):
        """The element style applies and the weight words fit :data:`MAX_WORD_BITS`."""
        f, layer = self.folding, self.layer
        if f.element not in ELEMENT_STYLES:
            raise ModelError(f"layer {index}: element style {f.element!r} is not one of "
                             f"{', '.join(ELEMENT_STYLES)}")
        if f.element == "bitplane" and not bitplane_applies(layer.weight_encoding,
                                                            layer.input_encoding):
            raise ModelError(f"layer {index}: the bit-plane element needs multi-bit input "
                             f"codes; this layer's inputs are binary (drop ':bitplane')")
        bits = f.simd * f.pe * layer.weight_encoding.code_bits
        if bits > MAX_WORD_BITS:
            raise ModelError(f"layer {index}: SIMD {f.simd} x PE {f.pe} needs {bits}-bit weight "
                             f"words, more than the {MAX_WORD_BITS} bits a memory word can "
                             f"have; choose fewer lanes (SIMD*PE*weight bits <= "
                             f"{MAX_WORD_BITS})")

    def check_divides(self, index):
        """SIMD one of :meth:`simd_choices`, PE a divisor of MH."""
        f, mh = self.folding, self.layer.out_features
        if f.simd < 1 or f.simd not in self.simd_choices():
            raise ModelError(f"layer {index}: SIMD {f.simd} does not divide "
                             f"{self.simd_what()}; choose one of {self.simd_choices()}")
        if f.pe < 1 or mh % f.pe:
            raise ModelError(f"layer {index}: PE {f.pe} does not divide MH {mh}; "
                             f"choose one of {divisors(mh)}")

    def simd_what(self):
        return f"MW {self.layer.in_features}"

    def out_bits(self):
        """Bits per output code (None for scores, a :class:`~golden.model.Bias`)."""
        act = self.layer.activation
        return act.out_bits if isinstance(act, Thresholds) else None

    def advance(self, stream):
        return Stream(self.folding.pe, self.out_bits(),
                      self.out_vec() if self.top_level else None)

    def cycles(self, stream):
        f, in_vec = self.folding, self.in_vec(stream)
        out = []
        if in_vec % f.simd:
            # Gathered to SIMD with padding from gcd(incoming codes per beat, SIMD).
            step = gcd(stream.cpb or self.input_simd(), f.simd)
            out.append((self.name + ".pad", in_vec // step))
        return out + [(self.name, self.vector_cycles(f, in_vec))]

    def build(self, builder, stream):
        f, layer = self.folding, self.layer
        in_vec = self.in_vec(stream)
        mvau, act = build_layer(pad_dense(layer, padded_size(in_vec, f.simd), self.out_vec()), f)
        builder.layers.append((mvau, act))
        units = []
        width = stream.width
        if in_vec % f.simd:
            # SIMD does not divide the vector: gather it to SIMD with padding from a beat
            # width that divides both (golden.padding).
            step = gcd(stream.cpb or self.input_simd(), f.simd)
            if width is not None and width != step * mvau.in_bits:
                units.append(WidthConverter(width, step * mvau.in_bits))
            units.append(PadGather(in_lanes=step, out_lanes=f.simd, bits=mvau.in_bits,
                                   length=in_vec, pad_code=PAD_CODE))
            width = f.simd * mvau.in_bits
        in_width = f.simd * mvau.in_bits
        if width is not None and width != in_width:
            units.append(WidthConverter(width, in_width))
        if not self.first or in_vec % f.simd:
            units.append(StreamFifo(in_width, 2 * mvau.sf))
        return units + [mvau, act]
