"""Guideline steps as table tests over hand-built proposals (no model needed)."""

from __future__ import annotations

import pytest

from codeproof.coding.candidates import CodeInfoLite, Hit
from codeproof.coding.guidelines import DERIVED_CAP, Proposal, apply_guidelines
from codeproof.coding.text import Context
from codeproof.errors import ConfigError

INFO = {code: CodeInfoLite(title=title, billable=billable) for code, title, billable in [
    ("E11.9", "Type 2 diabetes mellitus without complications", True),
    ("E11.22", "Type 2 diabetes mellitus with diabetic chronic kidney disease", True),
    ("E11.40", "Type 2 diabetes mellitus with diabetic neuropathy, unspecified", True),
    ("G62.9", "Polyneuropathy, unspecified", True),
    ("N18.3", "Chronic kidney disease, stage 3 (moderate)", False),
    ("N18.30", "Chronic kidney disease, stage 3 unspecified", True),
    ("N18.6", "End stage renal disease", True),
    ("I10", "Essential (primary) hypertension", True),
    ("I11.0", "Hypertensive heart disease with heart failure", True),
    ("I12.9", "Hypertensive chronic kidney disease with stage 1 through stage 4 chronic "
              "kidney disease, or unspecified chronic kidney disease", True),
    ("I12.0", "Hypertensive chronic kidney disease with stage 5 chronic kidney disease or "
              "end stage renal disease", True),
    ("I13.0", "Hypertensive heart and chronic kidney disease with heart failure and stage 1 "
              "through stage 4 chronic kidney disease, or unspecified chronic kidney "
              "disease", True),
    ("I50.9", "Heart failure, unspecified", True),
    ("J18.9", "Pneumonia, unspecified organism", True),
    ("R05.9", "Cough, unspecified", True),
    ("R50.9", "Fever, unspecified", True),
    ("R51.9", "Headache, unspecified", True),
    ("C50.919", "Malignant neoplasm of unspecified site of unspecified female breast", True),
    ("Z85.3", "Personal history of malignant neoplasm of breast", True),
    ("Z80.3", "Family history of malignant neoplasm of breast", True),
    ("I21.9", "Acute myocardial infarction, unspecified", True),
    ("I25.2", "Old myocardial infarction", True),
    ("M17.9", "Osteoarthritis of knee, unspecified", True),
    ("M17.10", "Unilateral primary osteoarthritis, unspecified knee", True),
    ("M17.11", "Unilateral primary osteoarthritis, right knee", True),
    ("M17.12", "Unilateral primary osteoarthritis, left knee", True),
    ("S82.90", "Unspecified fracture of unspecified lower leg", False),
    ("S82.90XA", "Unspecified fracture of unspecified lower leg, initial encounter for "
                 "closed fracture", True),
    ("S82.90XD", "Unspecified fracture of unspecified lower leg, subsequent encounter for "
                 "closed fracture with routine healing", True),
    ("K35.80", "Unspecified acute appendicitis", True),
    ("K35.89", "Other acute appendicitis", True),
    ("K35.9", "Acute appendicitis, unspecified", False),
    ("R10.9", "Unspecified abdominal pain", True),
    ("E78.5", "Hyperlipidemia, unspecified", True),
    ("Z83.42", "Family history of familial hypercholesterolemia", True),
    ("L03.90", "Cellulitis, unspecified", True),
    ("L53.9", "Erythematous condition, unspecified", True),
    ("A41.9", "Sepsis, unspecified organism", True),
    ("I95.9", "Hypotension, unspecified", True),
    ("N10", "Acute pyelonephritis", True),
    ("N39.0", "Urinary tract infection, site not specified", True),
]}

NOTE = ("Patient with right knee osteoarthritis. Follow-up visit for healing fracture. "
        "History of breast cancer. Mother had breast cancer. No pneumonia.")


def _p(code: str, conf: float = 0.8, *, negated: bool = False, uncertain: bool = False,
       historical: bool = False, family: bool = False, hypothetical: bool = False,
       start: int = 0, end: int = 10) -> Proposal:
    ctx = Context(negated=negated, uncertain=uncertain, historical=historical,
                  family=family, hypothetical=hypothetical)
    hit = Hit(code=code, source="title", start=start, end=end, sentence=0, strength=2.0,
              context=ctx, note_id="n1")
    return Proposal(system="ICD-10-CM", code=code, confidence=conf, present_confidence=0.9,
                    score=1.0, hits=(hit,))


def _run(proposals: list[Proposal], setting: str = "outpatient",
         text: str = NOTE) -> dict[str, Proposal]:
    out = apply_guidelines(proposals, setting=setting, threshold=0.3, info=INFO,
                           text_of=lambda h: text[h.start:h.end])
    return {p.code: p for p in out}


@pytest.mark.issue(4)
@pytest.mark.parametrize(("proposals", "setting", "present", "absent", "ref"), [
    # negation: negated -> no code; affirmed -> coded; below threshold -> not coded
    ([_p("J18.9", negated=True)], "outpatient", [], ["J18.9"], None),
    ([_p("J18.9")], "outpatient", ["J18.9"], [], "IV.G"),
    ([_p("J18.9", conf=0.2)], "outpatient", [], ["J18.9"], None),
    ([_p("J18.9", hypothetical=True)], "outpatient", [], ["J18.9"], None),
    # family -> family history code, never the condition itself
    ([_p("C50.919", family=True)], "outpatient", ["Z80.3"], ["C50.919"], "I.C.21.c.4"),
    ([_p("E78.5", family=True)], "outpatient", ["Z83.42"], ["E78.5"], "I.C.21.c.4"),
    # historical resolved condition -> personal history; chronic history stays coded
    ([_p("C50.919", historical=True)], "outpatient", ["Z85.3"], ["C50.919"], "I.C.21.c.4"),
    ([_p("I21.9", historical=True)], "outpatient", ["I25.2"], ["I21.9"], "I.C.21.c.4"),
    ([_p("I10", historical=True)], "outpatient", ["I10"], [], None),
    # uncertain: inpatient coded as established, outpatient not unless confident
    ([_p("J18.9", conf=0.2, uncertain=True)], "inpatient", ["J18.9"], [], "II.H"),
    ([_p("J18.9", conf=0.2, uncertain=True)], "outpatient", [], ["J18.9"], None),
    # combination codes
    ([_p("E11.9"), _p("N18.30")], "outpatient", ["E11.22", "N18.30"], ["E11.9"], "I.A.15"),
    ([_p("E11.9"), _p("G62.9")], "outpatient", ["E11.40"], ["E11.9", "G62.9"], "I.C.4.a"),
    ([_p("I10"), _p("I50.9")], "outpatient", ["I11.0", "I50.9"], ["I10"], "I.C.9.a"),
    ([_p("I10"), _p("N18.30")], "outpatient", ["I12.9", "N18.30"], ["I10"], "I.C.9.a"),
    ([_p("I10"), _p("N18.6")], "outpatient", ["I12.0", "N18.6"], ["I10"], "I.C.9.a"),
    ([_p("I10"), _p("I50.9"), _p("N18.30")], "outpatient", ["I13.0"], ["I10"], "I.C.9.a"),
    ([_p("I10")], "outpatient", ["I10"], ["I11.0", "I12.9"], None),
    # integral symptoms suppressed only when the confirmed diagnosis is coded
    ([_p("J18.9"), _p("R05.9"), _p("R50.9")], "outpatient", ["J18.9"], ["R05.9", "R50.9"],
     None),
    ([_p("J18.9", uncertain=True, conf=0.8), _p("R05.9")], "outpatient", ["R05.9"], [], None),
    ([_p("J18.9"), _p("R51.9")], "outpatient", ["J18.9", "R51.9"], [], None),
    # signs that are the disease itself; a UTI of a specified site is not also "site
    # not specified"
    ([_p("L03.90"), _p("L53.9")], "outpatient", ["L03.90"], ["L53.9"], None),
    ([_p("A41.9"), _p("I95.9")], "outpatient", ["A41.9"], ["I95.9"], None),
    ([_p("N10"), _p("N39.0")], "outpatient", ["N10"], ["N39.0"], None),
    ([_p("N10", uncertain=True, conf=0.2), _p("N39.0")], "outpatient", ["N39.0"], ["N10"],
     None),
    # specificity: unspecified dropped when a specific sibling is reported
    ([_p("K35.80", conf=0.5), _p("K35.89", conf=0.7)], "outpatient", ["K35.89"], ["K35.80"],
     None),
    ([_p("K35.80", conf=0.7)], "outpatient", ["K35.80"], [], None),
])
def test_guideline_table(proposals: list[Proposal], setting: str, present: list[str],
                         absent: list[str], ref: str | None) -> None:
    out = _run(proposals, setting)
    for code in present:
        assert code in out, (code, sorted(out))
    for code in absent:
        assert code not in out, (code, sorted(out))
    if ref is not None:
        refs = {r for p in out.values() for r in p.guideline_refs}
        assert f"ICD-10-CM OCG {ref}" in refs


@pytest.mark.issue(4)
@pytest.mark.parametrize(("sentence", "expected"), [
    ("Patient with right knee osteoarthritis.", "M17.11"),
    ("Patient with left knee osteoarthritis.", "M17.12"),
    ("Patient with knee osteoarthritis.", "M17.10"),  # no side documented: stays unspecified
])
def test_laterality_from_text(sentence: str, expected: str) -> None:
    out = _run([_p("M17.10", end=len(sentence))], text=sentence)
    assert expected in out
    if expected != "M17.10":
        assert "ICD-10-CM OCG I.B.13" in out[expected].guideline_refs


@pytest.mark.issue(4)
@pytest.mark.parametrize(("sentence", "expected"), [
    ("Closed fracture of the lower leg after a fall.", "S82.90XA"),
    ("Follow-up visit for healing fracture of the lower leg.", "S82.90XD"),
])
def test_seventh_character(sentence: str, expected: str) -> None:
    out = _run([_p("S82.90", end=len(sentence))], text=sentence)
    assert expected in out
    assert "ICD-10-CM OCG I.C.19.a" in out[expected].guideline_refs


def test_seventh_character_can_be_disabled() -> None:
    text = "Closed fracture of the lower leg."
    out = apply_guidelines([_p("S82.90", end=len(text))], setting="outpatient", threshold=0.3,
                           info=INFO, text_of=lambda h: text, seventh_character=False)
    assert [p.code for p in out] == ["S82.90"]


def test_sequencing_puts_definitive_diagnosis_first() -> None:
    out = apply_guidelines([_p("R51.9", conf=0.95), _p("J18.9", conf=0.6)],
                           setting="inpatient", threshold=0.3, info=INFO,
                           text_of=lambda h: "")
    assert [p.code for p in out] == ["J18.9", "R51.9"]
    assert "ICD-10-CM OCG II" in out[0].guideline_refs


def test_derived_codes_never_auto_finalize() -> None:
    out = _run([_p("C50.919", conf=0.99, family=True)])
    assert out["Z80.3"].confidence <= 0.85
    assert out["Z80.3"].derived_from == "C50.919"


@pytest.mark.issue(4)
@pytest.mark.parametrize(("before", "flag", "expected"), [
    ("Her mother had ", "family", "Z80.3"),
    ("Family history of ", "family", "Z80.3"),
    ("The patient's mother noticed that the patient, with ", "family", "C50.919"),
    ("History of ", "historical", "Z85.3"),
    ("Previously diagnosed ", "historical", "C50.919"),  # weak cue: still current
])
def test_family_and_history_need_strong_cues(before: str, flag: str, expected: str) -> None:
    text = before + "breast cancer."
    p = _p("C50.919", start=len(before), end=len(text) - 1, **{flag: True})
    out = apply_guidelines([p], setting="outpatient", threshold=0.3, info=INFO,
                           text_of=lambda h: text, before_of=lambda h: text[:h.start])
    assert [q.code for q in out] == [expected]


@pytest.mark.issue(4)
@pytest.mark.parametrize(("policy", "present", "absent"), [
    ("integral", ["J18.9", "R51.9", "R10.9"], ["R05.9"]),
    ("body_system", ["J18.9", "R51.9", "R10.9"], ["R05.9"]),
])
def test_symptom_policies(policy: str, present: list[str], absent: list[str]) -> None:
    props = [_p("J18.9"), _p("R05.9"), _p("R51.9"), _p("R10.9")]
    out = {p.code for p in apply_guidelines(props, setting="outpatient", threshold=0.3,
                                            info=INFO, text_of=lambda h: "",
                                            symptom_policy=policy)}
    assert set(present) <= out and not (set(absent) & out)


def test_body_system_policy_is_broader() -> None:
    props = [_p("I50.9"), _p("R60.9"), _p("R06.00")]
    info = {**INFO, "R60.9": CodeInfoLite("Edema, unspecified", True),
            "R06.00": CodeInfoLite("Dyspnea, unspecified", True),
            "R00.0": CodeInfoLite("Tachycardia, unspecified", True)}
    narrow = {p.code for p in apply_guidelines(props, setting="outpatient", threshold=0.3,
                                               info=info, text_of=lambda h: "")}
    broad = {p.code for p in apply_guidelines(props, setting="outpatient", threshold=0.3,
                                              info=info, text_of=lambda h: "",
                                              symptom_policy="body_system")}
    assert narrow == {"I50.9"}  # HF: edema and dyspnea are routine (integral table)
    assert broad == {"I50.9"}
    props3 = [_p("I10"), _p("R00.0")]
    kw = {"setting": "outpatient", "threshold": 0.3, "info": info, "text_of": lambda h: ""}
    assert {p.code for p in apply_guidelines(props3, **kw)} == {"I10", "R00.0"}
    assert {p.code for p in apply_guidelines(props3, symptom_policy="body_system",
                                             **kw)} == {"I10"}
    props2 = [_p("J18.9"), _p("R60.9")]
    assert {p.code for p in apply_guidelines(props2, setting="outpatient", threshold=0.3,
                                             info=info, text_of=lambda h: "",
                                             symptom_policy="body_system")} == {"J18.9",
                                                                                "R60.9"}


@pytest.mark.issue(4)
@pytest.mark.parametrize(("attrs", "code", "expected"), [
    (("left", None), "M17.10", "M17.12"),       # attribute wins over the sentence text
    ((None, None), "M17.10", "M17.11"),         # falls back to the text ("right")
    ((None, "subsequent"), "S82.90", "S82.90XD"),
    ((None, "sequela"), "S82.90", "S82.90"),     # S82.90XS not in the mini code set
    ((None, "initial"), "S82.90", "S82.90XA"),
])
def test_attributes_drive_laterality_and_seventh(attrs: tuple[str | None, str | None],
                                                 code: str, expected: str) -> None:
    text = "Right knee osteoarthritis; closed fracture of the lower leg."
    out = apply_guidelines([_p(code, end=len(text))], setting="outpatient", threshold=0.3,
                           info=INFO, text_of=lambda h: text, attributes_of=lambda h: attrs)
    assert [p.code for p in out] == [expected]


HEADER_INFO = {**INFO, **{code: CodeInfoLite(title=title, billable=billable)
                          for code, title, billable in [
    ("R51", "Headache", False),
    ("R51.0", "Headache with orthostatic component, not elsewhere classified", True),
    ("M54.5", "Low back pain", False),
    ("K56.6", "Other and unspecified intestinal obstruction", False),
    ("K56.69", "Other intestinal obstruction", True),
    ("M54.50", "Low back pain, unspecified", True),
    ("M54.51", "Vertebrogenic low back pain", True),
    ("M54.59", "Other low back pain", True),
    ("I51.9", "Heart disease, unspecified", True),
    ("I25.10", "Atherosclerotic heart disease of native coronary artery without angina "
               "pectoris", True),
]}}


def _run_info(proposals: list[Proposal], **kwargs: str) -> dict[str, Proposal]:
    out = apply_guidelines(proposals, setting="outpatient", threshold=0.3,
                           info=HEADER_INFO, text_of=lambda h: "", **kwargs)
    return {p.code: p for p in out}


@pytest.mark.issue(4)
@pytest.mark.parametrize(("code", "policy", "expected", "conf"), [
    # header code with a single "unspecified" subcode: completed, never auto-finalized
    ("M54.5", "complete", "M54.50", DERIVED_CAP),
    # review policy keeps the header code (older code sets) but below the auto band
    ("M54.5", "review", "M54.5", DERIVED_CAP),
    ("R51", "complete", "R51.9", DERIVED_CAP),
    # header code without an "unspecified" subcode: kept for the coder, capped
    ("K56.6", "complete", "K56.6", DERIVED_CAP),
    # billable code: untouched
    ("M54.50", "complete", "M54.50", 0.97),
])
def test_header_codes_never_auto_finalize(code: str, policy: str, expected: str,
                                          conf: float) -> None:
    got = _run_info([_p(code, 0.97)], header_codes=policy)
    assert list(got) == [expected]
    assert got[expected].confidence == conf


@pytest.mark.issue(4)
@pytest.mark.parametrize(("others", "capped"), [
    ([], False),  # symptom alone: the ranker's confidence stands
    ([_p("I50.9", 0.95, start=40, end=55)], True),  # next to a confirmed diagnosis
    ([_p("I50.9", 0.95, start=40, end=55, uncertain=True)], False),  # only suspected
    ([_p("Z80.3", 0.95, start=40, end=55)], False),  # Z codes are not diagnoses
])
def test_symptom_next_to_confirmed_diagnosis_goes_to_review(others: list[Proposal],
                                                            capped: bool) -> None:
    got = _run_info([_p("R10.9", 0.96), *others])
    assert "R10.9" in got
    assert (got["R10.9"].confidence == DERIVED_CAP) is capped


@pytest.mark.issue(4)
@pytest.mark.parametrize(("span", "capped"), [
    ((20, 33), True),   # "heart disease" inside "coronary ... heart disease"
    ((0, 40), False),   # the unspecified code reads the longer phrase itself
    ((50, 63), False),  # elsewhere in the note
])
def test_unspecified_code_inside_a_more_specific_reading(span: tuple[int, int],
                                                         capped: bool) -> None:
    specific = _p("I25.10", 0.95, start=0, end=33)
    vague = _p("I51.9", 0.96, start=span[0], end=span[1])
    got = _run_info([specific, vague])
    assert (got["I51.9"].confidence == DERIVED_CAP) is capped
    assert got["I25.10"].confidence == 0.95


@pytest.mark.issue(4)
def test_combination_codes_are_capped() -> None:
    got = _run([_p("I10", 0.97, start=0, end=5), _p("I50.9", 0.96, start=10, end=20)])
    assert got["I11.0"].confidence == DERIVED_CAP


@pytest.mark.issue(4)
@pytest.mark.parametrize(("proposals", "text", "ocg", "mentions"), [
    # combination: OCG merges diabetes + CKD; mentions keeps both conditions as stated
    ([_p("E11.9"), _p("N18.30")], NOTE, {"E11.22", "N18.30"}, {"E11.9", "N18.30"}),
    ([_p("I10"), _p("I50.9")], NOTE, {"I11.0", "I50.9"}, {"I10", "I50.9"}),
    # integral symptoms: OCG drops them beside a confirmed diagnosis, mentions codes them
    ([_p("J18.9"), _p("R05.9"), _p("R50.9")], NOTE, {"J18.9"}, {"J18.9", "R05.9", "R50.9"}),
    # specificity: OCG drops the unspecified sibling, mentions keeps both
    ([_p("K35.80", conf=0.5), _p("K35.89", conf=0.7)], NOTE, {"K35.89"}, {"K35.80", "K35.89"}),
    # laterality / 7th character are completed only under OCG
    ([_p("M17.10", start=0, end=40)], "Right knee osteoarthritis, unilateral primary.",
     {"M17.11"}, {"M17.10"}),
    # both conventions drop negated findings and map family history to Z codes
    ([_p("J18.9", negated=True), _p("C50.919", family=True)], NOTE, {"Z80.3"}, {"Z80.3"}),
])
def test_conventions(proposals: list[Proposal], text: str, ocg: set[str],
                     mentions: set[str]) -> None:
    def run(convention: str) -> set[str]:
        out = apply_guidelines(proposals, setting="outpatient", threshold=0.3, info=INFO,
                               text_of=lambda h: text, convention=convention)
        return {p.code for p in out}

    assert run("ocg") == ocg
    assert run("mentions") == mentions


def test_unknown_convention_is_refused() -> None:
    with pytest.raises(ConfigError, match="convention"):
        apply_guidelines([_p("J18.9")], setting="outpatient", threshold=0.3, info=INFO,
                         text_of=lambda h: NOTE, convention="billing")
