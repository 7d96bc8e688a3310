"""A network behind a UART: images in as bytes, class and scores out as bytes.

Protocol (8N1, no flow control), per image:

* host -> board: the image's pixels as bytes, ``features`` bytes in the model's C order
  (row-major), no header. The board counts bytes, so a host must always send whole images;
  a reset (or reprogramming) re-aligns the count.
* board -> host: ``1 + classes * B`` bytes: the label, then every class score as a signed
  little-endian integer of ``B = ceil(score_width / 8)`` bytes (sign-extended), in class
  order. Scores and label equal :func:`golden.network.run` exactly.

On board, pixels become the first layer's input as the model's
:class:`~golden.model.InputQuant` says: bits by ``pixel >= threshold``, codes by its input
table, or the 8-bit pixels themselves.
"""

from amaranth.hdl import Array, Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from golden.errors import ModelError

from .dwc import WidthConverter
from .folding import initiation_interval
from .network import NetworkTop, connect_streams
from .uart import UartRx, UartTx

__all__ = ["ResultSerializer", "SerialAccelerator", "response_bytes"]


def response_bytes(classes, score_width):
    """Bytes per answer: the label, then ``classes`` scores of ``ceil(width/8)`` bytes."""
    return 1 + classes * -(-score_width // 8)


class ResultSerializer(wiring.Component):
    """Turns one ``{label, scores}`` beat into ``response_bytes`` byte beats.

    Latency: the first byte is valid 1 cycle after the result beat is accepted; one byte per
    cycle after that, as the consumer allows.
    """

    def __init__(self, label_width, classes, score_width):
        if label_width > 8:
            raise ModelError(f"{classes} classes do not fit the 1-byte label of the serial "
                             f"protocol (at most 256)")
        self.classes, self.score_width = classes, score_width
        self.score_bytes = -(-score_width // 8)
        self.label_width = label_width
        self.n_bytes = response_bytes(classes, score_width)
        super().__init__({"i": In(stream.Signature(label_width + classes * score_width)),
                          "o": Out(stream.Signature(8))})

    def elaborate(self, platform):
        m = Module()
        w, lw = self.score_width, self.label_width
        frame = Signal(8 * self.n_bytes)
        left = Signal(range(self.n_bytes + 1))
        # The frame: label byte, then each score sign-extended to whole bytes.
        label = self.i.payload[:lw]
        fields = [self.i.payload[lw + k * w:lw + (k + 1) * w].as_signed()
                  for k in range(self.classes)]
        m.d.comb += [self.i.ready.eq(left == 0), self.o.valid.eq(left != 0),
                     self.o.payload.eq(frame[:8])]
        with m.If(self.i.valid & (left == 0)):
            assign = [frame[:8].eq(label)]
            for k, f in enumerate(fields):
                lo = 8 + 8 * self.score_bytes * k
                assign.append(frame[lo:lo + 8 * self.score_bytes].eq(f))
            m.d.sync += assign + [left.eq(self.n_bytes)]
        with m.Elif(self.o.valid & self.o.ready):
            m.d.sync += [frame.eq(frame >> 8), left.eq(left - 1)]
        return m


class SerialAccelerator(wiring.Component):
    """UART receiver, input quantiser, network and result serialiser with transmitter.

    Parameters
    ----------
    network : golden.model.Network
    folding : list of LayerFolding
    divisor : int
        Clock cycles per UART bit (:func:`hdl.uart.uart_divisor`).

    The line cannot be paused, so the network must keep up with it. A FIFO holds one whole
    input image (``features`` quantised pixels); the network takes an image every ``II`` cycles and the line delivers one
    every ``10 * divisor * features`` cycles, and an answer takes ``10 * divisor *
    response_bytes`` cycles to send. ``__init__`` checks that both are at most the image
    time; then at most one image ever waits, and the FIFO cannot overflow.

    Members
    -------
    rx : ``In(1)``, tx : ``Out(1)``
        The UART pins (idle high).
    done : ``Out(1)``
        Pulses when an answer starts (e.g. for an LED).
    """

    def __init__(self, network, folding, divisor):
        self.network = network
        self.top = NetworkTop(network, folding)
        self.divisor = divisor
        features = network.input.features
        self.in_bits = self.top.layers[0][0].in_bits
        self.serializer = ResultSerializer(self.top.argmax.label_width,
                                           self.top.argmax.classes, self.top.argmax.width)
        image_cycles = 10 * divisor * features
        ii = initiation_interval(network, self.top.folding)
        if ii > image_cycles:
            raise ModelError(f"the network takes {ii} cycles per image but the UART delivers "
                             f"one every {image_cycles}; its input would overflow: choose a "
                             f"faster folding (--cycles {image_cycles}) or a higher baud rate")
        if self.serializer.n_bytes > features:
            raise ModelError(f"an answer ({self.serializer.n_bytes} bytes) takes longer to send "
                             f"than an image ({features} bytes) to receive")
        self.fifo_depth = features
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "done": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.uart_rx = rx = UartRx(self.divisor)
        m.submodules.uart_tx = tx = UartTx(self.divisor)
        m.submodules.network = top = self.top
        m.submodules.serializer = ser = self.serializer
        m.d.comb += [rx.rx.eq(self.rx), self.tx.eq(tx.tx)]

        # Input quantiser: pixel >= threshold, the model's code table, or the pixel itself.
        quant = stream.Signature(self.in_bits).create()
        inp = self.network.input
        pixel = rx.o.payload
        m.d.comb += [quant.valid.eq(rx.o.valid), rx.o.ready.eq(quant.ready)]
        if inp.table is not None:
            table = [int(v) for v in inp.table]
            if all(a <= b for a, b in zip(table, table[1:])):
                # A non-decreasing table is a staircase: code = number of steps reached,
                # one 8-bit comparison per step (2 for a 3-level table), not a 256-entry ROM.
                steps = [p for p in range(1, 256) for _ in range(table[p] - table[p - 1])]
                code = sum((pixel >= p for p in steps), table[0])
            else:
                code = Array(Const(v, self.in_bits) for v in table)[pixel]
            m.d.comb += quant.payload.eq(code)
        elif self.in_bits == 1:
            threshold = inp.threshold
            m.d.comb += quant.payload.eq(pixel >= threshold if threshold < 256 else 0)
        else:
            m.d.comb += quant.payload.eq(pixel)

        # The image buffer holds quantised pixels (one bit each for a binarised input): one
        # narrow, deep memory, a block RAM or two, rather than SIMD-wide words.
        simd_bits = self.top.folding[0].simd * self.in_bits
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=self.in_bits, depth=self.fifo_depth)
        m.submodules.dwc = dwc = WidthConverter(self.in_bits, simd_bits)
        connect_streams(m, quant, fifo.w_stream)
        connect_streams(m, fifo.r_stream, dwc.i)
        connect_streams(m, dwc.o, top.i)
        connect_streams(m, top.o, ser.i)
        wiring.connect(m, ser.o, tx.i)
        m.d.comb += self.done.eq(top.o.valid & top.o.ready)
        return m
