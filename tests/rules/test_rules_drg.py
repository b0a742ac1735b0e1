"""MS-DRG grouping (msdrg), MCE edits and CDI opportunities.

The gold cases are drgpy 0.2.1's ``tests/test_gold_cases.py`` (v43.1, code numbers
only); each is checked with msdrg (what codeproof uses) and, when drgpy loads, with
drgpy itself, so the two independent groupers are shown to agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from _rules_support import FakeTerminology, code, encounter, ids

from codeproof.errors import ConfigError
from codeproof.rules.base import ClaimView, RuleContext
from codeproof.rules.cdi import CdiRules
from codeproof.rules.drg import DrgGrouper, DrgRules, resolve_version
from codeproof.rules.mce import MceChecker, MceRules
from codeproof.rules.packs import load_packs

pytestmark = pytest.mark.issue(5)

# (name, diagnoses (principal first), procedures, expected MS-DRG) from drgpy's suite


GOLD = [
    ("ventilation", ["J95821"], ["5A1935Z"], 208),
    ("intestinal_obstruction", ["K562", "K460"], ["0DTH0ZZ"], 330),
    ("cholecystectomy", ["K8000", "J9811"], ["0FT44ZZ"], 418),
    ("hip_replacement_mcc", ["S72001A", "J95821"], ["0SRR019"], 521),
    ("hip_replacement", ["M80051A"], ["0SRR0J9"], 522),
    ("infectious_or_procedure", ["A419", "K3532"], ["0DTJ4ZZ"], 853),
    ("infectious_or_procedure_no_mcc", ["A419", "E871"], ["0T768DZ"], 854),
    ("craniotomy_mcc", ["S065X0A", "S06A0XA"], ["009430Z"], 25),
    ("vascular_procedure_cc", ["I871", "F840"], ["06JY0ZZ"], 253),
    ("cardiac_catheterization", ["I469"], ["B2151ZZ"], 287),
    ("joint_revision_cc", ["T8454XA", "D62"], ["0SRD0J9", "0SPD0JZ"], 467),
    ("hip_femur_procedure_mcc", ["M80052A", "G928"], ["0QS706Z"], 480),
    ("kidney_ureter_procedure_cc", ["N132", "A0472"], ["0T768DZ"], 660),
    ("lung_resection_cc", ["C3411", "G90512"], ["0BTC4ZZ"], 164),
    ("inguinal_hernia_cc", ["K4090", "I25810"], ["0YU50JZ"], 351),
    ("ventral_hernia_cc", ["K433", "N390"], ["0WQF0ZZ"], 354),
    ("biliary_disorder_mcc", ["K8309", "K831"], [], 444),
    ("major_joint_replacement", ["M1711"], ["0SRC0J9"], 470),
    ("cervical_fusion_cc", ["M4712", "G959"], ["0RG20A0"], 472),
    ("upper_limb_procedure_cc", ["S42222A", "E871"], ["0PSD04Z"], 493),
    ("urinary_disorder_mcc", ["T83518A", "A419"], [], 698),
    ("copd_respiratory_failure", ["J441", "J9621"], [], 190),
    ("intestinal_obstruction_medical", ["K56609"], [], 390),
    ("subdural_hemorrhage", ["S06360A", "N186"], [], 85),
    ("device_complication_sepsis", ["T8571XA", "A419"], [], 919),
    ("lumbar_fusion", ["M4316"], ["0SG00AJ", "0SG0071"], 402),
    ("colectomy", ["Z433", "K567"], ["0DBM4ZZ"], 330),
    ("carotid_stent", ["I6521"], ["037K3DZ"], 36),
    ("atrial_fibrillation", ["I4820"], [], 310),
    ("pulmonary_embolism", ["I2699"], [], 176),
    ("pulmonary_embolism_mcc", ["I2699", "J9601"], [], 175),
    ("transcatheter_valve", ["I080"], ["02RF38Z"], 267),
    ("pacemaker", ["I495", "I452"], ["0JH606Z", "02H63JZ"], 243),
    ("diverticulitis", ["K5732"], [], 392),
    ("cellulitis", ["L03115"], [], 603),
    ("psychosis", ["F209"], [], 885),
    ("stroke_thrombectomy", ["I63412"], ["03CG3ZZ"], 24),
    ("cabg_cath_mcc", ["I214", "R570"], ["02100Z9", "4A023N7"], 233),
    ("cabg_no_cath", ["I214"], ["02100Z9"], 236),
    ("aki_encephalopathy", ["N179", "G9341"], [], 682),
    ("severity_mcc", ["K8309", "A021"], [], 444),
    ("severity_cc", ["K8309", "D62"], [], 445),
    ("severity_none", ["K8309"], [], 446),
    ("unrelated_or", ["E871"], ["0SRC0J9"], 983),
    ("newborn_significant_problem", ["P003", "P221"], [], 794),
    ("normal_newborn_with_secondary", ["Z3800", "P599"], [], 795),
    ("delivery_excluded_or", ["Z640", "Z370"], ["10D07Z3", "0KQM0ZZ"], 807),
]


@pytest.fixture(scope="module")
def grouper() -> Iterator[DrgGrouper]:
    g = DrgGrouper("v43.1")
    yield g
    g.close()


@pytest.fixture(scope="module")
def mce() -> Iterator[MceChecker]:
    m = MceChecker()
    yield m
    m.close()


@pytest.mark.parametrize(("name", "dx", "pr", "expected"), GOLD, ids=[g[0] for g in GOLD])
def test_msdrg_matches_drgpy_gold(grouper: DrgGrouper, name: str, dx: list[str],
                                  pr: list[str], expected: int) -> None:
    result = grouper.group(pdx=dx[0], sdx=tuple(dx[1:]), procedures=tuple(pr), age=65,
                           sex="F", discharge_status="01", on=None)
    assert result.drg == expected, name


def test_drgpy_agrees_on_gold_cases() -> None:
    drgpy = pytest.importorskip("drgpy.msdrg")
    engine = drgpy.DRGEngine("v43.1")
    disagree = [name for name, dx, pr, expected in GOLD
                if int(engine.get_drg(dx, pr)) != expected]
    assert not disagree


@pytest.mark.parametrize(
    ("setting", "day", "expected"),
    [
        ("v43", None, 431), ("v43.0", None, 430), ("v42.1", None, 421), ("v44", None, 440),
        ("auto", date(2025, 9, 30), 421),  # last day of FY2025
        ("auto", date(2025, 10, 1), 430),  # first day of FY2026
        ("auto", date(2026, 3, 31), 430),
        ("auto", date(2026, 4, 1), 431),  # mid-year release
        ("auto", date(2026, 10, 1), 440),
    ],
)
def test_resolve_version(setting: str, day: date | None, expected: int) -> None:
    assert resolve_version(setting, day) == expected


@pytest.mark.parametrize("setting", ["v39", "v43.2", "43x", "latest"])
def test_resolve_version_rejects(setting: str) -> None:
    with pytest.raises(ConfigError):
        resolve_version(setting, None)


def test_drg_findings_show_cc_mcc(grouper: DrgGrouper) -> None:
    text = "Acute on chronic heart failure. Severe protein-calorie malnutrition. CKD stage 4."
    enc = encounter(code("I50.9", seq=1, quote="heart failure", note_text=text),
                    code("E43", seq=2, quote="Severe protein-calorie malnutrition",
                         note_text=text),
                    code("N18.4", seq=3), text=text, setting="inpatient", age=70, sex="M")
    findings = DrgRules()(ClaimView.from_encounter(enc), RuleContext(grouper=grouper))
    by_id = {f.rule_id: f for f in findings}
    assert "MS-DRG 291" in by_id["drg.assignment"].message
    cc = [f for f in findings if f.rule_id == "drg.cc_mcc"]
    assert any("E43 is an MCC and sets" in f.message for f in cc)
    assert any("N18.4 is a CC (no effect" in f.message for f in cc)
    assert any("E43 is an MCC" in f.message for f in cc)
    mcc = next(f for f in cc if "E43" in f.message)
    assert mcc.evidence and mcc.evidence[0].quote.startswith("Severe")


def test_outpatient_claims_are_not_grouped(grouper: DrgGrouper) -> None:
    enc = encounter(code("I50.9", seq=1), setting="outpatient")
    assert DrgRules()(ClaimView.from_encounter(enc), RuleContext(grouper=grouper)) == ()


@pytest.mark.parametrize(
    ("dx", "age", "sex", "setting", "expected"),
    [
        (["I50.9", "O99.891"], 70, "F", "inpatient", ["mce.age_conflict"]),  # maternity at 70
        # sex conflict: retired by CMS on 2024-10-01, reported as a non-blocking warning
        (["I50.9", "N40.0"], 70, "F", "inpatient", ["mce.sex_conflict"]),
        (["I50.9", "N40.0"], 70, "M", "inpatient", []),
        (["G01"], 50, "F", "inpatient", ["mce.manifestation_as_pdx"]),
        (["I10"], 50, "F", "inpatient", ["mce.questionable_admission"]),
        (["I50.9", "I50.9"], 50, "F", "inpatient", ["mce.duplicate_of_pdx"]),
        # outpatient: only the demographic conflicts
        (["I10"], 50, "F", "outpatient", []),
        (["I10", "N40.0"], 50, "F", "outpatient", ["mce.sex_conflict"]),
        (["Z38.00"], 5, "F", "outpatient", ["mce.age_conflict"]),
        (["Z38.00"], None, "F", "outpatient", []),  # unknown age: no age edits
    ],
)
def test_mce(mce: MceChecker, dx, age, sex, setting, expected) -> None:  # type: ignore[no-untyped-def]
    enc = encounter(*(code(c, seq=i + 1) for i, c in enumerate(dx)), setting=setting, age=age,
                    sex=sex)
    findings = MceRules()(ClaimView.from_encounter(enc),
                          RuleContext(mce=mce, terminology=FakeTerminology()))
    assert ids(findings) == expected
    for item in findings:
        assert item.severity in ("error", "warning") and "MCE" in item.citation


@pytest.mark.parametrize(
    ("dos", "severity", "blocking"),
    [("2024-09-30", "error", True),  # last day of the MCE sex edit
     ("2024-10-01", "warning", False)],  # retired: informational for other payers
)
def test_mce_sex_conflict_retirement(mce: MceChecker, dos: str, severity: str,
                                     blocking: bool) -> None:
    enc = encounter(code("I50.9", seq=1), code("E11.9", seq=2), code("N40.0", seq=3),
                    setting="inpatient", age=70, sex="F", dos=dos)
    (item,) = MceRules()(ClaimView.from_encounter(enc), RuleContext(mce=mce))
    assert item.rule_id == "mce.sex_conflict"
    assert item.codes == ("ICD-10-CM:N40.0",)
    assert (item.severity, item.blocking) == (severity, blocking)


@pytest.fixture(scope="module")
def cdi_context(grouper: DrgGrouper) -> RuleContext:
    return RuleContext(grouper=grouper, packs=load_packs())


@pytest.mark.parametrize(
    ("text", "codes", "expected"),
    [
        # under-specified heart failure as a secondary diagnosis: specifying it adds an MCC
        # (and the unspecified pneumonia's organism could change the principal's DRG)
        ("Pneumonia. Heart failure noted.", ["J18.9:Pneumonia", "I50.9:Heart failure"],
         ["cdi.opportunity.heart_failure.specificity", "cdi.opportunity.pneumonia.organism"]),
        # documented but uncoded malnutrition changes the DRG
        ("Heart failure. Patient is severely malnourished.", ["I50.9"],
         ["cdi.opportunity.malnutrition.uncoded"]),
        # negated: no opportunity
        ("Heart failure. No malnutrition.", ["I50.9"], []),
        # already coded: no opportunity
        ("Heart failure. Patient is malnourished.", ["I50.9", "E43"], []),
        # borderline: already at MCC, an added diagnosis cannot change the DRG
        ("Heart failure. AKI on labs.", ["I50.9", "J96.01"], []),
    ],
)
def test_cdi(cdi_context: RuleContext, text: str, codes: list[str],
             expected: list[str]) -> None:
    enc = encounter(*(code(c.partition(":")[0], seq=i + 1, quote=c.partition(":")[2],
                           note_text=text) for i, c in enumerate(codes)),
                    text=text, setting="inpatient", age=70, sex="M")
    findings = CdiRules()(ClaimView.from_encounter(enc), cdi_context)
    assert sorted(f.rule_id for f in findings) == sorted(expected)
    for item in findings:
        assert item.severity == "info" and not item.blocking
        assert item.evidence  # a query needs its evidence
        assert "never" not in item.message


def test_cdi_never_adds_codes(cdi_context: RuleContext) -> None:
    enc = encounter(code("I50.9", seq=1), text="Heart failure. Malnourished.",
                    setting="inpatient", age=70, sex="M")
    claim = ClaimView.from_encounter(enc)
    CdiRules()(claim, cdi_context)
    assert [c.code for c in claim.diagnoses] == ["I50.9"]


@pytest.mark.parametrize(
    ("flags", "expected"),
    [({"negated": True}, 0), ({"family": True}, 0), ({}, 1),
     ({"uncertain": True}, 1)],  # an uncertain mention is exactly what a query resolves
)
def test_cdi_uses_mention_assertions(cdi_context: RuleContext, flags: dict[str, bool],
                                     expected: int) -> None:
    import dataclasses

    from codeproof.model import Assertion, Mention

    text = "Heart failure. Malnutrition was considered."
    start = text.index("Malnutrition")
    mention = Mention(id="m1", note_id="n1", start=start, end=start + 12, text="Malnutrition",
                      assertion=Assertion(
                          negated=flags.get("negated", False),
                          uncertain=flags.get("uncertain", False),
                          experiencer="other" if flags.get("family") else "patient"))
    enc = encounter(code("I50.9", seq=1), text=text, setting="inpatient", age=70, sex="M")
    enc = dataclasses.replace(enc, mentions=(mention,))
    findings = CdiRules()(ClaimView.from_encounter(enc), cdi_context)
    assert len([f for f in findings if "malnutrition" in f.rule_id]) == expected


def test_mce_reports_invalid_pcs_even_with_a_terminology(mce: MceChecker) -> None:
    enc = encounter(code("I50.9", seq=1), code("0ZZZZZZ", system="ICD-10-PCS"),
                    setting="inpatient", age=70, sex="M")
    findings = MceRules()(ClaimView.from_encounter(enc),
                          RuleContext(mce=mce, terminology=FakeTerminology()))
    assert [(f.rule_id, f.codes) for f in findings] == [
        ("mce.invalid_code", ("ICD-10-PCS:0ZZZZZZ",))]
