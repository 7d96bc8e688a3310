"""Class decision over a stream of score beats: label and all scores of a vector."""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .params import check_positive_int, counter

__all__ = ["Argmax", "argmax_cycles"]


def argmax_cycles(classes, pe):
    """Cycles per vector of the :class:`Argmax`: ``NF = ceil(classes / PE)`` beats, each
    accepted, then scanned two cycles per lane, and the cycle the result is held in its
    output register (no beat is taken while it is)."""
    return -(-classes // pe) * (2 * pe + 1) + 1


class Argmax(wiring.Component):
    """``label = argmax(scores)``, the lowest index among equal maxima (as :func:`golden.argmax`).

    Takes ``NF = ceil(classes/PE)`` beats of PE signed scores per vector (class ``nf*PE + p``
    in lane ``p``; lanes past the last class, a padded layer's, are ignored) and emits one
    beat with the label and every score of the vector. The scores of a beat are stored,
    then scanned one per two cycles against the running maximum (a later class wins only
    when strictly greater): the first cycle registers the comparison, the second loads the
    maximum. The stored beat shifts one lane per scanned score and a counter holds the
    class, so the paths are a comparator between registers and a registered enable,
    whatever the number of classes, where a comparison tree over a whole beat and a PE-to-1
    multiplexer would grow with PE. A vector arrives once per initiation interval, so the
    scan has time.

    Latency: the result is valid ``2*PE`` cycles after the vector's last beat is
    accepted; a beat is accepted every ``2*PE + 1`` cycles at most, and none while the
    result waits in its register: ``NF*(2*PE + 1) + 1`` cycles per vector at the least
    (:attr:`cycles`).

    Members
    -------
    i : ``In(stream.Signature(data.ArrayLayout(signed(width), PE)))``
    o : ``Out(stream.Signature(data.StructLayout({"label": unsigned, "scores": ArrayLayout})))``
    """

    def __init__(self, *, classes, pe, width):
        for name, value in (("classes", classes), ("pe", pe), ("width", width)):
            check_positive_int(name, value)
        self.classes, self.pe, self.width, self.nf = classes, pe, width, -(-classes // pe)
        self.label_width = max(1, (classes - 1).bit_length())
        self.latency = 2 * pe
        self.cycles = argmax_cycles(classes, pe)
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(signed(width), pe))),
            "o": Out(stream.Signature(data.StructLayout({
                "label": unsigned(self.label_width),
                "scores": data.ArrayLayout(signed(width), classes),
            }))),
        })

    def elaborate(self, platform):
        m = Module()
        pe, nf_n = self.pe, self.nf
        nf = counter(nf_n)
        lane = counter(pe)                  # lanes of the stored beat scanned
        scanning = Signal()
        # The stored beat shifts down one lane per scanned score, so the score under
        # scan is always beat[0] (no PE-to-1 multiplexer in front of the comparator); its
        # class is a counter, and whether it is the first class or a real one (not a
        # padded lane) are flags set a cycle ahead: the maximum's enable is the
        # comparator's carry chain and one LUT.
        beat = [Signal(signed(self.width), name=f"beat{p}") for p in range(pe)]
        label = Signal(range(nf_n * pe + 1))
        first = Signal(init=1)              # label == 0
        real = Signal(init=1)               # label < classes
        best = Signal(signed(self.width))
        best_label = Signal(self.label_width)
        m.d.comb += self.i.ready.eq(~scanning & ~self.o.valid)
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [b.eq(self.i.payload[p]) for p, b in enumerate(beat)]
            m.d.sync += scanning.eq(1)
            for k in range(nf_n):
                with m.If(nf == k):
                    for p in range(min(pe, self.classes - k * pe)):
                        m.d.sync += self.o.payload.scores[k * pe + p].eq(self.i.payload[p])
        # Phase 0 registers the comparison, phase 1 acts on it.
        phase, gt = Signal(), Signal()
        with m.If(scanning & ~phase):
            m.d.sync += [gt.eq(first | ((beat[0] > best) & real)), phase.eq(1)]
        with m.If(scanning & phase):
            m.d.sync += phase.eq(0)
            with m.If(gt):
                m.d.sync += [best.eq(beat[0]), best_label.eq(label)]
            m.d.sync += [b.eq(n) for b, n in zip(beat, beat[1:])]
            m.d.sync += [label.eq(label + 1), first.eq(0), real.eq(label < self.classes - 1),
                         lane.eq(lane + 1)]
            with m.If(lane == pe - 1):
                m.d.sync += [scanning.eq(0), lane.eq(0), nf.eq(Mux(nf == nf_n - 1, 0, nf + 1))]
                with m.If(nf == nf_n - 1):
                    m.d.sync += [self.o.valid.eq(1), label.eq(0), first.eq(1), real.eq(1),
                                 self.o.payload.label.eq(Mux(gt, label, best_label))]
        return m
