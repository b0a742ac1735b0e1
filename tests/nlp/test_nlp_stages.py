"""Mentions and the four pipeline stages over an Encounter (offsets, sections, PHI masking)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from codeproof.config import load_settings
from codeproof.errors import NlpResourceError
from codeproof.model import Encounter, Note, SourceRef, sha256_text
from codeproof.nlp import Lexicon, NlpEngine
from codeproof.nlp.context import ContextEngine, load_context_rules
from codeproof.nlp.mentions import terminology_terms
from codeproof.nlp.sections import load_section_patterns
from codeproof.pipeline import Pipeline
from codeproof.runtime import Runtime

STAGES = ("nlp.sections.v1", "nlp.sentences.v1", "nlp.mentions.v1", "nlp.context.v1")


def _encounter(text: str, **kwargs: object) -> Encounter:
    return Encounter(id="e1", source=SourceRef(format="text", sha256=sha256_text(text),
                                               received_at="2026-01-01T00:00:00Z"),
                     notes=(Note(id="n1", text=text),), **kwargs)  # type: ignore[arg-type]


@pytest.fixture()
def pipeline(engine: NlpEngine) -> Pipeline:
    runtime = Runtime(load_settings(environ={}), nlp=engine)
    return runtime.pipeline(STAGES)


MENTIONS = [
    ("Patient with congestive heart failure.", "congestive heart failure", "diagnosis"),
    ("Complains of shortness of breath.", "shortness of breath", "symptom"),
    ("Underwent laparoscopic cholecystectomy.", "laparoscopic cholecystectomy", "procedure"),
    ("Bibasilar crackles on exam.", "crackles", "finding"),
    ("h/o CHF.", "CHF", "diagnosis"),
    ("Bilateral pleural effusions.", "pleural effusions", "diagnosis"),
    ("Crohn's disease flare.", "Crohn's disease", "diagnosis"),
]


@pytest.mark.parametrize(("text", "surface", "kind"), MENTIONS)
def test_mentions_found_with_exact_offsets(engine: NlpEngine, text: str, surface: str,
                                           kind: str) -> None:
    mentions = engine.mentions(text, note_id="n1")
    hits = [m for m in mentions if m.text == surface]
    assert hits, [m.text for m in mentions]
    mention = hits[0]
    assert text[mention.start:mention.end] == surface and mention.kind == kind


@pytest.mark.parametrize("text", ["The mi was", "Take 1 tab daily.", "He was left alone."])
def test_no_spurious_mentions(engine: NlpEngine, text: str) -> None:
    assert engine.mentions(text, note_id="n1") == ()


def test_pipeline_on_discharge_note(pipeline: Pipeline, note_text: str) -> None:
    out = pipeline.run(_encounter(note_text))
    assert [r.stage for r in out.stages] == list(STAGES)
    assert {"nlp.context_rules", "nlp.section_patterns", "nlp.lexicon"} <= dict(out.versions).keys()
    by_text: dict[str, list] = {}
    for mention in out.mentions:
        assert note_text[mention.start:mention.end] == mention.text
        by_text.setdefault(mention.text.lower(), []).append(mention)
    chest = by_text["chest pain"]
    assert chest[0].assertion.negated and chest[0].section == "hpi"
    assert chest[1].assertion.hypothetical and chest[1].section == "assessment_plan"
    assert by_text["breast cancer"][0].assertion.experiencer == "other"
    assert by_text["breast cancer"][0].section_weight == 0.0
    assert by_text["hypertension"][0].assertion.historical  # PMH list
    assert by_text["pneumonia"][0].assertion.uncertain
    assert by_text["dvt"][0].assertion.negated  # "DVT was ruled out"
    hf = by_text["systolic heart failure"][-1]
    assert hf.attributes.acuity == "acute_on_chronic" and hf.attributes.severity == "class iii"
    assert hf.assertion.affirmed_present and hf.section == "assessment_plan"
    ckd = by_text["chronic kidney disease"][0]
    assert ckd.attributes.severity == "stage 3b"
    assert by_text["femoral neck fracture"][0].attributes.laterality == "left"
    assert {s.note_id for s in out.sentences} == {"n1"}
    assert all(s.start < s.end for s in out.sentences)


def test_stages_use_model_text_and_keep_original_text(pipeline: Pipeline) -> None:
    text = "John Smith denies chest pain."
    encounter = _encounter(text, deidentified=True, deid_spans=(("n1", 0, 10, "NAME"),))
    out = pipeline.run(encounter)
    mention = next(m for m in out.mentions if m.normalized == "chest pain")
    assert mention.text == "chest pain" and mention.assertion.negated
    # The model view masks the name: no mention or sentence text depends on it.
    assert encounter.model_text("n1").startswith("XXXX XXXXX")


def test_stage_is_pure(pipeline: Pipeline, note_text: str) -> None:
    encounter = _encounter(note_text)
    first = pipeline.run(encounter)
    second = pipeline.run(encounter)
    assert encounter.mentions == ()
    assert dataclasses.replace(first, stages=()) == dataclasses.replace(second, stages=())


def test_validate_rejects_context_before_mentions(engine: NlpEngine) -> None:
    from codeproof.errors import MissingRequirement

    runtime = Runtime(load_settings(environ={}), nlp=engine)
    with pytest.raises(MissingRequirement):
        runtime.pipeline(("nlp.context.v1",))


def test_terminology_terms_from_contract_object() -> None:
    class Info:
        def __init__(self, code: str, title: str, inclusion_terms: tuple[str, ...] = ()):
            self.code, self.title, self.inclusion_terms = code, title, inclusion_terms

    class FakeTerminology:
        def codes(self, system: str, billable_only: bool = True) -> list[Info]:
            return [Info("K80.20", "Calculus of gallbladder without cholecystitis without "
                                   "obstruction"),
                    Info("I10", "Essential (primary) hypertension", ("High blood pressure",)),
                    Info("R50.9", "Fever, unspecified"),
                    Info("R31.9", "Hematuria, unspecified"),
                    Info("Z87.891", "Personal history of nicotine dependence"),
                    Info("M62.81", "Muscle weakness (generalized)"),
                    Info("D49", "Neoplasms of unspecified behavior")]

    terms = dict(terminology_terms(FakeTerminology()))
    assert terms["Essential hypertension"] == "diagnosis"
    assert terms["High blood pressure"] == "diagnosis"
    assert terms["Hematuria"] == "symptom"
    assert "Fever" not in terms  # single plain words are too ambiguous from titles
    assert terms["Muscle weakness"] == "diagnosis"
    assert not any("nicotine" in t for t in terms)  # Z codes are not mentions
    lexicon = Lexicon.default(extra_terms=terminology_terms(FakeTerminology()))
    hit = lexicon.match("history of high blood pressure")
    assert [(h.normalized, h.source) for h in hit] == [("high blood pressure", "terminology")]


def test_engine_without_terminology_degrades(tmp_path: Path) -> None:
    from codeproof.nlp.engine import engine_from_runtime

    class Broken:
        def codes(self, system: str, billable_only: bool = True) -> list[object]:
            raise OSError("store unreadable")

    runtime = Runtime(load_settings(environ={}, home=str(tmp_path)), terminology=Broken())
    engine = engine_from_runtime(runtime)
    assert engine is engine_from_runtime(runtime)  # shared resource
    assert engine.mentions("Denies chest pain.", note_id="n")[0].normalized == "chest pain"


@pytest.mark.parametrize(("loader", "payload"), [
    (load_context_rules, {"name": "x", "version": "1", "rules": [
        {"literal": "no", "category": "NEGATED", "direction": "forward", "colour": "red"}]}),
    (load_context_rules, {"name": "x", "version": "1", "rules": [
        {"literal": "no", "category": "NEGATED", "direction": "sideways"}]}),
    (load_context_rules, {"name": "x", "version": "1", "rules": [
        {"literal": "no", "pattern": "(", "category": "NEGATED", "direction": "forward"}]}),
    (load_section_patterns, {"name": "x", "version": "1", "sections": [
        {"name": "hpi", "weight": 1.0}]}),
])
def test_resource_files_are_strict(tmp_path: Path, loader: object, payload: object) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    with pytest.raises(NlpResourceError) as info:
        loader(path)  # type: ignore[operator]
    assert info.value.code == "CP-NLP-002"


def test_custom_rules_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"name": "mini", "version": "9", "rules": [
        {"literal": "nope", "category": "NEGATED", "direction": "forward"}]}), encoding="utf-8")
    name, version, rules = load_context_rules(path)
    engine = ContextEngine(rules, name=name, version=version)
    text = "nope fever"
    assert engine.assert_span(text, 5, 10).negated
    assert not engine.assert_span("no fever", 3, 8).negated
