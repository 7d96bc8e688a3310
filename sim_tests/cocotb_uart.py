"""cocotb driver for a UART DUT (ports ``rx``, ``tx``): sends bytes bit by bit on ``rx``
and decodes what comes back on ``tx``.

Reads the case file named by ``BNN_CASE``: the bytes to send (a negative entry ``-N`` is a
break: the line held low for ``N`` bit times, then idle high for 12), the clock cycles per
bit, the number of bytes to expect, an idle gap (in bits) between input chunks and a time
limit in bit times; for a design with SPRAM weights (``"flash"``), the image, its offset and
the wake-up time of a flash model (:mod:`sim_tests.cocotb_flash`) on the ``flash_*`` pins,
and the line starts once the design has read it. Writes the received bytes and the clock
time of each byte's start bit to the result file. The driver wakes only at bit boundaries
(timers), not every clock cycle.
"""

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge, Timer, with_timeout

from sim_tests.cocotb_flash import FlashModel

CLK_NS = 10


async def send(dut, data, bit_ps, chunk, gap_bits):
    for k, byte in enumerate(data):
        if chunk and k and k % chunk == 0:
            await Timer(gap_bits * bit_ps, unit="ps")
        if byte < 0:
            dut.rx.value = 0
            await Timer(-byte * bit_ps, unit="ps")
            dut.rx.value = 1
            await Timer(12 * bit_ps, unit="ps")
            continue
        for bit in [0] + [(byte >> i) & 1 for i in range(8)] + [1]:
            dut.rx.value = bit
            await Timer(bit_ps, unit="ps")


async def receive(dut, n, bit_ns, out, starts):
    while len(out) < n:
        await FallingEdge(dut.tx)
        starts.append(cocotb.utils.get_sim_time(unit="ns") // CLK_NS)
        await Timer(bit_ns * 3 // 2, unit="ns")
        byte = 0
        for i in range(8):
            byte |= int(dut.tx.value) << i
            await Timer(bit_ns, unit="ns")
        assert int(dut.tx.value) == 1, f"byte {len(out)}: stop bit is 0"
        out.append(byte)


@cocotb.test()
async def uart_session(dut):
    with open(os.environ["BNN_CASE"]) as f:
        case = json.load(f)
    bit_ns = case["divisor"] * CLK_NS
    cocotb.start_soon(Clock(dut.clk, CLK_NS, unit="ns").start())
    flash = None
    if "flash" in case:
        flash = FlashModel(dut, bytes.fromhex(case["flash"]["image"]), case["flash"]["wake_ns"],
                           prefix="flash_", offset=case["flash"]["offset"])
        cocotb.start_soon(flash.run())
    dut.rx.value = 1
    dut.rst.value = 1
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    await Timer(2 * bit_ns, unit="ns")
    if flash is not None:
        # SPRAM weights: the flash is read after reset; the host starts once it is done.
        await flash.read_done.wait()

    out, starts = [], []
    receiver = cocotb.start_soon(receive(dut, case["n_out"], bit_ns, out, starts))
    await send(dut, case["inputs"], case.get("host_bit_ps", bit_ns * 1000),
               case.get("chunk", 0), case.get("gap_bits", 0))
    sent_cycle = cocotb.utils.get_sim_time(unit="ns") // CLK_NS
    try:
        await with_timeout(receiver, case["limit_bits"] * bit_ns, timeout_unit="ns")
    finally:
        with open(case["result"], "w") as f:
            json.dump({"outputs": out, "start_cycles": starts, "sent_cycle": sent_cycle,
                       "end_cycle": cocotb.utils.get_sim_time(unit="ns") // CLK_NS,
                       "flash_log": flash.log if flash else None}, f)
