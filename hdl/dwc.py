"""Stream data-width converter between the PE lanes of one layer and the SIMD of the next."""

from math import lcm

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .params import check_code, check_positive_int, counter, wrap_counter

__all__ = ["WidthConverter", "PadGather"]


class WidthConverter(wiring.Component):
    """Re-chunks a stream of bits: ``in_width``-bit beats to ``out_width``-bit beats.

    Bit order is kept: the first input beat's bit 0 is the first output beat's bit 0. When
    one width divides the other, beats are gathered (narrow to wide) or split (wide to
    narrow); otherwise the stream is gathered to ``lcm(in_width, out_width)`` bits and split.
    The number of bits per vector must be a multiple of both widths, or of the lcm in the
    general case (the network builder checks this).

    Latency: an output beat is valid 1 cycle after the input beat that completes it is
    accepted (gather), or 1 cycle after the wide beat is accepted (split); throughput is
    one beat per cycle on the wider side.
    """

    def __init__(self, in_width, out_width):
        check_positive_int("in_width", in_width)
        check_positive_int("out_width", out_width)
        self.in_width, self.out_width = in_width, out_width
        super().__init__({
            "i": In(stream.Signature(in_width)),
            "o": Out(stream.Signature(out_width)),
        })

    def elaborate(self, platform):
        m = Module()
        a, b = self.in_width, self.out_width
        if a == b:
            wiring.connect(m, wiring.flipped(self.i), wiring.flipped(self.o))
        elif b % a == 0:
            self._gather(m, b // a)
        elif a % b == 0:
            self._split(m, a // b)
        else:
            m.submodules.gather = gather = WidthConverter(a, lcm(a, b))
            m.submodules.split = split = WidthConverter(lcm(a, b), b)
            wiring.connect(m, wiring.flipped(self.i), gather.i)
            wiring.connect(m, gather.o, split.i)
            wiring.connect(m, split.o, wiring.flipped(self.o))
        return m

    def _gather(self, m, k):
        a = self.in_width
        # The slot counter and ``full`` (= o.valid) are registers with registered end
        # flags: the handshake logic starts at flip-flops.
        full = Signal()
        m.d.comb += self.o.valid.eq(full)
        take = full & self.o.ready
        m.d.comb += self.i.ready.eq(~full | self.o.ready)
        accept = self.i.valid & self.i.ready
        slot, _, slot_last = wrap_counter(m, k, accept, "slot")
        with m.If(accept):
            for j in range(k):
                with m.If(slot == j):
                    m.d.sync += self.o.payload[j * a:(j + 1) * a].eq(self.i.payload)
        m.d.sync += full.eq(Mux(accept & slot_last, 1, full & ~take))

    def _split(self, m, k):
        b = self.out_width
        word = Signal(self.in_width)
        have = Signal()
        m.d.comb += self.o.valid.eq(have)
        take = self.o.valid & self.o.ready
        index, _, index_last = wrap_counter(m, k, take, "index")
        m.d.comb += self.o.payload.eq(word.word_select(index, b))
        last = take & index_last
        m.d.comb += self.i.ready.eq(~have | last)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [word.eq(self.i.payload), have.eq(1)]
        with m.Elif(last):
            m.d.sync += have.eq(0)


class PadGather(wiring.Component):
    """Gathers vectors of ``length`` codes, ``in_lanes`` per beat, into beats of
    ``out_lanes`` codes, filling the last beat of each vector with ``pad_code``.

    ``in_lanes`` must divide both ``length`` and ``out_lanes``. Per vector it takes
    ``length/in_lanes`` beats and emits ``ceil(length/out_lanes)`` beats; code ``k`` of the
    vector goes to lane ``k mod out_lanes`` of beat ``k // out_lanes``, lanes past the end
    of the vector hold ``pad_code`` (:mod:`golden.padding`: the layer's padded weights
    make them add a known constant that its thresholds absorb).

    Latency: an output beat is valid 1 cycle after the input beat that completes it (the
    vector's last beat completes the padded one); one input beat per cycle.
    """

    def __init__(self, *, in_lanes, out_lanes, bits, length, pad_code=0):
        for name, value in (("in_lanes", in_lanes), ("out_lanes", out_lanes), ("bits", bits),
                            ("length", length)):
            check_positive_int(name, value)
        if out_lanes % in_lanes or length % in_lanes:
            raise ValueError(f"{in_lanes} input lanes must divide the {out_lanes} output lanes "
                             f"and the vector of {length}")
        check_code("pad code", pad_code, bits)
        self.in_lanes, self.out_lanes, self.bits = in_lanes, out_lanes, bits
        self.length, self.pad_code = length, pad_code
        self.in_beats = length // in_lanes
        self.out_beats = -(-length // out_lanes)
        super().__init__({
            "i": In(stream.Signature(in_lanes * bits)),
            "o": Out(stream.Signature(out_lanes * bits)),
        })

    def elaborate(self, platform):
        m = Module()
        a = self.in_lanes * self.bits
        k = self.out_lanes // self.in_lanes
        pad = sum(self.pad_code << (lane * self.bits) for lane in range(self.in_lanes))
        count = Signal(range(k + 1))            # slots filled in the beat being gathered
        beat = counter(self.in_beats)           # input beat within the vector
        full = Signal()
        m.d.comb += self.o.valid.eq(full)
        take = self.o.valid & self.o.ready
        m.d.comb += self.i.ready.eq(~self.o.valid | self.o.ready)
        accept = self.i.valid & self.i.ready
        slot = Mux(full, 0, count)
        last = beat == self.in_beats - 1
        with m.If(accept):
            for j in range(k):
                with m.If(slot == j):
                    m.d.sync += self.o.payload[j * a:(j + 1) * a].eq(self.i.payload)
                with m.Elif(last & (slot < j)):
                    # The vector ends in this beat: the slots after it are padding.
                    m.d.sync += self.o.payload[j * a:(j + 1) * a].eq(pad)
            m.d.sync += [count.eq(slot + 1), full.eq(last | (slot == k - 1)),
                         beat.eq(Mux(last, 0, beat + 1))]
        with m.Elif(take):
            m.d.sync += [count.eq(0), full.eq(0)]
        return m
