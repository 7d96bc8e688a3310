"""Tool runs kept by what they ran on: the same command on the same files reuses its outputs.

A board build runs Yosys, nextpnr and the bitstream packer in working folders below its
output folder (``fit3/``, ``run0/``). Before a run, :func:`cached_run` hashes the command,
the tool's version and every file in the working folder (logs and reports aside: they
carry times and are outputs, not inputs); a key seen before restores the files that run
wrote and its exit status and output, and nothing runs. So a build that was interrupted,
or one whose options leave some designs unchanged (another start of the clock search,
another data set for the accuracy), redoes only what changed. The cache lives in
``tool-cache/`` beside the working folders; ``--rebuild`` clears it.

A run that hit its time limit or was interrupted is not kept (another run may finish).
"""

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["CACHE_NAME", "NOT_KEYED", "cached_run", "run_key"]

CACHE_NAME = "tool-cache"
#: Suffixes of files left out of a run's key: the tools' logs and reports (times, CPU
#: seconds), which no tool reads back.
NOT_KEYED = (".log", ".rpt", ".tim", ".stat")


def _tool_version(tool):
    from importlib.metadata import PackageNotFoundError, version
    try:
        return f"{tool}={version(tool)}"
    except PackageNotFoundError:
        return f"{tool}=unknown"


def _keyed(path):
    return path.is_file() and not path.name.endswith(NOT_KEYED)


def run_key(cmd, cwd, tool):
    """The sha256 of ``cmd``, the installed version of package ``tool`` and the names and
    contents of the files in ``cwd`` (but :data:`NOT_KEYED`)."""
    digest = hashlib.sha256()
    digest.update(json.dumps([list(cmd), _tool_version(tool)]).encode())
    for path in sorted(Path(cwd).iterdir()):
        if _keyed(path):
            digest.update(path.name.encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _snapshot(cwd):
    return {p.name: (p.stat().st_mtime_ns, p.stat().st_size)
            for p in Path(cwd).iterdir() if p.is_file()}


def cached_run(run, cmd, cwd, tools, timeout=None, log=None, timed_out=None):
    """``run(cmd, cwd, tools, timeout, log)`` through the cache in ``cwd``'s parent:
    ``(CompletedProcess, seconds)``, seconds 0 when reused (with a line to ``log``)."""
    cwd = Path(cwd)
    cache = cwd.parent / CACHE_NAME
    tool = tools.get(cmd[0], cmd[0])
    key = run_key(cmd, cwd, tool)
    entry = cache / key[:2] / key
    if (entry / "result.json").exists():
        result = json.loads((entry / "result.json").read_text())
        for name in result["files"]:
            shutil.copyfile(entry / "files" / name, cwd / name)
        if log:
            log(f"{tool}: reused the run of {result['seconds']:.0f} s on the same files "
                f"({CACHE_NAME}/{key[:12]})")
        return subprocess.CompletedProcess(cmd, result["returncode"], result["stdout"],
                                           result["stderr"]), 0.0
    before = _snapshot(cwd)
    result, seconds = run(cmd, cwd, tools, timeout, log)
    if result.returncode == -1 and result.stderr == timed_out:
        return result, seconds
    written = [name for name, stamp in _snapshot(cwd).items() if before.get(name) != stamp]
    entry.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=entry.parent) as tmp:
        (Path(tmp) / "files").mkdir()
        for name in written:
            shutil.copyfile(cwd / name, Path(tmp) / "files" / name)
        (Path(tmp) / "result.json").write_text(json.dumps({
            "cmd": list(cmd), "returncode": result.returncode, "stdout": result.stdout or "",
            "stderr": result.stderr or "", "seconds": round(seconds, 1), "files": written}))
        try:
            os.rename(tmp, entry)
        except OSError:
            pass        # kept meanwhile by another process: the same outputs
        else:
            # The emptied temporary name is gone: make the context's clean-up a no-op.
            Path(tmp).mkdir()
    return result, seconds
