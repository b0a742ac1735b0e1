"""The justify.writer.v1 stage: template writer, model drafts, fallback, PHI gate."""

from __future__ import annotations

import dataclasses
import json

import pytest

from codeproof.backends.llm.base import ModelPolicy, check_model_call
from codeproof.backends.llm.fake import FakeLLM
from codeproof.errors import RegionViolation
from codeproof.justify.kb import load_kb
from codeproof.justify.stage import JustifyStage
from codeproof.justify.verify import GroundingContext, GroundingVerifier
from codeproof.justify.writer import ModelWriter
from codeproof.model import Evidence, Justification
from codeproof.registrations import get_registry
from codeproof.runtime import Runtime


def _regrounded(encounter, justification: Justification, stage: JustifyStage) -> bool:
    """Independently re-verify a justification against the note and the KB."""
    from codeproof.justify.stage import build_contexts

    contexts = {c.code.code: c for c in build_contexts(encounter, stage.kb)}
    context = contexts[justification.code]
    grounding = GroundingContext(codes=frozenset(c.code for c in encounter.codes),
                                 citations=context.citations)
    code = next(c for c in encounter.codes if c.code == justification.code)
    return GroundingVerifier().verify(encounter, code, justification.statements,
                                      grounding).accepted


def test_template_stage_justifies_every_code_with_grounded_statements(encounter,
                                                                      jsettings) -> None:
    stage = get_registry("stages").get("justify.writer.v1")(Runtime(jsettings))
    out = stage(encounter)
    assert [j.code for j in out.justifications] == [c.code for c in encounter.codes]
    for justification in out.justifications:
        assert justification.writer == "writer.template.v1"
        assert justification.verifier == "verifier.grounding.v1"
        assert justification.grounded and justification.rejected_drafts == 0
        assert _regrounded(out, justification, stage)
        assert any(s.evidence for s in justification.statements)
    z85 = next(j for j in out.justifications if j.code == "Z85.3")
    cited = {c for s in z85.statements for c in s.citations}
    assert "ICD-10-CM OCG I.C.2.d" in cited
    assert "historical" in z85.text
    e11 = next(c for c in out.codes if c.code == "E11.40")
    assert "ICD-10-CM OCG I.C.4.a" in e11.guideline_refs
    assert "icd10cm.excludes1" not in e11.guideline_refs
    assert e11.confidence == encounter.codes[0].confidence  # template never penalised
    assert dict(out.versions)["justify.writer"] == "writer.template.v1"
    assert dict(out.versions)["justify.kb"].startswith("kb-")
    assert encounter.justifications == ()  # the input is not mutated


def test_stage_declares_requires_and_assigns() -> None:
    assert JustifyStage.requires == frozenset({"codes"})
    assert JustifyStage.assigns == frozenset({"justifications", "codes"})


def test_code_without_verifiable_evidence_still_gets_an_honest_justification(
        encounter, jsettings) -> None:
    code = dataclasses.replace(encounter.codes[0], evidence=())
    enc = dataclasses.replace(encounter, codes=(code,))
    stage = JustifyStage(kb=load_kb(jsettings))
    out = stage(enc)
    assert "no verbatim evidence" in out.justifications[0].text


def _model_stage(jsettings, answer: str, *, covered: bool = False) -> tuple[JustifyStage,
                                                                               FakeLLM]:
    llm = FakeLLM(default=answer, policy=ModelPolicy(covered_endpoint=covered))
    writer = ModelWriter(llm, name="writer.openai.v1")
    return JustifyStage(kb=load_kb(jsettings), writer=writer, rejection_penalty=0.15), llm


def _answer(text: str, evidence=("E1",), citations=(), codes=("E11.40",)) -> str:
    return json.dumps({"statements": [{"text": text, "evidence": list(evidence),
                                       "citations": list(citations), "codes": list(codes)}]})


GOOD = _answer('The assessment documents "Type 2 diabetes mellitus with diabetic neuropathy".',
               citations=("ICD-10-CM OCG I.C.4.a",))


@pytest.mark.parametrize(("answer", "accepted"), [
    (GOOD, True),
    # borderline: valid JSON inside chatter is still parsed
    ("Sure! Here it is:\n" + GOOD + "\nThanks", True),
    (_answer('The note says "insulin-dependent diabetes since childhood".'), False),
    (_answer("Also consider E10.9.", codes=("E10.9",)), False),
    (_answer("Per guideline I.Z.9.", citations=("ICD-10-CM OCG I.Z.9",)), False),
    (_answer("Supported.", evidence=("E7",)), False),
    ("not json at all", False),
    ('{"statements": "oops"}', False),
])
def test_model_drafts_are_verified_and_rejected_drafts_fall_back(jsettings, jh, answer,
                                                                 accepted) -> None:
    enc = jh.deid(jh.make(codes=jh.make().codes[:1]))
    stage, llm = _model_stage(jsettings, answer)
    out = stage(enc)
    justification = out.justifications[0]
    assert justification.grounded
    assert _regrounded(out, justification, stage)
    if accepted:
        assert justification.writer == "writer.openai.v1:llm.fake.v1"
        assert justification.rejected_drafts == 0
        assert out.codes[0].confidence == enc.codes[0].confidence
    else:
        assert justification.writer.startswith("writer.template.v1 (fallback from ")
        assert justification.rejected_drafts == 1
        assert out.codes[0].confidence == pytest.approx(enc.codes[0].confidence - 0.15)
    assert len(llm.calls) == 1


def test_model_sees_only_deidentified_text(jsettings, jh) -> None:
    enc = jh.deid(jh.make())
    stage, llm = _model_stage(jsettings, GOOD)
    stage(enc)
    prompts = "\n".join(llm.calls)
    assert "Jonas" not in prompts and "Whitfield" not in prompts and "03/04/2026" not in prompts


def test_identified_text_is_refused_unless_endpoint_is_covered(jsettings, jh) -> None:
    enc = jh.make()
    stage, llm = _model_stage(jsettings, GOOD)
    with pytest.raises(RegionViolation):
        stage(enc)
    assert llm.calls == []
    covered, covered_llm = _model_stage(jsettings, GOOD, covered=True)
    covered(enc)
    assert covered_llm.calls


@pytest.mark.parametrize(("endpoint", "allowed", "region", "ok"), [
    ("inproc://llamacpp/model.gguf", {}, "US", True),
    ("http://127.0.0.1:8000/v1", {"US": ("http://127.0.0.1",)}, "US", True),
    ("http://127.0.0.1:8000/v1", {}, "EU", True),  # loopback never leaves the machine
    ("https://api.example.com/v1", {}, "US", False),
    ("https://eu.models.example.com/v1", {"EU": ("https://eu.models.example.com",)}, "EU",
     True),
    ("https://eu.models.example.com/v1", {"EU": ("https://eu.models.example.com",)}, "US",
     False),
    # borderline: a string prefix of the allowed host is a different host
    ("https://eu.models.example.com.evil.net/v1", {"EU": ("https://eu.models.example.com",)},
     "EU", False),
])
def test_region_endpoint_policy(jh, endpoint, allowed, region, ok) -> None:
    enc = dataclasses.replace(jh.deid(jh.make()), region=region)
    policy = ModelPolicy(region_endpoints=allowed)
    if ok:
        check_model_call(enc, endpoint=endpoint, policy=policy)
    else:
        with pytest.raises(RegionViolation) as info:
            check_model_call(enc, endpoint=endpoint, policy=policy)
        assert "Whitfield" not in str(info.value)


def test_registry_writers_and_verifiers_are_built_from_settings(jsettings) -> None:
    runtime = Runtime(jsettings)
    assert get_registry("writers").get("writer.template.v1")(runtime).name == \
        "writer.template.v1"
    assert get_registry("verifiers").get("verifier.grounding.v1")(runtime).name == \
        "verifier.grounding.v1"
    verifier = get_registry("verifiers").get("verifier.llm.v1")(runtime)
    assert verifier.backend.name == "llm.fake.v1"


def test_second_model_rejection_falls_back_and_lowers_confidence(jsettings, jh) -> None:
    from codeproof.justify.verify import ModelVerifier

    enc = jh.deid(jh.make(codes=jh.make().codes[:1]))
    no = FakeLLM(default="NO")
    stage = JustifyStage(kb=load_kb(jsettings), verifier=ModelVerifier(no))
    out = stage(enc)
    justification = out.justifications[0]
    assert justification.rejected_drafts == 1 and justification.grounded
    assert justification.verifier.startswith("verifier.grounding.v1 (draft rejected by "
                                             "verifier.llm.v1")
    assert out.codes[0].confidence == pytest.approx(enc.codes[0].confidence - 0.15)
    assert no.calls and "Whitfield" not in no.calls[0]


@pytest.mark.parametrize("quote", ['5" laceration', 'said "ouch" loudly',
                                   "laceration near T12 and vitamin B12 low"])
def test_template_quotes_text_that_contains_quote_marks(jsettings, jh, quote) -> None:
    text = f"EXAM: {quote} on the left forearm.\n"
    start = text.index(quote)
    enc = jh.make(notes=(jh.make().notes[0].__class__(id="n1", text=text),), mentions=(),
                  findings=(), codes=(dataclasses.replace(
                      jh.make().codes[0], code="S51.812A", description="Laceration",
                      evidence=(jh.span(text, quote),)),))
    assert start >= 0
    out = JustifyStage(kb=load_kb(jsettings))(enc)
    assert out.justifications[0].rejected_drafts == 0
    assert quote in out.justifications[0].text


def test_tabular_statement_cites_the_terminology_with_inherited_notes(settings, jh) -> None:
    """With the compiled terminology, each ICD-10-CM code cites its Tabular entry."""
    runtime = Runtime(settings.model_copy(update={"justify": settings.justify.model_copy(
        update={"kb_dense": "off"})}))
    text = "Urinary obstruction from a bladder hemangioma.\n"
    enc = jh.make(notes=(jh.make().notes[0].__class__(id="n1", text=text),), mentions=(),
                  findings=(), codes=(dataclasses.replace(
                      jh.make().codes[0], code="N13.8",
                      description="Other obstructive and reflux uropathy",
                      evidence=(jh.span(text, "Urinary obstruction"),)),))
    out = get_registry("stages").get("justify.writer.v1")(runtime)(enc)
    tabular = [s for s in out.justifications[0].statements
               if s.citations == ("ICD-10-CM Tabular N13.8",)]
    assert tabular and "billable code titled 'Other obstructive and reflux uropathy'" in \
        tabular[0].text
    assert "code first note" in tabular[0].text


@pytest.mark.parametrize(("system", "code", "grounded"), [
    ("ICD-10-PCS", "4A07X0Z", True),   # guideline citations remain: grounded, no evidence
    ("CPT", "99213", False),           # nothing citable remains: marked ungrounded
])
def test_broken_input_evidence_never_rejects_the_encounter(jsettings, jh, system, code,
                                                           grounded) -> None:
    """Unverifiable evidence is dropped from the code; the encounter still comes out."""
    from codeproof.review.routing import RoutingStage

    bad = Evidence(note_id="n1", start=0, end=5, quote="WRONG")
    assignment = dataclasses.replace(jh.make().codes[0], system=system, code=code,
                                     description="a procedure", evidence=(bad,),
                                     confidence=0.99)
    enc = jh.make(codes=(assignment,), findings=(), mentions=())
    out = JustifyStage(kb=load_kb(jsettings))(enc)
    justification = out.justifications[0]
    assert justification.grounded is grounded
    assert not any(s.evidence for s in justification.statements)
    assert out.codes[0].evidence == ()
    decision = RoutingStage(jsettings.routing)(out).decisions[1]
    assert decision.routing == "coder_review"
    if not grounded:
        assert out.codes[0].confidence < 0.99
