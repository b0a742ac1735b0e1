"""Shared fixtures: isolated settings/home, the compiled reference data, example paths.

Fixtures never touch the network. The full terminology is compiled once per
machine into ``.codeproof/reference`` by ``make test`` (``codeproof terminology
build``); tests that need it use the ``reference_dir`` fixture, which builds it
there when missing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from codeproof.config import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
EXAMPLES = ROOT / "examples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The compiled reference data shared by the test session."""
    path = Path(os.environ.get("CODEPROOF_REFERENCE_DIR", ROOT / ".codeproof" / "reference"))
    from codeproof.coding.codesets import load_terminology

    load_terminology(path, build_if_missing=True)
    return path


@pytest.fixture()
def settings(tmp_path: Path, reference_dir: Path) -> Settings:
    """Settings with a private home under tmp_path and the shared reference data."""
    return load_settings(environ={}, home=str(tmp_path / "home"),
                         reference_dir=str(reference_dir))


@pytest.fixture()
def shared_dir() -> Path:
    """The read-only evaluation data beside the project (skips when absent)."""
    if not (SHARED / "data").is_dir():
        pytest.skip("../shared/data is absent (evaluation data is not part of the project)")
    return SHARED
