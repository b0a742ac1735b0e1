"""The deterministic grounding check: a table of statements, accepted or rejected."""

from __future__ import annotations

import pytest

from codeproof.backends.llm.base import ModelPolicy
from codeproof.backends.llm.fake import FakeLLM
from codeproof.justify.verify import (
    GroundingContext,
    GroundingVerifier,
    ModelVerifier,
    quoted_phrases,
)
from codeproof.model import Evidence, Statement

CITE = "ICD-10-CM OCG I.C.4.a"
CONTEXT = GroundingContext(codes=frozenset({"E11.40", "Z85.3", "R91.8"}),
                           citations={CITE: "Use Z79.4 for long-term insulin.",
                                      "icd10cm.excludes1": "no conflict"})


def _ev(jh, phrase: str) -> Evidence:
    return jh.span(jh.NOTE, phrase)


CASES = [
    # (id, builder, expected violation kind or None)
    ("quote-ok", lambda jh: Statement(text='Documented: "Type 2 diabetes mellitus".',
                                      evidence=(_ev(jh, "Type 2 diabetes mellitus"),),
                                      codes=("E11.40",)), None),
    ("citation-ok", lambda jh: Statement(text="ICD-10-CM OCG I.C.4.a applies.",
                                         citations=(CITE,)), None),
    ("rule-ok", lambda jh: Statement(text="Rule checked.", citations=("icd10cm.excludes1",)),
     None),
    ("code-in-cited-source-ok", lambda jh: Statement(text="Add Z79.4 when insulin is used.",
                                                     citations=(CITE,)), None),
    ("sub-quote-ok", lambda jh: Statement(text='It says "diabetic neuropathy".',
                                          evidence=(_ev(jh, "Type 2 diabetes mellitus with "
                                                            "diabetic neuropathy"),)), None),
    # borderline: the quote differs by one character (case) -> rejected
    ("quote-case", lambda jh: Statement(
        text="x", evidence=(Evidence(note_id="n1", start=_ev(jh, "Type 2").start,
                                     end=_ev(jh, "Type 2").end, quote="type 2"),)),
     "quote_mismatch"),
    ("offset-shift", lambda jh: Statement(
        text="x", evidence=(Evidence(note_id="n1", start=_ev(jh, "Type 2").start + 1,
                                     end=_ev(jh, "Type 2").end + 1, quote="Type 2"),)),
     "quote_mismatch"),
    ("offsets-out-of-range", lambda jh: Statement(
        text="x", evidence=(Evidence(note_id="n1", start=10_000, end=10_006,
                                     quote="Type 2"),)), "bad_offsets"),
    ("unknown-note", lambda jh: Statement(
        text="x", evidence=(Evidence(note_id="n9", start=0, end=4, quote="CHIE"),)),
     "unknown_note"),
    ("invented-quote", lambda jh: Statement(text='The note says "severe ketoacidosis".',
                                            evidence=(_ev(jh, "Type 2 diabetes mellitus"),)),
     "unquoted_claim"),
    # borderline: a code-like token inside the note's own quoted words is no claim
    ("code-like-token-in-quote-ok", lambda jh: Statement(
        text='Documented: "Type 2 diabetes mellitus with diabetic neuropathy".',
        evidence=(_ev(jh, "Type 2 diabetes mellitus with diabetic neuropathy"),)), None),
    ("code-outside-set", lambda jh: Statement(text="Also code E10.9.",
                                              evidence=(_ev(jh, "Type 2"),)), "unknown_code"),
    ("codes-field-outside-set", lambda jh: Statement(text="ok", evidence=(_ev(jh, "Type 2"),),
                                                     codes=("ICD-10-CM:I10",)), "unknown_code"),
    ("made-up-citation", lambda jh: Statement(text="Per I.Z.99.", citations=("OCG I.Z.99",)),
     "unknown_citation"),
    ("unsupported", lambda jh: Statement(text="This code is correct."), "unsupported"),
]


@pytest.mark.parametrize(("case", "build", "kind"), CASES, ids=[c[0] for c in CASES])
def test_grounding_table(encounter, jh, case, build, kind) -> None:
    verifier = GroundingVerifier()
    verdict = verifier.verify(encounter, encounter.codes[0], [build(jh)], CONTEXT)
    if kind is None:
        assert verdict.accepted, verdict.violations
    else:
        assert not verdict.accepted
        assert kind in {v.kind for v in verdict.violations}


def test_empty_and_unparseable_drafts_are_rejected(encounter) -> None:
    verifier = GroundingVerifier()
    assert verifier.verify(encounter, encounter.codes[0], [], CONTEXT).violations[0].kind == \
        "empty"
    verdict = verifier.verify(encounter, encounter.codes[0], [], CONTEXT,
                              parse_error="unparseable answer")
    assert not verdict.accepted and verdict.violations[0].kind == "unparseable"


def test_violations_never_carry_note_text(encounter, jh) -> None:
    statement = Statement(text='The note says "Jonas Whitfield has cancer".',
                          evidence=(_ev(jh, "Jonas Whitfield"),))
    verdict = GroundingVerifier().verify(encounter, encounter.codes[0], [statement], CONTEXT)
    assert not verdict.accepted
    assert "Whitfield" not in repr(verdict.violations)


@pytest.mark.parametrize(("text", "phrases"), [
    ('He has "type 2 diabetes" and \u201cneuropathy\u201d.', ["type 2 diabetes", "neuropathy"]),
    ('A "no" is short but quoted.', ["no"]),
    ('"papilla" and "LE" and "Visual acuity (VA"', ["papilla", "LE", "Visual acuity (VA"]),
    ('unbalanced "quote here', []),
    ("No quotes here.", []),
])
def test_quoted_phrases(text: str, phrases: list[str]) -> None:
    assert quoted_phrases(text) == phrases


@pytest.mark.parametrize(("answer", "accepted"), [("YES", True), (" yes, supported", True),
                                                  ("NO", False), ("maybe", False)])
def test_model_verifier_needs_grounding_and_a_yes(encounter, jh, answer, accepted) -> None:
    enc = jh.deid(encounter)
    llm = FakeLLM(default=answer, policy=ModelPolicy())
    verifier = ModelVerifier(llm)
    good = Statement(text="ok", evidence=(_ev(jh, "Type 2 diabetes mellitus"),))
    verdict = verifier.verify(enc, enc.codes[0], [good], CONTEXT)
    assert verdict.accepted is accepted
    assert verdict.verifier.startswith("verifier.llm.v1+verifier.grounding.v1")
    assert "Whitfield" not in llm.calls[0]
    bad = Statement(text="This is right.")
    calls = len(llm.calls)
    assert not verifier.verify(enc, enc.codes[0], [bad], CONTEXT).accepted
    assert len(llm.calls) == calls  # ungrounded drafts never reach the second model


def test_package_grounding_check(encounter, jsettings) -> None:
    from codeproof.errors import UngroundedClaim
    from codeproof.export.package import build_package
    from codeproof.justify.kb import load_kb
    from codeproof.justify.stage import JustifyStage
    from codeproof.justify.verify import check_package_grounding, package_grounding_problems
    from codeproof.review.routing import RoutingStage

    out = RoutingStage(jsettings.routing)(JustifyStage(kb=load_kb(jsettings))(encounter))
    package = build_package(out)
    notes = {"n1": encounter.notes[0].text}
    assert package_grounding_problems(package, notes) == []
    check_package_grounding(package, notes)
    statement = package["codes"][0]["justification"]["statements"][0]
    statement["evidence"][0]["start"] += 1
    statement["citations"].append("ICD-10-CM OCG I.Z.9")
    problems = package_grounding_problems(package, notes)
    assert any("does not match" in p for p in problems)
    assert any("unknown citation" in p for p in problems)
    with pytest.raises(UngroundedClaim):
        check_package_grounding(package, notes)
