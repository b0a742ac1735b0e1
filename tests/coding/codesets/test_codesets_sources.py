"""Source readers: WHO ICD-11 tables (txt, xlsx, the real shared copy), CPT/HCPCS files."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeproof.coding.codesets.icd11 import map_cm_code, read_who_map
from codeproof.coding.codesets.sources import read_cpt_file, read_hcpcs_file
from codeproof.errors import ReferenceDataError, ReferenceDataMissing

SHARED_ICD11 = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "icd11"


def test_who_map_from_txt(fixtures_dir: Path) -> None:
    who = read_who_map(fixtures_dir / "icd11")
    assert [t for t, _ in who["E11.6"].targets] == ["5A11", "5A24"]
    assert who["E11.9"].relation == "Subclass"
    assert who["B20"].targets == ()  # a WHO row with no ICD-11 code


def test_who_map_from_xlsx(fixtures_dir: Path, tmp_path: Path) -> None:
    import openpyxl

    (tmp_path / "10To11MapToOneCategory.txt").write_bytes(
        (fixtures_dir / "icd11" / "10To11MapToOneCategory.txt").read_bytes())
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["10ClassKind", "Depth", "icd10Code", "icd10Chapter", "icd10Title",
                  "11ClassKind", "Depth", "ICD-11 Foundation URI", "Linearization (release) URI",
                  "icd11Code", "icd11Chapter", "icd11Title"])
    sheet.append(["category", "2", "E11.9", "IV", "t", "category", "1", "u", "u", "5A11", "05",
                  "Type 2 diabetes mellitus"])
    sheet.append(["category", "2", "E11.9", "IV", "t", "category", "1", "u", "u", "5A24", "05",
                  "Uncontrolled or unstable diabetes mellitus"])
    book.save(tmp_path / "10To11MapToMultipleCategories.xlsx")
    who = read_who_map(tmp_path)
    assert [t for t, _ in who["E11.9"].targets] == ["5A11", "5A24"]
    assert {t.ambiguity for t in map_cm_code("E11.9", who)} == {"one_to_many"}


def test_who_map_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ReferenceDataMissing, match="10To11MapToOneCategory.txt"):
        read_who_map(tmp_path)


@pytest.mark.parametrize(
    ("code", "ambiguity", "first", "via"),
    [
        ("E11.9", "exact", "5A11", "E11.9"),
        ("A00.0", "exact", "1A00&XN8P1", "A00.0"),  # post-coordinated target kept as is
        ("A01", "one_to_many", "1A0Z", "A01"),
        ("E11.65", "category_only", "5A11", "E11.6"),
        ("S72.001A", "category_only", "NC72.2Z", "S72.0"),
        ("I1A.0", "none", "", ""),  # ICD-10-CM-only category: no WHO prefix
    ],
)
def test_real_who_tables(code: str, ambiguity: str, first: str, via: str) -> None:
    if not (SHARED_ICD11 / "10To11MapToOneCategory.txt").is_file():
        pytest.skip("../shared/data/icd11 is absent (WHO tables are user-supplied)")
    who = _real_map()
    targets = map_cm_code(code, who)
    assert (targets[0].code, targets[0].ambiguity, targets[0].via) == (first, ambiguity, via)


_CACHE: dict[str, object] = {}


def _real_map() -> dict[str, object]:
    if "who" not in _CACHE:
        _CACHE["who"] = read_who_map(SHARED_ICD11)
    return _CACHE["who"]  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("99213\tTest descriptor 1\n", None),  # positive
        ("code\tdescriptor\n99213\tTest descriptor 1\n", None),  # borderline: header line
        ("# comment\n\n99213\tTest descriptor 1\n", None),
        ("99213 Test descriptor 1\n", "expected code<TAB>descriptor"),  # negative: no tab
        ("99213\tTest descriptor 1\nE11.9\tnot cpt\n", "is not a CPT code"),
    ],
)
def test_cpt_file_layout(tmp_path: Path, content: str, error: str | None) -> None:
    path = tmp_path / "cpt.tsv"
    path.write_text(content, encoding="utf-8")
    if error is None:
        nodes = read_cpt_file(path)
        assert [(n.code, n.title) for n in nodes] == [("99213", "Test descriptor 1")]
    else:
        with pytest.raises(ReferenceDataError, match=error):
            read_cpt_file(path)


def test_hcpcs_tsv(fixtures_dir: Path) -> None:
    nodes = read_hcpcs_file(fixtures_dir / "fake_hcpcs.tsv")
    assert [(n.code, n.title) for n in nodes] == [("J0696", "Test HCPCS item 1"),
                                                  ("E0100", "Test HCPCS item 2")]
