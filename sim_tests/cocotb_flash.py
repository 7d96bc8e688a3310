"""An SPI NOR flash for cocotb (pins ``<prefix>sck``, ``cs_n``, ``copi``, ``cipo``), and a
test that reads a :class:`hdl.flash.FlashReader` DUT's output stream.

The model behaves as a W25Q-family part in SPI mode 0: it powers up in deep power-down,
where it answers nothing but release (``0xAB``), which takes ``wake_ns`` before the next
command is obeyed; read data (``0x03``, 3 address bytes) then shifts bytes out from the
address on, changing ``cipo`` after each falling SCK edge. A command that comes too soon,
or any other command, is recorded and answered with ``0xFF`` bytes (the line floats high),
so a reader that skips the wake-up or the wait reads wrong data.
"""

import json
import os
import random

import cocotb
from cocotb.triggers import Edge, Event, FallingEdge, First, ReadOnly, RisingEdge
from cocotb.utils import get_sim_time

from sim_tests.cocotb_stream import clock_and_reset


class FlashModel:
    def __init__(self, dut, image, wake_ns, prefix="", offset=0):
        self.pin = {name: getattr(dut, prefix + name) for name in ("sck", "cs_n", "copi", "cipo")}
        self.image = {offset + k: b for k, b in enumerate(image)}
        self.wake_ns = wake_ns
        self.read_done = Event()    # set when a read command's CS rises
        self.awake_at = None        # sim time (ns) from which commands are obeyed
        self.log = []               # (command, address or None, obeyed)
        self.pin["cipo"].value = 1

    def _byte(self, address):
        return self.image.get(address, 0xFF)

    async def run(self):
        sck, cs_n, copi, cipo = (self.pin[n] for n in ("sck", "cs_n", "copi", "cipo"))
        while True:
            await FallingEdge(cs_n)
            start = get_sim_time("ns")
            bits, count, out_bits = 0, 0, None
            while True:
                await First(Edge(sck), RisingEdge(cs_n))
                if int(cs_n.value):
                    break
                if int(sck.value):      # rising: sample copi
                    bits, count = (bits << 1) | int(copi.value), count + 1
                    if count == 8 and bits == 0xAB:
                        # Release from power-down: effective wake_ns after CS rises.
                        self.log.append(("release", None, True))
                    if count == 32 and (bits >> 24) == 0x03:
                        obeyed = self.awake_at is not None and start >= self.awake_at
                        self.log.append(("read", bits & 0xFFFFFF, obeyed))
                        out_bits = self._stream(bits & 0xFFFFFF, obeyed)
                elif out_bits is not None:  # falling: next data bit
                    cipo.value = next(out_bits)
            if self.log and self.log[-1][0] == "release" and self.awake_at is None:
                self.awake_at = get_sim_time("ns") + self.wake_ns
            if self.log and self.log[-1][0] == "read":
                self.read_done.set()
            cipo.value = 1

    def _stream(self, address, obeyed):
        while True:
            byte = self._byte(address) if obeyed else 0xFF
            for k in range(7, -1, -1):
                yield (byte >> k) & 1
            address += 1


@cocotb.test()
async def read_flash(dut):
    with open(os.environ["BNN_CASE"]) as f:
        case = json.load(f)
    rng = random.Random(case["seed"])
    flash = FlashModel(dut, bytes.fromhex(case["data"]), case["wake_ns"], offset=case["offset"])
    cocotb.start_soon(flash.run())
    await clock_and_reset(dut, ("o__ready",))
    out, cycle, done_cycle = [], 0, None
    while cycle < case["max_cycles"]:
        dut.o__ready.value = int(rng.random() < case["ready_prob"])
        await ReadOnly()
        if int(dut.o__valid.value) and int(dut.o__ready.value):
            out.append(int(dut.o__payload.value))
        if int(dut.done.value):
            done_cycle = cycle
            break
        await RisingEdge(dut.clk)
        await FallingEdge(dut.clk)
        cycle += 1
    await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    with open(case["result"], "w") as f:
        json.dump({"bytes": bytes(out).hex(), "log": flash.log, "done_cycle": done_cycle,
                   "cs_n": int(dut.cs_n.value)}, f)
