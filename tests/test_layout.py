"""The package layout stays layered: no import circles, and each room imports only downwards.

golden/ (the reference) imports nothing of the hardware; hdl/'s hardware blocks import no
part of the flow (hdl/flow/) or of the host (host/); the model formats in golden/formats/
import none of each other (only their package's dispatcher names them all).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("golden", "hdl", "host", "boards")


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path):
    """Every project module ``path`` imports, at any depth of the file (lazy imports too)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module
            targets = [stem] + [f"{stem}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t.split(".")[0] in PACKAGES)
    return found


def _graph():
    modules = {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        # "from .x import y" names module x (or the attribute y of package x): keep modules.
        graph[name] = {t for t in _imports(path) if t in modules and t != name}
    return graph


def test_no_import_circles():
    graph = _graph()
    state = {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            # A package importing its own submodules (its dispatcher) is not a circle.
            if nxt.startswith(node + "."):
                continue
            if state.get(nxt) == "open":
                cycle = stack[stack.index(nxt):] + [nxt]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


@pytest.mark.parametrize("room, forbidden", [
    ("golden", ("hdl", "host", "boards")),
    ("hdl", ("hdl.flow", "host", "boards")),
])
def test_rooms_import_only_downwards(room, forbidden):
    graph = _graph()
    for name, targets in graph.items():
        # hdl.build is the command-line entry of the flow, kept at python -m hdl.build.
        if name.split(".")[0] != room or name.startswith("hdl.flow") or name == "hdl.build":
            continue
        bad = [t for t in targets if any(t == f or t.startswith(f + ".") for f in forbidden)]
        assert not bad, f"{name} imports {bad}"


def test_formats_import_no_other_format():
    graph = _graph()
    formats = {n for n in graph if n.startswith("golden.formats.")}

    def fmt(module):
        # a format's writer (qonnx_export) shares its reader's conventions (metadata keys).
        return module.removesuffix("_export")

    for name in formats:
        others = {m for m in graph[name] & formats if fmt(m) != fmt(name)}
        assert not others, f"{name} imports {others}"
