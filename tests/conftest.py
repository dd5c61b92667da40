"""Shared test helpers. A test that needs a system tool calls `require_tool`: on a user's
machine a missing tool skips the test with the reason printed; with CI=true it fails."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MODELS = REPO / "models"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, reason: str) -> None:
    """Skip (or, in CI, fail) unless `condition` holds."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def require_tool(*names: str) -> str:
    """The path of the first tool found among `names`."""
    for name in names:
        path = shutil.which(name) or (name if Path(name).is_file() else None)
        if path:
            return path
    require(False, f"{' or '.join(names)} is not installed (make system-deps installs it)")
    raise AssertionError("unreachable")


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'results.sqlite'}"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO
