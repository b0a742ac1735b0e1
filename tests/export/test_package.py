import dataclasses
import json

import pytest

from codeproof.errors import JustificationError
from codeproof.export.html import highlight_note, render_html
from codeproof.export.package import build_package, check_evidence, validate_package
from codeproof.model import (
    CodeAssignment,
    Encounter,
    Evidence,
    Justification,
    Note,
    Report,
    RoutingDecision,
    RuleFinding,
    SourceRef,
    Statement,
)

TEXT = "Assessment: Type 2 diabetes mellitus <uncontrolled> & hypertension."


def _encounter() -> Encounter:
    note = Note(id="n1", text=TEXT)
    ev = Evidence(note_id="n1", start=12, end=36, quote=TEXT[12:36])
    code = CodeAssignment(system="ICD-10-CM", code="E11.9", description="Type 2 diabetes "
                          "mellitus without complications", confidence=0.93, evidence=(ev,),
                          rationale="documented", sequence=1)
    ev2 = Evidence(note_id="n1", start=55, end=67, quote=TEXT[55:67])
    code2 = CodeAssignment(system="ICD-10-CM", code="I10", description="Essential (primary) "
                           "hypertension", confidence=0.75, evidence=(ev2,), rationale="r",
                           sequence=2)
    return Encounter(
        id="enc-1", source=SourceRef(format="text", sha256="a" * 64, received_at="t"),
        notes=(note,), codes=(code, code2),
        justifications=(Justification(system="ICD-10-CM", code="E11.9", writer="w",
                                      statements=(Statement(text="s", evidence=(ev,)),)),),
        decisions=(RoutingDecision(system="ICD-10-CM", code="E11.9", routing="auto_finalize",
                                   reason="high", confidence=0.93),
                   RoutingDecision(system="ICD-10-CM", code="I10", routing="coder_review",
                                   reason="mid", confidence=0.75)),
        findings=(RuleFinding(rule_id="r1", severity="info", message="m",
                              codes=("ICD-10-CM:I10",)),),
        reports=(Report(name="drg", producer="p", data=json.dumps({"drg": "638"})),),
    ).with_versions(terminology="icd10cm-fy2026", rules="packs-2026.1")


def test_package_validates_and_links_everything() -> None:
    package = build_package(_encounter(), created_at="2026-01-01T00:00:00+00:00")
    assert package["schema"] == "codeproof.package/v1"
    assert [c["code"] for c in package["codes"]] == ["E11.9", "I10"]
    first = package["codes"][0]
    assert first["routing"] == "auto_finalize"
    assert first["versions"]["terminology"] == "icd10cm-fy2026"
    assert first["justification"]["writer"] == "w"
    assert package["codes"][1]["findings"] == ["r1"]
    assert package["routing"]["counts"] == {"auto_finalize": 1, "coder_review": 1,
                                            "cdi_query": 0}
    assert package["routing"]["encounter"] == "coder_review"
    assert package["extensions"]["drg"]["data"] == {"drg": "638"}
    assert "text" not in package["notes"][0]  # no note text in the package
    assert check_evidence(package, {"n1": TEXT}) == []


def test_check_evidence_catches_moved_quotes() -> None:
    package = build_package(_encounter())
    package["codes"][0]["evidence"][0]["start"] += 1
    assert check_evidence(package, {"n1": TEXT})


@pytest.mark.parametrize(
    ("mutate", "ok"),
    [
        (lambda p: p, True),
        (lambda p: p["codes"][0].update(confidence=1.5), False),
        (lambda p: p["codes"][0].update(system="ICD-9"), False),
        (lambda p: p["codes"][0].update(routing="maybe"), False),
        (lambda p: p.pop("encounter_id"), False),
        (lambda p: p["codes"][0]["evidence"][0].pop("quote"), False),
        (lambda p: p.update(unexpected=1), False),
    ],
)
def test_schema_table(mutate, ok: bool) -> None:  # type: ignore[no-untyped-def]
    package = build_package(_encounter())
    mutate(package)
    if ok:
        validate_package(package)
    else:
        with pytest.raises(JustificationError):
            validate_package(package)


def test_missing_routing_defaults_to_human_review() -> None:
    encounter = dataclasses.replace(_encounter(), decisions=())
    package = build_package(encounter)
    assert {c["routing"] for c in package["codes"]} == {"coder_review"}


def test_html_escapes_and_highlights() -> None:
    html = highlight_note("a <b> c", [(2, 5, "X:1"), (4, 7, "Y:2")])
    assert "<b>" not in html and "&lt;b" in html and "&gt;" in html
    assert 'data-codes="X:1 Y:2"' in html
    encounter = _encounter()
    page = render_html(build_package(encounter), list(encounter.notes))
    assert "&lt;uncontrolled&gt;" in page
    assert 'data-codes="ICD-10-CM:E11.9"' in page
    assert "<script>" in page  # click-to-highlight behaviour


def test_reference_jsonschema_agrees_with_the_fast_validator() -> None:
    import jsonschema

    from codeproof.export.package import package_schema

    validator = jsonschema.Draft202012Validator(package_schema())
    jsonschema.Draft202012Validator.check_schema(package_schema())
    package = build_package(_encounter())
    assert validator.is_valid(package)
    package["codes"][0]["confidence"] = 1.5
    assert not validator.is_valid(package)
    with pytest.raises(JustificationError):
        validate_package(package)
