"""Helpers shared by the terminology tests (a uniquely named module, not conftest)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "codesets"


def mini_sources() -> dict[str, Any]:
    """Keyword arguments that point build_terminology at the mini fixture sources."""
    return {
        "icd10cm_sources": (FIXTURES / "mini_icd10cm.xml", FIXTURES / "mini_icd10cm_codes.txt"),
        "icd10pcs_source": FIXTURES / "mini_icd10pcs.txt",
        "icd11_titles": FIXTURES / "mini_icd11_diseases.xml",
    }
