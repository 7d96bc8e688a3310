"""Reading a block of the board's SPI flash after reset: the SPRAM weights' source."""

from amaranth.hdl import Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .params import check_positive_int

__all__ = ["FlashReader", "RELEASE_POWER_DOWN", "READ_DATA", "WAKE_SECONDS", "ADDRESS_BYTES"]

#: SPI NOR commands (JEDEC, common to the W25Q, MX25, IS25 and AT25 families): release from
#: deep power-down, and read data (3 address bytes, no dummy cycles, any clock up to the
#: part's read limit, 33 MHz or more).
RELEASE_POWER_DOWN, READ_DATA = 0xAB, 0x03
ADDRESS_BYTES = 3
#: The wait after releasing deep power-down before the next command (tRES1: 3 us on the
#: W25Q128JV of the iCEBreaker and the ULX3S).
WAKE_SECONDS = 3e-6


class FlashReader(wiring.Component):
    """Reads ``length`` bytes from ``offset`` of an SPI NOR flash, once after reset, and
    streams them out.

    Sequence (SPI mode 0: SCK idles low, both sides sample on its rising edge, the flash
    shifts its output on the falling edge, most significant bit first): ``cs_n`` low,
    :data:`RELEASE_POWER_DOWN`, ``cs_n`` high for ``wake_cycles`` (an FPGA's
    configuration may leave the flash powered down), then ``cs_n`` low,
    :data:`READ_DATA` and the 24-bit ``offset``, and ``8*length`` clocks in; ``cs_n``
    high and ``done`` once the last byte is taken. SCK runs at ``clock / (2 *
    half_period)``; while a byte waits at a stalled ``o``, SCK stays low (the flash holds
    its place), so backpressure loses nothing.

    Latency: the first byte is valid ``(8 + 32 + 8) * 2 * half_period + wake_cycles``
    cycles after reset, plus a few of set-up; the next ones at most ``16 * half_period +
    1`` cycles apart when ``o`` is ready.

    Parameters
    ----------
    offset : int
        Flash byte address of the first byte (24 bits).
    length : int
        Bytes to read.
    half_period : int
        Clock cycles per half SCK period (at least 1).
    wake_cycles : int
        Clock cycles between release from power-down and the read (at least
        :data:`WAKE_SECONDS` times the clock).

    Members
    -------
    o : ``Out(stream.Signature(8))``
        The bytes, in flash order.
    done : ``Out(1)``
        High once every byte has been taken.
    after : ``Out(range(-1, length))``
        While a byte is offered on ``o``: the bytes to come after it, less one (-1 with
        the last byte), so a consumer can tell where a trailer starts without a count of
        its own.
    sck, cs_n, copi : ``Out(1)``; cipo : ``In(1)``
        The flash pins (``cs_n`` idle high).
    """

    def __init__(self, offset, length, half_period=1, wake_cycles=200):
        if not isinstance(offset, int) or not 0 <= offset < 1 << 8 * ADDRESS_BYTES:
            raise ValueError(f"flash offset must be a 24-bit byte address, not {offset!r}")
        check_positive_int("length", length)
        if offset + length > 1 << 8 * ADDRESS_BYTES:
            raise ValueError(f"{length} bytes from {offset:#x} run past the 16 MiB a 3-byte "
                             f"address reaches")
        check_positive_int("half_period", half_period)
        check_positive_int("wake_cycles", wake_cycles)
        self.offset, self.length = offset, length
        self.half_period, self.wake_cycles = half_period, wake_cycles
        super().__init__({"o": Out(stream.Signature(8)), "done": Out(1),
                          "after": Out(range(-1, length)),
                          "sck": Out(1), "cs_n": Out(1, init=1), "copi": Out(1),
                          "cipo": In(1)})

    def elaborate(self, platform):
        m = Module()
        out_bits = 8 * (1 + ADDRESS_BYTES)
        shift_in = Signal(8)
        bits_left = Signal(range(out_bits + 1))
        # Both count down to -1 and end on the sign bit (no compare): ``timer`` the
        # cycles left to wait less one, ``remaining`` the bytes left to hand out less one.
        timer = Signal(range(-1, max(self.half_period, self.wake_cycles)))
        remaining = Signal(range(-1, self.length))
        m.d.comb += self.after.eq(remaining)
        wake_bits = Const(RELEASE_POWER_DOWN, out_bits)
        read_bits = Const(READ_DATA << 8 * ADDRESS_BYTES | self.offset, out_bits)
        index = Signal(range(out_bits))
        m.d.comb += index.eq(bits_left - 1)

        def start_shift(bits):
            return [bits_left.eq(bits), timer.eq(self.half_period - 2), self.sck.eq(0)]

        def shift(when_done):
            """One bit per SCK period: sample ``cipo`` as SCK rises, the next ``copi`` bit
            as it falls; ``when_done`` after the last falling edge."""
            with m.If(~timer[-1]):
                m.d.sync += timer.eq(timer - 1)
            with m.Else():
                m.d.sync += timer.eq(self.half_period - 2)
                with m.If(~self.sck):
                    m.d.sync += [self.sck.eq(1), shift_in.eq((shift_in << 1) | self.cipo)]
                with m.Else():
                    m.d.sync += [self.sck.eq(0), bits_left.eq(bits_left - 1)]
                    with m.If(bits_left == 1):
                        when_done()

        with m.FSM() as fsm:
            with m.State("WAKE"):
                m.d.sync += [self.cs_n.eq(0), *start_shift(8)]
                m.next = "WAKE_SHIFT"
            with m.State("WAKE_SHIFT"):
                def woken():
                    m.d.sync += [self.cs_n.eq(1), timer.eq(self.wake_cycles - 2)]
                    m.next = "WAIT"
                shift(woken)
            with m.State("WAIT"):
                with m.If(~timer[-1]):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    m.d.sync += [self.cs_n.eq(0), *start_shift(out_bits),
                                 remaining.eq(self.length - 2)]
                    m.next = "COMMAND"
            with m.State("COMMAND"):
                def addressed():
                    m.d.sync += [bits_left.eq(8), timer.eq(self.half_period - 2)]
                    m.next = "DATA"
                shift(addressed)
            with m.State("DATA"):
                def byte_in():
                    m.next = "HAND_OUT"
                shift(byte_in)
            with m.State("HAND_OUT"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(shift_in)]
                with m.If(self.o.ready):
                    m.d.sync += [remaining.eq(remaining - 1), bits_left.eq(8),
                                 timer.eq(self.half_period - 2)]
                    with m.If(remaining[-1]):
                        m.d.sync += self.cs_n.eq(1)
                        m.next = "DONE"
                    with m.Else():
                        m.next = "DATA"
            with m.State("DONE"):
                m.d.comb += self.done.eq(1)
        # What goes out on copi is constant (the two commands and the offset): bit
        # ``bits_left - 1`` of the command being sent, a small ROM on the bit counter
        # rather than a loadable shift register; low outside the commands.
        with m.If(fsm.ongoing("WAKE_SHIFT")):
            m.d.comb += self.copi.eq(wake_bits.bit_select(index, 1))
        with m.Elif(fsm.ongoing("COMMAND")):
            m.d.comb += self.copi.eq(read_bits.bit_select(index, 1))
        return m
