"""Table tests for the pure code-string helpers (no store needed)."""

from __future__ import annotations

import pytest

from codeproof.coding.codesets import (
    apply_seventh_character,
    infer_system,
    is_valid_format,
    normalize_code,
    pad_placeholder,
    parse_code_references,
    reference_covers,
)
from codeproof.errors import UnknownCode


@pytest.mark.parametrize(
    ("raw", "system", "expected"),
    [
        ("e119", None, "E11.9"),  # positive: undotted lower case
        ("E11.9", None, "E11.9"),
        (" s72.001a ", None, "S72.001A"),  # whitespace, 7th character
        ("E11", None, "E11"),  # borderline: a category has no dot
        ("E11.", None, "E11"),  # borderline: trailing dot
        ("a00-a09", None, "A00-A09"),  # block range form kept
        ("0dtj4zz", "ICD-10-PCS", "0DTJ4ZZ"),
        ("0DTJ4ZZ", None, "0DTJ4ZZ"),
        ("0DT.J4ZZ", "ICD-10-PCS", "0DTJ4ZZ"),  # a stray dot is dropped for PCS
        ("99213", None, "99213"),
        ("1a00.0", None, "1A00.0"),  # ICD-11 keeps its dot
        ("j0696", "HCPCS", "J0696"),
        ("b020zzz", "ICD-10-PCS", "B020ZZZ"),  # negative for inference, fine with a system
    ],
)
def test_normalize_code(raw: str, system: str | None, expected: str) -> None:
    assert normalize_code(raw, system) == expected


@pytest.mark.parametrize("raw", ["", "   "])
def test_normalize_code_rejects_empty(raw: str) -> None:
    with pytest.raises(UnknownCode) as info:
        normalize_code(raw)
    assert info.value.code == "CP-REF-003"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("E11.9", "ICD-10-CM"),
        ("S72001A", "ICD-10-CM"),
        ("A00-A09", "ICD-10-CM"),
        ("0DTJ4ZZ", "ICD-10-PCS"),
        ("99213", "CPT"),
        ("0001U", "CPT"),  # borderline: PLA code
        ("1A00", "ICD-11"),
        ("1A00&XN8P1", "ICD-11"),
        ("XN8P1", "ICD-11"),
        ("J0696", "ICD-10-CM"),  # borderline: HCPCS shape overlaps ICD-10-CM; the store decides
        ("hello", None),
        ("E11.99999", None),  # negative: too long
    ],
)
def test_infer_system(raw: str, expected: str | None) -> None:
    assert infer_system(raw) == expected


@pytest.mark.parametrize(
    ("code", "system", "valid"),
    [
        ("99213", "CPT", True),
        ("1234F", "CPT", True),
        ("0001U", "CPT", True),
        ("9921", "CPT", False),
        ("99213X", "CPT", False),
        ("J0696", "HCPCS", True),
        ("W0696", "HCPCS", False),  # W is not a HCPCS Level II letter
        ("0DTJ4ZZ", "ICD-10-PCS", True),
        ("0DTI4ZZ", "ICD-10-PCS", False),  # PCS never uses I or O
        ("E11.9", "ICD-10-CM", True),
        ("E1", "ICD-10-CM", False),
    ],
)
def test_is_valid_format(code: str, system: str, valid: bool) -> None:
    assert is_valid_format(code, system) is valid


@pytest.mark.parametrize(
    ("note", "expected"),
    [
        ("gestational diabetes (O24.4-)", ("O24.4",)),  # trailing dash: all subdivisions
        ("diabetes mellitus due to underlying condition (E08.-)", ("E08",)),
        ("endocrine, nutritional and metabolic diseases (E00-E88)", ("E00-E88",)),  # range
        ("(R13.11-R13.19)", ("R13.11-R13.19",)),  # dotted range
        ("gout (M1A.-, M10.-)", ("M1A", "M10")),  # two references in one note
        ("(T36-T50 with fifth or sixth character 5)", ("T36-T50",)),  # qualifier dropped
        ("(X00-X19, X75-X77, X96-X98, Y92)", ("X00-X19", "X75-X77", "X96-X98", "Y92")),
        ("complications of pregnancy (O00-O9A)", ("O00-O9A",)),
        ("insulin (Z79.4)", ("Z79.4",)),
        ("human immunodeficiency virus [HIV] disease (B20)", ("B20",)),
        ("COVID19 and HbA1c and type 2 disease", ()),  # negative: code-like words
        ("code to identify control using:", ()),
    ],
)
def test_parse_code_references(note: str, expected: tuple[str, ...]) -> None:
    assert parse_code_references(note) == expected


@pytest.mark.parametrize(
    ("reference", "code", "covered"),
    [
        ("E08-E13", "E11.9", True),
        ("E08-E13", "E13", True),  # inclusive upper end
        ("E08-E13", "E08.00", True),  # inclusive lower end
        ("E08-E13", "E14", False),
        ("E08-E13", "E07.9", False),
        ("O24.4", "O24.419", True),
        ("O24.4", "O24.5", False),
        ("O00-O9A", "O9A.1", True),  # alphanumeric upper end
        ("R13.11-R13.19", "R13.12", True),
        ("R13.11-R13.19", "R13.10", False),
        ("not a code", "E11.9", False),
    ],
)
def test_reference_covers(reference: str, code: str, covered: bool) -> None:
    assert reference_covers(reference, code) is covered


@pytest.mark.parametrize(
    ("code", "char", "expected"),
    [
        ("S02.0", "A", "S02.0XXA"),  # two placeholders
        ("S72.001", "a", "S72.001A"),  # no placeholder, lower-case char
        ("T36.0X1", "A", "T36.0X1A"),  # placeholder already present
        ("S02", "B", "S02.XXXB"),  # borderline: a category pads three
    ],
)
def test_apply_seventh_character(code: str, char: str, expected: str) -> None:
    assert apply_seventh_character(code, char) == expected


@pytest.mark.parametrize(("code", "char"), [("S72.001A", "A"), ("S02.0", "AB"), ("S02.0", "-")])
def test_apply_seventh_character_rejects(code: str, char: str) -> None:
    with pytest.raises(UnknownCode):
        apply_seventh_character(code, char)


def test_pad_placeholder() -> None:
    assert pad_placeholder("S02.0") == "S02.0XX"
    assert pad_placeholder("T36.0X1") == "T36.0X1"
