"""Attributes linked to mentions, and abbreviation expansion with context."""

from __future__ import annotations

import pytest

from codeproof.nlp import NlpEngine, find_target

ATTRIBUTES = [
    # (sentence, target, attribute, expected value)
    ("Right knee pain.", "knee pain", "laterality", "right"),
    ("Fracture of the left femoral neck.", "fracture", "laterality", "left"),
    ("Bilateral lower extremity edema.", "edema", "laterality", "bilateral"),
    ("Pitting edema bilaterally.", "pitting edema", "laterality", "bilateral"),
    ("R wrist fracture.", "wrist fracture", "laterality", "right"),
    ("Right knee pain; left hip fracture.", "hip fracture", "laterality", "left"),
    ("Right knee pain; left hip fracture.", "knee pain", "laterality", "right"),
    ("SOB and bilateral leg edema.", "SOB", "laterality", None),
    ("The patient was left alone with pneumonia.", "pneumonia", "laterality", None),
    ("Acute on chronic systolic heart failure.", "systolic heart failure", "acuity",
     "acute_on_chronic"),
    ("Acute-on-chronic respiratory failure.", "respiratory failure", "acuity",
     "acute_on_chronic"),
    ("Chronic CHF exacerbation.", "CHF", "acuity", "acute_on_chronic"),
    ("Acute cholecystitis.", "cholecystitis", "acuity", "acute"),
    ("COPD exacerbation.", "COPD", "acuity", "acute"),
    ("Chronic kidney disease.", "kidney disease", "acuity", "chronic"),
    ("Pancreatitis.", "pancreatitis", "acuity", None),
    ("Chronic kidney disease stage 3b.", "chronic kidney disease", "severity", "stage 3b"),
    ("Heart failure, NYHA class III.", "heart failure", "severity", "class iii"),
    ("Severe persistent asthma.", "asthma", "severity", "severe"),
    ("Mild intermittent asthma.", "asthma", "severity", "mild"),
    ("Pressure ulcer stage 2 of the sacrum.", "pressure ulcer", "severity", "stage 2"),
    ("End-stage renal disease.", "renal disease", "severity", "end stage"),
    ("Fever, chills, severe headache.", "fever", "severity", None),
    ("Closed fracture of the left radius, initial encounter.", "fracture", "episode",
     "initial"),
    ("Seen for routine healing of the wrist fracture.", "wrist fracture", "episode",
     "subsequent"),
    ("Follow-up visit for the healing fracture.", "fracture", "episode", "subsequent"),
    ("Hemiplegia as a sequela of stroke.", "hemiplegia", "episode", "sequela"),
    ("Late effects of the burn.", "burn", "episode", "sequela"),
    ("Pneumonia.", "pneumonia", "episode", None),
    ("Fracture of the left femoral neck.", "fracture", "body_site", "femoral neck"),
    ("Pain in the lower back.", "pain", "body_site", "lower back"),
    ("Cellulitis of the right foot.", "cellulitis", "body_site", "foot"),
    ("Fever and cough.", "fever", "body_site", None),
]


@pytest.mark.parametrize(("text", "target", "field", "value"), ATTRIBUTES)
def test_attributes(engine: NlpEngine, text: str, target: str, field: str,
                    value: str | None) -> None:
    start, end = find_target(text, target)
    assert getattr(engine.attributes_for_span(text, start, end), field) == value


ABBREVIATIONS = [
    ("Pt c/o SOB.", "patient complains of shortness of breath."),
    ("h/o CHF, DM2, HTN, CAD and COPD", "history of congestive heart failure, type 2 diabetes "
     "mellitus, hypertension, coronary artery disease and chronic obstructive pulmonary "
     "disease"),
    ("s/p MI, r/o PE. NKDA.", "status post myocardial infarction, rule out pulmonary "
     "embolism. no known drug allergies."),
    ("MS with mitral valve gradient.", "mitral stenosis with mitral valve gradient."),
    ("Morphine: MS 4 mg IV.", "Morphine: morphine sulfate 4 mg intravenous."),
    ("MS relapse.", "multiple sclerosis relapse."),
    ("RA sat 94% on 2L.", "room air sat 94% on 2L."),
    ("the mi was small", "the mi was small"),  # case-sensitive: "mi" is not expanded
    ("ca level is low", "ca level is low"),
]


@pytest.mark.parametrize(("text", "expected"), ABBREVIATIONS)
def test_expand_abbreviations(engine: NlpEngine, text: str, expected: str) -> None:
    assert engine.expand_abbreviations(text) == expected


def test_abbreviation_offsets(engine: NlpEngine) -> None:
    text = "h/o CHF."
    found = engine.abbreviations(text)
    assert [(text[m.start:m.end], m.expansion) for m in found] == [
        ("h/o", "history of"), ("CHF", "congestive heart failure")]


SPELLING = [
    ("Pnuemonia.", "pneumonia"),          # swapped letters
    ("Diarhea for 2 days.", "diarrhea"),  # doubled letter written once
    ("Hypertention.", "hypertension"),    # curated list
    ("Haemorrhage.", "hemorrhage"),       # British spelling
    ("Oedema of the ankle.", "edema"),
    ("Leucopenia.", "leukopenia"),
]


@pytest.mark.parametrize(("text", "normalized"), SPELLING)
def test_misspellings_still_match(engine: NlpEngine, text: str, normalized: str) -> None:
    hits = engine.match_terms(text)
    assert [(h.normalized, h.source) for h in hits][:1] == [(normalized, "spelling")]
    assert text[hits[0].start:hits[0].end].lower() != normalized  # evidence stays verbatim


@pytest.mark.parametrize("text", ["Injection site.", "Graft rejection.", "Hepatoma.",
                                  "Hypertenson."])
def test_real_words_and_other_slips_are_not_corrected(engine: NlpEngine, text: str) -> None:
    assert all(h.source != "spelling" for h in engine.match_terms(text))
