"""A read-only memory in the iCE40 UP's single-port RAMs, filled once after reset."""

from amaranth.hdl import Cat, ClockSignal, Instance, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from golden.packing import SPRAM_DEPTH, SPRAM_WIDTH

from .params import check_positive_int, counter

__all__ = ["SpramRom", "spram_count", "SPRAM_CELL"]

SPRAM_CELL = "SB_SPRAM256KA"


def spram_count(width, depth):
    """``SB_SPRAM256KA`` cells of a ``width`` x ``depth`` memory: ``ceil(width / 16)`` side
    by side times ``ceil(depth / 16384)`` deep."""
    return -(-width // SPRAM_WIDTH) * -(-depth // SPRAM_DEPTH)


class SpramRom(wiring.Component):
    """A ``width`` x ``depth`` memory in ``SB_SPRAM256KA`` cells, written once through
    ``load`` and then read like a block RAM's read port.

    An SPRAM has no initial contents in the bitstream, so after reset the memory takes
    :func:`golden.packing.spram_words` through ``load``: ``ceil(width/16)`` 16-bit words
    per memory word, lowest slice first, words in address order; ``loaded`` rises after
    the last one and ``load`` stops accepting. A load word is written in the cycle it is
    accepted (``load.ready`` is ``~loaded``).

    Read: ``data`` holds word ``addr`` from the cycle after a cycle with ``en`` (and
    ``loaded``), and keeps it while ``en`` is low, as an Amaranth read port with an
    enable does. Reads before ``loaded`` are not defined.

    Cells: ``ceil(width/16)`` side by side times ``ceil(depth/16384)`` deep; a deep
    memory selects a row of cells by the address's top bits (registered with the read).

    Parameters
    ----------
    width, depth : int
        Bits per word and words.
    """

    def __init__(self, width, depth):
        check_positive_int("width", width)
        check_positive_int("depth", depth)
        self.width, self.depth = width, depth
        self.lanes = -(-width // SPRAM_WIDTH)
        self.banks = -(-depth // SPRAM_DEPTH)
        self.cells = self.lanes * self.banks
        #: Load words: :attr:`lanes` per memory word.
        self.load_words = self.lanes * depth
        super().__init__({
            "load": In(stream.Signature(SPRAM_WIDTH)),
            "loaded": Out(1),
            "addr": In(range(max(2, depth))),
            "en": In(1),
            "data": Out(width),
        })

    def elaborate(self, platform):
        m = Module()
        lanes, banks = self.lanes, self.banks
        low = (SPRAM_DEPTH - 1).bit_length()
        # The load position: memory word and slice.
        w_addr, w_lane = counter(self.depth), counter(lanes)
        take = self.load.valid & self.load.ready
        m.d.comb += self.load.ready.eq(~self.loaded)
        with m.If(take):
            with m.If(w_lane == lanes - 1):
                m.d.sync += w_lane.eq(0)
                with m.If(w_addr == self.depth - 1):
                    m.d.sync += self.loaded.eq(1)
                with m.Else():
                    m.d.sync += w_addr.eq(w_addr + 1)
            with m.Else():
                m.d.sync += w_lane.eq(w_lane + 1)

        w_bank = w_addr[low:] if banks > 1 else 0
        r_bank = self.addr[low:] if banks > 1 else 0
        # The read's bank, for the output multiplexer a cycle later.
        bank_q = Signal(range(max(2, banks)))
        if banks > 1:
            with m.If(self.en & self.loaded):
                m.d.sync += bank_q.eq(r_bank)
        # Reads once loaded; before that the load's address (the cells' only port).
        address = Signal(low)
        m.d.comb += address.eq(Mux(self.loaded, self.addr, w_addr))
        outs = [[Signal(SPRAM_WIDTH, name=f"dout_{b}_{k}") for k in range(lanes)]
                for b in range(banks)]
        for b in range(banks):
            for k in range(lanes):
                write = take & (w_lane == k) & (w_bank == b)
                read = self.loaded & self.en & (r_bank == b)
                m.submodules[f"cell_{b}_{k}"] = Instance(
                    SPRAM_CELL,
                    i_ADDRESS=address,
                    i_DATAIN=self.load.payload, i_MASKWREN=0b1111,
                    i_WREN=write, i_CHIPSELECT=write | read,
                    i_CLOCK=ClockSignal("sync"), i_STANDBY=0, i_SLEEP=0, i_POWEROFF=1,
                    o_DATAOUT=outs[b][k])
        rows = [Cat(*row)[:self.width] for row in outs]
        if banks == 1:
            m.d.comb += self.data.eq(rows[0])
        else:
            with m.Switch(bank_q):
                for b, row in enumerate(rows):
                    with m.Case(b):
                        m.d.comb += self.data.eq(row)
        return m

