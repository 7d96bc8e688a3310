"""The stream FIFOs (hdl.streams.BlockFifo, StreamFifo) in the Amaranth simulator: every word
out in order under random valid and ready, and at least ``depth`` words taken while the
output is stalled."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from hdl.streams import BlockFifo, StreamFifo


@pytest.mark.parametrize("kind, width, depth", [(BlockFifo, 8, 3), (BlockFifo, 5, 8),
                                                (StreamFifo, 8, 2), (StreamFifo, 3, 20)])
def test_fifo_keeps_order_under_backpressure(kind, width, depth):
    dut = kind(width, depth)
    rng = np.random.default_rng(depth)
    words = [int(x) for x in rng.integers(0, 1 << width, 600)]
    got, taken_while_stalled = [], []

    async def bench(ctx):
        sent = 0
        # First the output stalls: the FIFO must take at least ``depth`` words.
        for _ in range(4 * depth + 8):
            ctx.set(dut.o.ready, 0)
            ctx.set(dut.i.valid, 1)
            ctx.set(dut.i.payload, words[sent])
            await ctx.delay(1e-9)
            if ctx.get(dut.i.ready):
                sent += 1
            await ctx.tick()
        taken_while_stalled.append(sent)
        # Then random valid and ready until every word is out.
        for _ in range(20_000):
            valid = sent < len(words) and rng.random() < 0.7
            ready = rng.random() < 0.6
            ctx.set(dut.i.valid, valid)
            ctx.set(dut.i.payload, words[sent] if sent < len(words) else 0)
            ctx.set(dut.o.ready, ready)
            await ctx.delay(1e-9)
            if valid and ctx.get(dut.i.ready):
                sent += 1
            if ready and ctx.get(dut.o.valid):
                got.append(ctx.get(dut.o.payload))
            await ctx.tick()
            if len(got) == len(words):
                break

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert taken_while_stalled[0] >= depth
    assert got == words
