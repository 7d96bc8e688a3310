"""The flash reader (:class:`hdl.flash.FlashReader`) in Verilator against a flash model
(:mod:`sim_tests.cocotb_flash`) that starts in deep power-down and ignores a read that
comes before its wake-up time: every byte from the offset, in order, under random
backpressure, at SCK = clock/2 and clock/6."""

import pytest

from hdl.flash import FlashReader
from sim_tests.harness import Simulation


@pytest.mark.parametrize("half_period, ready_prob", [(1, 1.0), (1, 0.3), (3, 0.6)])
def test_flash_reader(verilator, half_period, ready_prob):
    import random
    rng = random.Random(half_period)
    data = bytes(rng.randrange(256) for _ in range(300)) + b"\x00\xff" * 4
    offset, wake = 0x020001, 40
    sim = Simulation(FlashReader(offset, len(data), half_period, wake), f"flash_{half_period}")
    result = sim.run_module("sim_tests.cocotb_flash", {
        "offset": offset, "data": data.hex(), "wake_ns": wake * 10, "seed": 1,
        "ready_prob": ready_prob, "max_cycles": 40 * len(data) * half_period / ready_prob + 2000})
    assert bytes.fromhex(result["bytes"]) == data
    assert result["log"] == [["release", None, True], ["read", offset, True]]
    assert result["done_cycle"] is not None and result["cs_n"] == 1
    # 16 * half_period + 1 cycles per byte when the reader is never stalled.
    if ready_prob == 1.0:
        cycles = (8 + 32) * 2 * half_period + wake + len(data) * (16 * half_period + 1)
        assert cycles <= result["done_cycle"] <= cycles + 10, (cycles, result["done_cycle"])


def test_too_short_a_wait_reads_nothing(verilator):
    """The model is strict: a reader whose wait is shorter than the wake-up time reads 0xFF
    (so the test above would catch a reader that skipped it)."""
    data = bytes(range(16))
    sim = Simulation(FlashReader(0, len(data), 1, 10), "flash_short_wait")
    result = sim.run_module("sim_tests.cocotb_flash", {
        "offset": 0, "data": data.hex(), "wake_ns": 500, "seed": 1, "ready_prob": 1.0,
        "max_cycles": 5000})
    assert result["log"][-1] == ["read", 0, False]
    assert bytes.fromhex(result["bytes"]) == b"\xff" * len(data)


@pytest.mark.parametrize("kwargs, message", [
    ({"offset": 1 << 24, "length": 1}, "24-bit byte address"),
    ({"offset": (1 << 24) - 4, "length": 8}, "run past the 16 MiB"),
    ({"offset": 0, "length": 0}, "length must be a positive integer"),
    ({"offset": 0, "length": 4, "half_period": 0}, "half_period must be"),
])
def test_bad_parameters(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        FlashReader(**kwargs)
