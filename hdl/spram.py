"""A read-only memory in the iCE40 UP's single-port RAMs, filled once after reset."""

from amaranth.hdl import Cat, ClockSignal, Instance, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from golden.packing import SPRAM_DEPTH, SPRAM_WIDTH, spram_per_word

from .params import check_positive_int, counter

__all__ = ["SpramRom", "spram_count", "SPRAM_CELL"]

SPRAM_CELL = "SB_SPRAM256KA"


def _shape(width, depth):
    """``(per, lanes, rows)``: memory words per SPRAM word, cells side by side, and SPRAM
    words (rows) of a ``width`` x ``depth`` memory."""
    per = spram_per_word(width)
    lanes = 1 if per > 1 else -(-width // SPRAM_WIDTH)
    return per, lanes, -(-depth // per)


def spram_count(width, depth):
    """``SB_SPRAM256KA`` cells of a ``width`` x ``depth`` memory: words of at most 8 bits
    packed :func:`golden.packing.spram_per_word` to a 16-bit word, wider ones
    ``ceil(width / 16)`` cells side by side; ``ceil(rows / 16384)`` deep."""
    _, lanes, rows = _shape(width, depth)
    return lanes * -(-rows // SPRAM_DEPTH)


class SpramRom(wiring.Component):
    """A ``width`` x ``depth`` memory in ``SB_SPRAM256KA`` cells, written once through
    ``load`` and then read like a block RAM's read port.

    An SPRAM has no initial contents in the bitstream, so after reset the memory takes
    :func:`golden.packing.spram_words` through ``load`` (:attr:`load_words` 16-bit words:
    narrow memory words packed several to one, wide ones sliced, in address order);
    ``load`` takes exactly that many and ``loaded`` rises after the last is written. A
    load word is written in the cycle after it is accepted: the load goes through one
    register, so the source's state (the flash reader's) drives that register rather than
    the write enables and data of cells at the far corners of the chip.

    Read: ``data`` holds word ``addr`` from the cycle after a cycle with ``en`` (and
    ``loaded``), and keeps it while ``en`` is low, as an Amaranth read port with an
    enable does. Reads before ``loaded`` are not defined.

    Cells (:func:`spram_count`): a row of ``ceil(width/16)`` side by side (one for packed
    words) per 16,384 SPRAM words; the row and, for packed words, the word's place in its
    SPRAM word come from the address (registered with the read, for the output
    multiplexer a cycle later).

    Parameters
    ----------
    width, depth : int
        Bits per word and words.
    """

    def __init__(self, width, depth):
        check_positive_int("width", width)
        check_positive_int("depth", depth)
        self.width, self.depth = width, depth
        self.per, self.lanes, self.rows = _shape(width, depth)
        self.banks = -(-self.rows // SPRAM_DEPTH)
        self.cells = self.lanes * self.banks
        #: 16-bit words ``load`` takes.
        self.load_words = self.lanes * self.rows
        super().__init__({
            "load": In(stream.Signature(SPRAM_WIDTH)),
            "loaded": Out(1),
            "addr": In(range(max(2, depth))),
            "en": In(1),
            "data": Out(width),
        })

    def elaborate(self, platform):
        m = Module()
        lanes, banks, per = self.lanes, self.banks, self.per
        low = (SPRAM_DEPTH - 1).bit_length()
        shift = (per - 1).bit_length()
        # The load position: SPRAM word and slice.
        w_row, w_lane = counter(self.rows), counter(lanes)
        take, word = Signal(), Signal(SPRAM_WIDTH)
        pending, full = Signal(range(self.load_words + 1), init=self.load_words), Signal()
        m.d.comb += self.load.ready.eq(~full)
        m.d.sync += take.eq(self.load.valid & ~full)
        with m.If(self.load.valid & ~full):
            m.d.sync += [word.eq(self.load.payload), pending.eq(pending - 1),
                         full.eq(pending == 1)]
        with m.If(take):
            with m.If(w_lane == lanes - 1):
                m.d.sync += w_lane.eq(0)
                with m.If(w_row == self.rows - 1):
                    m.d.sync += self.loaded.eq(1)
                with m.Else():
                    m.d.sync += w_row.eq(w_row + 1)
            with m.Else():
                m.d.sync += w_lane.eq(w_lane + 1)

        r_row = self.addr[shift:] if shift else self.addr
        w_bank = w_row[low:] if banks > 1 else 0
        r_bank = r_row[low:] if banks > 1 else 0
        # The read's bank and place in its SPRAM word, for the output multiplexers.
        bank_q, place_q = Signal(range(max(2, banks))), Signal(max(1, shift))
        with m.If(self.en & self.loaded):
            m.d.sync += [bank_q.eq(r_bank), place_q.eq(self.addr[:shift] if shift else 0)]
        # Reads once loaded; before that the load's address (the cells' only port).
        address = Signal(low)
        m.d.comb += address.eq(Mux(self.loaded, r_row, w_row))
        outs = [[Signal(SPRAM_WIDTH, name=f"dout_{b}_{k}") for k in range(lanes)]
                for b in range(banks)]
        for b in range(banks):
            for k in range(lanes):
                write = take & (w_lane == k) & (w_bank == b)
                read = self.loaded & self.en & (r_bank == b)
                m.submodules[f"cell_{b}_{k}"] = Instance(
                    SPRAM_CELL,
                    i_ADDRESS=address, i_DATAIN=word, i_MASKWREN=0b1111,
                    i_WREN=write, i_CHIPSELECT=write | read,
                    i_CLOCK=ClockSignal("sync"), i_STANDBY=0, i_SLEEP=0, i_POWEROFF=1,
                    o_DATAOUT=outs[b][k])
        rows = [Cat(*row) for row in outs]
        row = Signal(lanes * SPRAM_WIDTH)
        if banks == 1:
            m.d.comb += row.eq(rows[0])
        else:
            with m.Switch(bank_q):
                for b, value in enumerate(rows):
                    with m.Case(b):
                        m.d.comb += row.eq(value)
        if per > 1:
            m.d.comb += self.data.eq(row.word_select(place_q, self.width))
        else:
            m.d.comb += self.data.eq(row[:self.width])
        return m
