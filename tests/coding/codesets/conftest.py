"""Fixtures: a mini terminology compiled from tests/fixtures/codesets (under a second)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codeproof.coding.codesets import Terminology, build_terminology, load_terminology

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "codesets"


def mini_sources() -> dict[str, Any]:
    """Keyword arguments that point build_terminology at the mini fixture sources."""
    return {
        "icd10cm_sources": (FIXTURES / "mini_icd10cm.xml", FIXTURES / "mini_icd10cm_codes.txt"),
        "icd10pcs_source": FIXTURES / "mini_icd10pcs.txt",
        "icd11_titles": FIXTURES / "mini_icd11_diseases.xml",
    }


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def mini_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A mini store with the WHO map fixture and the fake CPT/HCPCS files."""
    target = tmp_path_factory.mktemp("mini-reference")
    build_terminology(target, icd11_dir=FIXTURES / "icd11", cpt_file=FIXTURES / "fake_cpt.tsv",
                      hcpcs_file=FIXTURES / "fake_hcpcs_fixed.txt", **mini_sources())
    return target


@pytest.fixture(scope="session")
def mini(mini_dir: Path) -> Iterator[Terminology]:
    with load_terminology(mini_dir) as terminology:
        yield terminology


@pytest.fixture(scope="session")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Terminology]:
    """A mini store with no ICD-11 map and no CPT/HCPCS file."""
    target = tmp_path_factory.mktemp("bare-reference")
    build_terminology(target, **mini_sources())
    with load_terminology(target) as terminology:
        yield terminology
