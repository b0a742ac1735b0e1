"""Synthetic US notes: code stripping, note composition, gold rules, and a tiny clinosim run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codeproof.evalsets.synthetic import (
    compose_note,
    gold_for_encounter,
    remove_code_strings,
    strip_printed_codes,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "evalsets"


def _doc(name: str) -> dict[str, object]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("text", "expected_text", "codes"),
    [
        ("Cellulitis, unspecified (L03.90)", "Cellulitis, unspecified", ("L03.90",)),
        ("Type 2 diabetes mellitus (Mild) [E11.9]; Essential (primary) hypertension [I10]",
         "Type 2 diabetes mellitus (Mild); Essential (primary) hypertension", ("E11.9", "I10")),
        ("COPD [J44.9, F17.210]", "COPD", ("J44.9", "F17.210")),  # several codes in one
        ("Fracture (S72.001A)", "Fracture", ("S72.001A",)),  # 7th character
        ("SpO2 94% (RA), RR 16/min", "SpO2 94% (RA), RR 16/min", ()),  # negative: not a code
        ("Essential (primary) hypertension", "Essential (primary) hypertension", ()),
        ("Vitamin B12 level (pending)", "Vitamin B12 level (pending)", ()),
    ],
)
def test_strip_printed_codes(text: str, expected_text: str, codes: tuple[str, ...]) -> None:
    assert strip_printed_codes(text) == (expected_text, codes)


@pytest.mark.parametrize(
    ("text", "codes", "expected"),
    [
        ("DISCHARGE DIAGNOSES: Pneumonia, unspecified; J13", ["J13"],
         "DISCHARGE DIAGNOSES: Pneumonia, unspecified"),  # a bare gold code is removed
        ("DISCHARGE DIAGNOSES: J13", ["J13"], "DISCHARGE DIAGNOSES: "),
        ("code S72001A here", ["S72.001A"], "code  here"),  # undotted form too
        ("Vitamin B12 level", ["B12.0"], "Vitamin B12 level"),  # borderline: another code
        ("J13 and J130", ["J13"], " and J130"),  # only whole tokens
    ],
)
def test_remove_code_strings(text: str, codes: list[str], expected: str) -> None:
    assert remove_code_strings(text, codes) == expected


def test_compose_note_uses_us_headings() -> None:
    note = compose_note([("34117-2", _doc("admission_hp")), ("18842-5", _doc("discharge_summary")),
                         ("11506-3", _doc("progress_note"))])
    assert note.startswith("ADMISSION HISTORY AND PHYSICAL\n\nCHIEF COMPLAINT: Fever, cough")
    assert "\n\nDISCHARGE SUMMARY\n\n" in note
    assert "PAST MEDICAL HISTORY: Type 2 diabetes" in note
    assert "CLINICAL NOTE\n\nS: Hospital day 1." in note  # free text kept as is
    assert note.endswith("\n")


def test_fixture_note_end_to_end() -> None:
    raw = compose_note([("34117-2", _doc("admission_hp")), ("18842-5", _doc("discharge_summary"))])
    text, printed = strip_printed_codes(raw)
    assert printed == ("E11.9", "I10", "J18.9")
    gold = gold_for_encounter(text=text, primary=["J13"], printed=printed,
                              chronic={"E66.9": "Obesity, unspecified"})
    assert gold == ("J13", "E11.9", "I10", "J18.9")  # obesity is not in the text
    clean = remove_code_strings(text, gold)
    for code in gold:
        assert code not in clean and code.replace(".", "") not in clean
    assert "Vitamin B12" in clean


@pytest.mark.parametrize(
    ("primary", "printed", "chronic", "text", "expected"),
    [
        (["I10"], [], {"E11.9": "Type 2 diabetes mellitus without complications"},
         "Follow-up of Type 2 diabetes mellitus without complications", ("I10", "E11.9")),
        (["I10"], [], {"E11.9": "Type 2 diabetes mellitus without complications"},
         "Blood pressure follow-up", ("I10",)),  # negative: display absent
        (["T07"], ["T07.XXXA"], {}, "", ("T07.XXXA",)),  # category dropped for its own code
        (["S72.00"], ["S72.001A"], {}, "", ("S72.001A",)),
        (["J13"], ["J13"], {}, "", ("J13",)),  # duplicates collapse
        (["E11.9"], [], {"E11.9": "Type 2 diabetes"}, "type 2 DIABETES", ("E11.9",)),
    ],
)
def test_gold_rules(primary: list[str], printed: list[str], chronic: dict[str, str], text: str,
                    expected: tuple[str, ...]) -> None:
    assert gold_for_encounter(text=text, primary=primary, printed=printed,
                              chronic=chronic) == expected


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("clinosim")
    from codeproof.evalsets import write_synthetic_set

    out = tmp_path_factory.mktemp("synthetic")
    summary = write_synthetic_set(out, n=2, seed=3)
    assert summary.notes == 2
    return out


def test_clinosim_set_layout(tiny_set: Path) -> None:
    texts = sorted(p.name for p in (tiny_set / "text").iterdir())
    assert texts == ["us-0001.txt", "us-0002.txt"]
    gold = [line.split("\t") for line in
            (tiny_set / "gold.tsv").read_text(encoding="utf-8").splitlines()]
    assert {doc for doc, _ in gold} == {"us-0001", "us-0002"}
    assert all(code == code.lower() and "." in code or len(code) == 3 for _, code in gold)
    manifest = json.loads((tiny_set / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["settings"] == {"inpatient": 1, "outpatient": 1}
    assert manifest["seed"] == 3


def test_clinosim_set_has_no_code_leak(tiny_set: Path) -> None:
    gold = [line.split("\t") for line in
            (tiny_set / "gold.tsv").read_text(encoding="utf-8").splitlines()]
    for doc, code in gold:
        text = (tiny_set / "text" / f"{doc}.txt").read_text(encoding="utf-8")
        assert code.upper() not in text
        assert code.upper().replace(".", "") not in text.split()
