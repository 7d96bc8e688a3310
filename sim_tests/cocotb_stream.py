"""Generic cocotb stream driver for a DUT with ports ``i__*`` (input) and ``o__*`` (output).

Reads the case file named by ``BNN_CASE``: input beats, the number of output beats to
take, the probabilities of presenting a beat (idle insertion) and of being ready
(backpressure), a seed and a cycle limit. Writes every output payload and the cycle of
every handshake to the result file. Stream rules are kept: once valid, a beat is held
unchanged until it is taken.
"""

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge


@cocotb.test()
async def drive_streams(dut):
    with open(os.environ["BNN_CASE"]) as f:
        case = json.load(f)
    rng = random.Random(case["seed"])
    inputs = [int(v, 16) for v in case["inputs"]]
    n_out, limit = case["n_out"], case["max_cycles"]

    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    dut.i__valid.value = 0
    dut.o__ready.value = 0
    for _ in range(3):
        await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0

    outputs, in_cycles, out_cycles = [], [], []
    next_in, holding = 0, False
    cycle = 0
    while len(outputs) < n_out and cycle < limit:
        # Drive for the coming rising edge.
        if not holding and next_in < len(inputs) and rng.random() < case["valid_prob"]:
            dut.i__payload.value = inputs[next_in]
            holding = True
        dut.i__valid.value = int(holding)
        dut.o__ready.value = int(rng.random() < case["ready_prob"])
        await ReadOnly()
        # Handshakes that the coming edge completes.
        if holding and int(dut.i__ready.value):
            in_cycles.append(cycle)
            next_in += 1
            holding = False
        if int(dut.o__valid.value) and int(dut.o__ready.value):
            outputs.append(hex(int(dut.o__payload.value)))
            out_cycles.append(cycle)
        await RisingEdge(dut.clk)
        await FallingEdge(dut.clk)
        cycle += 1

    with open(case["result"], "w") as f:
        json.dump({"outputs": outputs, "in_cycles": in_cycles, "out_cycles": out_cycles,
                   "cycles": cycle, "inputs_taken": next_in}, f)
    assert len(outputs) == n_out, (f"timeout after {cycle} cycles: {len(outputs)} of {n_out} "
                                   f"output beats, {next_in} of {len(inputs)} inputs taken")
