"""Shared, session-scoped de-identification objects (the lexicons load once)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeproof.deid.engine import DeidEngine
from codeproof.deid.lexicons import Lexicons, load_lexicons

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "deid"


@pytest.fixture(scope="session")
def lexicons() -> Lexicons:
    return load_lexicons()


@pytest.fixture(scope="session")
def engine(lexicons: Lexicons) -> DeidEngine:
    return DeidEngine(lexicons=lexicons)


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES
