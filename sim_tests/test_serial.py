"""The serial accelerator (UART in, network, UART out) in Verilator, driven pin by pin.

Images go in as 8N1 bytes on ``rx``, bit by bit; the answers decoded from ``tx`` must be
golden's label and scores, byte for byte, in the documented protocol (hdl/serial.py).
"""

import numpy as np
import pytest

from golden.datasets import load_mnist
from golden.errors import ModelError
from golden.formats import load_model
from golden.network import run
from hdl.flow.build import DEFAULT_MODEL, choose_folding
from host.run import SerialClient
from hdl.serial import SerialAccelerator, response_bytes
from sim_tests.harness import Simulation

DIVISOR = 8   # clock cycles per UART bit in simulation (the board uses clk / baud)


def expected_bytes(trace, score_width):
    nbytes = -(-score_width // 8)
    out = []
    for label, scores in zip(trace.labels, trace.scores):
        out.append(int(label))
        for s in scores:
            out += list(int(s).to_bytes(nbytes, "little", signed=True))
    return out


def images_for(network, shared_dir, count):
    if shared_dir is not None and network.input.shape == (28, 28):
        images, _ = load_mnist(shared_dir / "data/mnist", limit=count)
        return images
    rng = np.random.default_rng(5)
    return rng.integers(0, 256, (count, *network.input.shape), dtype=np.uint8)


def test_serial_default_model(verilator):
    """The shipped default model behind the UART, on real MNIST digits when ../shared is
    there (random images otherwise), with idle gaps on the line between images."""
    check_serial(load_model(DEFAULT_MODEL), "serial_default")


def test_serial_input_table(verilator, shared):
    """A model whose pixels become codes by a table (QONNX TFC_1W2A: 3 levels, 2 steps)."""
    network = load_model(shared / "models/qonnx/TFC_1W2A.onnx")
    assert network.input.table is not None
    check_serial(network, "serial_tfc_1w2a")


def check_serial(network, name):
    from sim_tests.conftest import SHARED
    folding = choose_folding(network, cycles=4096)
    dut = SerialAccelerator(network, folding, DIVISOR)
    sim = Simulation(dut, name)
    images = images_for(network, SHARED if SHARED.is_dir() else None, 6).copy()
    images[0] = 255   # all pixels on, then all off
    images[1] = 0
    trace = run(network, images)
    expected = expected_bytes(trace, dut.top.argmax.width)
    features = network.input.features
    data = sim.run_module("sim_tests.cocotb_uart", {
        "inputs": [int(v) for v in images.reshape(-1)], "divisor": DIVISOR,
        "n_out": len(expected), "chunk": features, "gap_bits": 37,
        "limit_bits": 40 * len(images) * features})
    assert len(expected) == len(images) * response_bytes(10, dut.top.argmax.width)
    assert data["outputs"] == expected
    # The host's decoder reads golden's labels and scores back from the hardware's bytes.
    client = SerialClient(None, network)
    assert client.score_bytes == -(-dut.top.argmax.width // 8)
    n = client.answer_bytes
    answers = [client.decode(bytes(data["outputs"][k * n:(k + 1) * n])) for k in range(len(images))]
    assert [a[0] for a in answers] == trace.labels.tolist()
    assert [a[1] for a in answers] == trace.scores.tolist()


def test_serial_rejects_a_slow_network():
    network = load_model(DEFAULT_MODEL)
    slow = choose_folding(network, cycles=10 ** 9)   # one lane per layer
    with pytest.raises(ModelError, match="cycles per image but the UART delivers one every"):
        SerialAccelerator(network, slow, 4)
