"""Pooling: the maximum or the sum over window positions (after a sliding window, and
global pooling), and the non-overlapping ``K x K``, stride ``K`` max-pool straight from
the map stream."""

from amaranth.hdl import Cat, Module, Mux, Signal, Value, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.packing import unsigned_width

from .params import NO_COLLISION, check_positive_int, counter, memory_depth, wrap_counter

__all__ = ["LineMaxPool", "WindowMax", "WindowSum", "lane_max"]


def lane_max(a, b, simd, bits):
    """Lane by lane the larger of two beats of ``simd`` codes of ``bits`` bits (on bits:
    the bitwise OR). Codes order like their values (:mod:`golden.pool`)."""
    if bits == 1:
        return a | b
    lanes = []
    for s in range(simd):
        x, y = a[s * bits:(s + 1) * bits], b[s * bits:(s + 1) * bits]
        lanes.append(Mux(x >= y, x, y))
    return Cat(*lanes)


class _WindowReduce(wiring.Component):
    """Per channel, a reduction over ``positions`` consecutive groups of ``CF = C/SIMD``
    beats (position outer, channel fold inner): the partial results of the ``CF`` channel
    folds circulate in a shift register of ``CF`` words; the last position's beats leave
    as they arrive. Latency 1 cycle; one beat per cycle. A subclass gives
    :meth:`combine` and the output word's width (``word``)."""

    def __init__(self, channels, simd, bits, positions, word, out_shape):
        if channels % simd:
            raise ValueError(f"SIMD {simd} does not divide the {channels} channels")
        self.channels, self.simd, self.bits, self.positions = channels, simd, bits, positions
        self.cf = channels // simd
        self.word = word
        super().__init__({
            "i": In(stream.Signature(simd * bits)),
            "o": Out(stream.Signature(out_shape)),
        })

    def combine(self, payload, head, first):
        """The next partial word of a beat: ``payload`` folded into ``head`` (the channel
        fold's partial word), or ``payload`` alone at the ``first`` position."""
        raise NotImplementedError

    def elaborate(self, platform):
        m = Module()
        width = self.word
        ring = [Signal(width, name=f"partial{k}") for k in range(self.cf)]
        c = counter(self.cf)
        pos = counter(self.positions)
        head = ring[0]
        value = Signal(width)
        m.d.comb += value.eq(self.combine(self.i.payload, head, pos == 0))

        move = ~self.o.valid | self.o.ready
        accept = self.i.valid & move
        m.d.comb += self.i.ready.eq(move)
        last = pos == self.positions - 1
        with m.If(move):
            m.d.sync += self.o.valid.eq(accept & last)
        with m.If(accept):
            m.d.sync += [ring[k].eq(ring[k + 1]) for k in range(self.cf - 1)]
            m.d.sync += ring[-1].eq(value)
            with m.If(last):
                m.d.sync += Value.cast(self.o.payload).eq(value)
            m.d.sync += c.eq(Mux(c == self.cf - 1, 0, c + 1))
            with m.If(c == self.cf - 1):
                m.d.sync += pos.eq(Mux(last, 0, pos + 1))
        return m


class WindowMax(_WindowReduce):
    """Per channel, the largest code over ``positions`` consecutive groups of beats.

    Input: per output pixel ``positions`` groups of ``CF = C/SIMD`` beats (position outer,
    channel fold inner): a :class:`~hdl.window.SlidingWindow`'s windows (``K*K``
    positions) for max-pooling, or a whole map (``H*W`` positions) for global pooling.
    Output: per output pixel ``CF`` beats holding, lane by lane, the maximum code; on bits
    (``bits == 1``) the bitwise OR. Codes order like their values
    (:mod:`golden.pool`), so this is the max-pool of the values.

    The partial maxima circulate in a shift register of ``CF`` words (``C*bits``
    flip-flops). Latency 1 cycle; one beat per cycle.

    Parameters
    ----------
    channels, simd, bits, positions : int
    """

    def __init__(self, *, channels, simd, bits, positions):
        for name, value in (("channels", channels), ("simd", simd), ("bits", bits),
                            ("positions", positions)):
            check_positive_int(name, value)
        super().__init__(channels, simd, bits, positions, simd * bits, simd * bits)

    def lane_max(self, a, b):
        return lane_max(a, b, self.simd, self.bits)

    def combine(self, payload, head, first):
        return Mux(first, payload, self.lane_max(payload, head))


class WindowSum(_WindowReduce):
    """Per channel, the sum of the codes over ``positions`` consecutive groups of beats.

    Input: as :class:`WindowMax`. Output: per output pixel ``CF`` beats of ``SIMD``
    unsigned sums of ``unsigned_width(positions * top)`` bits (``top``: the largest code,
    1 on bits), an ``ArrayLayout`` a :class:`~hdl.thresholding.Thresholding` reads like
    accumulators (:class:`golden.pool.SumPool`). The partial sums circulate in a shift
    register of ``CF`` words. Latency 1 cycle; one beat per cycle.

    Parameters
    ----------
    channels, simd, bits, positions, top : int
    """

    def __init__(self, *, channels, simd, bits, positions, top):
        for name, value in (("channels", channels), ("simd", simd), ("bits", bits),
                            ("positions", positions), ("top", top)):
            check_positive_int(name, value)
        if top >= 1 << bits:
            raise ValueError(f"top code {top} does not fit {bits} bits")
        self.sum_width = unsigned_width(positions * top)
        super().__init__(channels, simd, bits, positions, simd * self.sum_width,
                         data.ArrayLayout(unsigned(self.sum_width), simd))

    def combine(self, payload, head, first):
        sw, b = self.sum_width, self.bits
        # Each lane's running sum stays within [0, positions * top]: sw bits hold it.
        return Cat(*((payload[lane * b:(lane + 1) * b]
                      + Mux(first, 0, head[lane * sw:(lane + 1) * sw]))[:sw]
                     for lane in range(self.simd)))


class LineMaxPool(wiring.Component):
    """``K x K`` max-pool with stride ``K`` on a streamed map, without a sliding window.

    Input: per map ``H*W*CF`` beats of ``SIMD`` codes (``CF = C/SIMD``) in ``(y, x, cf)``
    order, as a layer emits them; ``K`` divides ``H`` and ``W``. Output: per map
    ``(H/K)*(W/K)*CF`` beats in ``(oy, ox, cf)`` order, lane by lane
    ``max_{ky, kx < K} x[oy*K + ky, ox*K + kx]`` (:class:`golden.pool.MaxPool` with
    ``S = K``): the same stream as a :class:`~hdl.window.SlidingWindow` and a
    :class:`WindowMax`, from one line of partial maxima instead of a ring of ``2K`` rows,
    and with no window address logic.

    Every input pixel belongs to exactly one window, so the pool needs one pass: the
    maxima along a window row's ``K`` pixels circulate in a shift register of ``CF`` words
    (``C*bits`` flip-flops); at a window row's last pixel that maximum is combined with the
    line memory's word for ``(ox, cf)`` (``OW*CF`` words of ``SIMD*bits`` bits: block RAM)
    and written back, or, in a window's last row, sent. The line memory is read at the
    address of the next combination by each combination, and its read register holds
    the word until then (when ``OW*CF`` is 1 the word read is the one being written: a
    transparent read).

    Latency 1 cycle; one beat per cycle.

    Parameters
    ----------
    height, width, channels, simd, bits, kernel : int
        The map ``(H, W, C)``, codes per beat, bits per code, ``K >= 2``.
    """

    def __init__(self, *, height, width, channels, simd, bits, kernel):
        for name, value in (("height", height), ("width", width), ("channels", channels),
                            ("simd", simd), ("bits", bits), ("kernel", kernel)):
            check_positive_int(name, value)
        if channels % simd:
            raise ValueError(f"SIMD {simd} does not divide the {channels} channels")
        if kernel < 2:
            raise ValueError(f"a {kernel}x{kernel} pool is the identity; the line pool needs "
                             f"K >= 2")
        if height % kernel or width % kernel:
            raise ValueError(f"the {kernel}x{kernel} stride-{kernel} pool does not tile the "
                             f"{height}x{width} map; K must divide H and W")
        self.height, self.width, self.channels = height, width, channels
        self.simd, self.bits, self.kernel = simd, bits, kernel
        self.cf = channels // simd
        self.out_height, self.out_width = height // kernel, width // kernel
        self.line_words = self.out_width * self.cf
        super().__init__({
            "i": In(stream.Signature(simd * bits)),
            "o": Out(stream.Signature(simd * bits)),
        })

    @property
    def memories(self):
        """``[(width, depth)]`` of the line memory (at least two words: a one-word memory
        would have a zero-width address)."""
        return [(self.simd * self.bits, memory_depth(self.line_words))]

    def elaborate(self, platform):
        m = Module()
        k, cf, words = self.kernel, self.cf, self.line_words
        width = self.simd * self.bits

        def vmax(a, b):
            return lane_max(a, b, self.simd, self.bits)

        (_, depth), = self.memories
        # With two words or more the read (the next combination's word) and the write
        # (this one's) never share an address.
        m.submodules.line = line = Memory(shape=unsigned(width), depth=depth, init=[],
                                          attrs=NO_COLLISION if words > 1 else None)
        wr = line.write_port()
        # One word: it is read back by the combination that writes it (transparent read).
        rd = line.read_port(transparent_for=(wr,) if words == 1 else ())
        ring = [Signal(width, name=f"row_max{j}") for j in range(cf)]
        move = ~self.o.valid | self.o.ready
        accept = self.i.valid & move
        combine = Signal()
        # Counters with registered end flags (the handshake logic starts at flip-flops).
        _, _, c_last = wrap_counter(m, cf, accept, "c")
        _, kx_first, kx_last = wrap_counter(m, k, accept & c_last, "kx")
        addr, _, addr_last = wrap_counter(m, words, combine, "addr")
        _, ky_first, ky_last = wrap_counter(m, k, combine & addr_last, "ky")
        m.d.comb += [self.i.ready.eq(move), combine.eq(accept & kx_last)]
        row_max = Signal(width)         # the window row's maximum up to this pixel
        m.d.comb += row_max.eq(Mux(kx_first, self.i.payload, vmax(self.i.payload, ring[0])))
        value = Signal(width)
        m.d.comb += value.eq(Mux(ky_first, row_max, vmax(row_max, rd.data)))
        m.d.comb += [
            # Each combination reads the next one's word; the read register holds it until
            # then (the handshake only enables the read, no address multiplexer after it).
            rd.addr.eq(Mux(addr_last, 0, addr + 1)), rd.en.eq(combine),
            wr.addr.eq(addr), wr.data.eq(value), wr.en.eq(combine & ~ky_last),
        ]
        with m.If(move):
            m.d.sync += self.o.valid.eq(combine & ky_last)
        with m.If(accept):
            m.d.sync += [ring[j].eq(ring[j + 1]) for j in range(cf - 1)]
            m.d.sync += ring[-1].eq(row_max)
        with m.If(combine):
            m.d.sync += self.o.payload.eq(value)
        return m
