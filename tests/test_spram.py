"""SPRAM weights outside simulation: the load image golden packs (checked against an
independent slicing), the cell count, the ``:spram`` folding syntax, the fit search moving
weights to SPRAM when block RAM runs short, the programming file that carries them, and
the one-line refusals (a board without SPRAM, a design that would need more cells).
The Verilator tests against golden are in ``sim_tests/test_spram.py``,
``sim_tests/test_flash.py`` and ``sim_tests/test_serial.py``."""

from pathlib import Path

import numpy as np
import pytest

from boards import board
from golden.cli import run_cli
from golden.errors import ModelError
from golden.formats import load_model
from golden.packing import SPRAM_DEPTH, spram_image, spram_words
from golden.serial import crc16
from hdl.flow.bitstream import BoardBuildError, board_core, flash_file
from hdl.flow.build import choose_folding
from hdl.flow.folding import parse_folding
from hdl.flow.resources import model_estimates
from hdl.folding import LayerFolding
from hdl.network import NetworkTop
from hdl.spram import SpramRom, spram_count
from tests.test_board import MLP, icebreaker_tools, passing_place_and_route

ROOT = Path(__file__).resolve().parent.parent
LARQ_CNN = ROOT / "models" / "larq_mnist_cnn.h5"


def test_load_words_slice_each_word_lowest_bits_first():
    """Each 40-bit word as three 16-bit slices (the last zero-padded), from a bit-string
    slicing of the word; the image is their little-endian bytes, memory after memory."""
    rng = np.random.default_rng(1)
    words = [int(v) for v in rng.integers(0, 1 << 40, 50, dtype=np.int64)] + [0, (1 << 40) - 1]
    slices = []
    for w in words:
        bits = format(w, "048b")[::-1]            # bit k at index k, padded to 48
        slices += [int(bits[16 * k:16 * (k + 1)][::-1], 2) for k in range(3)]
    assert spram_words(words, 40) == slices
    image = spram_image([(words, 40), ([1, 2], 3)])
    assert image == b"".join(s.to_bytes(2, "little") for s in slices + [1 | 2 << 3])
    with pytest.raises(ValueError, match="does not fit 40 bits"):
        spram_words([1 << 40], 40)


@pytest.mark.parametrize("width, depth, cells", [(1, 2, 1), (16, 16384, 1), (17, 16384, 2),
                                                 (64, 16385, 8), (9, 16385, 2), (2, 40000, 1),
                                                 (1, 16 * 16384 + 1, 2), (3, 4 * 16384, 1),
                                                 (5, 2 * 16384 + 1, 2)])
def test_cell_count(width, depth, cells):
    assert spram_count(width, depth) == cells == SpramRom(width, depth).cells


@pytest.mark.parametrize("width, per", [(1, 16), (2, 8), (3, 4), (4, 4), (5, 2), (8, 2),
                                        (9, 1), (16, 1)])
def test_narrow_words_share_a_load_word(width, per):
    """Words of at most 8 bits go ``per`` to a 16-bit load word, the first in the low bits;
    an odd tail is zero-filled. Checked against a bit-string packing."""
    from golden.packing import spram_per_word
    assert spram_per_word(width) == per
    if per == 1:
        return
    rng = np.random.default_rng(width)
    words = [int(v) for v in rng.integers(0, 1 << width, 3 * per + 1)]
    expected = []
    for j in range(0, len(words), per):
        bits = "".join(format(w, f"0{width}b")[::-1] for w in words[j:j + per])
        expected.append(int(bits[::-1], 2))
    assert spram_words(words, width) == expected


def test_network_image_is_its_units_words():
    network = load_model(MLP)
    folding = [LayerFolding(16, 8, weights="spram"), LayerFolding(8, 8),
               LayerFolding(4, 10, weights="spram")]
    top = NetworkTop(network, folding)
    units = [mvau for mvau, _ in top.layers]
    assert top.spram_units == [units[0], units[2]]
    assert top.spram_image() == spram_image([(units[0].weight_words, 128),
                                             (units[2].weight_words, 40)])
    assert top.spram_cells == 8 * -(-(49 * 16) // SPRAM_DEPTH) + 3 == 11


@pytest.mark.parametrize("text, expected", [
    ("16x8:spram,8x8,4x10", ["16x8:spram", "8x8", "4x10"]),
    ("16x8:tree:spram,8x8,4x10:spram", ["16x8:spram", "8x8", "4x10:spram"]),
])
def test_folding_syntax(text, expected):
    network = load_model(MLP)
    assert [str(f) for f in choose_folding(network, text)] == expected
    assert parse_folding(text, 3)[0].weights == "spram"


@pytest.mark.parametrize("text, message", [
    ("16x8:spram:spram,8x8,4x10", "at most one element style"),
    ("16x8:tree:bitplane,8x8,4x10", "at most one element style"),
    ("16x8:flash,8x8,4x10", "element style 'flash' is not one of tree, bitplane .or ':spram'"),
])
def test_bad_folding_suffix_is_one_line(text, message):
    with pytest.raises(ModelError, match=message):
        parse_folding(text, 3)


def test_fit_moves_weights_to_spram_when_block_ram_runs_short():
    """The Larq CNN at 1x32,32x8,2x1 needs 34 EBR in block RAM; its last layer's weights
    (the most EBR) go to one SPRAM and the design needs 28."""
    from hdl.flow.fit import memories_for_board
    network = load_model(LARQ_CNN)
    folding = choose_folding(network, "1x32,32x8,2x1")
    lines = []
    built = memories_for_board(board("icebreaker"), network, folding, log=lines.append)
    assert [str(f) for f in built] == ["1x32", "32x8", "2x1:spram"]
    ebr, logic = model_estimates(network, built)
    assert (ebr, logic["spram"]) == (28, 1)
    assert lines == ["weights of layer 2 in SPRAM (1 of 4 cells, filled from the flash after "
                     "reset): in block RAM the model needs 34 of 30 EBR, now 28"]
    # The ULX3S has no SPRAM: the folding stays (its block RAM is plenty).
    assert memories_for_board(board("ulx3s"), network, folding) == folding


def test_a_board_without_spram_refuses_it():
    network = load_model(MLP)
    folding = choose_folding(network, "16x8:spram,8x8,4x10")
    with pytest.raises(BoardBuildError, match=r"LFE5U-85F has no SPRAM .*16x8:spram.*drop ':spram'"):
        board_core(board("ulx3s"), network, folding, None)


def test_more_cells_than_the_chip_is_refused(monkeypatch, tmp_path, capsys):
    """Every layer in SPRAM at wide words: 8 + 4 + 3 cells of 4, one line from the fit
    check before place and route."""
    import hdl.flow.bitstream as bitstream
    from hdl.flow.build import main
    commands = []

    def fake_run(cmd, cwd, tools, timeout=None, log=None):
        result = icebreaker_tools(None, commands)(cmd, cwd, tools, timeout, log)
        if cmd[0] == "yosys":
            with open(Path(cwd) / "bnn_icebreaker.rpt", "a") as f:
                f.write("      15   SB_SPRAM256KA\n")
        return result
    monkeypatch.setattr(bitstream, "_run", fake_run)
    with pytest.raises(SystemExit):
        run_cli(main, ["--board", "icebreaker", "--model", str(MLP), "--out",
                       str(tmp_path / "b"), "--folding", "16x8:spram,8x8:spram,4x10:spram"])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "SPRAM 15 of 4" in err[0], err
    assert not any(c[0].startswith("nextpnr") and "--pack-only" not in c for c in commands)


def test_the_programming_file_carries_the_weights(monkeypatch, tmp_path):
    """A board build with an SPRAM layer: the .bin is the bitstream, 0xFF up to the
    iCEBreaker's offset, then the network's image and its CRC-16 (high byte first); the
    report says where and how much."""
    import hdl.flow.bitstream as bitstream
    from hdl.flow.build import main

    monkeypatch.setattr(bitstream, "_run", icebreaker_tools(passing_place_and_route, []))
    out = tmp_path / "b"
    assert run_cli(main, ["--board", "icebreaker", "--model", str(MLP), "--out", str(out),
                          "--folding", "16x8:spram,8x8,4x10", "--data",
                          str(tmp_path / "none")]) == 0
    import json
    report = json.loads((out / "report.json").read_text())
    network = load_model(MLP)
    image = NetworkTop(network, choose_folding(network, "16x8:spram,8x8,4x10")).spram_image()
    image += crc16(image).to_bytes(2, "big")
    data = (out / "bnn_icebreaker.bin").read_bytes()
    offset = board("icebreaker").flash_offset
    assert data == b"\0" * 16 + b"\xff" * (offset - 16) + image
    assert report["spram_weights"]["flash_offset"] == offset
    assert report["spram_weights"]["bytes"] == len(image)
    assert report["spram_weights"]["layers"] == [0]
    assert report["folding"][0] == "16x8:spram"


def test_a_bitstream_past_the_offset_is_refused():
    assert flash_file(b"ab", b"cd", 4) == b"ab\xff\xffcd"
    with pytest.raises(BoardBuildError, match="runs past the flash offset"):
        flash_file(b"abcde", b"cd", 4)


def test_accelerator_without_flash_offset_is_refused():
    from hdl.serial import SerialAccelerator
    network = load_model(MLP)
    with pytest.raises(ModelError, match="read from the board's flash"):
        SerialAccelerator(network, choose_folding(network, "16x8:spram,8x8,4x10"), 10)


def test_verilog_with_spram(tmp_path, capsys):
    """A Verilog build: the AXI4-Stream top refuses ':spram' in one line; with
    ``--interface stream`` the top has the load stream and the SPRAM cells."""
    from hdl.flow.build import main
    args = ["--model", str(MLP), "--folding", "16x8,8x8,4x10:spram"]
    with pytest.raises(SystemExit) as info:
        run_cli(main, args + ["--out", str(tmp_path / "axi")])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and len(err) == 1 and "--interface stream" in err[0], err
    assert run_cli(main, args + ["--out", str(tmp_path / "s"), "--interface", "stream"]) == 0
    text = (tmp_path / "s" / "bnn_top.v").read_text()
    assert "load__payload" in text and "SB_SPRAM256KA" in text
