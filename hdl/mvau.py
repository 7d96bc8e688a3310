"""Folded matrix-vector unit (MVAU): SIMD x PE lanes of a multiplier-free element."""

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.model import BINARY
from golden.packing import spram_words
from golden.weights import BINARY_WEIGHTS
from golden.weights import weight_encoding as as_weight_encoding

from .elements import make_element
from .params import NO_COLLISION, check_positive_int, counter, memory_depth, wrap_counter
from .popcount import range_shape, tree_sum
from .spram import SpramRom

__all__ = ["MatrixVectorUnit", "GROUP", "REPLAY_REGISTER_BITS", "WEIGHT_STORES",
           "replay_in_registers"]

# Lanes summed in one cycle before a pipeline register: an adder tree over more lanes is
# split, its group sums registered, so that the popcount does not limit the clock.
GROUP = 4


#: Where a unit keeps its weights: a ROM (block RAM or logic, the tools' choice) or
#: the iCE40 UP's SPRAMs, filled after reset (:class:`hdl.spram.SpramRom`).
WEIGHT_STORES = ("rom", "spram")

#: A replay buffer (one input vector) is asked to be flip-flops up to this many bits.
REPLAY_REGISTER_BITS = 256


def replay_in_registers(bits, replay="auto"):
    """Whether a replay buffer of ``bits`` is kept in flip-flops (``replay``: ``"auto"``
    or ``"registers"``, see :class:`MatrixVectorUnit`); else it is left to the tools' RAM."""
    return replay == "registers" or bits <= REPLAY_REGISTER_BITS


class MatrixVectorUnit(wiring.Component):
    """Matrix-vector accumulate, folded FINN-style, with a pluggable lane element.

    For every input vector ``x`` (MW synapses) it computes the MH accumulators::

        acc_hw[j] = sum_i u(x[i], w[j, i])

    where ``u`` is the lane value of the element chosen by the weight and input encodings
    (:mod:`hdl.elements`, :mod:`golden.elements`): the XNOR bit for binary x binary, a sign
    flip, zero skip, shift or table lookup otherwise. ``acc_hw`` lies in
    ``[MW*u_lo, MW*u_hi]`` (:attr:`acc_lo`, :attr:`acc_hi`) and is kept at the smallest
    width holding that range, two's complement when it can be negative; per beat the PE row
    sums are adder trees whose nodes are sized from their ranges the same way. The map to
    the golden accumulator (offsets, the ternary ``2*acc_hw - sum|w|``, scales) is a
    per-neuron constant applied downstream (:class:`golden.packing.AccMap`).

    ``SIMD`` synapses of ``PE`` neurons per cycle: a vector arrives as ``SF = MW/SIMD``
    beats of SIMD input codes (synapse ``sf*SIMD + s`` in bits
    ``[s*x_bits, (s+1)*x_bits)`` of beat ``sf``) and leaves as ``NF = MH/PE`` beats of PE
    accumulators (neuron ``nf*PE + p`` in lane ``p`` of beat ``nf``). The first neuron
    fold takes the input from the stream and stores it; folds 1..NF-1 replay it from that
    buffer, so the unit accepts the next vector only after ``SF*NF`` cycles (FINN's cycle
    count).

    Latency (:attr:`latency`): the accumulators of a neuron fold are valid 4 cycles after
    the cycle the fold's last input beat was issued (input register, weight read and input
    word register, element, accumulate), plus one per level of :meth:`reduction_levels` when
    SIMD exceeds
    ``group`` (default :data:`GROUP`) lanes: then the lanes are summed in groups of
    ``group``, the group sums registered, and reduced ``group`` at a time, registered,
    until at most ``group`` are left for the final sum (one more cycle each). With no
    backpressure, N vectors take ``N*SF*NF`` issue cycles.

    Memories: the weight ROM (``NF*SF`` words of ``PE*SIMD*w_bits`` bits, block RAM where
    the tools find it worthwhile; with ``weights="spram"`` a :class:`~hdl.spram.SpramRom`
    of iCE40 UP SPRAM cells, same read timing, filled through ``load`` after reset) and,
    when ``NF > 1``, the replay buffer of one input
    vector (``SF`` words of ``SIMD*x_bits``), asked to be flip-flops up to
    :data:`REPLAY_REGISTER_BITS` bits (:attr:`replay_in_registers`), else left to the
    tools' RAM.

    Parameters
    ----------
    mw, mh, simd, pe : int
        Matrix width (fan-in), height (neurons), synapse and neuron parallelism.
        ``simd`` must divide ``mw`` and ``pe`` must divide ``mh``.
    weight_words : list of int
        ``NF*SF`` words of ``PE*SIMD`` weight codes from :func:`golden.packing.weight_words`.
    weight_encoding : optional
        A :mod:`golden.weights` encoding (default binary).
    input_encoding : optional
        ``"binary"`` (default) or :class:`golden.model.IntCodes`.
    element_style : optional
        ``"tree"`` (default) or ``"bitplane"`` (multi-bit input codes only): how the lanes'
        sum is built (:mod:`hdl.elements`); same sum, same latency, different LUT4 cost.
    replay : optional
        ``"auto"`` (default) or ``"registers"``: see :attr:`replay_in_registers`.
    weights : optional
        ``"rom"`` (default) or ``"spram"`` (:data:`WEIGHT_STORES`).

    Members
    -------
    i : ``In(stream.Signature(SIMD * x_bits))``
        Input bits or codes.
    o : ``Out(stream.Signature(data.ArrayLayout(acc_shape, PE)))``
        Accumulators ``acc_hw``.
    load : ``In(stream.Signature(16))``, loaded : ``Out(1)``
        With ``weights="spram"`` only: the weight memory's load words
        (:func:`golden.packing.spram_words` of the weight words) and its end. The unit
        must not be given input before ``loaded``.
    """

    def __init__(self, *, mw, mh, simd, pe, weight_words, weight_encoding=BINARY_WEIGHTS,
                 input_encoding=BINARY, group=GROUP, element_style="tree", replay="auto",
                 weights="rom"):
        for name, value in (("mw", mw), ("mh", mh), ("simd", simd), ("pe", pe)):
            check_positive_int(name, value)
        if mw % simd:
            raise ValueError(f"SIMD {simd} does not divide MW {mw}; choose a divisor of {mw}")
        if mh % pe:
            raise ValueError(f"PE {pe} does not divide MH {mh}; choose a divisor of {mh}")
        self.mw, self.mh, self.simd, self.pe = mw, mh, simd, pe
        if replay not in ("auto", "registers"):
            raise ValueError(f"replay must be 'auto' or 'registers', not {replay!r}")
        self.replay = replay
        if weights not in WEIGHT_STORES:
            raise ValueError(f"weights must be one of {', '.join(WEIGHT_STORES)}, "
                             f"not {weights!r}")
        self.weights = weights
        self.sf, self.nf = mw // simd, mh // pe
        check_positive_int("group", group)
        self.group = group
        self.element = make_element(as_weight_encoding(weight_encoding), input_encoding,
                                    element_style)
        self.latency = 4 + len(self.reduction_levels())
        self.in_bits, self.w_bits = self.element.x_bits, self.element.w_bits
        word_bits = pe * simd * self.w_bits
        if len(weight_words) != self.sf * self.nf:
            raise ValueError(f"expected {self.sf * self.nf} weight words (NF*SF), "
                             f"got {len(weight_words)}")
        if any(not 0 <= w < 1 << word_bits for w in weight_words):
            raise ValueError(f"weight words must be unsigned {word_bits}-bit integers")
        self.weight_words = list(weight_words)
        self.acc_lo, self.acc_hi = mw * self.element.lane_lo, mw * self.element.lane_hi
        acc_shape = self.element.sum_shape(mw)
        self.acc_width = acc_shape.width
        self.row_shape = self.element.sum_shape(simd)
        members = {
            "i": In(stream.Signature(simd * self.in_bits)),
            "o": Out(stream.Signature(data.ArrayLayout(acc_shape, pe))),
        }
        self.spram = None
        if weights == "spram":
            self.spram = SpramRom(word_bits, self.sf * self.nf)
            members["load"] = In(stream.Signature(16))
            members["loaded"] = Out(1)
        super().__init__(members)

    def reduction_levels(self):
        """The ranges ``(lo, hi)`` of one PE row's registered partial sums, level by level:
        with more than ``group`` lanes, the sums of groups of ``group`` lanes, then, while
        more than ``group`` are left, the sums of ``group`` of those. Empty when SIMD <=
        ``group`` (the row is summed in one cycle). Each level is one pipeline stage."""
        e, g = self.element, self.group
        if self.simd <= g:
            return []
        ranges = [(n * e.lane_lo, n * e.lane_hi)
                  for n in (min(g, self.simd - k) for k in range(0, self.simd, g))]
        levels = [ranges]
        while len(ranges) > g:
            ranges = [(sum(r[0] for r in ranges[k:k + g]), sum(r[1] for r in ranges[k:k + g]))
                      for k in range(0, len(ranges), g)]
            levels.append(ranges)
        return levels

    def load_words(self):
        """The 16-bit words ``load`` takes (``weights="spram"``):
        :func:`golden.packing.spram_words` of the weight words."""
        return spram_words(self.weight_words, self.pe * self.simd * self.w_bits)

    @property
    def replay_bits(self):
        """Bits of the replay buffer (0 when NF = 1: no replay)."""
        return self.mw * self.in_bits if self.nf > 1 else 0

    @property
    def replay_in_registers(self):
        return replay_in_registers(self.replay_bits, self.replay)

    def elaborate(self, platform):
        m = Module()
        sf_n, nf_n, simd, pe = self.sf, self.nf, self.simd, self.pe

        wb = self.w_bits
        if self.spram is None:
            # At least two words: a one-word memory would have a zero-width address.
            m.submodules.weights = weights = Memory(
                shape=unsigned(pe * simd * wb), depth=memory_depth(sf_n * nf_n),
                init=self.weight_words)
            w_rd = weights.read_port()
        else:
            m.submodules.weights = w_rd = self.spram
            wiring.connect(m, wiring.flipped(self.load), w_rd.load)
            m.d.comb += self.loaded.eq(w_rd.loaded)
        w_data = w_rd.data

        # The whole pipeline advances together unless a finished result waits at the output.
        move = ~self.o.valid | self.o.ready
        issue = Signal()
        # Counters with registered end flags: the issue logic starts at flip-flops.
        sf, sf_first, sf_last = wrap_counter(m, sf_n, issue, "sf")
        nf, from_stream, _ = wrap_counter(m, nf_n, issue & sf_last, "nf")
        w_addr, _, _ = wrap_counter(m, sf_n * nf_n, issue, "w_addr")
        m.d.comb += issue.eq(move & (~from_stream | self.i.valid))
        # The weight word is read a cycle after its issue (from a registered address), so
        # that it arrives with the registered input word of stage 1b.
        w_addr1 = Signal.like(w_addr)
        with m.If(move):
            m.d.sync += w_addr1.eq(w_addr)
        m.d.comb += [self.i.ready.eq(move & from_stream), w_rd.addr.eq(w_addr1), w_rd.en.eq(move)]

        # Stage 1: the weight word arrives; the input comes from the stream or the buffer.
        s1_valid, s1_first, s1_last, s1_from_stream = Signal(), Signal(), Signal(), Signal()
        s1_in = Signal(simd * self.in_bits)
        with m.If(move):
            m.d.sync += [
                s1_valid.eq(issue),
                s1_first.eq(sf_first),
                s1_last.eq(sf_last),
                s1_from_stream.eq(from_stream),
                s1_in.eq(self.i.payload),
            ]
        if nf_n > 1:
            # A small input vector is kept in flip-flops so that the block RAMs stay free
            # for weights ("registers" is understood by Yosys and Vivado); a larger one is
            # left to the tools (block or LUT RAM): in flip-flops each bit takes a logic
            # cell of its own, plus an SF-to-1 multiplexer. The read is registered either
            # way, and stage 1b registers it again before the PE rows.
            # At least 2 words: a 1-word memory has a 0-bit address ("[-1:0]" in Verilog).
            # In block RAM: the write (stage 1's word, one issue behind) and an enabled read
            # share an address only when SF is 1 and the issue takes its word from the
            # stream, which then does not use the read.
            attrs = {"ram_style": "registers"} if self.replay_in_registers else NO_COLLISION
            m.submodules.inputs = inputs = Memory(shape=unsigned(simd * self.in_bits),
                                                  depth=memory_depth(sf_n), init=[], attrs=attrs)
            in_wr, in_rd = inputs.write_port(), inputs.read_port()
            m.d.comb += [in_rd.addr.eq(sf), in_rd.en.eq(move)]
            if sf_n >= 2:
                # The word is written from stage 1 (address, data and enable all
                # registers, so the write is off the ready chain; rewriting it while the
                # pipeline stalls changes nothing). Its first replay read is issued SF >= 2
                # issues later, after the write.
                s1_sf = counter(sf_n)
                with m.If(move):
                    m.d.sync += s1_sf.eq(sf)
                m.d.comb += [in_wr.addr.eq(s1_sf), in_wr.data.eq(s1_in),
                             in_wr.en.eq(s1_valid & s1_from_stream)]
            else:
                m.d.comb += [in_wr.addr.eq(sf), in_wr.data.eq(self.i.payload),
                             in_wr.en.eq(issue & from_stream)]
            x1 = Mux(s1_from_stream, s1_in, in_rd.data)
        else:
            x1 = s1_in

        # Stage 1b: the input word registered after the stream/buffer choice (the replay
        # buffer's read register sits far from the PE rows it feeds), the weight word arrives.
        x = Signal(simd * self.in_bits, name="x")
        s1b_tags = [Signal(name=f"s1b_{n}") for n in ("valid", "first", "last")]
        with m.If(move):
            m.d.sync += x.eq(x1)
            m.d.sync += [t.eq(v) for t, v in zip(s1b_tags, (s1_valid, s1_first, s1_last))]

        # Stage 2: per PE row, the element's sum over the SIMD lanes; with more than
        # GROUP lanes, first the sums of groups of GROUP lanes (registered), then their sum.
        element = self.element
        xb = self.in_bits
        groups = [(g, min(self.group, simd - g)) for g in range(0, simd, self.group)]
        tags = s1b_tags
        levels = self.reduction_levels()
        if levels:
            s2a_tags = [Signal(name=f"s2a_{n}") for n in ("valid", "first", "last")]
            # Per group, the input slice and its shared terms serve every PE row.
            slices = [x[g * xb:(g + n) * xb] for g, n in groups]
            shared = [element.shared(m, xs, n) for xs, (g, n) in zip(slices, groups)]
            rows = []
            for p in range(pe):
                w_row = w_data[p * simd * wb:(p + 1) * simd * wb]
                row = []
                for (g, n), xs, sh, (lo, hi) in zip(groups, slices, shared, levels[0]):
                    value = element.row(m, xs, w_row[g * wb:(g + n) * wb], n, sh)
                    reg = Signal(range_shape(lo, hi), name=f"s2a_sum{p}_{g // self.group}")
                    with m.If(move):
                        m.d.sync += reg.eq(value)
                    row.append((reg, lo, hi))
                rows.append(row)
            with m.If(move):
                m.d.sync += [t.eq(v) for t, v in zip(s2a_tags, tags)]
            tags = s2a_tags
            # Further levels: the previous level's sums ``group`` at a time, registered,
            # so that no cycle adds more than ``group`` values (a pipelined adder tree).
            for level, ranges in enumerate(levels[1:], 1):
                level_tags = [Signal(name=f"s2{level}_{n}") for n in ("valid", "first", "last")]
                for p, row in enumerate(rows):
                    reduced = []
                    for k, (lo, hi) in enumerate(ranges):
                        reg = Signal(range_shape(lo, hi), name=f"s2{level}_sum{p}_{k}")
                        with m.If(move):
                            chunk = row[k * self.group:(k + 1) * self.group]
                            m.d.sync += reg.eq(tree_sum(chunk))
                        reduced.append((reg, lo, hi))
                    rows[p] = reduced
                with m.If(move):
                    m.d.sync += [t.eq(v) for t, v in zip(level_tags, tags)]
                tags = level_tags
            partial = [tree_sum(row) for row in rows]
        else:
            shared = element.shared(m, x, simd)
            partial = [element.row(m, x, w_data[p * simd * wb:(p + 1) * simd * wb], simd, shared)
                       for p in range(pe)]
        s2_valid, s2_first, s2_last = Signal(), Signal(), Signal()
        s2_sum = [Signal(self.row_shape, name=f"s2_sum{p}") for p in range(pe)]
        with m.If(move):
            m.d.sync += [s2_valid.eq(tags[0]), s2_first.eq(tags[1]), s2_last.eq(tags[2])]
            m.d.sync += [s2_sum[p].eq(partial[p]) for p in range(pe)]

        # Stage 3: accumulate; the accumulators are the output register.
        with m.If(move):
            m.d.sync += self.o.valid.eq(s2_valid & s2_last)
            with m.If(s2_valid):
                for p in range(pe):
                    acc = self.o.payload[p]
                    m.d.sync += acc.eq(Mux(s2_first, 0, acc) + s2_sum[p])
        return m
