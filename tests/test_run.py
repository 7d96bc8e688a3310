"""host.run's client against a stand-in board built from the reference board
(:func:`golden.serial.board_reply`, which the Verilator tests hold the hardware to), with
faults on the line: lost and resent frames, a silent board, timeouts."""

import numpy as np
import pytest

from golden.formats import load_model
from golden.network import run
from golden.serial import END, board_reply, crc16, frames_in_flight
from hdl.flow.build import DEFAULT_MODEL
from host.run import SerialClient


class StandInBoard:
    """Answers as the reference board does, one request frame at a time. ``spoil(k)``
    says whether the k-th frame written is damaged on the line (its middle byte lost);
    ``silent_after``: the board stops answering after that many frames. ``read`` returns
    what has been answered, at most ``n`` bytes; nothing means the port's timeout."""

    def __init__(self, network, spoil=lambda k: False, silent_after=None):
        self.network, self.spoil, self.silent_after = network, spoil, silent_after
        self.out, self.written, self.reads = bytearray(), 0, 0
        self.max_in_flight, self.unanswered = 0, 0

    @property
    def in_waiting(self):
        return len(self.out)

    def write(self, frame):
        frame = bytearray(frame)
        k, self.written = self.written, self.written + 1
        if self.spoil(k):
            del frame[len(frame) // 2]
        if self.silent_after is not None and k >= self.silent_after:
            return
        reply = board_reply(self.network, bytes(frame))
        self.unanswered += 1
        self.max_in_flight = max(self.max_in_flight, self.unanswered)
        self.out += reply

    def read(self, n):
        self.reads += 1
        data, self.out = bytes(self.out[:n]), self.out[n:]
        self.unanswered = 0 if data else self.unanswered
        return data

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _setup(count=11):
    network = load_model(DEFAULT_MODEL)
    images = np.random.default_rng(0).integers(0, 256, (count, 28, 28), dtype=np.uint8)
    return network, images, run(network, images)


def test_client_reads_golden_answers_with_several_in_flight():
    network, images, trace = _setup()
    board = StandInBoard(network)
    client = SerialClient(board, network)
    labels, scores = client.classify(images)
    assert labels.tolist() == trace.labels.tolist()
    assert np.array_equal(scores, trace.scores)
    assert client.lost == []
    assert 1 < client.window == frames_in_flight(network)


def test_lost_frames_are_reported_and_sent_again():
    network, images, trace = _setup()
    # Frames 2 and 5 are damaged the first time they are sent.
    board = StandInBoard(network, spoil=lambda k: k in (2, 5))
    client = SerialClient(board, network)
    labels, scores = client.classify(images)
    assert client.lost == [2, 5]
    assert labels.tolist() == trace.labels.tolist()
    assert np.array_equal(scores, trace.scores)


def test_a_frame_lost_twice_is_reported_unanswered():
    network, images, trace = _setup(6)
    board = StandInBoard(network, spoil=lambda k: k in (3, 6))   # image 3, then its resend
    client = SerialClient(board, network)
    labels, scores = client.classify(images, retries=1)
    assert labels[3] == -1
    assert client.lost == [3, 3]
    keep = np.arange(6) != 3
    assert labels[keep].tolist() == trace.labels[keep].tolist()


def test_a_silent_board_times_out_instead_of_hanging():
    network, images, _ = _setup(5)
    board = StandInBoard(network, silent_after=2)
    client = SerialClient(board, network)
    labels, _ = client.classify(images, retries=1)
    assert (labels[2:] == -1).all() and (labels[:2] >= 0).all()
    assert board.reads < 50


def _board_build(monkeypatch, tmp_path):
    """A real ``hdl.build --board icebreaker`` run of the MLP (design, report, model copy)
    with the tools replaced by stand-ins; returns the build folder."""

    import hdl.flow.bitstream as bitstream
    from hdl.flow.build import main as build_main
    from tests.test_board import MLP, icebreaker_tools, passing_place_and_route

    monkeypatch.setattr(bitstream, "_run", icebreaker_tools(passing_place_and_route, []))
    out = tmp_path / "build"
    assert build_main(["--board", "icebreaker", "--model", str(MLP), "--cycles", "4096",
                       "--out", str(out), "--data", str(tmp_path / "no-data")]) == 0
    return out


def test_run_takes_model_baud_and_frames_in_flight_from_the_build(monkeypatch, tmp_path, capsys):
    """``host.run --build DIR`` against the stand-in board: the model is the build's copy,
    the port is opened at the report's baud, the window is the report's frames in flight;
    ``--inputs`` and ``--labels`` give the data. A silent board ends in one line naming the
    likely causes."""
    import json

    import host.run as host_run
    from golden.cli import run_cli
    out = _board_build(monkeypatch, tmp_path)
    report = json.loads((out / "report.json").read_text())
    network = load_model(out / report["model_file"])
    assert network.name == "mnist_bnn"
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (9, 28, 28), dtype=np.uint8)
    labels = run(network, images).labels
    np.save(tmp_path / "x.npy", images)
    np.save(tmp_path / "y.npy", labels)
    opened, boards = [], []

    def open_port(name, baud):
        opened.append((name, baud))
        boards.append(StandInBoard(network))
        return boards[-1]

    monkeypatch.setattr(host_run, "open_port", open_port)
    argv = ["--port", "/dev/ttyFAKE", "--build", str(out), "--inputs", str(tmp_path / "x.npy"),
            "--labels", str(tmp_path / "y.npy"), "--save", str(tmp_path / "answers.npz")]
    assert host_run.main(argv) == 0
    text = capsys.readouterr().out
    assert opened == [("/dev/ttyFAKE", report["uart"]["baud"])]
    assert "answers equal to golden (label and every score): 9 of 9" in text
    assert "accuracy: 1.0000" in text
    assert 1 < boards[0].max_in_flight <= report["link"]["in_flight"]

    monkeypatch.setattr(host_run, "open_port",
                        lambda name, baud: StandInBoard(network, silent_after=0))
    with pytest.raises(SystemExit) as info:
        run_cli(host_run.main, argv)
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "answered none of the frames" in err[0] and "baud" in err[0]


def test_run_refuses_a_folder_that_is_not_a_build(tmp_path, capsys):
    import host.run as host_run
    from golden.cli import run_cli
    with pytest.raises(SystemExit) as info:
        run_cli(host_run.main, ["--port", "x", "--build", str(tmp_path), "--data", str(tmp_path)])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no report.json there" in err[0]


class VanishingBoard(StandInBoard):
    """A stand-in board whose port raises (as pyserial does when the USB cable is pulled)
    once ``after`` frames have been written."""

    def __init__(self, network, after):
        super().__init__(network)
        self.after = after

    def write(self, frame):
        if self.written >= self.after:
            raise OSError(5, "Input/output error")
        super().write(frame)


class GarbageBoard(StandInBoard):
    """Before every answer, garbage: random bytes, a frame of the right length with a bad
    CRC, and a well-formed frame whose label is not its largest score."""

    def __init__(self, network):
        super().__init__(network)
        self.rng = np.random.default_rng(4)

    def write(self, frame):
        from golden.serial import answer_frame, escape
        self.out += bytes(self.rng.integers(0, 256, 9).tolist())
        body = bytearray(self.rng.integers(0, 256, 2 + 10 * 2 + 2).tolist())
        body[-2:] = ((crc16(bytes(body[:-2])) + 1) & 0xFFFF).to_bytes(2, "big")
        self.out += bytes((END,)) + escape(bytes(body)) + bytes((END,))
        self.out += answer_frame(self.network, 200, 3, [5, 1, 0, 0, 0, 0, 0, 0, 0, 0])
        super().write(frame)


def test_a_board_that_disappears_mid_run_ends_in_one_line_with_the_answers_saved(
        monkeypatch, tmp_path, capsys):
    import host.run as host_run
    from golden.cli import run_cli
    network, images, trace = _setup(40)
    np.save(tmp_path / "x.npy", images)
    monkeypatch.setattr(host_run, "open_port", lambda name, baud: VanishingBoard(network, 25))
    save = tmp_path / "answers.npz"
    with pytest.raises(SystemExit) as info:
        run_cli(host_run.main, ["--port", "/dev/ttyFAKE", "--model", str(DEFAULT_MODEL),
                                "--inputs", str(tmp_path / "x.npy"), "--save", str(save)])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "/dev/ttyFAKE failed after" in err[0] and str(save) in err[0], err
    saved = np.load(save)
    answered = saved["answered"]
    assert 0 < answered.sum() <= 25 and not answered[25:].any()
    assert (saved["labels"][answered] == trace.labels[answered]).all()
    assert (saved["scores"][answered] == trace.scores[answered]).all()
    assert (saved["labels"][~answered] == -1).all()


def test_garbage_from_the_board_is_counted_not_fatal():
    network, images, trace = _setup(12)
    board = GarbageBoard(network)
    client = SerialClient(board, network)
    labels, scores = client.classify(images)
    assert (labels == trace.labels).all() and (scores == trace.scores).all()
    assert not client.lost and client.malformed >= 2 * len(images)
