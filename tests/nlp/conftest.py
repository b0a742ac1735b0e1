"""Fixtures for the language layer: one engine per session (rules compile once)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeproof.nlp import NlpEngine

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nlp"


@pytest.fixture(scope="session")
def engine() -> NlpEngine:
    """The packaged English engine (term list only; no terminology needed)."""
    return NlpEngine()


@pytest.fixture(scope="session")
def note_text() -> str:
    """A synthetic discharge summary (no PHI)."""
    return (FIXTURES / "discharge_note.txt").read_text(encoding="utf-8")
