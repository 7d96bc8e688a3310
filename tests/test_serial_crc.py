"""The link's CRC-16 in hardware (hdl.serial.SerialCrc, bit-serial, and crc16_next, a byte
per cycle) in the Amaranth simulator against golden.serial.crc16."""

import numpy as np
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from golden.serial import CRC_INIT, crc16
from hdl.serial import SerialCrc, crc16_next


def test_serial_crc_against_golden():
    dut = SerialCrc()
    rng = np.random.default_rng(7)
    # Frames of random bytes, the edge bytes among them, fed with random gaps; each frame
    # starts from a clear.
    frames = [bytes(rng.integers(0, 256, int(n)).tolist()) for n in rng.integers(1, 12, 20)]
    frames += [b"\x00" * 5, b"\xff" * 5, b"\xc0\xdb\xdc\xdd"]
    checked = []

    async def bench(ctx):
        for frame in frames:
            ctx.set(dut.clear, 1)
            await ctx.tick()
            ctx.set(dut.clear, 0)
            assert ctx.get(dut.crc) == CRC_INIT
            for k, byte in enumerate(frame):
                ctx.set(dut.byte, byte)
                ctx.set(dut.start, 1)
                await ctx.tick()
                ctx.set(dut.start, 0)
                busy_cycles = 0
                while ctx.get(dut.busy):
                    busy_cycles += 1
                    await ctx.tick()
                assert busy_cycles == 8
                assert ctx.get(dut.crc) == crc16(frame[:k + 1])
                # Idle cycles change nothing.
                await ctx.tick().repeat(int(rng.integers(1, 4)))
                assert ctx.get(dut.crc) == crc16(frame[:k + 1])
            checked.append(frame)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert checked == frames


def test_crc16_next_against_golden():
    m = Module()
    crc, byte = Signal(16), Signal(8)
    out = Signal(16)
    m.d.comb += out.eq(crc16_next(crc, byte))
    rng = np.random.default_rng(8)
    cases = [(CRC_INIT, 0), (0, 0), (0xFFFF, 0xFF)]
    cases += [(int(c), int(b)) for c, b in zip(rng.integers(0, 1 << 16, 200),
                                                rng.integers(0, 256, 200))]

    async def bench(ctx):
        for c, b in cases:
            ctx.set(crc, c)
            ctx.set(byte, b)
            assert ctx.get(out) == crc16(bytes((b,)), c)

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
