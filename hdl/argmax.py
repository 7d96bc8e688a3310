"""Class decision over a stream of score beats: label and all scores of a vector."""

from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .params import check_positive_int

__all__ = ["Argmax"]


class Argmax(wiring.Component):
    """``label = argmax(scores)``, the lowest index among equal maxima (as :func:`golden.argmax`).

    Takes ``NF = classes/PE`` beats of PE signed scores per vector (class ``nf*PE + p`` in
    lane ``p``) and emits one beat with the label and every score of the vector. Within a
    beat a balanced tree keeps the lower lane on ties; across beats a later beat wins only
    when strictly greater.

    Latency: the result is valid 1 cycle after the vector's last beat is accepted.

    Members
    -------
    i : ``In(stream.Signature(data.ArrayLayout(signed(width), PE)))``
    o : ``Out(stream.Signature(data.StructLayout({"label": unsigned, "scores": ArrayLayout})))``
    """

    def __init__(self, *, classes, pe, width):
        for name, value in (("classes", classes), ("pe", pe), ("width", width)):
            check_positive_int(name, value)
        if classes % pe:
            raise ValueError(f"PE {pe} does not divide the {classes} classes")
        self.classes, self.pe, self.width, self.nf = classes, pe, width, classes // pe
        self.label_width = max(1, (classes - 1).bit_length())
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
        nf = Signal(range(nf_n))
        best = Signal(signed(self.width))
        best_label = Signal(self.label_width)

        move = ~self.o.valid | self.o.ready
        accept = self.i.valid & move
        m.d.comb += self.i.ready.eq(move)

        # Beat maximum: (value, lane) pairs reduced pairwise, the left (lower) one on ties.
        level = [(self.i.payload[p], Const(p, range(max(2, pe)))) for p in range(pe)]
        while len(level) > 1:
            nxt = []
            for k in range(0, len(level) - 1, 2):
                (va, la), (vb, lb) = level[k], level[k + 1]
                take_b = vb > va
                nxt.append((Mux(take_b, vb, va), Mux(take_b, lb, la)))
            if len(level) % 2:
                nxt.append(level[-1])
            level = nxt
        beat_max, beat_lane = level[0]
        beat_label = nf * pe + beat_lane if nf_n > 1 else beat_lane
        new_best = (nf == 0) | (beat_max > best)
        final_best_label = Mux(new_best, beat_label, best_label)

        with m.If(move):
            m.d.sync += self.o.valid.eq(accept & (nf == nf_n - 1))
        with m.If(accept):
            m.d.sync += nf.eq(Mux(nf == nf_n - 1, 0, nf + 1))
            with m.If(new_best):
                m.d.sync += [best.eq(beat_max), best_label.eq(beat_label)]
            for k in range(nf_n):
                with m.If(nf == k):
                    for p in range(pe):
                        m.d.sync += self.o.payload.scores[k * pe + p].eq(self.i.payload[p])
            with m.If(nf == nf_n - 1):
                m.d.sync += self.o.payload.label.eq(final_best_label)
        return m
