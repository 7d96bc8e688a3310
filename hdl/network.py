"""Network top: the stages of a golden model as a streaming dataflow ending in an argmax."""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from golden.packing import spram_image

from .bias import BiasAdd
from .dwc import PadGather, WidthConverter
from .mvau import MatrixVectorUnit
from .pool import LineMaxPool, WindowMax, WindowSum
from .residual import ResidualBlock
from .stages import StageGraph
from .streams import StreamFifo, connect_streams
from .thresholding import Thresholding
from .window import SlidingWindow

__all__ = ["NetworkTop", "UNIT_NAMES"]

#: Submodule name stem of each unit class in the top (numbered per stem).
UNIT_NAMES = {MatrixVectorUnit: "mvau", Thresholding: "act", BiasAdd: "act",
              WidthConverter: "dwc", StreamFifo: "fifo", SlidingWindow: "window",
              WindowMax: "pool", LineMaxPool: "pool", WindowSum: "pool",
              ResidualBlock: "residual",
              PadGather: "pad"}


class NetworkTop(wiring.Component):
    """A whole network: ``i`` takes the model's input codes, ``o`` gives label and scores.

    Per dense layer a :class:`~hdl.mvau.MatrixVectorUnit` and its activation
    (:class:`~hdl.thresholding.Thresholding` or :class:`~hdl.bias.BiasAdd`) behind a
    :class:`~hdl.dwc.WidthConverter` (from the previous stage's lanes to SIMD codes) and a
    FIFO of two input vectors (``2*SF`` words): a layer reads its input at SIMD codes per
    cycle during its first neuron fold, and the FIFO lets the previous layer finish the
    next vector meanwhile, so in steady state the slowest stage never waits. A
    convolution has a :class:`~hdl.window.SlidingWindow` (whose row ring is its buffer)
    in place of the FIFO; a max-pool with stride equal to its kernel is a
    :class:`~hdl.pool.LineMaxPool`, any other a sliding window and a
    :class:`~hdl.pool.WindowMax`, at the incoming stream's channels per beat (the previous
    layer's PE); a global max-pool a WindowMax over the whole map; a residual block a
    :class:`ResidualBlock`. One inference per :meth:`hdl.stages.StageGraph.initiation_interval`
    cycles.

    Members
    -------
    i : ``In(stream.Signature(SIMD * x_bits of layer 0))``
        The model's input after its quantiser, in C order (a map pixel by pixel, channels
        innermost): bits (feature ``b*SIMD + k`` in bit ``k`` of beat ``b``), or codes
        (feature ``b*SIMD + k`` in bits ``[k*x_bits, (k+1)*x_bits)``).
    o : ``Out(stream.Signature(StructLayout({"label", "scores"})))``
        See :class:`~hdl.argmax.Argmax`.
    load : ``In(stream.Signature(8))``, loaded : ``Out(1)``
        Only when a layer keeps its weights in SPRAM (``weights="spram"`` in its folding):
        the bytes of :meth:`spram_image` (every such unit's load words in network order,
        little-endian); ``loaded`` rises once all are in. ``i`` takes nothing before.
    """

    def __init__(self, network, folding):
        self.network = network
        self.graph = StageGraph(network).fold(folding)
        self.folding = self.graph.folding
        self.units, self.layers = self.graph.build()
        self.argmax = self.graph.argmax.build(self.layers[-1][1])
        first_mvau = self.layers[0][0]
        #: Codes per input beat: layer 0's SIMD (its channels in a window's taps mode).
        self.in_simd = self.graph.stages[0].input_simd()
        #: The units whose weights live in SPRAM, in the order :meth:`spram_image` fills them.
        self.spram_units = [mvau for mvau, _ in self.layers if mvau.spram is not None]
        members = {
            "i": In(stream.Signature(self.in_simd * first_mvau.in_bits)),
            "o": Out(stream.Signature(self.argmax.o.payload.shape())),
        }
        if self.spram_units:
            members["load"] = In(stream.Signature(8))
            members["loaded"] = Out(1)
        super().__init__(members)

    @property
    def spram_cells(self):
        """``SB_SPRAM256KA`` cells the design uses."""
        return sum(unit.spram.cells for unit in self.spram_units)

    def spram_image(self):
        """The bytes ``load`` takes: :func:`golden.packing.spram_image` of the SPRAM
        units' weight words, in network order (empty without SPRAM units)."""
        return spram_image([(u.weight_words, u.pe * u.simd * u.w_bits)
                            for u in self.spram_units])

    def elaborate(self, platform):
        m = Module()
        upstream = wiring.flipped(self.i)
        if self.spram_units:
            upstream = self._load_spram(m)
        names = {}
        for unit in self.units:
            kind = UNIT_NAMES.get(type(unit), type(unit).__name__.lower())
            index = names[kind] = names.get(kind, -1) + 1
            m.submodules[f"{kind}{index}"] = unit
            connect_streams(m, upstream, unit.i)
            upstream = unit.o
        m.submodules.argmax = self.argmax
        m.d.comb += [self.argmax.i.valid.eq(upstream.valid), upstream.ready.eq(self.argmax.i.ready)]
        m.d.comb += [self.argmax.i.payload[p].eq(upstream.payload[p])
                     for p in range(self.argmax.pe)]
        wiring.connect(m, self.argmax.o, wiring.flipped(self.o))
        return m

    def _load_spram(self, m):
        """Pairs of load bytes to 16-bit words, each to the first SPRAM unit not yet
        loaded; returns the input stream, held until every unit is loaded."""
        units = self.spram_units
        low, high_next = Signal(8), Signal()
        done = [u.loaded for u in units]
        m.d.comb += self.loaded.eq(Cat(*done).all())
        target_ready = Signal()
        for k, unit in enumerate(units):
            turn = Cat(*done[:k], 1).all() & ~done[k]
            m.d.comb += [unit.load.payload.eq(Cat(low, self.load.payload)),
                         unit.load.valid.eq(turn & self.load.valid & high_next)]
            with m.If(turn):
                m.d.comb += target_ready.eq(unit.load.ready)
        m.d.comb += self.load.ready.eq(~self.loaded & (~high_next | target_ready))
        with m.If(self.load.valid & self.load.ready):
            m.d.sync += [low.eq(self.load.payload), high_next.eq(~high_next)]
        gated = stream.Signature(len(self.i.payload)).create()
        m.d.comb += [gated.payload.eq(self.i.payload),
                     gated.valid.eq(self.i.valid & self.loaded),
                     self.i.ready.eq(gated.ready & self.loaded)]
        return gated
