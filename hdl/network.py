"""Network top: the layers of a golden model as a streaming dataflow ending in an argmax."""

from math import gcd

import numpy as np
from amaranth.hdl import Module, Signal, Value
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from golden.errors import ModelError
from golden.model import Bias, Dense, Thresholds
from golden.padding import PAD_CODE, pad_dense, padded_size
from golden.packing import (AccMap, hw_accumulator, layer_weight_codes, score_width,
                            weight_words)

from .argmax import Argmax
from .bias import BiasAdd
from .dwc import PadGather, WidthConverter
from .folding import check_folding, compute_layers, input_simd, layer_vectors
from .mvau import GROUP, MatrixVectorUnit
from .params import check_positive_int
from .pool import LineMaxPool, WindowMax
from .residual import AddStreams, Broadcast
from .skid import SkidBuffer
from .thresholding import Thresholding
from .window import SlidingWindow

__all__ = ["NetworkTop", "build_layer", "connect_streams", "register_handshakes",
           "skip_fifo_depth"]


def connect_streams(m, src, dst):
    """Connect two stream interfaces whose payloads have the same width (any layout)."""
    m.d.comb += [
        Value.cast(dst.payload).eq(Value.cast(src.payload)),
        dst.valid.eq(src.valid),
        src.ready.eq(dst.ready),
    ]


def build_layer(layer, f, group=GROUP):
    """The matrix-vector unit and activation unit of one golden Dense layer (or of a
    convolution's matrix) at folding ``f`` (``group``: lanes summed per cycle before a
    pipeline register, see the MVAU)."""
    w_enc = layer.weight_encoding
    mvau = MatrixVectorUnit(mw=layer.in_features, mh=layer.out_features, simd=f.simd, pe=f.pe,
                            weight_words=weight_words(layer_weight_codes(layer, f.simd), f.simd, f.pe,
                                                      w_enc.code_bits),
                            weight_encoding=w_enc, input_encoding=layer.input_encoding,
                            group=group, element_style=f.element, replay=f.replay)
    acc = hw_accumulator(layer)
    # The unit's own range (from its element) and golden's must be the same proof.
    assert (acc.lo, acc.hi, acc.width) == (mvau.acc_lo, mvau.acc_hi, mvau.acc_width)
    act_cls = {Thresholds: Thresholding, Bias: BiasAdd}[type(layer.activation)]
    # The unit emits a beat at most every SF cycles.
    return mvau, act_cls(layer.activation, pe=f.pe, acc=acc, interval=mvau.sf)


class StreamFifo(wiring.Component):
    """A FIFO of ``depth`` words with ``i``/``o`` stream ports whose valid and ready are
    flip-flops: for ``depth <= 2`` a :class:`~hdl.skid.SkidBuffer` (two registers; a
    buffered FIFO of 2 would keep 1 word in a memory with a 0-bit address, which Verilog
    writes as ``[-1:0]``), else a ``SyncFIFOBuffered`` of ``depth + 1`` words (its words in
    a memory, block RAM when large; ``r_rdy`` is its output register) taking a word only
    while it held at most ``depth - 1`` at the start of the previous cycle: ``i.ready`` is
    that registered compare instead of the FIFO's own ``w_rdy``, a LUT chain on its level
    that otherwise starts the upstream unit's ready path (measured on the iCE40: the
    1,600-word FIFO's level into the line pool's registers limited the clock). The word
    of reserve keeps the capacity at ``depth``. Its output goes through a
    :class:`~hdl.skid.SkidBuffer` (``out_slice``, 2 more words, 1 more cycle of latency):
    the FIFO's output register then reloads on a flip-flop's ready, not on the downstream
    unit's ready chain behind the compare of its level (that path set the clock, measured
    on the iCE40)."""

    def __init__(self, width, depth):
        check_positive_int("depth", depth)
        self.width, self.depth = width, depth
        self.fifo = (SkidBuffer(width) if depth <= 2
                     else SyncFIFOBuffered(width=width, depth=depth + 1))
        self.out_slice = None if depth <= 2 else SkidBuffer(width)
        super().__init__({"i": In(stream.Signature(width)), "o": Out(stream.Signature(width))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.fifo = fifo = self.fifo
        if isinstance(fifo, SkidBuffer):
            wiring.connect(m, wiring.flipped(self.i), fifo.i)
            wiring.connect(m, fifo.o, wiring.flipped(self.o))
        else:
            # At most one word is written per cycle, so a FIFO that held <= depth - 1
            # words last cycle holds <= depth now: the (depth+1)-word FIFO has room.
            ready = Signal()
            m.d.sync += ready.eq(fifo.level <= self.depth - 1)
            m.d.comb += [fifo.w_data.eq(self.i.payload), fifo.w_en.eq(self.i.valid & ready),
                         self.i.ready.eq(ready)]
            m.submodules.out_slice = self.out_slice
            wiring.connect(m, fifo.r_stream, self.out_slice.i)
            wiring.connect(m, self.out_slice.o, wiring.flipped(self.o))
        return m


class Chain(wiring.Component):
    """Units with ``i``/``o`` streams, connected one after the other."""

    def __init__(self, units):
        self.units = list(units)
        in_w = len(Value.cast(self.units[0].i.payload))
        out_w = len(Value.cast(self.units[-1].o.payload))
        super().__init__({"i": In(stream.Signature(in_w)), "o": Out(stream.Signature(out_w))})

    def elaborate(self, platform):
        m = Module()
        upstream = wiring.flipped(self.i)
        for index, unit in enumerate(self.units):
            m.submodules[f"u{index}_{type(unit).__name__.lower()}"] = unit
            connect_streams(m, upstream, unit.i)
            upstream = unit.o
        connect_streams(m, upstream, wiring.flipped(self.o))
        return m


def skip_fifo_depth(block, width, beats_per_pixel):
    """Depth (beats of the block's input stream) of the FIFO at the head of a residual
    block's skip path, so that the two paths cannot deadlock.

    The add needs a pixel from both paths. The skip path (1x1 or same-size convolutions)
    can emit output pixel ``(y, x)`` as soon as it has input pixel ``(y, x)``; the main
    path's sliding windows emit output row ``y`` only once its input rows up to
    ``y - P + K - 1`` are complete (:class:`~hdl.window.SlidingWindow`), so over a chain of
    convolutions the main path's output lags its input by at most
    ``L = sum_i (K_i - P_i)`` complete rows. Until the main path's first pixel, and in
    steady state, the broadcast has sent the skip path at most ``L`` rows plus one pixel
    more than the add consumed; the FIFO holds them all, whatever the skip path's own
    buffers hold: ``(L + 1) * W`` pixels of ``beats_per_pixel`` beats.
    """
    lag = sum(layer.kernel - layer.pad for layer in block.main if hasattr(layer, "kernel"))
    return (lag + 1) * block.in_shape[1] * beats_per_pixel


class ResidualBlock(wiring.Component):
    """Broadcast, the two paths (the skip path behind its FIFO, :func:`skip_fifo_depth`),
    the lane-wise add of their codes and the thresholds that re-quantise the sum."""

    def __init__(self, block, main, skip, in_width, beats_per_pixel):
        self.block = block
        self.main, self.skip = main, skip
        self.broadcast = Broadcast(in_width)
        self.skip_depth = skip_fifo_depth(block, in_width, beats_per_pixel)
        self.skip_fifo = StreamFifo(in_width, self.skip_depth)
        self.main_fifo = StreamFifo(in_width, 2)
        (ma, mb), (sa, sb) = (block.path_encodings[0], main.out_bits), \
                             (block.path_encodings[1], skip.out_bits)
        pe = main.out_pe
        self.add = AddStreams(pe=pe, bits_a=mb, bits_b=sb, top_a=ma.top, top_b=sa.top)
        channels = block.out_shape[-1]
        acc = AccMap(0, ma.top + sa.top, np.zeros(channels, np.int64),
                     np.full(channels, ma.offset + sa.offset, np.int64))
        self.act = Thresholding(block.activation, pe=pe, acc=acc)
        self.out_bits = block.activation.out_bits
        self.out_pe = pe
        super().__init__({"i": In(stream.Signature(in_width)),
                          "o": Out(stream.Signature(len(Value.cast(self.act.o.payload))))})

    def elaborate(self, platform):
        m = Module()
        for name in ("broadcast", "skip_fifo", "main_fifo", "main", "skip", "add", "act"):
            m.submodules[name] = getattr(self, name)
        wiring.connect(m, wiring.flipped(self.i), self.broadcast.i)
        wiring.connect(m, self.broadcast.a, self.main_fifo.i)
        wiring.connect(m, self.broadcast.b, self.skip_fifo.i)
        connect_streams(m, self.main_fifo.o, self.main.i)
        connect_streams(m, self.skip_fifo.o, self.skip.i)
        connect_streams(m, self.main.o, self.add.a)
        connect_streams(m, self.skip.o, self.add.b)
        wiring.connect(m, self.add.o, self.act.i)
        wiring.connect(m, self.act.o, wiring.flipped(self.o))
        return m


def register_handshakes(units):
    """``units`` with register slices (:class:`StreamFifo` of 2 words, a
    :class:`~hdl.skid.SkidBuffer`) where a ready chain would run through a whole layer.

    A matrix-vector unit, a line pool, a window max and a width converter pass their
    output's ready to their input through logic (the whole pipeline stalls together), and
    so does an activation unless its input ready is a register
    (:attr:`~hdl.channelwise.ChannelwiseUnit.registered_ready`, behind a matrix-vector
    unit with SF >= its latency + 1); a sliding window, a FIFO and the argmax take it from
    registers. Without slices, one combinational path ran from a window's row count
    through an activation and a matrix-vector unit into the previous window's counters
    (the default network's critical path on the iCE40). A slice goes in front of every
    matrix-vector unit that does not already read a FIFO, behind every activation whose
    ready passes through when a pass-through unit follows, and behind every pool that
    feeds a pass-through unit (a width converter): so at most an activation and a
    matrix-vector unit, or an activation (registered ready) and a pool, or a width
    converter, are on any ready chain. A slice's words are registers: ``2 * width``
    flip-flops, one more cycle of latency, one beat per cycle.
    """
    passes = (MatrixVectorUnit, Thresholding, BiasAdd, LineMaxPool, WindowMax,
              WidthConverter, PadGather)
    out = []
    for index, unit in enumerate(units):
        if isinstance(unit, MatrixVectorUnit) and out and not isinstance(out[-1], StreamFifo):
            out.append(StreamFifo(len(Value.cast(unit.i.payload)), 2))
        out.append(unit)
        after = units[index + 1] if index + 1 < len(units) else None
        passes_ready = (isinstance(unit, ResidualBlock)
                        or isinstance(unit, (Thresholding, BiasAdd)) and not unit.registered_ready
                        or isinstance(unit, (LineMaxPool, WindowMax)))
        if passes_ready and isinstance(after, passes):
            out.append(StreamFifo(len(Value.cast(unit.o.payload)), 2))
    return out


class _Builder:
    """Turns a chain of golden layers into units, tracking the stream between them:
    ``cpb`` codes of ``bits`` bits per beat."""

    def __init__(self, folding_by_layer, vectors):
        self.fold = folding_by_layer
        self.vectors = vectors
        self.layers = []        # (mvau, act) per compute layer, in folding order

    def chain(self, layers, cpb, bits, first):
        units = []
        for layer in layers:
            width = cpb * bits if cpb else None
            if hasattr(layer, "skip"):
                main = self.sub_chain(layer.main, cpb, bits)
                skip = self.sub_chain(layer.skip, cpb, bits)
                c = layer.in_shape[2]
                units.append(ResidualBlock(layer, main, skip, width, c // cpb))
                cpb, bits = units[-1].out_pe, units[-1].out_bits
            elif isinstance(layer, Dense) or hasattr(layer, "dense"):
                f = self.fold[id(layer)]
                in_vec, out_vec, _, _ = self.vectors[id(layer)]
                padded = (pad_dense(layer, padded_size(in_vec, f.simd), out_vec)
                          if isinstance(layer, Dense) else layer)
                mvau, act = build_layer(padded, f)
                self.layers.append((mvau, act))
                if isinstance(layer, Dense) and in_vec % f.simd:
                    # SIMD does not divide the vector: gather it to SIMD with padding
                    # from a beat width that divides both (golden.padding).
                    step = gcd(cpb or input_simd(layer, f), f.simd)
                    if width is not None and width != step * mvau.in_bits:
                        units.append(WidthConverter(width, step * mvau.in_bits))
                    units.append(PadGather(in_lanes=step, out_lanes=f.simd, bits=mvau.in_bits,
                                           length=in_vec, pad_code=PAD_CODE))
                    width = f.simd * mvau.in_bits
                in_width = (f.simd if isinstance(layer, Dense)
                            else input_simd(layer, f)) * mvau.in_bits
                if width is not None and width != in_width:
                    units.append(WidthConverter(width, in_width))
                if hasattr(layer, "dense"):
                    h, w, c = layer.in_shape
                    units.append(SlidingWindow(height=h, width=w, channels=c, simd=f.simd,
                                               bits=mvau.in_bits, kernel=layer.kernel,
                                               stride=layer.stride, pad=layer.pad,
                                               pad_value=layer.pad_value))
                elif not first or in_vec % f.simd:
                    # Two input vectors, so the previous layer (or the padding gather, which
                    # takes several cycles per beat) can finish the next one while this one
                    # still reads the current one.
                    units.append(StreamFifo(in_width, 2 * mvau.sf))
                units += [mvau, act]
                act_bits = (layer.activation.out_bits
                            if isinstance(layer.activation, Thresholds) else None)
                cpb, bits = f.pe, act_bits
            else:
                if cpb is None:
                    raise ModelError(f"a {type(layer).__name__} cannot be the first layer of "
                                     f"the hardware; start with a dense or convolution layer")
                h, w, c = layer.in_shape
                if getattr(layer, "kernel", 0) >= 2 and layer.stride == layer.kernel:
                    # Non-overlapping windows: one pass over the stream, no window.
                    units.append(LineMaxPool(height=h, width=w, channels=c, simd=cpb,
                                             bits=bits, kernel=layer.kernel))
                elif hasattr(layer, "kernel"):
                    units.append(SlidingWindow(height=h, width=w, channels=c, simd=cpb,
                                               bits=bits, kernel=layer.kernel,
                                               stride=layer.stride))
                    units.append(WindowMax(channels=c, simd=cpb, bits=bits,
                                           positions=layer.kernel ** 2))
                else:
                    units.append(WindowMax(channels=c, simd=cpb, bits=bits, positions=h * w))
            first = False
        return register_handshakes(units), cpb, bits

    def sub_chain(self, layers, cpb, bits):
        units, out_cpb, out_bits = self.chain(layers, cpb, bits, first=False)
        chain = Chain(units)
        chain.out_pe, chain.out_bits = out_cpb, out_bits
        return chain


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
    :class:`ResidualBlock`. One inference per :func:`hdl.folding.initiation_interval`
    cycles.

    Members
    -------
    i : ``In(stream.Signature(SIMD * x_bits of layer 0))``
        The model's input after its quantiser, in C order (a map pixel by pixel, channels
        innermost): bits (feature ``b*SIMD + k`` in bit ``k`` of beat ``b``), or codes
        (feature ``b*SIMD + k`` in bits ``[k*x_bits, (k+1)*x_bits)``).
    o : ``Out(stream.Signature(StructLayout({"label", "scores"})))``
        See :class:`~hdl.argmax.Argmax`.
    """

    def __init__(self, network, folding):
        self.network = network
        self.folding = check_folding(network, folding)
        compute = compute_layers(network)
        if not (isinstance(network.layers[0], Dense) or hasattr(network.layers[0], "dense")):
            raise ModelError("the first layer must be a dense or convolution layer")
        last = network.layers[-1]
        if hasattr(last, "dense") and last.out_shape[:2] != (1, 1):
            raise ModelError(f"the last convolution gives a {last.out_shape} map; the class "
                             f"scores must be one vector (a 1x1 output, or a dense layer)")
        builder = _Builder(dict(zip(map(id, compute), self.folding)),
                           layer_vectors(network, self.folding))
        self.units, _, _ = builder.chain(network.layers, None, None, first=True)
        self.layers = builder.layers
        _, last_act = self.layers[-1]
        # The real classes' scores fit the layer's proven score width (golden); a padded
        # last layer's accumulator range is wider, its extra lanes are never taken.
        self.argmax = Argmax(classes=compute[-1].out_features, pe=self.folding[-1].pe,
                             width=min(last_act.out_width, score_width(network)))
        first_mvau = self.layers[0][0]
        #: Codes per input beat: layer 0's SIMD (its channels in a window's taps mode).
        self.in_simd = input_simd(compute[0], self.folding[0])
        super().__init__({
            "i": In(stream.Signature(self.in_simd * first_mvau.in_bits)),
            "o": Out(stream.Signature(self.argmax.o.payload.shape())),
        })

    def elaborate(self, platform):
        m = Module()
        upstream = wiring.flipped(self.i)
        names = {}
        for unit in self.units:
            kind = {MatrixVectorUnit: "mvau", Thresholding: "act", BiasAdd: "act",
                    WidthConverter: "dwc", StreamFifo: "fifo", SlidingWindow: "window",
                    WindowMax: "pool", LineMaxPool: "pool", ResidualBlock: "residual", PadGather: "pad"}[type(unit)]
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
