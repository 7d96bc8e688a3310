"""Generic cocotb stream driver for a DUT with ports ``i__*`` (input) and ``o__*`` (output).

Reads the case file named by ``BNN_CASE``: input beats, the number of output beats to
take, the probabilities of presenting a beat (idle insertion) and of being ready
(backpressure), a seed and a cycle limit. Writes every output payload and the cycle of
every handshake to the result file. Stream rules are kept: once valid, a beat is held
unchanged until it is taken.

With no idle insertion and no backpressure (both probabilities 1) the driver does not
wake up on cycles where nothing can happen: while the beat it holds is refused and no
output is valid, it sleeps until ``i__ready`` or ``o__valid`` rises (both change only on
clock edges), and counts cycles from the simulation time. Deep pipelines (a convolutional
network's first answer comes after hundreds of thousands of cycles) simulate many times
faster; the handshakes and their cycles are the same.

A case with ``"load"`` (bytes, for a design with SPRAM weights) also feeds them to the
``load__*`` stream from reset on, beside the input stream and at the same idle rate, and
records the cycle ``loaded`` rose.
"""

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, First, ReadOnly, RisingEdge, Timer
from cocotb.utils import get_sim_time

PERIOD_NS = 10


async def clock_and_reset(dut, low=()):
    """Start the clock and hold ``rst`` for 3 cycles with the ports named in ``low`` at 0;
    returns at the falling edge where ``rst`` goes low."""
    cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())
    dut.rst.value = 1
    for name in low:
        getattr(dut, name).value = 0
    for _ in range(3):
        await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0


@cocotb.test()
async def drive_streams(dut):
    with open(os.environ["BNN_CASE"]) as f:
        case = json.load(f)
    rng = random.Random(case["seed"])
    inputs = [int(v, 16) for v in case["inputs"]]
    n_out, limit = case["n_out"], case["max_cycles"]

    await clock_and_reset(dut, ("i__valid", "o__ready"))

    outputs, in_cycles, out_cycles = [], [], []
    next_in, holding = 0, False
    cycle = 0
    start = get_sim_time("ns")
    loaded = []
    if "load" in case:
        cocotb.start_soon(_load(dut, bytes.fromhex(case["load"]), case["valid_prob"],
                                random.Random(case["seed"] + 1), start, loaded))
    fast = case["valid_prob"] >= 1 and case["ready_prob"] >= 1
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
        out_valid = int(dut.o__valid.value)
        if out_valid and int(dut.o__ready.value):
            outputs.append(hex(int(dut.o__payload.value)))
            out_cycles.append(cycle)
        if fast and not out_valid and (holding or next_in == len(inputs)):
            # Nothing moves until the held beat is taken or an output appears.
            events = [RisingEdge(dut.o__valid), Timer((limit - cycle) * PERIOD_NS, unit="ns")]
            if holding:
                events.append(RisingEdge(dut.i__ready))
            await First(*events)
        else:
            await RisingEdge(dut.clk)
        await FallingEdge(dut.clk)
        cycle = round((get_sim_time("ns") - start) / PERIOD_NS)

    with open(case["result"], "w") as f:
        json.dump({"outputs": outputs, "in_cycles": in_cycles, "out_cycles": out_cycles,
                   "cycles": cycle, "inputs_taken": next_in,
                   "loaded_cycle": loaded[0] if loaded else None}, f)
    assert len(outputs) == n_out, (f"timeout after {cycle} cycles: {len(outputs)} of {n_out} "
                                   f"output beats, {next_in} of {len(inputs)} inputs taken")


async def _load(dut, image, valid_prob, rng, start, loaded):
    """Drive ``image`` into ``load__*`` a byte per handshake; append the cycle ``loaded``
    rose to ``loaded``."""
    dut.load__valid.value = 0
    next_byte, holding = 0, False
    while True:
        if not holding and next_byte < len(image) and rng.random() < valid_prob:
            dut.load__payload.value = image[next_byte]
            holding = True
        dut.load__valid.value = int(holding)
        await ReadOnly()
        if holding and int(dut.load__ready.value):
            next_byte += 1
            holding = False
        if int(dut.loaded.value):
            loaded.append(round((get_sim_time("ns") - start) / PERIOD_NS))
            break
        await RisingEdge(dut.clk)
        await FallingEdge(dut.clk)
    await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.load__valid.value = 0
