"""AXI4-Stream wrapper of the network top, for vendor block designs (Vivado, Quartus).

Ports (Verilog names), all synchronous to ``aclk``:

``aclk``, ``aresetn``
    Clock, and reset active low (synchronous).
``s_axis_tdata[IN_BYTES*8-1:0]``, ``s_axis_tvalid``, ``s_axis_tready``
    The input vector: ``SF0 = features/SIMD0`` beats per inference of ``SIMD0 * x_bits``
    bits in the low bits of ``tdata`` (feature ``b*SIMD0 + k`` in bit ``k*x_bits`` of beat
    ``b``; binarised pixels are 1 bit, raw pixels 8), the upper pad bits ignored.
    ``tlast`` is not needed: the vector length is fixed.
``m_axis_tdata[OUT_BYTES*8-1:0]``, ``m_axis_tvalid``, ``m_axis_tready``, ``m_axis_tlast``
    One beat per inference: the label in the low ``label_width`` bits, then the
    ``classes`` signed scores of ``score_width`` bits each, class 0 first; pad bits are 0;
    ``tlast`` is 1 on every beat.

Widths are rounded up to whole bytes, as AXI4-Stream requires. The wrapper adds no
register and no latency: handshakes follow the stream rules of AXI (a beat moves when
``tvalid`` and ``tready`` are both high). Throughput is one inference per
``max(SF*NF)`` cycles (:func:`hdl.folding.initiation_interval`); answers leave in the order
the inputs came.
"""

from amaranth.hdl import ClockDomain, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .network import NetworkTop

__all__ = ["AxiStreamTop"]


def _bytes(bits):
    return -(-bits // 8)


class AxiStreamTop(wiring.Component):
    """:class:`~hdl.network.NetworkTop` with AXI4-Stream ports (see the module docstring)."""

    def __init__(self, network, folding):
        self.top = NetworkTop(network, folding)
        self.in_bits = len(self.top.i.payload)
        self.out_bits = len(self.top.o.payload.as_value())
        self.in_bytes, self.out_bytes = _bytes(self.in_bits), _bytes(self.out_bits)
        super().__init__({
            "aclk": In(1), "aresetn": In(1),
            "s_axis_tdata": In(8 * self.in_bytes), "s_axis_tvalid": In(1),
            "s_axis_tready": Out(1),
            "m_axis_tdata": Out(8 * self.out_bytes), "m_axis_tvalid": Out(1),
            "m_axis_tready": In(1), "m_axis_tlast": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = cd_sync = ClockDomain("sync", local=True)
        m.d.comb += [cd_sync.clk.eq(self.aclk), cd_sync.rst.eq(~self.aresetn)]
        m.submodules.network = top = self.top
        m.d.comb += [
            top.i.payload.eq(self.s_axis_tdata[:self.in_bits]),
            top.i.valid.eq(self.s_axis_tvalid),
            self.s_axis_tready.eq(top.i.ready),
            self.m_axis_tdata.eq(top.o.payload.as_value()),
            self.m_axis_tvalid.eq(top.o.valid),
            top.o.ready.eq(self.m_axis_tready),
            self.m_axis_tlast.eq(1),
        ]
        return m
