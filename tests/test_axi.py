"""The AXI4-Stream wrapper in the Amaranth simulator against golden, with stalls on both sides,
and its Verilog port names."""

import numpy as np
from amaranth.sim import Simulator

from golden.model import Bias, Dense, InputQuant, Network, Thresholds
from golden.network import run
from golden.packing import pack_lanes, unpack_lanes
from hdl.axi import AxiStreamTop
from hdl.flow.verilog import to_verilog
from hdl.folding import LayerFolding


def small_network():
    rng = np.random.default_rng(3)
    l0 = Dense(rng.choice([-1, 1], (12, 36)),
               Thresholds(rng.integers(14, 22, (12, 1)), rng.choice([-1, 1], 12)))
    l1 = Dense(rng.choice([-1, 1], (5, 12)), Bias(rng.integers(-4, 5, 5)))
    return Network("axi", InputQuant((6, 6), 128), [l0, l1])


def test_axi_wrapper_matches_golden():
    network = small_network()
    folding = [LayerFolding(12, 4), LayerFolding(4, 5)]   # 12-bit input beats: 2 bytes of tdata
    dut = AxiStreamTop(network, folding)
    assert (dut.in_bytes, dut.in_bits) == (2, 12)
    rng = np.random.default_rng(4)
    pixels = rng.integers(0, 256, (6, 6, 6), dtype=np.uint8)
    trace = run(network, pixels)
    bits = network.input(pixels)
    # 3 beats of 12 bits per image; the 4 pad bits of tdata carry junk and must be ignored.
    beats = [v | (int(rng.integers(0, 16)) << 12)
             for row in bits for v in pack_lanes(row.reshape(-1, 12, 1)[:, :, 0], 1)]
    out = []

    async def clock(ctx):
        while True:
            ctx.set(dut.aclk, 0)
            await ctx.delay(5e-9)
            ctx.set(dut.aclk, 1)
            await ctx.delay(5e-9)

    async def bench(ctx):
        ctx.set(dut.aresetn, 0)
        for _ in range(2):
            await ctx.posedge(dut.aclk)
        ctx.set(dut.aresetn, 1)
        k = 0
        while len(out) < len(pixels):
            offer = k < len(beats) and rng.random() < 0.7
            ready = rng.random() < 0.6
            ctx.set(dut.s_axis_tvalid, offer)
            if offer:
                ctx.set(dut.s_axis_tdata, beats[k])
            ctx.set(dut.m_axis_tready, ready)
            await ctx.delay(1e-9)
            took_in = offer and ctx.get(dut.s_axis_tready)
            took_out = ready and ctx.get(dut.m_axis_tvalid)
            if took_out:
                assert ctx.get(dut.m_axis_tlast) == 1
                out.append(ctx.get(dut.m_axis_tdata))
            await ctx.posedge(dut.aclk)
            k += bool(took_in)

    sim = Simulator(dut)
    sim.add_process(clock)
    sim.add_testbench(bench)
    sim.run_until(1e-3)
    lw, sw = dut.top.argmax.label_width, dut.top.argmax.width
    assert [w & ((1 << lw) - 1) for w in out] == trace.labels.tolist()
    assert [unpack_lanes(w >> lw, 5, sw, signed=True) for w in out] == trace.scores.tolist()
    assert all(w >> (lw + 5 * sw) == 0 for w in out)   # pad bits are 0


def test_axi_verilog_port_names():
    text = to_verilog(AxiStreamTop(small_network(), [LayerFolding(12, 4), LayerFolding(4, 5)]),
                      "bnn_axis")
    header = text[text.index("module bnn_axis"):]
    header = header[:header.index(");")]
    for port in ("aclk", "aresetn", "s_axis_tdata", "s_axis_tvalid", "s_axis_tready",
                 "m_axis_tdata", "m_axis_tvalid", "m_axis_tready", "m_axis_tlast"):
        assert port in header
    assert "input [15:0] s_axis_tdata" in text
