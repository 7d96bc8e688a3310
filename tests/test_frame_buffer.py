"""The serial accelerator's frame buffer (hdl.serial.FrameBuffer) in the Amaranth simulator
against a cycle model: speculative writes, commits, aborts, reads under backpressure, and
``full`` exact in every cycle (it is a register updated from the pointers)."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from hdl.serial import FrameBuffer


@pytest.mark.parametrize("depth", [1, 2, 5, 8, 600])
def test_frame_buffer_against_model(depth):
    dut = FrameBuffer(depth)
    rng = np.random.default_rng(depth)
    seen = {"full": 0, "refused": 0, "aborts": 0, "reads": 0}

    async def bench(ctx):
        buf, committed = [], 0          # bytes between the read and write pointers
        o_valid, o_data = False, 0
        expected, got = [], []
        span = max(150, 4 * depth)     # cycles of one phase: long enough to fill it
        for cycle in range(20 * span):
            # The deframer's contract: commit and abort never with a write. Phases of
            # heavy writing and of heavy reading, so that the buffer fills and empties.
            phase = (cycle // span) % 2
            event = rng.random()
            commit = event < 0.08
            abort = 0.08 <= event < 0.11
            wr_en = not (commit or abort) and rng.random() < (0.8 if phase else 0.3)
            data = int(rng.integers(0, 256))
            ready = rng.random() < (0.3 if phase else 0.9)
            ctx.set(dut.wr_en, wr_en)
            ctx.set(dut.wr_data, data)
            ctx.set(dut.commit, commit)
            ctx.set(dut.abort, abort)
            ctx.set(dut.o.ready, ready)
            await ctx.delay(1e-9)
            full = len(buf) == dut.size      # depth rounded up to a power of two
            assert ctx.get(dut.full) == full, f"cycle {cycle}: full"
            assert ctx.get(dut.o.valid) == o_valid, f"cycle {cycle}: valid"
            if o_valid and ready:
                got.append(ctx.get(dut.o.payload))
                expected.append(o_data)
            seen["full"] += full
            seen["refused"] += wr_en and full
            seen["aborts"] += abort and len(buf) > committed
            # The model's next state.
            move = not o_valid or ready
            take = move and committed > 0
            if move:
                o_valid = committed > 0
            if take:
                o_data = buf.pop(0)
                committed -= 1
                seen["reads"] += 1
            if wr_en and not full:
                buf.append(data)
            if commit:
                committed = len(buf)
            elif abort:
                del buf[committed:]
            await ctx.tick()
        assert got == expected

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    # The run did what it is meant to: filled the buffer, refused writes, dropped
    # uncommitted bytes and read many.
    assert seen["full"] and seen["refused"] and seen["aborts"] and seen["reads"] > 100, seen
