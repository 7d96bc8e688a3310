"""WidthConverter in Verilator: the bit stream is unchanged, only re-chunked."""

import numpy as np
import pytest

from hdl.dwc import WidthConverter
from sim_tests.harness import Simulation, pack_beats


@pytest.mark.parametrize("a,b", [(4, 12), (12, 4), (6, 4), (3, 8)])
def test_width_converter(verilator, a, b):
    rng = np.random.default_rng(a * 100 + b)
    bits = rng.integers(0, 2, (1, 24 * 16 * 5), dtype=np.uint8)  # a multiple of every lcm
    bits[0, :64] = 1
    dut = WidthConverter(a, b)
    sim = Simulation(dut, f"dwc_{a}_{b}")
    in_beats, expected = pack_beats(bits, a), pack_beats(bits, b)
    for seed, (pv, pr) in enumerate([(0.5, 0.5), (1.0, 0.3), (0.3, 1.0)]):
        res = sim.run(in_beats, len(expected), valid_prob=pv, ready_prob=pr, seed=seed)
        assert res.outputs == expected, f"valid_prob={pv} ready_prob={pr}"
    # Without stalls the narrower side moves a beat every cycle: no bubbles added.
    res = sim.run(in_beats, len(expected))
    assert res.outputs == expected
    narrow = res.in_cycles if a <= b else res.out_cycles
    assert narrow == list(range(narrow[0], narrow[0] + len(narrow)))
