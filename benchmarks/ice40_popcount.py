"""XNOR-popcount of one PE row on the iCE40UP5K: plain adder tree against a compressor tree.

    python -m benchmarks.ice40_popcount [--simd 8 16 32 64] [--out build/bench/ice40_popcount.json]

For each SIMD width and each popcount (:func:`hdl.popcount.popcount`, the balanced adder
tree the MVAU uses; :func:`hdl.popcount.compressor_popcount`, full-adder carry-save
reduction then one carry-chain add) it places and routes one registered row: SIMD input
and weight bits from an LFSR-fed shift register, XNOR, popcount, a registered count folded
into an LED. Prints LUT4, carry cells, (LUT4 + carry) per lane and nextpnr Fmax. The
harness (shift registers, LFSR, LED fold) is in the figures: about 2*SIMD + 20 flip-flops
and a few LUT4.
"""

import argparse
import json
import os
import time
from pathlib import Path

from amaranth.hdl import Cat, Elaboratable, Module, Signal
from amaranth.lib import io

from hdl.popcount import compressor_popcount, popcount

from .ice40_mvau import TOOLS_ENV, cells, fmax

VARIANTS = {"tree": popcount, "compressor": compressor_popcount}


class RowBench(Elaboratable):
    def __init__(self, simd, count):
        self.simd, self.count = simd, count

    def elaborate(self, platform):
        m = Module()
        lfsr = Signal(16, init=0xACE1)
        m.d.sync += lfsr.eq(Cat(lfsr[1:], lfsr[0] ^ lfsr[2] ^ lfsr[3] ^ lfsr[5]))
        x, w = Signal(self.simd), Signal(self.simd)
        m.d.sync += [x.eq(Cat(lfsr[0], x[:-1]) if self.simd > 1 else lfsr[0]),
                     w.eq(Cat(lfsr[1], w[:-1]) if self.simd > 1 else lfsr[1])]
        total = Signal(range(self.simd + 1))
        m.d.sync += total.eq(self.count(~(x ^ w)))
        fold = Signal()
        m.d.sync += fold.eq(fold ^ total.xor())
        m.submodules.led = led = io.Buffer("o", platform.request("led_r", 0, dir="-"))
        m.d.comb += led.o.eq(fold)
        return m


def measure(variant, simd, build_root):
    from amaranth_boards.icebreaker import ICEBreakerPlatform
    name = f"pop_{variant}_{simd}"
    plan = ICEBreakerPlatform().prepare(RowBench(simd, VARIANTS[variant]), name=name)
    build_dir = build_root / name
    build_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    cwd = os.getcwd()
    try:
        os.chdir(build_dir)   # YoWASP tools see only relative paths
        plan.execute_local(".", env={**os.environ, **TOOLS_ENV})
    finally:
        os.chdir(cwd)
    c = cells((build_dir / f"{name}.rpt").read_text())
    lut4, carry = c.get("SB_LUT4", 0), c.get("SB_CARRY", 0)
    return {"variant": variant, "simd": simd, "lut4": lut4, "carry": carry,
            "ff": sum(v for k, v in c.items() if k.startswith("SB_DFF")),
            "lut4_per_lane": round(lut4 / simd, 2),
            "lut4_plus_carry_per_lane": round((lut4 + carry) / simd, 2),
            "fmax_mhz": fmax((build_dir / f"{name}.tim").read_text()),
            "seconds": round(time.perf_counter() - start, 1)}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ice40_popcount",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--simd", type=int, nargs="*", default=[8, 16, 32, 64])
    parser.add_argument("--out", default="build/bench/ice40_popcount.json")
    args = parser.parse_args(argv)
    out = Path(args.out)
    rows = [measure(v, s, out.parent / "ice40_popcount") for s in args.simd for v in VARIANTS]
    print(f"{'popcount':>10} {'SIMD':>4} {'LUT4':>5} {'carry':>5} {'FF':>4} "
          f"{'LUT4/lane':>9} {'(LUT4+carry)/lane':>17} {'Fmax MHz':>8}")
    for r in rows:
        print(f"{r['variant']:>10} {r['simd']:>4} {r['lut4']:>5} {r['carry']:>5} {r['ff']:>4} "
              f"{r['lut4_per_lane']:>9} {r['lut4_plus_carry_per_lane']:>17} {r['fmax_mhz']:>8}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"results: {out}")


if __name__ == "__main__":
    main()
