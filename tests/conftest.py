"""Fixtures shared by the unit tests."""

import pytest

from utils.config import data_root


@pytest.fixture
def full_size(monkeypatch):
    """Turn smoke mode off for one test (the session default is GM_SMOKE=1)."""
    monkeypatch.setenv("GM_SMOKE", "0")


def require_offline_copy(relative: str, root=None):
    """Skip the test, saying why, when the offline copy of a dataset file is not under GM_DATA (or ``root``)."""
    root = root or data_root()
    path = root / relative
    if not path.exists():
        pytest.skip(f"needs {relative} under GM_DATA={root} (offline copies; no download in tests)")
    return path
