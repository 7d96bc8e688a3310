"""Verilator's run-time library objects, compiled once and shared by every model build.

    python runtime_cache.py restore|save BUILD_DIR

Each Verilator build compiles the same run-time library (``verilated.cpp``, its VPI, DPI
and threads parts) with the same flags: most of a small model's build time. The harness
runs ``restore`` between Verilator and make: when an earlier build left objects compiled
under the same settings, they are copied in and dated now, so that make finds them up to
date; ``save`` after make keeps a new set. The settings key is a hash of the generated
makefiles (without the model's own class lists), ``MAKEFLAGS``, ``CXX`` and the library's
sources' dates. Standalone (no imports from the project): make's steps run it by path.
"""

import hashlib
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path


def _globals(build):
    """The run-time library's object stems (``VM_GLOBAL_FAST``/``SLOW``) and the key."""
    classes = (build / "Vtop_classes.mk").read_text()
    stems, settings, listing = [], [], None
    for line in classes.splitlines():
        if re.match(r"VM_GLOBAL_(FAST|SLOW) \+=", line):
            listing = True
            continue
        if listing and line.startswith((" ", "\t")):
            stems.append(line.strip().rstrip("\\").strip())
            continue
        listing = False
        if re.match(r"VM_[A-Z0-9_]+ = ", line):
            settings.append(line)
    stems = [s for s in stems if s]
    root = re.search(r"^VERILATOR_ROOT = (.*)$", (build / "Vtop.mk").read_text(), re.M)
    sources = Path(root.group(1).strip()) / "include" if root else None
    h = hashlib.sha256()
    h.update((build / "Vtop.mk").read_text().encode())
    h.update("\n".join(settings + stems).encode())
    h.update(os.environ.get("MAKEFLAGS", "").encode() + b"|" + os.environ.get("CXX", "").encode())
    for stem in stems:
        src = sources / f"{stem}.cpp" if sources else None
        h.update(f"{stem}:{src.stat().st_mtime_ns if src and src.exists() else 0}".encode())
    return stems, h.hexdigest()[:16]


def main(action, build):
    build = Path(build)
    stems, key = _globals(build)
    cache = build.parent / "_runtime" / key
    files = [f"{stem}{ext}" for stem in stems for ext in (".o", ".d")]
    if action == "restore":
        if cache.is_dir() and all((cache / f).exists() for f in files):
            now = time.time()
            for f in files:
                if not (build / f).exists():
                    shutil.copyfile(cache / f, build / f)
                os.utime(build / f, (now, now))
    elif action == "save":
        if not cache.is_dir() and all((build / f).exists() for f in files):
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=cache.parent))
            for f in files:
                shutil.copyfile(build / f, tmp / f)
            try:
                tmp.rename(cache)       # atomic; a parallel build may have saved first
            except OSError:
                shutil.rmtree(tmp, ignore_errors=True)
    else:
        raise SystemExit(f"unknown action {action!r}; use restore or save")


if __name__ == "__main__":
    main(*sys.argv[1:])
