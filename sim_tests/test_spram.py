"""Weights in the iCE40 UP's SPRAMs (:class:`hdl.spram.SpramRom`) in Verilator, with
Yosys's model of the ``SB_SPRAM256KA`` cell: the load bytes of
:meth:`hdl.network.NetworkTop.spram_image` go in from reset (with idle cycles), no input is
taken before ``loaded``, then every label and score equals golden at the exact II, under
backpressure too; as generated Verilog and as the synthesised iCE40 netlist."""

import numpy as np
import pytest

from golden.packing import SPRAM_DEPTH
from hdl.folding import LayerFolding
from hdl.network import NetworkTop
from sim_tests.test_network import check_network, random_network


def _pixels(seed, n, shape=(8, 8)):
    pixels = np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)
    pixels[0], pixels[1] = 255, 0
    return pixels


def test_spram_layers_beside_rom_layers(verilator):
    """Two of three layers in SPRAM: 128-bit words (8 cells side by side) and 40-bit words
    (3 cells, the last slice padded); the middle layer a ROM."""
    network = random_network(7)
    folding = [LayerFolding(16, 8, weights="spram"), LayerFolding(12, 4),
               LayerFolding(8, 5, weights="spram")]
    top = NetworkTop(network, folding)
    assert [u.spram.cells for u in top.spram_units] == [8, 3]
    check_network(network, folding, "spram_mixed", _pixels(3, 10),
                  stall_runs=((0.5, 0.5), (0.9, 0.2)))


def test_spram_deeper_than_one_cell(verilator):
    """A weight memory of 18,432 16-bit words (SIMD 16, PE 1 over 2,048 x 144): two cells
    deep, the read's cell chosen by the address's top bits (registered with the read)."""
    network = random_network(5, sizes=(64, 2048, 144, 10))
    folding = [LayerFolding(64, 64), LayerFolding(16, 1, weights="spram"), LayerFolding(48, 10)]
    top = NetworkTop(network, folding)
    (unit,) = top.spram_units
    assert unit.sf * unit.nf > SPRAM_DEPTH and (unit.spram.banks, unit.spram.lanes) == (2, 1)
    check_network(network, folding, "spram_deep", _pixels(4, 4), stall_runs=((0.7, 0.6),))


def test_spram_narrow_words_packed(verilator):
    """4-bit, 1-bit and 5-bit weight words packed 4, 16 and 2 to an SPRAM word (the 1-bit
    layer's 1,152 words in 72): the read picks its word by the address's low bits,
    registered with the read."""
    network = random_network(7)
    folding = [LayerFolding(2, 2, weights="spram"), LayerFolding(1, 1, weights="spram"),
               LayerFolding(1, 5, weights="spram")]
    top = NetworkTop(network, folding)
    assert [u.spram.per for u in top.spram_units] == [4, 16, 2]
    assert [u.spram.cells for u in top.spram_units] == [1, 1, 1]
    check_network(network, folding, "spram_packed", _pixels(8, 4),
                  stall_runs=((0.5, 0.5),))


def test_spram_netlist(verilator):
    """The synthesised iCE40 netlist: the SPRAM is an ``SB_SPRAM256KA`` cell of Yosys's own
    models, and the design still equals golden."""
    network = random_network(7)
    folding = [LayerFolding(16, 8), LayerFolding(12, 4), LayerFolding(8, 5, weights="spram")]
    sim = check_network(network, folding, "spram_netlist_ice40", _pixels(6, 6),
                        stall_runs=((0.6, 0.6),), netlist="ice40")
    assert sim.synthesis["cells"].get("SB_SPRAM256KA") == 3, sim.synthesis["cells"]


@pytest.mark.parametrize("bad", [LayerFolding(16, 8, weights="flash")])
def test_unknown_weight_store_is_refused(bad):
    with pytest.raises(ValueError, match="weights must be one of rom, spram"):
        NetworkTop(random_network(7), [bad, LayerFolding(12, 4), LayerFolding(8, 5)])
