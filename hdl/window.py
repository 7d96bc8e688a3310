"""Sliding-window generator: a map stream in, its im2col windows out, from row buffers."""

from types import SimpleNamespace

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.conv import window_simd_choices

from .params import (
    NO_COLLISION,
    check_code,
    check_positive_int,
    counter,
    memory_depth,
    wrap_counter,
)

__all__ = ["SlidingWindow", "SkipUnread", "PadEdge", "window_rows"]


def window_rows(height, kernel, stride):
    """Rows of the ring buffer: a window's ``K`` rows plus ``K`` rows the writer may fill
    ahead (``S <= K``), but never more than the map's ``H`` rows. ``S`` rows ahead are
    enough within a map; ``K`` let the next map's first ``K`` rows arrive while the last
    output row of the current one is read, so a window that is the bottleneck's feeder
    does not pause at every map boundary (it did: 87 cycles per image in the default
    model's first convolution)."""
    return min(2 * kernel, height)


class SlidingWindow(wiring.Component):
    """Turns a stream of ``(H, W, C)`` maps into their ``K x K`` windows (im2col).

    Input: per map ``H*W*CF`` beats of ``in_simd`` channel codes (``CF = C/in_simd``), in
    ``(y, x, cf)`` order: channel ``cf*in_simd + s`` of pixel ``(y, x)`` in bits
    ``[s*bits, (s+1)*bits)``. Output: per map ``OH*OW`` windows of ``K*K*C/SIMD`` beats of
    ``SIMD`` codes, ``OH = (H + 2P - K)//S + 1``; a window position outside the map reads
    ``pad_value`` in every lane. The codes of a window come in the order
    :func:`golden.conv.window_order` gives:

    * ``SIMD`` divides ``C`` (``in_simd = SIMD``): beats in ``(ky, kx, cf)`` order,
      :func:`golden.conv.im2col`'s column order;
    * ``SIMD = T*C`` with ``T`` dividing ``K`` (``in_simd = C``, taps mode): each beat holds
      ``T`` kernel rows of one kernel column, beats in ``(ky // T, kx)`` order, lane
      ``j*C + c`` the channel ``c`` of tap ``(ky + j, kx)``. A first layer with few
      channels (RGB: 3) then reads ``T`` times as many codes per cycle.

    The rows live in a ring of ``R`` rows (:func:`window_rows`): one memory of ``R`` rows
    of ``W*CF`` words (:attr:`row_stride` apart) of ``SIMD*bits`` bits, or in taps mode
    ``R`` memories (one per ring row) of ``W`` pixels, all read at the same column, lane
    ``j`` taking the row its tap needs (one memory of ``W`` column words holding all ``R``
    rows when a row holds at most :attr:`TRANSPOSE_ROW_BITS` bits: :attr:`transposed`).
    The writer takes a row when the ring has a free row; the reader emits output row
    ``oy`` once the map's rows up to ``oy*S - P + K - 1`` (all ``H`` rows for the last
    output row, so that every row is released) are in, and releases the rows no later
    window needs. A map can start streaming in while the previous one's last windows are
    read.

    Latency: an output beat is valid 1 cycle after it is issued; a row counts as present
    from the second cycle after its last word is taken. With its rows present and
    no backpressure the generator emits one beat per cycle, ``OH*OW*K*K*C/SIMD`` per map.

    Parameters
    ----------
    height, width, channels : int
        The input map ``(H, W, C)``.
    simd : int
        Codes per output beat: a divisor of ``channels``, or ``T*channels`` with ``T`` a
        divisor of ``kernel``.
    bits : int
        Bits per channel code (1 for binary maps).
    kernel, stride, pad : int
        ``K``, ``S`` (``S <= K``) and ``P`` (``P < K``, on every side).
    pad_value : int
        The code read outside the map.
    """

    def __init__(self, *, height, width, channels, simd, bits, kernel, stride=1, pad=0,
                 pad_value=0):
        for name, value in (("height", height), ("width", width), ("channels", channels),
                            ("simd", simd), ("bits", bits), ("kernel", kernel),
                            ("stride", stride)):
            check_positive_int(name, value)
        if simd not in window_simd_choices(kernel, channels):
            raise ValueError(f"SIMD {simd} is neither a divisor of the {channels} channels nor "
                             f"{channels} times a divisor of the kernel {kernel}; choose one of "
                             f"{window_simd_choices(kernel, channels)}")
        if stride > kernel:
            raise ValueError(f"stride {stride} is larger than the {kernel}x{kernel} kernel; "
                             f"rows between windows would be skipped (not supported)")
        if not isinstance(pad, int) or not 0 <= pad < kernel:
            raise ValueError(f"padding must be an integer in [0, {kernel}), not {pad!r}")
        if min(height, width) + 2 * pad < kernel:
            raise ValueError(f"the {kernel}x{kernel} kernel does not fit a {height}x{width} "
                             f"map with padding {pad}")
        check_code("pad value", pad_value, bits)
        self.height, self.width, self.channels = height, width, channels
        self.simd, self.bits = simd, bits
        self.taps = simd // channels if simd > channels else 1
        self.in_simd = simd if self.taps == 1 else channels
        self.cf = channels // self.in_simd
        self.kernel, self.stride, self.pad, self.pad_value = kernel, stride, pad, pad_value
        self.out_height = (height + 2 * pad - kernel) // stride + 1
        self.out_width = (width + 2 * pad - kernel) // stride + 1
        self.rows = window_rows(height, kernel, stride)
        self.in_beats = height * width * self.cf
        self.out_beats = self.out_height * self.out_width * kernel * kernel * channels // simd
        super().__init__({
            "i": In(stream.Signature(self.in_simd * bits)),
            "o": Out(stream.Signature(simd * bits)),
        })

    #: Taps mode keeps rows of at most this many bits transposed: one memory word per
    #: column holding that column of every ring row (see :attr:`transposed`).
    TRANSPOSE_ROW_BITS = 512

    @property
    def transposed(self):
        """Taps mode with small rows (a first layer's few channels): the ring is one memory
        of ``W`` words of ``R*C*bits`` bits, word ``x`` holding column ``x`` of all ``R``
        ring rows, each row written through its own write enable (a byte-enable-like
        granularity of ``C*bits``). One read gives every lane its row; separate memories
        would take a block RAM per row of a few hundred bits (4 kbit on the iCE40, 18 kbit
        on the ECP5), and rows in flip-flops a write decoder and a column multiplexer per
        row."""
        return self.taps > 1 and self.width * self.in_simd * self.bits <= self.TRANSPOSE_ROW_BITS

    @property
    def row_stride(self):
        """Words from one ring row to the next in the single ring memory (``taps == 1``):
        ``W*CF`` rounded up to a power of two when that leaves the memory's depth rounded up
        to a power of two (and so its block RAMs) unchanged, else ``W*CF``. A power-of-two
        stride makes a ring address the concatenation of a row slot and a column word: the
        row steps count slots modulo ``R`` and the read and write addresses need no adder."""
        row_words = self.width * self.cf
        stride = 1 << (row_words - 1).bit_length()
        packed = self.rows * row_words
        return stride if self.rows * stride <= 1 << (packed - 1).bit_length() else row_words

    @property
    def memories(self):
        """``[(width, depth)]`` of the ring's memories."""
        word = self.in_simd * self.bits
        if self.taps == 1:
            return [(word, self.rows * self.row_stride)]
        if self.transposed:
            return [(self.rows * word, self.width)]
        return [(word, self.width)] * self.rows

    @property
    def slotted(self):
        """Ring addresses count rows (slots), not words: taps mode, or a power-of-two
        row stride."""
        return self.taps > 1 or self.row_stride & (self.row_stride - 1) == 0

    def _address(self, slot_or_word, col):
        """The ring memory's address of column word ``col`` of the ring row at
        ``slot_or_word`` (a slot, or a word address when not slotted)."""
        if self.slotted:
            return Cat(col[:(self.row_stride - 1).bit_length()], slot_or_word)
        return slot_or_word + col

    def _memories(self, m, word):
        """The ring's memories: ``(write port, read port)`` of the one ring memory, or in
        taps mode one pair per row memory."""
        # The writer fills only rows the reader has released (a cycle after their last
        # read) and the reader uses only rows that are in: a read that meets a write to its
        # address is one whose word is not used.
        if self.taps == 1:
            (_, depth), = self.memories
            m.submodules.buffer = buffer = Memory(shape=unsigned(word), depth=depth, init=[],
                                                  attrs=NO_COLLISION)
            wr, rd = buffer.write_port(), buffer.read_port()   # named after these
            return [(wr, rd)]
        if self.transposed:
            return self._transposed_ring(m, word)
        banks = []
        for index in range(self.rows):
            bank = Memory(shape=unsigned(word), depth=memory_depth(self.width), init=[],
                          attrs=NO_COLLISION)
            m.submodules[f"row{index}"] = bank
            banks.append((bank.write_port(), bank.read_port()))
        return banks

    def _transposed_ring(self, m, word):
        """The :attr:`transposed` ring: ``(write port, read port)`` views of row ``r`` in
        the one memory (the shared address, enable, and row ``r``'s slice of the data and
        of the write enable). A write to one row and a read of the same column meet in a
        cycle (the reader uses other rows): the read keeps its old data, as Yosys
        guarantees unless told it need not."""
        rows = self.rows
        m.submodules.ring = ring = Memory(shape=unsigned(rows * word),
                                          depth=memory_depth(self.width), init=[])
        wr, rd = ring.write_port(granularity=word), ring.read_port()
        return [(SimpleNamespace(addr=wr.addr, data=wr.data.word_select(r, word), en=wr.en[r]),
                 SimpleNamespace(addr=rd.addr, en=rd.en, data=rd.data.word_select(r, word)))
                for r in range(rows)]

    def _occupancy(self, m, row_done, release):
        """The count of complete rows held and not yet released, and ``i.ready``: whether
        a new row may be written (``row_done``: the writer's last word of a row is taken
        this cycle; ``release``: rows the reader releases this cycle)."""
        rows, h = self.rows, self.height
        occ = Signal(range(rows + 1))
        # Rows are freed for the writer a cycle after the reader releases them, so the
        # release (decided at the end of the issue logic) does not feed an adder that cycle.
        release_q = Signal.like(release)
        release_q1 = Signal(range(-1, h + 1), init=-1)      # release_q - 1
        # ``row_done`` (the writer's handshake) only picks between two counts, and two
        # compares, computed in parallel from registers: no carry chain behind the handshake.
        occ_kept = (occ - release_q)[:len(occ)]
        occ_kept1 = (occ - release_q1)[:len(occ)]   # occ_kept + 1 (<= rows)
        occ_next = Mux(row_done, occ_kept1, occ_kept)
        # ``i.ready`` is a register (``occ < rows`` one cycle ahead): the compare on ``occ``
        # began the writer's path into the row end and the counts.
        space = Signal(init=1)
        m.d.sync += [release_q.eq(release), release_q1.eq(release - 1), occ.eq(occ_next),
                     space.eq(Mux(row_done, occ_kept1 < rows, occ_kept < rows))]
        m.d.comb += self.i.ready.eq(space)

    def _writer(self, m, ports, row_done, wrap_add):
        """Input rows into the ring, one word per accepted beat; ``row_done`` marks a
        row's last word."""
        row_words = self.width * self.cf
        unit = 1 if self.slotted else row_words
        w_row_addr = counter(self.rows * unit)
        w_en = self.i.valid & self.i.ready
        w_pos, _, w_last = wrap_counter(m, row_words, w_en, "w_pos")
        if self.taps == 1:
            (wr, _), = ports
            m.d.comb += [wr.addr.eq(self._address(w_row_addr, w_pos)), wr.data.eq(self.i.payload),
                         wr.en.eq(w_en)]
        else:
            for index, (bank_wr, _) in enumerate(ports):
                m.d.comb += [bank_wr.addr.eq(w_pos), bank_wr.data.eq(self.i.payload),
                             bank_wr.en.eq(w_en & (w_row_addr == index))]
        # A plain assignment (no process): Icarus never ran a process whose inputs all
        # settled at time 0, which left it X.
        m.d.comb += row_done.eq(w_en & w_last)
        with m.If(row_done):
            m.d.sync += w_row_addr.eq(wrap_add(w_row_addr, unit))

    def _read(self, m, ports, move, issue, iy, ix, row_addr, col, wrap_add):
        """The output word: the ring's word at window row ``iy`` (ring address
        ``row_addr``), column word ``col``, or the pad word outside the map; in taps mode
        lane ``j`` reads window row ``iy + j``. Registered as ``o`` when ``move``."""
        h, w, p, t, rows = self.height, self.width, self.pad, self.taps, self.rows
        word = self.in_simd * self.bits
        # Without padding every window position is inside the map (ix <= (OW-1)*S + K-1
        # <= W-1, likewise the rows): no pad compares on the read address path.
        col_out = ((ix < 0) | (ix >= w)) if p else Const(0)

        def pad_at(row):
            """Window row ``row`` at column ``ix`` is outside the map."""
            return ((row < 0) | (row >= h) | col_out) if p else Const(0)

        lane_word = Const(sum(self.pad_value << (lane * self.bits)
                              for lane in range(self.in_simd)), word)
        if t == 1:
            (_, rd), = ports
            pad_here = pad_at(iy)
            m.d.comb += [rd.addr.eq(Mux(pad_here, 0, self._address(row_addr, col))), rd.en.eq(move)]
            s1_pad = Signal()
            with m.If(move):
                m.d.sync += [self.o.valid.eq(issue), s1_pad.eq(pad_here)]
            m.d.comb += self.o.payload.eq(Mux(s1_pad, lane_word, rd.data))
        else:
            # Every row memory reads the window column; lane j takes the row of tap ky + j.
            for _, bank_rd in ports:
                m.d.comb += [bank_rd.addr.eq(Mux(col_out, 0, col)), bank_rd.en.eq(move)]
            with m.If(move):
                m.d.sync += self.o.valid.eq(issue)
            for j in range(t):
                row = iy + j
                pad_j = pad_at(row)
                s1_pad, s1_row = Signal(name=f"pad{j}"), counter(rows, name=f"row{j}")
                with m.If(move):
                    m.d.sync += [s1_pad.eq(pad_j), s1_row.eq(wrap_add(row_addr, j))]
                data = Const(0, word)
                for index, (_, bank_rd) in enumerate(ports):
                    data = Mux(s1_row == index, bank_rd.data, data)
                m.d.comb += self.o.payload.word_select(j, word).eq(Mux(s1_pad, lane_word, data))

    def elaborate(self, platform):
        m = Module()
        h, w, cf, k, s, p = (self.height, self.width, self.cf, self.kernel, self.stride,
                             self.pad)
        t = self.taps
        oh, ow, rows = self.out_height, self.out_width, self.rows
        row_words = w * cf
        # Ring addresses count rows (slots) or, in one memory whose row stride is not a
        # power of two, words.
        unit = 1 if self.slotted else row_words
        ring = rows * unit
        word = self.in_simd * self.bits
        ports = self._memories(m, word)

        def wrap_add(value, const):
            """``(value + const) mod ring`` for ``value`` in ``[0, ring)``, a constant."""
            const %= ring
            if not const:
                return value
            # The wrap decided by a compare with a constant, beside the two sums: one carry
            # chain deep, not an add, a compare and a subtract in a row.
            return Mux(value >= ring - const, value - (ring - const), value + const)[:len(value)]

        row_done = Signal()
        release = Signal(range(h + 1))
        self._occupancy(m, row_done, release)
        map_done = Signal()
        self._writer(m, ports, row_done, wrap_add)

        # Reader: output row oy, column ox, window row ky (in steps of T), column kx,
        # channel fold c.
        iy0 = Signal(signed(max(h, k + s).bit_length() + 2), init=-p)   # oy*S - P
        iy = Signal.like(iy0, init=-p)                                  # iy0 + ky*T
        ix0 = Signal(signed(max(w, k + s).bit_length() + 2), init=-p)   # ox*S - P
        ix = Signal.like(ix0, init=-p)                                  # ix0 + kx
        low = Signal(range(h + 1))          # rows of this map released
        top = counter(ring, init=(-p * unit) % ring)        # row iy0
        next_top = counter(ring, init=((h - p) * unit) % ring)  # the next map's row -P
        row_addr = counter(ring, init=(-p * unit) % ring)   # row iy
        col = Signal(signed(len(ix0) + max(1, (cf - 1).bit_length()) + 1),
                     init=-p * cf)          # ix*CF + c

        def rows_needed(last, iy0_value, shift):
            """Rows of the map the output row whose first window row is ``iy0_value +
            shift`` needs (all H for the last one, ``last``); the compare is against a
            constant, off the adder."""
            return Mux(last | (iy0_value >= h - k - shift), h,
                       (iy0_value + (k + shift))[:len(need)])

        def rows_needed_init(oy_value, iy0_value):
            """:func:`rows_needed` of constants (a register's reset value)."""
            return h if oy_value == oh - 1 or iy0_value + k >= h else iy0_value + k

        # Both registers, so that the issue decision is one short comparison.
        need0 = rows_needed_init(0, -p)     # what a map's first output row needs
        need = Signal(range(h + 1), init=need0)
        have = Signal(range(h + rows + 1))  # rows of this map in (released ones included)
        # ``have >= need``, kept as a register (the compare's carry chain was at the head of
        # the issue path): its next value picks, by the handshakes of this cycle, among
        # compares of registers computed in parallel (see the end of this method).
        rows_ok = Signal(init=int(0 >= need0))
        row_end = Signal()

        move = ~self.o.valid | self.o.ready
        issue = move & rows_ok
        # The loop counters with registered end flags: no compare on the issue's path.
        _, _, end_c = wrap_counter(m, cf, issue, "c")
        _, _, wrow_last = wrap_counter(m, k * cf, issue, "wrow_beat")
        _, _, win_last = wrap_counter(m, (k // t) * k * cf, issue, "win_beat")
        # The output row's end as one registered flag (a counter of its beats, in place of
        # a window-column counter): the conjunction of the four end flags was two LUT
        # levels in front of the counts.
        _, _, row_last = wrap_counter(m, ow * (k // t) * k * cf, issue, "row_beat")
        row_ends = issue & row_last
        oy, _, last_row = wrap_counter(m, oh, row_ends, "oy")

        def clamp_rows(value, shift):
            """``value + shift`` clamped to ``[0, H]``."""
            return Mux(value <= -shift, 0, Mux(value >= h - shift, h, value + shift))

        # What the end of this output row sets (rows released, rows the next one needs)
        # depends on iy0 and oy only, which change once per output row: computed into
        # registers one cycle ahead, off the path into occ and need, when an output row
        # is at least 2 beats long (it is 1 only for a 1x1 kernel on a 1-wide map).
        # The ring addresses the row, window-row and map ends load are likewise computed
        # a cycle ahead from the registers they step (each changes at most every second
        # beat when rows are 2 beats or longer, window rows when K*CF >= 2).
        def ahead(value, const, enough):
            if not enough:
                return wrap_add(value, const)
            stepped = Signal.like(value, name=f"{value.name}_next")
            m.d.sync += stepped.eq(wrap_add(value, const))
            return stepped

        row_long = ow * (k // t) * k * cf >= 2
        top_next = ahead(top, s * unit, row_long)
        next_top_next = ahead(next_top, h * unit, row_long)
        row_addr_next = ahead(row_addr, t * unit, k * cf >= 2)
        if row_long:
            next_low = Signal(range(h + 1), init=min(max(s - p, 0), h))
            next_need = Signal.like(need, init=rows_needed_init(1, s - p))
            m.d.sync += [next_low.eq(clamp_rows(iy0, s)),
                         next_need.eq(rows_needed(oy == oh - 2, iy0, s))]
        else:
            next_low, next_need = clamp_rows(iy0, s), rows_needed(oy == oh - 2, iy0, s)

        self._read(m, ports, move, issue, iy, ix, row_addr, col, wrap_add)

        # Plain assignments (no process): a simulator need not run a process at time 0,
        # and Icarus leaves one whose inputs are all registers X until they change.
        m.d.comb += [map_done.eq(row_ends & last_row), row_end.eq(row_ends & ~last_row),
                     release.eq(Mux(map_done, h - low, Mux(row_end, next_low - low, 0)))]
        # The loop levels nest (a channel fold's beats divide a window row's, which divide
        # a window's, which divide an output row's, all counted from the same beat), so
        # each register is enabled by the issue and the one end flag of the innermost
        # level it changes at, and the outer levels' registered flags pick its next value:
        # every enable is one gate of the issue.
        map_end = row_last & last_row
        with m.If(issue):
            m.d.sync += col.eq(Mux(wrow_last, Mux(win_last, Mux(row_last, -p * cf,
                                                                (ix0 + s) * cf),
                                                  ix0 * cf),
                                   col + 1))
        with m.If(issue & end_c):
            m.d.sync += ix.eq(Mux(wrow_last, Mux(win_last, Mux(row_last, -p, ix0 + s), ix0),
                                  ix + 1))
        with m.If(issue & wrow_last):
            # Next window row(s); at a window's end the next window (S columns on), at an
            # output row's end the next output row, at the map's end the next map.
            m.d.sync += [
                iy.eq(Mux(win_last, Mux(row_last, Mux(last_row, -p, iy0 + s), iy0), iy + t)),
                row_addr.eq(Mux(win_last, Mux(row_last, Mux(last_row, next_top, top_next),
                                              top),
                                row_addr_next)),
            ]
        with m.If(issue & win_last):
            m.d.sync += ix0.eq(Mux(row_last, -p, ix0 + s))
        with m.If(issue & row_last):
            # The map's end releases every row and the next map starts H rows on; an
            # output row's end frees the rows above the next output row's window.
            m.d.sync += [need.eq(Mux(last_row, need0, next_need)),
                         low.eq(Mux(last_row, 0, next_low)),
                         iy0.eq(Mux(last_row, -p, iy0 + s)),
                         top.eq(Mux(last_row, next_top, top_next))]
        with m.If(issue & map_end):
            m.d.sync += next_top.eq(next_top_next)
        # The reader counts a written row a cycle after the writer's last word (a register,
        # ``row_in``): the writer's handshake, which starts at the upstream unit's valid,
        # then ends at that register and not in the counts, the compares and their enables.
        # The row is in memory by then.
        row_in = Signal()
        m.d.sync += row_in.eq(row_done)
        # The counts are computed first; the map's end (decided at the end of the issue
        # logic) and the written row only pick one: they drive multiplexers, not adders.
        m.d.sync += have.eq(Mux(map_done, Mux(row_in, have + 1 - h, have - h),
                                Mux(row_in, have + 1, have)))
        # need becomes next_need at a row's end and the first row's need at the map's end,
        # when have also drops by H.
        def reached(bound):
            """``have`` after this cycle's row (if any) is at least ``bound``."""
            return Mux(row_in, have + 1 >= bound, have >= bound)

        m.d.sync += rows_ok.eq(Mux(map_done, reached(need0 + h),
                                   Mux(row_end, reached(next_need), reached(need))))
        return m


class SkipUnread(wiring.Component):
    """Drops the pixels of a map stream that no window of a ``K x K`` convolution with
    stride ``S > K`` and no padding reads, so that a :class:`SlidingWindow` at stride ``K``
    over what is left gives the same windows (a 1x1 stride-2 skip convolution reads one
    pixel in four).

    Input: ``(H, W)`` pixels of ``beats_per_pixel`` beats of ``width`` bits, in ``(y, x)``
    order. Pixel ``(y, x)`` passes when ``y % S < K`` and ``y < (OH - 1)*S + K``, and
    likewise ``x``, with ``OH = (H - K)//S + 1``: an ``(OH*K, OW*K)`` map. A dropped beat
    is taken at once; a kept beat passes through (no register: latency 0, ``ready`` and
    ``valid`` through logic). One input beat per cycle.
    """

    def __init__(self, *, height, width, beats_per_pixel, beat_width, kernel, stride):
        for name, value in (("height", height), ("width", width),
                            ("beats_per_pixel", beats_per_pixel), ("beat_width", beat_width),
                            ("kernel", kernel), ("stride", stride)):
            check_positive_int(name, value)
        if kernel > min(height, width):
            raise ValueError(f"the {kernel}x{kernel} kernel does not fit a {height}x{width} map")
        self.height, self.width, self.bpp = height, width, beats_per_pixel
        self.kernel, self.stride = kernel, stride
        self.out_height = ((height - kernel) // stride + 1) * kernel
        self.out_width = ((width - kernel) // stride + 1) * kernel
        super().__init__({"i": In(stream.Signature(beat_width)),
                          "o": Out(stream.Signature(beat_width))})

    def elaborate(self, platform):
        m = Module()
        k, s = self.kernel, self.stride
        take = self.i.valid & self.i.ready
        _, _, beat_last = wrap_counter(m, self.bpp, take, "beat")
        x, _, x_last = wrap_counter(m, self.width, take & beat_last, "x")
        _, _, y_last = wrap_counter(m, self.height, take & beat_last & x_last, "y")
        # The phases within a stride restart with every row and every map.
        x_phase = counter(s)
        y_phase = counter(s)
        y = counter(self.height)
        with m.If(take & beat_last):
            m.d.sync += x_phase.eq(Mux(x_last | (x_phase == s - 1), 0, x_phase + 1))
            with m.If(x_last):
                m.d.sync += [y_phase.eq(Mux(y_last | (y_phase == s - 1), 0, y_phase + 1)),
                             y.eq(Mux(y_last, 0, y + 1))]
        keep = ((x_phase < k) & (x < self.out_width // k * s - s + k)
                & (y_phase < k) & (y < self.out_height // k * s - s + k))
        m.d.comb += [self.o.payload.eq(self.i.payload),
                     self.o.valid.eq(self.i.valid & keep),
                     self.i.ready.eq(self.o.ready | ~keep)]
        return m


class PadEdge(wiring.Component):
    """Pads a map stream at the bottom and the right with code 0: ``(H, W)`` pixels of
    ``beats_per_pixel`` beats of ``beat_width`` bits in, ``(out_height, out_width)`` out, in
    ``(y, x)`` order (a ceil-mode max-pool's partial last windows: code 0 is the lowest
    value, so the maximum is that of the pixels a window holds).

    An input beat passes through (no register: latency 0, ``ready`` and ``valid`` through
    logic); a pad beat is emitted without one. One output beat per cycle.
    """

    def __init__(self, *, height, width, out_height, out_width, beats_per_pixel, beat_width):
        for name, value in (("height", height), ("width", width),
                            ("beats_per_pixel", beats_per_pixel), ("beat_width", beat_width)):
            check_positive_int(name, value)
        if out_height < height or out_width < width:
            raise ValueError(f"a {height}x{width} map cannot be padded to {out_height}x{out_width}")
        self.height, self.width = height, width
        self.out_height, self.out_width, self.bpp = out_height, out_width, beats_per_pixel
        super().__init__({"i": In(stream.Signature(beat_width)),
                          "o": Out(stream.Signature(beat_width))})

    def elaborate(self, platform):
        m = Module()
        step = self.o.valid & self.o.ready
        _, _, beat_last = wrap_counter(m, self.bpp, step, "beat")
        x, _, x_last = wrap_counter(m, self.out_width, step & beat_last, "x")
        y, _, _ = wrap_counter(m, self.out_height, step & beat_last & x_last, "y")
        inside = (x < self.width) & (y < self.height)
        m.d.comb += [self.o.payload.eq(Mux(inside, self.i.payload, 0)),
                     self.o.valid.eq(~inside | self.i.valid),
                     self.i.ready.eq(inside & self.o.ready)]
        return m
