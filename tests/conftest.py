import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def shared():
    """../shared beside the checkout, or a skip when it is not there."""
    if not SHARED.is_dir():
        pytest.skip("../shared (models and data) is not beside this checkout")
    return SHARED
