"""Exported Verilog under Icarus Verilog: vendor flows read Verilog, not just Verilator.

The same designs and comparisons as the Verilator tests (every label and score equal to
golden, the exact II, backpressure), simulated by Icarus from the same generated Verilog:
a random MLP with multi-bit codes and padding, a bit-plane low-bit net, a pooled
convolution network in taps mode and a residual network. Skipped where ``iverilog`` is
not installed (it is not on PyPI; Debian: ``apt install iverilog``).
"""

import shutil

import numpy as np
import pytest

from hdl.folding import LayerFolding
from sim_tests import test_network

pytestmark = pytest.mark.skipif(shutil.which("iverilog") is None,
                                reason="Icarus Verilog (iverilog) is not installed")


def _icarus(monkeypatch):
    from sim_tests import harness
    original = harness.Simulation
    monkeypatch.setattr(test_network, "Simulation",
                        lambda top, name, netlist=None: original(top, "icarus_" + name,
                                                                 simulator="icarus"))


def test_icarus_multibit_padded_mlp(monkeypatch):
    _icarus(monkeypatch)
    network = test_network.random_network(8, counts=(3, 1))
    pixels = np.random.default_rng(12).integers(0, 256, (6, 8, 8), dtype=np.uint8)
    pixels[0], pixels[1] = 255, 0
    test_network.check_network(network, [LayerFolding(24, 7), LayerFolding(10, 5),
                                         LayerFolding(7, 4)], "mlp_padded", pixels)


def test_icarus_bitplane_lowbit(monkeypatch):
    from golden.weights import LutWeights, ShiftWeights, weight_encoding
    _icarus(monkeypatch)
    network = test_network.lowbit_network(
        21, None, [(weight_encoding("binary"), 3), (LutWeights.dorefa(2), 1),
                   (ShiftWeights(3), None)])
    pixels = np.random.default_rng(13).integers(0, 256, (6, 8, 8), dtype=np.uint8)
    test_network.check_network(network, [LayerFolding(12, 8, "bitplane"),
                                         LayerFolding(9, 3, "bitplane"), LayerFolding(24, 2)],
                               "lowbit_bitplane", pixels)


def test_icarus_pooled_conv_taps_and_residual(monkeypatch):
    from sim_tests import test_conv_network as conv
    _icarus(monkeypatch)
    network = conv.pooled_network(31)
    pixels = conv.images(np.random.default_rng(32), (8, 8), 6)
    test_network.check_network(network, [LayerFolding(3, 4), LayerFolding(12, 2),
                                         LayerFolding(8, 3)], "conv_pooled_taps", pixels)
    network = conv.residual_network(41)
    pixels = conv.images(np.random.default_rng(42), (6, 6), 6)
    test_network.check_network(network, [LayerFolding(1, 4), LayerFolding(4, 4),
                                         LayerFolding(1, 4), LayerFolding(12, 1)],
                               "conv_residual", pixels)
