"""Section headers and their variants; sentence splitting of clinical text."""

from __future__ import annotations

import pytest

from codeproof.nlp import NlpEngine, section_at, split_sentences

HEADERS = [
    ("Chief Complaint: cough", "chief_complaint"),
    ("CC: cough", "chief_complaint"),
    ("HPI: 3 days of cough", "hpi"),
    ("History of Present Illness: cough", "hpi"),
    ("PAST MEDICAL HISTORY: asthma", "pmh"),
    ("PMH: asthma", "pmh"),
    ("Past Surgical History: appendectomy", "psh"),
    ("Family History: diabetes in mother", "family_history"),
    ("FHx: diabetes", "family_history"),
    ("Social History: no tobacco", "social_history"),
    ("ROS: negative", "ros"),
    ("Review of Systems: negative", "ros"),
    ("Physical Exam: well appearing", "physical_exam"),
    ("PHYSICAL EXAMINATION: well appearing", "physical_exam"),
    ("Labs: WBC 12", "labs"),
    ("Imaging: CXR clear", "imaging"),
    ("Assessment: pneumonia", "assessment"),
    ("Plan: antibiotics", "plan"),
    ("ASSESSMENT AND PLAN: pneumonia", "assessment_plan"),
    ("Assessment & Plan: pneumonia", "assessment_plan"),
    ("A/P: pneumonia", "assessment_plan"),
    ("A&P: pneumonia", "assessment_plan"),
    ("Impression: pneumonia", "impression"),
    ("Discharge Diagnoses: pneumonia", "discharge_diagnoses"),
    ("DISCHARGE DIAGNOSIS(ES): pneumonia", "discharge_diagnoses"),
    ("Procedures: bronchoscopy", "procedures"),
    ("Medications: lisinopril", "medications"),
    ("Hospital Course: improved", "hospital_course"),
    ("Pre-op diagnosis: cholelithiasis", "admission_diagnoses"),
    ("HPI - 3 days of cough", "hpi"),
]


@pytest.mark.parametrize(("line", "name"), HEADERS)
def test_header_variants(engine: NlpEngine, line: str, name: str) -> None:
    sections = engine.sections(line, note_id="n")
    assert [s.name for s in sections] == [name]
    section = sections[0]
    assert section.start == 0 and line[section.body_start:].strip()
    assert section.note_id == "n"


@pytest.mark.parametrize("text", [
    "The plan: antibiotics",          # not at a line start or after a sentence end
    "Patient has a history: unclear",  # mid-sentence
    "ASSESSMENT",                       # single word all-caps line is too short? no: 10 chars
])
def test_not_headers(engine: NlpEngine, text: str) -> None:
    names = [s.name for s in engine.sections(text)]
    if text == "ASSESSMENT":
        assert names == ["assessment"]  # an all-caps line alone is a header
    else:
        assert names == []


def test_inline_and_allcaps_headers(engine: NlpEngine) -> None:
    text = ("Stable overnight. A/P: CHF exacerbation.\nPHYSICAL EXAMINATION\nLungs clear."
            "  IMPRESSION:  no acute disease.")
    sections = engine.sections(text)
    assert [(s.name, s.header) for s in sections] == [
        ("assessment_plan", "A/P"), ("physical_exam", "PHYSICAL EXAMINATION"),
        ("impression", "IMPRESSION")]
    assert sections[0].end <= sections[1].start
    assert section_at(sections, text.index("CHF")).name == "assessment_plan"
    assert section_at(sections, 0) is None
    assert section_at(sections, text.index("Lungs")).name == "physical_exam"


def test_weights_are_data(engine: NlpEngine) -> None:
    sections = engine.sections("FAMILY HISTORY: x\nASSESSMENT AND PLAN: y\nPMH: z")
    weights = {s.name: s.weight for s in sections}
    assert weights["family_history"] == 0.0
    assert weights["assessment_plan"] == 1.0
    assert 0 < weights["pmh"] < 1


SENTENCES = [
    ("Dr. Smith saw the pt. She is stable.", ["Dr. Smith saw the pt.", "She is stable."]),
    ("Temp 37.5 C. BP 120/80.", ["Temp 37.5 C.", "BP 120/80."]),
    ("Take 1 tab p.o. b.i.d. for pain. Return in 2 weeks.",
     ["Take 1 tab p.o. b.i.d. for pain.", "Return in 2 weeks."]),
    ("1. Hypertension\n2. Diabetes", ["1. Hypertension", "2. Diabetes"]),
    ("NO ACUTE DISTRESS. LUNGS CLEAR.", ["NO ACUTE DISTRESS.", "LUNGS CLEAR."]),
    ("Cough for three days and\nfever since yesterday", ["Cough for three days and\nfever "
                                                         "since yesterday"]),
    ("Vitals stable\n\nLungs clear", ["Vitals stable", "Lungs clear"]),
    ("e.g. aspirin. Next sentence.", ["e.g. aspirin.", "Next sentence."]),
    ("Is he febrile? Yes.", ["Is he febrile?", "Yes."]),
    ("Possible pneumonia, r/o PE. h/o CHF.", ["Possible pneumonia, r/o PE.", "h/o CHF."]),
    ("Seen by Dr. J. Smith today.", ["Seen by Dr. J. Smith today."]),
    ("Positive for hepatitis B. Started entecavir.", ["Positive for hepatitis B.",
                                                      "Started entecavir."]),
    ("Ref. No. 5 attached.", ["Ref. No. 5 attached."]),
    ("", []),
]


@pytest.mark.parametrize(("text", "expected"), SENTENCES)
def test_sentences(text: str, expected: list[str]) -> None:
    assert [text[s:e] for s, e in split_sentences(text)] == expected


def test_headers_start_sentences(engine: NlpEngine) -> None:
    text = "ALLERGIES: NKDA MEDICATIONS: aspirin"
    spans = engine.sentences(text)
    assert [text[s:e] for s, e in spans] == ["ALLERGIES:", "NKDA", "MEDICATIONS:", "aspirin"]
