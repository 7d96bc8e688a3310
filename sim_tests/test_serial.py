"""The serial accelerator (UART in, network, UART out) in Verilator, driven pin by pin.

Request frames go in as 8N1 bytes on ``rx``, bit by bit, at the real ratio of clock to
baud rate (10 cycles per bit: 30 MHz at 3 Mbaud); the bytes decoded from ``tx`` must be
exactly the reference board's (:func:`golden.serial.board_reply`): one answer frame per good
request with golden's label and scores, none for a damaged one. Faults injected on the
line: a dropped byte, a flipped bit, garbage between frames, an extra byte and a break.
The same bytes then go through the host's decoder (:mod:`host.run`).
"""

from pathlib import Path

import numpy as np
import pytest

from golden.datasets import load_mnist
from golden.formats import load_model
from golden.serial import board_reply, frames, link_figures, request_frame
from hdl.flash import WAKE_SECONDS
from hdl.flow.build import choose_folding
from hdl.serial import SerialAccelerator
from host.run import SerialClient
from sim_tests.harness import Simulation

DIVISOR = 10   # clock cycles per UART bit: 30 MHz at 3 Mbaud
# The binary MLP (models/mnist_bnn.npz): at a 4096-cycle folding it outpaces the line, so
# frames sent back to back never wait (the default CNN at 28,800 cycles would need the
# host's window, which the host tests cover).
MLP = Path(__file__).resolve().parent.parent / "models" / "mnist_bnn.npz"


def images_for(network, count, seed=5):
    from sim_tests.conftest import SHARED
    if SHARED.is_dir() and network.input.shape == (28, 28):
        images, _ = load_mnist(SHARED / "data/mnist", limit=count)
        return images.copy()
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (count, *network.input.shape), dtype=np.uint8)


def faulty_stream(network, images):
    """Request frames of ``images`` (seq = index) with faults; returns ``(line, bad,
    lost)``: the line's entries (bytes, and -N for a break), the positions of the bytes a
    break spoils (for :func:`board_reply`) and the seqs that must get no answer."""
    line, bad, lost = [], [], set()
    rng = np.random.default_rng(9)
    for seq, image in enumerate(images):
        frame = bytearray(request_frame(network, seq, image))
        kind = seq % 6
        if kind == 1:                                   # a dropped byte
            del frame[len(frame) // 2]
            lost.add(seq)
        elif kind == 2:                                 # a flipped bit
            frame[5] ^= 0x10
            lost.add(seq)
        elif kind == 3:                                 # garbage between frames
            line += [int(v) for v in rng.integers(0, 256, 7)]
        elif kind == 4:                                 # an extra byte
            frame.insert(9, 0x55)
            lost.add(seq)
        elif kind == 5:                                 # a break inside the frame
            half = len(frame) // 2
            line += list(frame[:half]) + [-25]
            bad.append(len([v for v in line if v >= 0]) - 1)
            line += list(frame[half:])
            lost.add(seq)
            continue
        line += list(frame)
    return line, bad, lost


def check_serial(network, name, count, faults, folding=None, netlist=None, divisor=DIVISOR,
                 host_bit_ps=None, flash_image=None):
    folding = folding or choose_folding(network, cycles=4096)
    flash = {}
    if any(f.weights == "spram" for f in folding):
        # SPRAM weights from a flash model at the iCEBreaker's offset, the clock 3 Mbaud's.
        flash = {"flash_offset": 0x20000, "clock_hz": 3e6 * divisor}
    dut = SerialAccelerator(network, folding, divisor, **flash)
    sim = Simulation(dut, name, netlist=netlist)
    images = images_for(network, count)
    images[0] = 255   # all pixels on, then all off
    images[1] = 0
    if faults:
        line, bad, lost = faulty_stream(network, images)
    else:
        line = [b for seq, image in enumerate(images) for b in request_frame(network, seq, image)]
        bad, lost = [], set()
    stream = bytes(v for v in line if v >= 0)
    expected = board_reply(network, stream, bad)
    answered = {body[0] for body in frames(expected)}
    assert answered == set(range(count)) - lost       # the faults cost only their frames
    data = sim.run_module("sim_tests.cocotb_uart", {
        "inputs": line, "divisor": divisor, "n_out": len(expected),
        "limit_bits": 20 * len(line) + 2000,
        **({"host_bit_ps": host_bit_ps} if host_bit_ps else {}),
        **({"flash": {"image": (flash_image or dut.flash_payload()).hex(),
                      "offset": flash["flash_offset"],
                      # The flash's 3 us at the design's clock, in the model's 10 ns cycles.
                      "wake_ns": round(WAKE_SECONDS * flash["clock_hz"]) * 10}}
           if flash else {})})
    assert data["flash_log"] in (None, [["release", None, True], ["read", 0x20000, True]]), data["flash_log"]
    assert bytes(data["outputs"]) == expected
    # The host's decoder reads golden's labels and scores back from the hardware's bytes.
    client = SerialClient(None, network)
    got = client.decode_answers(bytes(data["outputs"]))
    from golden.network import run
    trace = run(network, images)
    for seq in answered:
        assert got[seq] == (trace.labels[seq], trace.scores[seq].tolist())
    return data


def test_serial_through_line_faults(verilator):
    """A binary MLP behind the UART at 3 Mbaud's bit time, real MNIST digits (random images
    without ../shared), every fault kind twice."""
    network = load_model(MLP)
    check_serial(network, "serial_default", 12, faults=True)


def _spram_mlp():
    from dataclasses import replace
    network = load_model(MLP)
    folding = choose_folding(network, cycles=4096)
    return network, [replace(folding[0], weights="spram"), *folding[1:]]


def test_serial_with_spram_weights_from_flash(verilator):
    """The MLP's first layer in SPRAM: after reset the flash reader (at SCK = clock/2,
    after the flash's 3 us wake-up) fills it from a flash model holding the image and its
    CRC at the iCEBreaker's offset; then the line with every fault kind, answered as the
    reference board answers."""
    network, folding = _spram_mlp()
    check_serial(network, "serial_spram", 8, faults=True, folding=folding)


@pytest.mark.parametrize("damage", ["flipped_bit", "erased"])
def test_serial_with_a_bad_weight_image_answers_nothing(verilator, damage):
    """A flash whose image does not match its CRC (a flipped bit; an erased flash, as after
    loading the bitstream into SRAM alone): the weights may be wrong, so the board
    answers no request at all."""
    network, folding = _spram_mlp()
    dut = SerialAccelerator(network, folding, DIVISOR, flash_offset=0x20000,
                            clock_hz=3e6 * DIVISOR)
    image = bytearray(dut.flash_payload())
    if damage == "flipped_bit":
        image[len(image) // 3] ^= 0x08
    else:
        image = bytearray(b"\xff" * len(image))
    sim = Simulation(dut, "serial_spram_bad")
    line = [b for seq, pixels in enumerate(images_for(network, 2))
            for b in request_frame(network, seq, pixels)]
    data = sim.run_module("sim_tests.cocotb_uart", {
        "inputs": line, "divisor": DIVISOR, "n_out": 1, "limit_bits": 20 * len(line) + 2000,
        "flash": {"image": bytes(image).hex(), "offset": 0x20000,
                  "wake_ns": round(WAKE_SECONDS * 3e6 * DIVISOR) * 10}})
    assert data["flash_log"][-1] == ["read", 0x20000, True]
    assert data["outputs"] == []


def test_serial_throughput_at_full_line_rate(verilator):
    """Frames back to back: every answer starts a fixed, short time after its request has
    arrived (no queueing), so the board keeps pace with the line: one image per request
    frame time, which :func:`golden.serial.link_figures` turns into images/s. The host
    sends 1.7 % faster than the board's bit time, as at the default build's 44.25 MHz
    (divisor 15 for 3 Mbaud: 14.75 clock cycles per host bit): the receiver takes the
    requests at the host's rate."""
    network = load_model(MLP)
    count = 8
    divisor, host_cycles = 15, 14.75
    host_bit_ps = round(host_cycles * 10_000)        # the harness clock is 10 ns
    data = check_serial(network, "serial_rate", count, faults=False, divisor=divisor,
                        host_bit_ps=host_bit_ps)
    images = images_for(network, count)
    images[0], images[1] = 255, 0
    sizes = [len(request_frame(network, seq, image)) for seq, image in enumerate(images)]
    start = data["sent_cycle"] - 10 * host_cycles * sum(sizes)
    request_end = start + 10 * host_cycles * np.cumsum(sizes)
    per_answer = len(data["outputs"]) // count
    answer_start = np.array(data["start_cycles"][::per_answer])
    latency = answer_start - request_end
    ii = 4096
    assert latency.min() > 0
    # Unpacking 784 bits, the network's pipeline, the first answer byte: under 3 IIs.
    assert latency.max() < 3 * ii, latency.tolist()
    assert latency[-1] <= latency[1] + 10 * divisor, latency.tolist()
    line = link_figures(network, 3_000_000, 3_000_000 * host_cycles / divisor)
    assert line["images_per_second"] == round(3_000_000 / (10 * line["request_bytes"]), 1)
    assert line["images_per_second"] >= 1000


def test_serial_input_table(verilator, shared):
    """A model whose pixels become codes by a table (QONNX TFC_1W2A: 3 levels), its
    requests 784 pixel bytes."""
    network = load_model(shared / "models/qonnx/TFC_1W2A.onnx")
    assert network.input.table is not None
    check_serial(network, "serial_tfc_1w2a", 4, faults=False)


def table_network(table, seed):
    """A dense 8-bit-input network (6x6 pixels -> 8 binary -> 3 classes) whose pixels
    become codes by ``table`` (offset -128, as CNV's)."""
    from golden.model import Bias, Dense, InputQuant, IntCodes, Network, Thresholds
    rng = np.random.default_rng(seed)
    codes = IntCodes(8, -128, 255)
    inp = InputQuant((6, 6), None, np.asarray(table), codes)
    hidden = Dense(rng.choice([-1, 1], (8, 36)), Thresholds(rng.integers(-300, 300, (8, 1))),
                   input_encoding=codes)
    out = Dense(rng.choice([-1, 1], (3, 8)), Bias(rng.integers(-4, 5, 3)))
    return Network("table", inp, [hidden, out], ["a", "b", "c"])


@pytest.mark.parametrize("kind", ["cnv", "scrambled"])
def test_serial_input_table_rom(verilator, kind):
    """A table of more than STAIRCASE_STEPS steps (CNV's 255) or not non-decreasing is a
    ROM with a registered read: the answers stay golden's, with line faults."""
    from golden.formats.bnnpynq import cnv_input_table
    table = cnv_input_table()
    if kind == "scrambled":
        table = np.random.default_rng(3).permutation(table)
    check_serial(table_network(table, 4), f"serial_table_{kind}", 12, faults=True)


def soak_network():
    """A binary MLP whose answers (2 classes) are shorter than its requests (256 input bits),
    so the board keeps pace with a line of back-to-back frames both ways."""
    from golden.model import Bias, Dense, InputQuant, Network, Thresholds
    rng = np.random.default_rng(12)
    hidden = Dense(rng.choice([-1, 1], (32, 256)), Thresholds(rng.integers(120, 137, (32, 1))))
    out = Dense(rng.choice([-1, 1], (2, 32)), Bias(rng.integers(-4, 5, 2)))
    return Network("soak", InputQuant((16, 16), 128), [hidden, out], ["a", "b"])


@pytest.mark.slow
def test_serial_soak_of_two_thousand_frames(verilator):
    """2,000 request frames back to back through the RTL, with drops, bit flips and
    garbage at 2e-3 per byte (:class:`benchmarks.link_soak.FaultyLine`) and a break every
    97 frames: the answer bytes equal the reference board's, byte for byte, and the host's
    decoder reads golden's answers from them."""
    from benchmarks.link_soak import FaultyLine
    from golden.network import run
    network = soak_network()
    count = 2000
    rng = np.random.default_rng(21)
    images = rng.integers(0, 256, (count, 16, 16), dtype=np.uint8)
    line = FaultyLine(2e-3, rng)
    line.rates["break"] = 0.0
    entries, bad = [], []
    for k, image in enumerate(images):
        data, _ = line.send(request_frame(network, k & 0xFF, image))
        if k % 97 == 50:                       # a break inside the frame
            half = len(data) // 2
            entries += list(data[:half]) + [-25]
            bad.append(len([v for v in entries if v >= 0]) - 1)
            entries += list(data[half:])
        else:
            entries += list(data)
    stream = bytes(v for v in entries if v >= 0)
    expected = board_reply(network, stream, bad)
    answers = frames(expected)
    assert 0.75 * count < len(answers) < count
    folding = choose_folding(network, cycles=256)
    sim = Simulation(SerialAccelerator(network, folding, DIVISOR), "serial_soak")
    data = sim.run_module("sim_tests.cocotb_uart", {
        "inputs": entries, "divisor": DIVISOR, "n_out": len(expected),
        "limit_bits": 20 * len(entries) + 2000})
    assert data["flash_log"] in (None, [["release", None, True], ["read", 0x20000, True]]), data["flash_log"]
    assert bytes(data["outputs"]) == expected
    client = SerialClient(None, network)
    trace = run(network, images)
    got = client.decode_answers(bytes(data["outputs"]))
    assert client.malformed == 0 and len(got) > 200
    labels = {int(trace.labels[k]) for k in range(count)}
    assert {label for label, _ in got.values()} <= labels


@pytest.mark.parametrize("divisor", [4, 5])
def test_serial_at_four_and_five_cycles_per_bit(verilator, divisor):
    """The receiver at the fewest cycles per bit it takes (12 Mbaud at 48 and 60 MHz): the
    host's bit time 2 % shorter, then 2 % longer than the board's, back-to-back frames with
    every fault kind; the answers are the reference board's, byte for byte. (The first
    sample falls 1.5 bit times after the start edge, the two-flop synchroniser's delay
    included, within one clock: at 4 cycles per bit the stop bit is sampled 38 to 39
    cycles after the edge, inside [35.3, 39.2) at 2 % fast and [36.7, 40.8) at 2 % slow.)"""
    network = load_model(MLP)
    for host_ratio in (0.98, 1.02):
        host_bit_ps = round(divisor * host_ratio * 10_000)      # the harness clock is 10 ns
        check_serial(network, f"serial_div{divisor}", 12, faults=True, divisor=divisor,
                     host_bit_ps=host_bit_ps)
