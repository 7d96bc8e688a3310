"""8N1 UART receiver and transmitter with byte streams (no flow control).

``divisor`` is the number of clock cycles per bit (clock frequency / baud rate), at
least 4. Bits go least significant first, framed by a 0 start bit and a 1 stop bit.
"""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from .params import check_positive_int

__all__ = ["UartRx", "UartTx", "uart_divisor", "choose_baud", "STANDARD_BAUDS", "MIN_DIVISOR"]

# Rates a USB UART bridge offers, fastest first: the FT2232H (iCEBreaker) divides 12 MHz
# (12, 6, 4, 3, 2.4, 2 Mbaud ...), the FT231X (ULX3S) stops at 3 Mbaud; each board names
# its bridge's limit (``max_baud``).
STANDARD_BAUDS = (12_000_000, 6_000_000, 4_000_000, 3_000_000, 2_000_000, 1_500_000,
                  1_000_000, 921_600, 460_800, 230_400, 115_200)
#: The fewest clock cycles per bit the receiver takes: proven in simulation with the host's
#: clock 2 % off both ways and line faults (``sim_tests/test_serial.py``).
MIN_DIVISOR = 4


def uart_divisor(clk_hz, baud):
    """Cycles per bit, rounded; raises ``ValueError`` when the rate error exceeds 2 %
    (an 8N1 frame tolerates about 4 % between both ends)."""
    divisor = round(clk_hz / baud)
    if divisor < MIN_DIVISOR:
        raise ValueError(f"baud rate {baud} is too fast for a {clk_hz / 1e6:g} MHz clock")
    error = abs(clk_hz / divisor - baud) / baud
    if error > 0.02:
        raise ValueError(f"baud rate {baud} is {100 * error:.1f} % off at {clk_hz / 1e6:g} MHz "
                         f"(divisor {divisor}); choose another rate or clock")
    return divisor


def choose_baud(clk_hz, baud=None, max_baud=3_000_000):
    """``baud`` if given (checked by :func:`uart_divisor`), else the fastest of
    :data:`STANDARD_BAUDS` up to ``max_baud`` (the board's USB UART) within 2 % at
    ``clk_hz`` and at least :data:`MIN_DIVISOR` cycles per bit."""
    if baud is not None:
        if baud > max_baud:
            raise ValueError(f"baud rate {baud} is faster than the board's USB UART carries "
                             f"({max_baud}); give --baud {max_baud} or less")
        uart_divisor(clk_hz, baud)
        return baud
    for rate in (r for r in STANDARD_BAUDS if r <= max_baud):
        try:
            uart_divisor(clk_hz, rate)
        except ValueError:
            continue
        return rate
    raise ValueError(f"no standard baud rate is within 2 % at {clk_hz / 1e6:g} MHz")


class UartRx(wiring.Component):
    """Receiver: ``rx`` pin in, one byte per ``o`` beat.

    The pin passes a two-flop synchroniser; a falling edge starts a frame, and every bit is
    sampled in its middle. A frame whose stop bit is 0 is dropped (``frame_error`` pulses).
    A byte is offered on ``o`` from the stop bit on; if ``o`` is not ready by the time
    the next byte completes, that older byte is overwritten (``overrun`` pulses): the line
    has no flow control, so the consumer must keep up (see :class:`hdl.serial.SerialAccelerator`).

    Latency: ``o.valid`` rises about 9.5 bit times after the start edge.
    """

    def __init__(self, divisor):
        check_positive_int("divisor", divisor)
        if divisor < MIN_DIVISOR:
            raise ValueError(f"divisor must be at least {MIN_DIVISOR} cycles per bit, not "
                             f"{divisor}")
        self.divisor = divisor
        super().__init__({"rx": In(1, init=1), "o": Out(stream.Signature(8)),
                          "frame_error": Out(1), "overrun": Out(1)})

    def elaborate(self, platform):
        m = Module()
        rx = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, rx, init=1)
        timer = Signal(range(self.divisor * 3 // 2 + 1))
        bit = Signal(range(10))
        shreg = Signal(8)
        m.d.sync += [self.frame_error.eq(0), self.overrun.eq(0)]
        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~rx):
                    # First sample in the middle of data bit 0: 1.5 bit times from the edge.
                    m.d.sync += [timer.eq(self.divisor * 3 // 2 - 1), bit.eq(0)]
                    m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer == 0):
                    m.d.sync += [timer.eq(self.divisor - 1), bit.eq(bit + 1)]
                    with m.If(bit == 8):
                        with m.If(rx):
                            m.d.sync += [self.o.payload.eq(shreg), self.o.valid.eq(1),
                                         self.overrun.eq(self.o.valid & ~self.o.ready)]
                        with m.Else():
                            m.d.sync += self.frame_error.eq(1)
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += shreg.eq(Cat(shreg[1:], rx))
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
        return m


class UartTx(wiring.Component):
    """Transmitter: one byte per accepted ``i`` beat, ``tx`` pin out (idle high).

    Takes a byte when idle, then sends 10 bits of ``divisor`` cycles each.
    """

    def __init__(self, divisor):
        check_positive_int("divisor", divisor)
        self.divisor = divisor
        super().__init__({"i": In(stream.Signature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        timer = Signal(range(self.divisor))
        bits = Signal(range(11))
        shreg = Signal(10, init=0x3FF)
        # ``bits == 0`` as a register: ``i.ready`` starts the sender's handshake logic.
        idle = Signal(init=1)
        m.d.comb += [self.i.ready.eq(idle), self.tx.eq(shreg[0])]
        with m.If(idle):
            with m.If(self.i.valid):
                # Start bit 0, the data LSB first, stop bit 1.
                m.d.sync += [shreg.eq(Cat(0, self.i.payload, 1)), bits.eq(10),
                             timer.eq(self.divisor - 1), idle.eq(0)]
        with m.Elif(timer == 0):
            m.d.sync += [shreg.eq(Cat(shreg[1:], 1)), bits.eq(bits - 1),
                         timer.eq(self.divisor - 1), idle.eq(bits == 1)]
        with m.Else():
            m.d.sync += timer.eq(timer - 1)
        return m
