"""Where a board design's logic goes: LUT4, carries, flip-flops and block RAM per stage.

One more synthesis of the netlist a board build placed (its ``.il``), with the hierarchy
kept (``-noflatten``): every stage of the design (the UART, deframer, frame buffer,
unpacker, answer framer, and each window, matrix-vector unit, activation, pool and FIFO of
the network) is a module, so Yosys's ``stat`` counts each one's cells. The LUTs are mapped
with ABC's classic ``abc -lut 4``, the build's fallback mapper, rather than its ABC9. So
the stages add up to a total a little above the build's own count, optimisation across
stage boundaries left out; the build's ``resources`` stay the figures of the bitstream.
"""

import re
from pathlib import Path

from .bitstream import CLASSIC_ABC, _top_name, cell_counts, run_tool
from .verilog import DROP_FIELD_WIRES

__all__ = ["breakdown_script", "stage_breakdown", "stages_of", "stat_by_module"]

#: Stages whose logic is the network's arithmetic: the matrix-vector units.
ARITHMETIC = re.compile(r"mvau\d+$")
GLUE = "glue (top, clock, pins)"


def breakdown_script(family, top):
    """The Yosys script: ``synth_<family>`` with the hierarchy kept, LUTs by classic ABC
    (:data:`~hdl.flow.bitstream.CLASSIC_ABC`), then ``stat`` per module."""
    return [f"read_rtlil {top}.il", DROP_FIELD_WIRES,
            f"synth_{family} -noflatten -top {top} -run :map_luts",
            *CLASSIC_ABC[family],
            f"synth_{family} -noflatten -top {top} -run map_cells:check",
            "tee -q -o breakdown.stat stat"]


def stat_by_module(text):
    """``{module: {cell type: count}}`` of a hierarchical Yosys ``stat`` output (its
    closing ``design hierarchy`` section, which counts submodules again, left out)."""
    sections = re.split(r"^=== (.+?) ===\s*$", text, flags=re.M)
    return {name: cell_counts(body) for name, body in zip(sections[1::2], sections[2::2])
            if name != "design hierarchy"}


def stage_of(module, top):
    """The stage a module belongs to: its first name below ``top.core`` (or
    ``top.core.network``), e.g. ``mvau1`` for ``top.core.network.mvau1.acc``; the top,
    ``core`` and ``network`` modules themselves are glue."""
    rest = module.removeprefix(f"{top}.").removeprefix("core.")
    if module == top or rest in ("core", "network") or not module.startswith(f"{top}.core"):
        return GLUE
    rest = rest.removeprefix("network.")
    return rest.split(".")[0]


def stages_of(stat_text, top, summary):
    """``(stages, total)``: resources per stage (``summary`` turns cell counts into the
    board's resource keys), in the order the stat lists them, and their sum."""
    stages = {}
    for module, counts in stat_by_module(stat_text).items():
        used = summary(counts)
        row = stages.setdefault(stage_of(module, top), {k: 0 for k in used})
        for key, value in used.items():
            row[key] = row.get(key, 0) + value
    total = {}
    for row in stages.values():
        for key, value in row.items():
            total[key] = total.get(key, 0) + value
    return stages, total


def stage_breakdown(board, run_dir, log=None):
    """The per-stage breakdown of the design synthesised in ``run_dir`` for ``board``:
    ``{"method", "stages": {stage: resources}, "total", "arithmetic_lut4",
    "arithmetic_share_of_lut4", "seconds"}``, or ``{"error": ...}`` when the extra
    synthesis fails (the build goes on without it)."""
    run_dir = Path(run_dir)
    top = _top_name(board)
    (run_dir / "breakdown.ys").write_text("\n".join(breakdown_script(board.family, top)) + "\n")
    result, seconds = run_tool(["yosys", "-q", "-l", "breakdown.log", "breakdown.ys"], run_dir,
                           board.tools, log=log)
    stat = run_dir / "breakdown.stat"
    if result.returncode or not stat.exists():
        return {"error": f"the hierarchical synthesis failed (log: {run_dir / 'breakdown.log'})",
                "seconds": round(seconds, 1)}
    stages, total = stages_of(stat.read_text(), top, board.summary)
    arithmetic = sum(row["lut4"] for name, row in stages.items() if ARITHMETIC.match(name))
    return {"method": f"synth_{board.family} -noflatten, LUTs by abc -lut 4 (per stage; the "
                      f"resources above are the flattened build's)",
            "stages": stages, "total": total, "arithmetic_lut4": arithmetic,
            "arithmetic_share_of_lut4": round(arithmetic / total["lut4"], 3)
            if total.get("lut4") else None,
            "seconds": round(seconds, 1)}


def breakdown_table(breakdown, keys=("lut4", "carry", "ff", "ebr")):
    """The printed lines of a breakdown (a table, then the arithmetic's share)."""
    if "error" in breakdown:
        return [f"per-stage breakdown: {breakdown['error']}"]
    lines = [f"{'stage':<24}" + "".join(f"{k.upper():>7}" for k in keys)]
    for name, row in list(breakdown["stages"].items()) + [("total", breakdown["total"])]:
        lines.append(f"{name:<24}" + "".join(f"{row.get(k, 0):>7}" for k in keys))
    share = breakdown["arithmetic_share_of_lut4"]
    if share is not None:
        lines.append(f"matrix-vector units (the arithmetic): {breakdown['arithmetic_lut4']} "
                     f"LUT4, {100 * share:.1f} % of the stages' LUT4")
    return lines
