"""Skeleton of a per-channel activation stage: one parameter word per neuron fold."""

from amaranth.hdl import Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .params import check_positive_int, counter, memory_depth

__all__ = ["ChannelwiseUnit"]


class ChannelwiseUnit(wiring.Component):
    """Applies ``y[p] = lane(acc[p], param[nf][p])`` to a stream of PE-lane beats.

    Beat ``k`` of a vector is neuron fold ``nf = k mod NF``; the PE parameters of that
    fold are one word of a read-only memory of NF words. Subclasses define the lane
    function by overriding :meth:`lane`.

    Latency (:attr:`latency`): 2 cycles from an accepted input beat to the valid output
    beat (memory read, lane function into the output register); 1 when there is one neuron
    fold (``PE`` = channels): its parameters are constants folded into the lane logic, with
    no memory and no input register. One beat per cycle without backpressure.

    Handshakes: when the producer offers a beat at most every ``interval`` cycles (a
    matrix-vector unit: every SF cycles) and ``interval >= latency + 1``, ``i.ready`` is a
    flip-flop: one beat at a time is in the unit, from its acceptance until the output
    register hands it on (:attr:`registered_ready`), which costs no throughput at that
    interval. The downstream ``o.ready`` then ends at that flip-flop instead of running
    on through this unit into the producer's pipeline (the matrix-vector unit's fold
    counters). Otherwise the
    pipeline stalls as a whole and ``i.ready`` passes ``o.ready`` through logic.

    Members
    -------
    i : ``In(stream.Signature(data.ArrayLayout(in_shape, PE)))``
    o : ``Out(stream.Signature(data.ArrayLayout(out_shape, PE)))``
    """

    def __init__(self, *, channels, pe, in_shape, out_shape, param_width, param_words,
                 interval=1):
        check_positive_int("channels", channels)
        check_positive_int("pe", pe)
        check_positive_int("interval", interval)
        if channels % pe:
            raise ValueError(f"PE {pe} does not divide the {channels} channels; "
                             f"choose a divisor of {channels}")
        self.channels, self.pe, self.nf = channels, pe, channels // pe
        if len(param_words) != self.nf:
            raise ValueError(f"expected {self.nf} parameter words (one per neuron fold), "
                             f"got {len(param_words)}")
        if any(not 0 <= w < 1 << (param_width * pe) for w in param_words):
            raise ValueError(f"parameter words must be unsigned {param_width * pe}-bit integers")
        self.param_width = param_width
        self.param_words = list(param_words)
        self.latency = 1 if self.nf == 1 else 2
        self.interval = interval
        #: ``i.ready`` is a flip-flop (one beat in the unit at a time), see above.
        self.registered_ready = interval >= self.latency + 1
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(in_shape, pe))),
            "o": Out(stream.Signature(data.ArrayLayout(out_shape, pe))),
        })

    def lane(self, acc, param):
        """Return the output expression of one lane from its input and parameter bits."""
        raise NotImplementedError

    def elaborate(self, platform):
        m = Module()
        if self.registered_ready:
            # ``busy`` from an accepted beat until its result leaves the output register:
            # nothing is ever overwritten, so the stages need no stall enable.
            busy = Signal()
            accept = self.i.valid & ~busy
            m.d.comb += self.i.ready.eq(~busy)
            leave = self.o.valid & self.o.ready
            m.d.sync += busy.eq(Mux(busy, ~leave, accept))
            with m.If(leave):
                m.d.sync += self.o.valid.eq(0)
            move = Const(1)
        else:
            move = ~self.o.valid | self.o.ready
            accept = self.i.valid & move
            m.d.comb += self.i.ready.eq(move)
        if self.nf == 1:
            # Constant parameters: compares and adds against constants are cheaper than
            # against a memory word, and there is nothing to read: the lanes take the
            # input directly.
            params = Const(self.param_words[0], self.param_width * self.pe)
            valid, lanes_in = accept, self.i.payload
        else:
            # At least two words: a one-word memory would have a zero-width address.
            m.submodules.params = memory = Memory(
                shape=unsigned(self.param_width * self.pe), depth=memory_depth(self.nf),
                init=self.param_words)
            rd = memory.read_port()
            nf = counter(self.nf)
            m.d.comb += [rd.addr.eq(nf), rd.en.eq(move)]
            with m.If(accept):
                m.d.sync += nf.eq(Mux(nf == self.nf - 1, 0, nf + 1))
            # Stage 1 holds the input while the parameter word is read.
            valid = Signal(name="s1_valid")
            lanes_in = Signal.like(self.i.payload, name="s1_in")
            with m.If(move):
                m.d.sync += [valid.eq(accept), lanes_in.eq(self.i.payload)]
            params = rd.data
        lanes = [self.o.payload[p].eq(self.lane(lanes_in[p],
                                                 params[p * self.param_width:
                                                        (p + 1) * self.param_width]))
                 for p in range(self.pe)]
        if self.registered_ready:
            with m.If(valid):
                m.d.sync += [self.o.valid.eq(1)] + lanes
        else:
            with m.If(move):
                m.d.sync += [self.o.valid.eq(valid)] + lanes
        return m
