"""A network behind a UART: framed requests in, framed answers out.

The protocol (SLIP frames with a sequence number and a CRC-16; packed input bits for a
binarized input, else 8-bit pixels) is specified, with its reference behaviour, in
:mod:`golden.serial`. The board answers every request frame of the right length and CRC,
in order, and drops every other frame: a lost, extra or corrupted byte, a UART framing
error or a break costs the frame it hit, and the next ``END`` resynchronizes.

Data path::

    UartRx -> Deframer -> FrameBuffer -> Unpacker -> WidthConverter -> NetworkTop
                  | seq FIFO                                              |
    UartTx <- AnswerFramer <------------------------------------------------

The frame buffer holds :func:`golden.serial.frames_in_flight` payloads in a block RAM: the
frame being received is written speculatively and committed at its closing ``END`` only
if it checks out (else the write pointer rolls back), so a bad frame never reaches the
network, and several images are in flight.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, ResetSignal, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.errors import ModelError
from golden.model import BINARY
from golden.serial import (
    CRC_BYTES,
    CRC_INIT,
    END,
    ESC,
    ESC_END,
    ESC_ESC,
    POLY,
    crc16,
    flash_payload,
    frames_in_flight,
    payload_bytes,
)

from .dwc import WidthConverter
from .flash import WAKE_SECONDS, FlashReader
from .network import NetworkTop, connect_streams
from .params import NO_COLLISION, check_positive_int, counter
from .streams import BlockFifo
from .uart import UartRx, UartTx

__all__ = ["crc16_next", "SerialCrc", "Deframer", "FrameBuffer", "Unpacker", "AnswerFramer",
           "SerialAccelerator", "request_frame_bytes", "answer_frame_bytes"]

# Sequence numbers of frames committed but not yet answered; a frame that finds the queue
# full is dropped like a damaged one (the host sends it again), never misnumbered.
SEQ_DEPTH = 8

#: The fastest SCK the flash reader uses: within every common SPI NOR part's read-data
#: (0x03) limit, with margin for the board's traces and the FPGA's I/O delays.
MAX_SCK_HZ = 25_000_000


def _crc16_step(crc, byte):
    return crc16(bytes((byte,)), crc)


def crc16_next(crc, byte):
    """The CRC-16 (:func:`golden.serial.crc16`) after ``byte``, as XOR equations: the step
    is linear in ``(crc, byte)`` over GF(2), so each output bit is the parity of the input
    bits whose unit vectors set it."""
    inputs = [(crc[j], _crc16_step(1 << j, 0)) for j in range(16)]
    inputs += [(byte[j], _crc16_step(0, 1 << j)) for j in range(8)]
    bits = []
    for i in range(16):
        out = Const(0, 1)
        for bit, image in inputs:
            if (image >> i) & 1:
                out = out ^ bit
        bits.append(out)
    return Cat(*bits)


class SerialCrc(wiring.Component):
    """The CRC-16 of :func:`golden.serial.crc16` (polynomial ``x^16 + x^12 + x^5 + 1``),
    one bit per cycle, most significant first.

    ``start`` takes ``byte``; ``busy`` is high for the 8 cycles that follow, and then
    ``crc`` includes the byte. ``clear`` (or the domain's reset) sets ``crc`` to
    ``CRC_INIT``; it is not to be raised while busy.
    A shift and three XORs per step, where :func:`crc16_next` takes a byte in one cycle
    with an XOR tree of up to 12 inputs per bit: this is for bytes that come a UART
    byte's ten bit times apart.

    Members
    -------
    start : ``In(1)``, byte : ``In(8)``, clear : ``In(1)``
    crc : ``Out(16)``, busy : ``Out(1)``
    """

    def __init__(self):
        super().__init__({"start": In(1), "byte": In(8), "clear": In(1),
                          "crc": Out(16, init=CRC_INIT), "busy": Out(1)})

    def elaborate(self, platform):
        m = Module()
        # The data bits, most significant at 8, above a marker bit that shifts up with
        # them: the byte is done when the marker reaches bit 8.
        bits = Signal(9)
        m.d.comb += self.busy.eq(bits[:8].any())
        with m.If(self.start):
            m.d.sync += bits.eq(Cat(Const(1, 1), self.byte))
        with m.Elif(self.busy):
            m.d.sync += bits.eq(bits << 1)
        # Not reset with the domain, so that ``clear`` is its only synchronous set: the
        # domain's reset joins it.
        crc = Signal(16, init=CRC_INIT, reset_less=True)
        feedback = crc[15] ^ bits[8]
        with m.If(self.clear | ResetSignal()):
            m.d.sync += crc.eq(CRC_INIT)
        with m.Elif(self.busy):
            m.d.sync += crc.eq(Cat(Const(0, 1), crc[:15]) ^ Mux(feedback, POLY, 0))
        m.d.comb += self.crc.eq(crc)
        return m


def request_frame_bytes(network):
    """Bytes on the line per request with no escapes and one shared ``END``."""
    return 1 + payload_bytes(network) + CRC_BYTES + 1


def answer_frame_bytes(classes, score_bytes, worst=False):
    """Bytes of an answer frame (``worst``: every body byte escaped)."""
    body = 2 + classes * score_bytes + CRC_BYTES
    return (2 * body if worst else body) + 2


class Deframer(wiring.Component):
    """SLIP deframer and checker: UART bytes in, payload bytes to a :class:`FrameBuffer`.

    A body is ``seq``, ``payload`` (``payload`` bytes) and a CRC; at the closing ``END`` a
    body of that length whose CRC checks (the CRC over the whole body is 0) is committed
    and its ``seq`` pushed out; any other body is aborted. ``error`` (a UART framing error)
    marks the current body bad. Always ready; bytes come at least 10 cycles apart (the
    :class:`SerialCrc` takes 8 per byte, and a UART byte takes ten bit times of at least
    4 cycles each).

    Members
    -------
    i : ``In(stream.Signature(8))``
    error : ``In(1)``
    wr_data, wr_en, commit, abort : ``Out``
        To the frame buffer (``wr_full`` in: a payload byte that does not fit spoils the frame).
    seq : ``Out(stream.Signature(8))``
        The seq of each committed frame. A complete, correct frame is committed only when
        ``seq.ready`` (room for its seq); otherwise it is aborted.
    """

    def __init__(self, payload):
        check_positive_int("payload", payload)
        self.payload = payload
        super().__init__({"i": In(stream.Signature(8)), "error": In(1),
                          "wr_data": Out(8), "wr_en": Out(1), "wr_full": In(1),
                          "commit": Out(1), "abort": Out(1),
                          "seq": Out(stream.Signature(8))})

    def elaborate(self, platform):
        m = Module()
        n = self.payload
        # The UART's byte and error are registered first: the decoding below is several
        # logic levels deep, and a byte arrives at most every ten bit times.
        byte = Signal(8)
        valid, error = Signal(), Signal()
        m.d.sync += [byte.eq(self.i.payload), valid.eq(self.i.valid), error.eq(self.error)]
        # The byte's class is registered with it, and the compares of the count and the CRC
        # are registers a cycle behind them (current again by the next byte, at least 2
        # cycles later): the decisions below start at flip-flops.
        is_end, is_esc, is_esc_end, is_esc_esc = (Signal(name=f"byte_{k}") for k in
                                                   ("end", "esc", "esc_end", "esc_esc"))
        m.d.sync += [is_end.eq(self.i.payload == END), is_esc.eq(self.i.payload == ESC),
                     is_esc_end.eq(self.i.payload == ESC_END),
                     is_esc_esc.eq(self.i.payload == ESC_ESC)]
        full = n + 1 + CRC_BYTES
        count = Signal(range(full + 1))     # body bytes so far (saturates at the full body)
        # Bit-serial: the CRC of a byte is ready 8 cycles after it, long before the next.
        m.submodules.crc = crc_unit = SerialCrc()
        crc = crc_unit.crc
        first, in_payload, room = Signal(init=1), Signal(init=1), Signal(init=1)
        complete, crc_ok = Signal(), Signal()
        m.d.sync += [first.eq(count == 0), in_payload.eq(count <= n), room.eq(count < full),
                     complete.eq(count == full), crc_ok.eq(crc == 0)]
        bad = Signal()
        esc = Signal()
        seq = Signal(8)
        data = Signal(8)
        is_data = Signal()
        m.d.comb += self.i.ready.eq(1)
        m.d.sync += [self.commit.eq(0), self.abort.eq(0), self.wr_en.eq(0),
                     self.seq.valid.eq(0)]
        m.d.comb += self.seq.payload.eq(seq)
        # A data byte: plain, or the second byte of an escape.
        with m.If(esc):
            m.d.comb += [data.eq(Mux(is_esc_end, END, ESC)),
                         is_data.eq(valid & ~is_end)]
        with m.Else():
            m.d.comb += [data.eq(byte),
                         is_data.eq(valid & ~is_end & ~is_esc)]
        with m.If(error):
            m.d.sync += bad.eq(1)
        with m.If(valid):
            with m.If(is_end):
                good = ~bad & ~esc & ~error & complete & crc_ok & self.seq.ready
                with m.If(good):
                    m.d.sync += [self.commit.eq(1), self.seq.valid.eq(1)]
                with m.Elif(~first | bad | esc):
                    m.d.sync += self.abort.eq(1)
                m.d.sync += [count.eq(0), bad.eq(0), esc.eq(0)]
                m.d.comb += crc_unit.clear.eq(1)
            with m.Elif(~esc & is_esc):
                m.d.sync += esc.eq(1)
            with m.Else():
                with m.If(esc & ~is_esc_end & ~is_esc_esc):
                    m.d.sync += bad.eq(1)
                m.d.sync += esc.eq(0)
        m.d.comb += [crc_unit.byte.eq(data), crc_unit.start.eq(is_data)]
        with m.If(is_data):
            with m.If(room):
                m.d.sync += count.eq(count + 1)
            with m.Else():
                m.d.sync += bad.eq(1)          # too long
            with m.If(first):
                m.d.sync += seq.eq(data)
            with m.Elif(in_payload):
                with m.If(self.wr_full):
                    m.d.sync += bad.eq(1)
                with m.Else():
                    m.d.sync += self.wr_en.eq(1)
        # wr_data must be the byte of the cycle wr_en is set for: register it.
        data_q = Signal(8)
        m.d.sync += data_q.eq(data)
        m.d.comb += self.wr_data.eq(data_q)
        return m


class FrameBuffer(wiring.Component):
    """A byte FIFO with transactions: writes are speculative until ``commit``; ``abort``
    drops every byte written since the last commit. Only committed bytes are read.

    One block RAM of :attr:`size` bytes: ``depth`` rounded up to a power of two when that
    is at most 512 (one iCE40 block RAM), so that the pointers wrap by themselves; ``full``
    when a write would overwrite unread bytes.
    Latency: a committed byte is valid on ``o`` 2 cycles after the commit.
    """

    def __init__(self, depth):
        check_positive_int("depth", depth)
        self.depth = depth
        power = 1 << (depth - 1).bit_length()
        self.size = power if power <= 512 else depth
        super().__init__({"wr_data": In(8), "wr_en": In(1), "full": Out(1),
                          "commit": In(1), "abort": In(1), "o": Out(stream.Signature(8))})

    def elaborate(self, platform):
        m = Module()
        d = self.size
        # A write meets the read's address only when no committed byte is unread (the
        # buffer is never written full), and that read is discarded.
        m.submodules.mem = mem = Memory(shape=8, depth=d, init=[], attrs=NO_COLLISION)
        wr, rd = mem.write_port(), mem.read_port()

        # Three pointers, each with a wrap bit (toggled when it wraps): write, commit and
        # read. ``used`` (written, not read) and ``avail`` (committed, not read) are their
        # distances, but only ``used == depth`` (kept as a register, below) and
        # ``avail != 0`` are ever needed: equality compares of registers, no counters to
        # update behind the reader's ready chain.
        def pointer(name):
            return Signal(range(d), name=name), Signal(name=f"{name}_wrap")

        def advance(ptr):
            p, wrap = ptr
            if d & (d - 1) == 0:
                # A power of two: the pointer and its wrap bit are one counter.
                return [Cat(p, wrap).eq(Cat(p, wrap) + 1)]
            return [p.eq(Mux(p == d - 1, 0, p + 1)), wrap.eq(wrap ^ (p == d - 1))]

        wp, cp, rp = pointer("wp"), pointer("cp"), pointer("rp")
        # The read pointer's previous value (one byte behind it; (depth-1, 1) before the
        # first read): the write pointer is depth-1 bytes ahead of the read pointer iff it
        # is depth bytes ahead of this one, a compare of registers with no adder.
        behind = (Signal(range(d), init=d - 1, name="rp_behind"),
                  Signal(init=1, name="rp_behind_wrap"))

        def is_full(a, b):
            """Pointer ``a`` is ``depth`` bytes ahead of pointer ``b``."""
            return (a[0] == b[0]) & (a[1] != b[1])

        # The read pointer's next value (one byte ahead of it), so that whether a byte is
        # committed and unread after this cycle's read is a compare of registers too.
        ahead = (Signal(range(d), init=1 % d, name="rp_ahead"),
                 Signal(init=int(d == 1), name="rp_ahead_wrap"))

        def differ(a, b):
            return (a[0] != b[0]) | (a[1] != b[1])

        # ``nonempty`` (a committed byte is unread) is a register, its next value picked by
        # this cycle's read and commit among four compares of registers, so no compare of
        # the pointers starts the path through the read into the read pointer's enable.
        nonempty = Signal()
        move = ~self.o.valid | self.o.ready
        take = move & nonempty
        m.d.sync += nonempty.eq(Mux(self.commit, Mux(take, differ(wp, ahead), differ(wp, rp)),
                                    Mux(take, differ(cp, ahead), differ(cp, rp))))
        # ``full`` is a register (``used == depth``), its next value picked by this cycle's
        # events among compares of the pointers, off the path through the write into the
        # write pointer.
        full = Signal()
        put = self.wr_en & ~full
        with m.If(self.abort):
            # The write pointer returns to the commit pointer (never with a write).
            m.d.sync += full.eq(is_full(cp, rp) & ~take)
        with m.Elif(put & ~take):
            m.d.sync += full.eq(is_full(wp, behind))
        with m.Elif(take & ~put):
            m.d.sync += full.eq(0)
        m.d.comb += [self.full.eq(full),
                     wr.addr.eq(wp[0]), wr.data.eq(self.wr_data), wr.en.eq(put),
                     rd.addr.eq(rp[0]), rd.en.eq(move), self.o.payload.eq(rd.data)]
        with m.If(move):
            m.d.sync += self.o.valid.eq(nonempty)
        with m.If(take):
            m.d.sync += advance(rp) + advance(ahead)
            m.d.sync += [behind[0].eq(rp[0]), behind[1].eq(rp[1])]
        with m.If(put):
            m.d.sync += advance(wp)
        # Commit and abort never coincide with a write (the deframer sees END then).
        with m.If(self.commit):
            m.d.sync += [cp[0].eq(wp[0]), cp[1].eq(wp[1])]
        with m.Elif(self.abort):
            m.d.sync += [wp[0].eq(cp[0]), wp[1].eq(cp[1])]
        return m


#: Most steps of an input table built as compares; more become a ROM.
STAIRCASE_STEPS = 15


class Unpacker(wiring.Component):
    """Payload bytes to the first layer's input codes, one per beat.

    A binarized input arrives as packed bits: every byte gives 8 bits, least significant
    first, except the last byte of an image, which gives ``features % 8`` (its pad bits are
    dropped). Pixel bytes become codes by the model's input table, or stay themselves.

    A non-decreasing table of at most :data:`STAIRCASE_STEPS` steps is a sum of compares
    (no latency); any other table is a 256-word ROM with a registered read (one cycle of
    latency, the read enable holding the output while the stream stalls).
    """

    def __init__(self, input_quant):
        self.input_quant = input_quant
        self.features = input_quant.features
        enc = input_quant.encoding
        self.bits = 1 if enc == BINARY else enc.bits
        super().__init__({"i": In(stream.Signature(8)), "o": Out(stream.Signature(self.bits))})

    def elaborate(self, platform):
        m = Module()
        inp = self.input_quant
        if self.bits == 1:
            f = self.features
            shreg = Signal(8)
            left = Signal(range(9))           # bits of the current byte still to send
            # ``left == 0`` as a register: the compare began the frame buffer's read path.
            empty = Signal(init=1)
            feature = counter(f)              # index of the next bit in the image
            m.d.comb += [self.i.ready.eq(empty), self.o.valid.eq(~empty),
                         self.o.payload.eq(shreg[0])]
            with m.If(self.i.valid & empty):
                last = f - 8 * (-(-f // 8) - 1)
                m.d.sync += [shreg.eq(self.i.payload), empty.eq(0),
                             left.eq(Mux(feature + 8 >= f, last, 8))]
            with m.If(self.o.valid & self.o.ready):
                m.d.sync += [shreg.eq(shreg >> 1), left.eq(left - 1), empty.eq(left == 1),
                             feature.eq(Mux(feature == f - 1, 0, feature + 1))]
            return m
        pixel = self.i.payload
        if inp.table is not None:
            table = [int(v) for v in inp.table]
            steps = [p for p in range(1, 256) for _ in range(table[p] - table[p - 1])]
            if (not all(a <= b for a, b in zip(table, table[1:]))
                    or len(steps) > STAIRCASE_STEPS):
                # A table of many steps is a ROM read through a register: a staircase of
                # 255 compares sums into a carry chain that limits the whole design's clock.
                m.submodules.rom = rom = Memory(shape=self.bits, depth=256, init=table)
                rd = rom.read_port()
                move = ~self.o.valid | self.o.ready
                m.d.comb += [rd.addr.eq(pixel), rd.en.eq(move), self.i.ready.eq(move),
                             self.o.payload.eq(rd.data)]
                with m.If(move):
                    m.d.sync += self.o.valid.eq(self.i.valid)
                return m
            # A few steps: one 8-bit comparison per step.
            code = sum((pixel >= p for p in steps), table[0])
        else:
            code = pixel
        m.d.comb += [self.o.valid.eq(self.i.valid), self.i.ready.eq(self.o.ready),
                     self.o.payload.eq(code)]
        return m


class AnswerFramer(wiring.Component):
    """``{label, scores}`` beats and their ``seq`` to SLIP answer frames, one byte per beat.

    Frame: ``END``, the escaped body (``seq``, label, every score sign-extended to
    ``ceil(score_width / 8)`` bytes little-endian, the CRC-16 of those high byte first),
    ``END``.

    The answer beat and its ``seq`` are read in place (a byte-wide multiplexer over the
    body, indexed by a counter) and accepted once the frame's last ``END`` is sent, so the
    framer keeps no copy of the scores (it kept ``8 * body`` flip-flops and a shift
    register; the argmax holds the beat meanwhile, for the few thousand cycles a frame
    takes on the line, well under any network's initiation interval that is not
    line-limited anyway).
    """

    def __init__(self, label_width, classes, score_width):
        if label_width > 8:
            raise ModelError(f"{classes} classes do not fit the 1-byte label of the serial "
                             f"protocol (at most 256)")
        self.classes, self.score_width, self.label_width = classes, score_width, label_width
        self.score_bytes = -(-score_width // 8)
        self.body = 2 + classes * self.score_bytes      # without the CRC
        super().__init__({"i": In(stream.Signature(label_width + classes * score_width)),
                          "seq": In(stream.Signature(8)),
                          "o": Out(stream.Signature(8))})

    def elaborate(self, platform):
        m = Module()
        w, lw, nb = self.score_width, self.label_width, self.score_bytes
        header = [self.seq.payload, self.i.payload[:lw]]
        scores = [self.i.payload[lw + c * w:lw + (c + 1) * w] for c in range(self.classes)]
        # Bytes sent: the body's, then the CRC's (high byte at ``body``, low at ``body + 1``).
        sent_bytes = Signal(range(self.body + CRC_BYTES))
        m.submodules.crc = crc_unit = SerialCrc()
        crc = crc_unit.crc
        pending_esc = Signal(8)         # the second byte of an escape
        escaping = Signal()             # pending_esc is to go out next
        sent = self.o.valid & self.o.ready
        # The next byte, registered (the body multiplexer, the escape compare and the CRC
        # are not one cycle's logic), and its flags registered a cycle later. A sent byte
        # only lowers ``o.valid`` (``stale``) and is acted on the next cycle (``sent_q``, a
        # register): the handshake ends at flip-flops, and the count, CRC and state
        # updates start at them. ``o.valid`` rises again once the next byte and its flags
        # have settled, 3 to 4 cycles after a byte is sent, 11 after a body byte (its
        # CRC); a byte takes 10 bit times of at least 4 cycles on the line.
        byte, stale, stale2, sent_q = Signal(8), Signal(), Signal(), Signal()
        special, is_end, last, in_body = Signal(), Signal(), Signal(), Signal()
        if nb == 2:
            # Bytes in pairs (seq and label, each score, the CRC): pair ``k`` of the
            # scores is a multiplexer of the ``w``-bit scores, sign-extended after it,
            # then a byte of the pair.
            k = sent_bytes[1:]
            # Entries 0 and classes + 1 are never used: repeats cost no multiplexer inputs.
            score = Array([scores[0], *scores, scores[-1]])[k].as_signed()
            pair = Mux(k == 0, Cat(*header),
                       Mux(k == self.classes + 1, Cat(crc[8:], crc[:8]), score))
            chosen = pair.word_select(sent_bytes[0], 8)
        else:
            every = list(header)
            for c, value in enumerate(scores):
                wide = Signal(8 * nb, name=f"score{c}")     # sign-extended to whole bytes
                m.d.comb += wide.eq(value.as_signed())
                every += [wide[8 * j:8 * (j + 1)] for j in range(nb)]
            chosen = Array([*every, crc[8:], crc[:8]])[sent_bytes]
        m.d.sync += [byte.eq(chosen),
                     special.eq((byte == END) | (byte == ESC)), is_end.eq(byte == END),
                     last.eq(sent_bytes == self.body + CRC_BYTES - 1),
                     in_body.eq(sent_bytes < self.body),
                     stale2.eq(0), stale.eq(stale2), sent_q.eq(sent)]
        # A byte is also stale while the CRC takes in a body byte (8 cycles), so the CRC
        # bytes are read once it is final.
        with m.If(sent | crc_unit.busy):
            m.d.sync += [stale2.eq(1), stale.eq(1)]
        ready = ~stale & ~stale2
        # On to the next body byte: two cycles for it and its flags to settle.
        next_byte = [sent_bytes.eq(sent_bytes + 1), stale2.eq(1), stale.eq(1)]
        with m.FSM():
            with m.State("IDLE"):
                # Cleared while idle, not on the handshake: off the answer's valid path.
                m.d.sync += [sent_bytes.eq(0), escaping.eq(0)]
                m.d.comb += crc_unit.clear.eq(1)
                with m.If(self.i.valid & self.seq.valid):
                    m.next = "START"
            with m.State("START"):
                m.d.comb += [self.o.valid.eq(ready), self.o.payload.eq(END)]
                with m.If(sent_q):
                    m.next = "BODY"
            with m.State("BODY"):
                # Data bytes, then the CRC; END and ESC go out as two bytes.
                m.d.comb += self.o.valid.eq(ready)
                with m.If(escaping):
                    m.d.comb += self.o.payload.eq(pending_esc)
                    with m.If(sent_q):
                        m.d.sync += escaping.eq(0)
                        with m.If(last):
                            m.next = "STOP"
                        with m.Else():
                            m.d.sync += next_byte
                with m.Else():
                    m.d.comb += self.o.payload.eq(Mux(special, ESC, byte))
                    with m.If(sent_q):
                        m.d.comb += [crc_unit.byte.eq(byte), crc_unit.start.eq(in_body)]
                        with m.If(special):
                            m.d.sync += [escaping.eq(1),
                                         pending_esc.eq(Mux(is_end, ESC_END, ESC_ESC))]
                        with m.Elif(last):
                            m.next = "STOP"
                        with m.Else():
                            m.d.sync += next_byte
            with m.State("STOP"):
                m.d.comb += [self.o.valid.eq(ready), self.o.payload.eq(END)]
                with m.If(sent_q):
                    # The answer is out: release the beat and its sequence number.
                    m.d.comb += [self.i.ready.eq(1), self.seq.ready.eq(1)]
                    m.next = "IDLE"
        return m


class SerialAccelerator(wiring.Component):
    """UART, deframer, frame buffer, unpacker, network, answer framer (see the module
    docstring).

    Parameters
    ----------
    network : golden.model.Network
    folding : list of LayerFolding
    divisor : int
        Clock cycles per UART bit (:func:`hdl.uart.uart_divisor`).

    The line has no flow control: a host keeps at most
    :func:`golden.serial.frames_in_flight` requests unanswered, and the frame buffer holds
    that many payloads, so nothing is lost whether the line or the network is slower
    (:func:`golden.serial.link_figures`, the cycle model).

    flash_offset : int, optional
        Where the board's flash holds :meth:`hdl.network.NetworkTop.spram_image`; needed
        when a layer keeps its weights in SPRAM (a :class:`~hdl.flash.FlashReader` fills
        them after reset, and the network takes no request before).
    clock_hz : float, optional
        The clock, for the flash's SCK (at most :data:`MAX_SCK_HZ`) and wake-up wait.

    Members
    -------
    rx : ``In(1)``, tx : ``Out(1)``
        The UART pins (idle high).
    done : ``Out(1)``
        Pulses when an answer has been sent (e.g. for an LED).
    flash_sck, flash_cs_n, flash_copi : ``Out(1)``; flash_cipo : ``In(1)``
        With SPRAM weights only: the SPI flash pins.
    """

    def __init__(self, network, folding, divisor, *, flash_offset=None, clock_hz=None):
        self.network = network
        self.top = NetworkTop(network, folding)
        self.divisor = divisor
        self.flash = None
        members = {"rx": In(1, init=1), "tx": Out(1, init=1), "done": Out(1)}
        if self.top.spram_units:
            if flash_offset is None or not clock_hz:
                raise ModelError("weights in SPRAM are read from the board's flash after "
                                 "reset: give the flash offset and the clock (a board build "
                                 "does), or drop ':spram' from the folding")
            self.image_bytes = len(self.top.spram_image())
            self.flash = FlashReader(flash_offset, len(self.flash_payload()),
                                     half_period=max(1, -(-int(clock_hz) // (2 * MAX_SCK_HZ))),
                                     wake_cycles=int(WAKE_SECONDS * clock_hz) + 2)
            members.update({"flash_sck": Out(1), "flash_cs_n": Out(1, init=1),
                            "flash_copi": Out(1), "flash_cipo": In(1)})
        self.payload = payload_bytes(network)
        self.in_bits = self.top.layers[0][0].in_bits
        argmax = self.top.argmax
        self.framer = AnswerFramer(argmax.label_width, argmax.classes, argmax.width)
        self.buffer_depth = frames_in_flight(network) * self.payload
        super().__init__(members)

    def flash_payload(self):
        """The flash's bytes for the SPRAM weights: :func:`golden.serial.flash_payload`."""
        return flash_payload(self.top.spram_image())

    def elaborate(self, platform):
        m = Module()
        m.submodules.uart_rx = rx = UartRx(self.divisor)
        m.submodules.uart_tx = tx = UartTx(self.divisor)
        m.submodules.deframer = deframer = Deframer(self.payload)
        m.submodules.buffer = buffer = FrameBuffer(self.buffer_depth)
        m.submodules.seqs = seqs = BlockFifo(8, SEQ_DEPTH)
        m.submodules.unpacker = unpacker = Unpacker(self.network.input)
        simd_bits = self.top.in_simd * self.in_bits
        m.submodules.dwc = dwc = WidthConverter(self.in_bits, simd_bits)
        m.submodules.network = top = self.top
        m.submodules.framer = framer = self.framer
        m.d.comb += [rx.rx.eq(self.rx), self.tx.eq(tx.tx)]

        connect_streams(m, rx.o, deframer.i)
        m.d.comb += [deframer.error.eq(rx.frame_error | rx.overrun),
                     buffer.wr_data.eq(deframer.wr_data), buffer.wr_en.eq(deframer.wr_en),
                     deframer.wr_full.eq(buffer.full), buffer.commit.eq(deframer.commit),
                     buffer.abort.eq(deframer.abort)]
        connect_streams(m, deframer.seq, seqs.i)
        connect_streams(m, buffer.o, unpacker.i)
        connect_streams(m, unpacker.o, dwc.i)
        if self.flash is None:
            connect_streams(m, dwc.o, top.i)
        else:
            weights_ok = self._load_weights(m, top)
            m.d.comb += [top.i.payload.eq(dwc.o.payload),
                         top.i.valid.eq(dwc.o.valid & weights_ok),
                         dwc.o.ready.eq(top.i.ready & weights_ok)]
        connect_streams(m, top.o, framer.i)
        connect_streams(m, seqs.o, framer.seq)
        wiring.connect(m, framer.o, tx.i)
        m.d.comb += self.done.eq(top.o.valid & top.o.ready)
        return m

    def _load_weights(self, m, top):
        """The flash's image into the network's ``load``, its CRC-16 checked on the way;
        returns a flag that rises once the CRC bytes match. Until then the network takes
        no request: a flash that does not hold this design's weights (the bitstream loaded
        into SRAM alone, another build's flash) gets no answer rather than wrong ones."""
        m.submodules.flash = flash = self.flash
        m.d.comb += [self.flash_sck.eq(flash.sck), self.flash_cs_n.eq(flash.cs_n),
                     self.flash_copi.eq(flash.copi), flash.cipo.eq(self.flash_cipo)]
        # The flash reads the image and its two CRC bytes: the byte on offer is the CRC's
        # high one when one byte comes after it, its low one when none does (the reader's
        # own count, ``after``: no count of the image here).
        after = flash.after
        crc_low, crc_high_now = after[-1], after == 0
        in_image = ~crc_low & ~crc_high_now
        crc, crc_high, ok = Signal(16, init=CRC_INIT), Signal(8), Signal()
        byte = flash.o.payload
        m.d.comb += [top.load.payload.eq(byte), top.load.valid.eq(flash.o.valid & in_image),
                     flash.o.ready.eq(Mux(in_image, top.load.ready, 1))]
        with m.If(flash.o.valid & flash.o.ready):
            with m.If(in_image):
                m.d.sync += crc.eq(crc16_next(crc, byte))
            with m.Elif(crc_high_now):
                m.d.sync += crc_high.eq(byte)
            with m.Else():
                m.d.sync += ok.eq(Cat(byte, crc_high) == crc)
        return ok
