"""Folded matrix-vector unit (MVAU) for binary layers: XNOR-popcount in SIMD x PE lanes."""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.packing import signed_width, unsigned_width

from .popcount import popcount, tree_sum

__all__ = ["MatrixVectorUnit", "check_positive_int"]


def check_positive_int(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise TypeError(f"{name} must be a positive integer, not {value!r}")


class MatrixVectorUnit(wiring.Component):
    """Binary-weight matrix-vector accumulate, folded FINN-style.

    With binary inputs (``in_bits`` = 1) it computes for every input vector ``x`` (MW bits)
    the MH accumulators::

        acc[j] = sum_i XNOR(x[i], w[j, i])      in [0, MW], unsigned_width(MW) bits

    With integer codes ``c`` in ``[0, in_top]`` of ``in_bits`` bits (multi-bit activations)
    it flips signs instead of multiplying::

        acc[j] = sum_i w[j, i] * c[i] = 2 * sum_{i: w=+1} c[i] - sum_i c[i]

    in ``[-MW*in_top, MW*in_top]``, two's complement of the smallest width holding that
    range. Per beat the masked sums per PE and the code sum (shared by all PEs) are adder
    trees whose partial sums are sized from their bounds. An activation offset
    (value = code + offset) is a per-neuron constant folded downstream
    (:func:`golden.packing.hw_accumulator`).

    ``SIMD`` synapses of ``PE`` neurons per cycle: a vector arrives as ``SF = MW/SIMD``
    beats of SIMD bits (synapse ``sf*SIMD + s`` in bit ``s`` of beat ``sf``) and leaves as
    ``NF = MH/PE`` beats of PE accumulators (neuron ``nf*PE + p`` in lane ``p`` of beat
    ``nf``); with integer codes, synapse ``s`` of a beat is bits ``[s*in_bits, (s+1)*in_bits)``. The first neuron fold takes the input from the stream and stores it; folds
    1..NF-1 replay it from that buffer, so the unit accepts the next vector only after
    ``SF*NF`` cycles (FINN's cycle count). The accumulators are
    ``unsigned_width(MW)`` bits wide, the smallest that holds MW.

    Latency: the accumulators of a neuron fold are valid 3 cycles after the cycle the
    fold's last input beat was issued (memory read, XNOR-popcount, accumulate). With no
    backpressure, N vectors take ``N*SF*NF`` issue cycles.

    Parameters
    ----------
    mw, mh, simd, pe : int
        Matrix width (fan-in), height (neurons), synapse and neuron parallelism.
        ``simd`` must divide ``mw`` and ``pe`` must divide ``mh``.
    weight_words : list of int
        ``NF*SF`` words of ``PE*SIMD`` bits from :func:`golden.packing.weight_words`.

    in_bits, in_top : int, optional
        Input code width (1: binary inputs) and largest code (default ``2**in_bits - 1``).

    Members
    -------
    i : ``In(stream.Signature(SIMD * in_bits))``
        Input bits or codes.
    o : ``Out(stream.Signature(data.ArrayLayout(unsigned(acc_width), PE)))``
        Accumulators.
    """

    def __init__(self, *, mw, mh, simd, pe, weight_words, in_bits=1, in_top=None):
        for name, value in (("mw", mw), ("mh", mh), ("simd", simd), ("pe", pe),
                            ("in_bits", in_bits)):
            check_positive_int(name, value)
        if mw % simd:
            raise ValueError(f"SIMD {simd} does not divide MW {mw}; choose a divisor of {mw}")
        if mh % pe:
            raise ValueError(f"PE {pe} does not divide MH {mh}; choose a divisor of {mh}")
        self.mw, self.mh, self.simd, self.pe = mw, mh, simd, pe
        self.sf, self.nf = mw // simd, mh // pe
        if len(weight_words) != self.sf * self.nf:
            raise ValueError(f"expected {self.sf * self.nf} weight words (NF*SF), "
                             f"got {len(weight_words)}")
        if any(not 0 <= w < 1 << (pe * simd) for w in weight_words):
            raise ValueError(f"weight words must be unsigned {pe * simd}-bit integers")
        self.weight_words = list(weight_words)
        self.in_bits = in_bits
        self.in_top = (1 << in_bits) - 1 if in_top is None else in_top
        if not isinstance(self.in_top, int) or not 1 <= self.in_top < 1 << in_bits:
            raise ValueError(f"in_top must be an integer in [1, {(1 << in_bits) - 1}], "
                             f"not {in_top!r}")
        if in_bits == 1:
            self.acc_lo, self.acc_hi = 0, mw
            self.acc_width = unsigned_width(mw)
            acc_shape = unsigned(self.acc_width)
        else:
            self.acc_lo, self.acc_hi = -mw * self.in_top, mw * self.in_top
            self.acc_width = signed_width(self.acc_lo, self.acc_hi)
            acc_shape = signed(self.acc_width)
        super().__init__({
            "i": In(stream.Signature(simd * in_bits)),
            "o": Out(stream.Signature(data.ArrayLayout(acc_shape, pe))),
        })

    def elaborate(self, platform):
        m = Module()
        sf_n, nf_n, simd, pe = self.sf, self.nf, self.simd, self.pe

        m.submodules.weights = weights = Memory(
            shape=unsigned(pe * simd), depth=sf_n * nf_n, init=self.weight_words)
        w_rd = weights.read_port()

        sf = Signal(range(sf_n))
        nf = Signal(range(nf_n))
        w_addr = Signal(range(sf_n * nf_n))

        # The whole pipeline advances together unless a finished result waits at the output.
        move = ~self.o.valid | self.o.ready
        from_stream = nf == 0
        issue = move & (~from_stream | self.i.valid)
        m.d.comb += [
            self.i.ready.eq(move & from_stream),
            w_rd.addr.eq(w_addr),
            w_rd.en.eq(move),
        ]

        with m.If(issue):
            m.d.sync += w_addr.eq(Mux(w_addr == sf_n * nf_n - 1, 0, w_addr + 1))
            m.d.sync += sf.eq(Mux(sf == sf_n - 1, 0, sf + 1))
            with m.If(sf == sf_n - 1):
                m.d.sync += nf.eq(Mux(nf == nf_n - 1, 0, nf + 1))

        # Stage 1: the weight word arrives; the input comes from the stream or the buffer.
        s1_valid, s1_first, s1_last, s1_from_stream = Signal(), Signal(), Signal(), Signal()
        s1_in = Signal(simd * self.in_bits)
        with m.If(move):
            m.d.sync += [
                s1_valid.eq(issue),
                s1_first.eq(sf == 0),
                s1_last.eq(sf == sf_n - 1),
                s1_from_stream.eq(from_stream),
                s1_in.eq(self.i.payload),
            ]
        if nf_n > 1:
            m.submodules.inputs = inputs = Memory(shape=unsigned(simd * self.in_bits),
                                                  depth=sf_n, init=[])
            in_wr, in_rd = inputs.write_port(), inputs.read_port()
            m.d.comb += [
                in_wr.addr.eq(sf), in_wr.data.eq(self.i.payload), in_wr.en.eq(issue & from_stream),
                in_rd.addr.eq(sf), in_rd.en.eq(move),
            ]
            x = Mux(s1_from_stream, s1_in, in_rd.data)
        else:
            x = s1_in

        # Stage 2: per PE row, XNOR-popcount or the sign-flipped sum of the codes.
        s2_valid, s2_first, s2_last = Signal(), Signal(), Signal()
        b, top = self.in_bits, self.in_top
        if b == 1:
            s2_pop = [Signal(unsigned_width(simd), name=f"s2_pop{p}") for p in range(pe)]
        else:
            s2_pop = [Signal(signed(signed_width(-simd * top, simd * top)), name=f"s2_pop{p}")
                      for p in range(pe)]
            codes = [x[s * b:(s + 1) * b] for s in range(simd)]
            code_sum = tree_sum([(c, top) for c in codes])
        with m.If(move):
            m.d.sync += [s2_valid.eq(s1_valid), s2_first.eq(s1_first), s2_last.eq(s1_last)]
            for p in range(pe):
                w = w_rd.data[p * simd:(p + 1) * simd]
                if b == 1:
                    m.d.sync += s2_pop[p].eq(popcount(~(x ^ w)))
                else:
                    kept = tree_sum([(Mux(w[s], codes[s], 0), top) for s in range(simd)])
                    m.d.sync += s2_pop[p].eq((kept << 1) - code_sum)

        # Stage 3: accumulate; the accumulators are the output register.
        with m.If(move):
            m.d.sync += self.o.valid.eq(s2_valid & s2_last)
            with m.If(s2_valid):
                for p in range(pe):
                    acc = self.o.payload[p]
                    m.d.sync += acc.eq(Mux(s2_first, 0, acc) + s2_pop[p])
        return m
