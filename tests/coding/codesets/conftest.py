"""Fixtures: a mini terminology compiled from tests/fixtures/codesets (under a second)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from codesets_helpers import FIXTURES, mini_sources

from codeproof.coding.codesets import Terminology, build_terminology, load_terminology


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
