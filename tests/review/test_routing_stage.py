"""Confidence routing: thresholds, findings, audit sample, CDI query, overrides."""

from __future__ import annotations

import dataclasses
import re

import pytest

from codeproof.config import RoutingSettings, load_settings
from codeproof.errors import ConfigError
from codeproof.model import (
    CodeAssignment,
    Encounter,
    Evidence,
    Note,
    RuleFinding,
    SourceRef,
)
from codeproof.registrations import get_registry
from codeproof.review.routing import (
    RoutingStage,
    Thresholds,
    draft_query,
    in_audit_sample,
    route_code,
    thresholds_for,
)
from codeproof.runtime import Runtime

TEXT = "ASSESSMENT: Community acquired pneumonia, right lower lobe. Cough for 3 days.\n"


def _code(code: str = "J18.9", confidence: float = 0.95, evidence: bool = True,
          description: str = "Pneumonia, unspecified organism") -> CodeAssignment:
    start = TEXT.index("Community acquired pneumonia")
    ev = (Evidence(note_id="n1", start=start, end=start + 28,
                   quote="Community acquired pneumonia"),) if evidence else ()
    return CodeAssignment(system="ICD-10-CM", code=code, description=description,
                          confidence=confidence, evidence=ev, rationale="")


def _encounter(*codes: CodeAssignment, findings: tuple[RuleFinding, ...] = (),
               **kw) -> Encounter:
    return Encounter(id=kw.pop("id", "enc-r"), notes=(Note(id="n1", text=TEXT),),
                     source=SourceRef(format="text", sha256="0" * 64, received_at="x"),
                     codes=codes, findings=findings, **kw)


BASE = Thresholds(auto=0.90, review=0.70, audit_sample_rate=0.0)
PATTERNS = ("cdi", "meat", "documentation")


def _finding(rule: str, *, blocking: bool = False, codes=("ICD-10-CM:J18.9",)) -> RuleFinding:
    return RuleFinding(rule_id=rule, severity="error" if blocking else "warning",
                       message="m", codes=codes, blocking=blocking)


@pytest.mark.parametrize(("confidence", "findings", "evidence", "expected"), [
    (0.95, (), True, "auto_finalize"),
    (0.90, (), True, "auto_finalize"),          # borderline: the threshold is inclusive
    (0.8999, (), True, "coder_review"),
    (0.70, (), True, "coder_review"),
    (0.6999, (), True, "cdi_query"),
    (0.10, (), True, "cdi_query"),
    (0.99, (_finding("ncci.ptp", blocking=True),), True, "coder_review"),
    (0.99, (_finding("ncci.ptp", blocking=False),), True, "auto_finalize"),
    (0.99, (_finding("drg.cdi_opportunity"),), True, "cdi_query"),
    (0.99, (_finding("hcc.meat.missing"),), True, "cdi_query"),
    (0.99, (_finding("hcc.meat.missing", codes=("ICD-10-CM:I10",)),), True, "auto_finalize"),
    (0.99, (), False, "coder_review"),
])
def test_routing_table(confidence, findings, evidence, expected) -> None:
    code = _code(confidence=confidence, evidence=evidence)
    decision = route_code(_encounter(code), code, findings=findings, thresholds=BASE,
                          cdi_patterns=PATTERNS)
    assert decision.routing == expected
    assert decision.confidence == confidence
    assert bool(decision.query) is (expected == "cdi_query")


def test_audit_sample_is_deterministic_and_near_the_rate() -> None:
    hits = sum(in_audit_sample(f"enc-{i}", "ICD-10-CM", "J18.9", 0.05) for i in range(20_000))
    assert 0.045 < hits / 20_000 < 0.055
    assert in_audit_sample("enc-1", "ICD-10-CM", "J18.9", 0.05) == \
        in_audit_sample("enc-1", "ICD-10-CM", "J18.9", 0.05)
    assert not any(in_audit_sample(f"e{i}", "ICD-10-CM", "I10", 0.0) for i in range(500))
    assert all(in_audit_sample(f"e{i}", "ICD-10-CM", "I10", 1.0) for i in range(500))


def test_sampled_codes_are_flagged_but_still_auto_finalized() -> None:
    code = _code(confidence=0.99)
    sampled = next(i for i in range(1000)
                   if in_audit_sample(f"enc-{i}", "ICD-10-CM", "J18.9", 0.05))
    decision = route_code(_encounter(code, id=f"enc-{sampled}"), code, findings=(),
                          thresholds=dataclasses.replace(BASE, audit_sample_rate=0.05),
                          cdi_patterns=PATTERNS)
    assert decision.routing == "auto_finalize" and decision.sampled_for_audit


def _strip_indicators(query: str) -> str:
    return "\n".join(line for line in query.splitlines() if not line.strip().startswith('- "'))


@pytest.mark.parametrize("description", [
    "Pneumonia, unspecified organism", "Sepsis, unspecified organism",
    "Acute on chronic systolic (congestive) heart failure",
])
def test_cdi_query_is_non_leading(description: str) -> None:
    code = _code(confidence=0.3, description=description)
    query = route_code(_encounter(code), code, findings=(), thresholds=BASE,
                       cdi_patterns=PATTERNS).query
    body = _strip_indicators(query).lower()
    for word in re.findall(r"[a-z]{5,}", description.lower()):
        assert word not in body, word          # no suggested diagnosis
    assert "j18" not in body                    # no code
    assert "other (please specify)" in body and "unable to determine" in body
    assert "?" in body                          # an open question
    assert '"Community acquired pneumonia" (note n1, characters' in query  # indicators cited


def test_query_without_evidence_still_asks_openly() -> None:
    query = draft_query(_encounter(), evidence=())
    assert "does not contain enough documentation" in query
    assert "Unable to determine" in query


def test_stage_adds_encounter_level_decision_first() -> None:
    stage = RoutingStage(RoutingSettings(audit_sample_rate=0.0))
    enc = _encounter(_code("J18.9", 0.95), _code("R05.9", 0.80, description="Cough"))
    out = stage(enc)
    assert [d.code for d in out.decisions] == ["", "J18.9", "R05.9"]
    overall = out.decisions[0]
    assert overall.routing == "coder_review" and overall.system == ""
    assert "1 auto_finalize, 1 coder_review" in overall.reason
    assert overall.confidence == 0.80


@pytest.mark.parametrize(("codes", "findings", "expected"), [
    ((), (), "coder_review"),
    ((0.95,), (), "auto_finalize"),
    ((0.95,), (_finding("rules.cdi.query", codes=()),), "cdi_query"),
    ((0.95,), (_finding("mce.age", blocking=True, codes=()),), "coder_review"),
    ((0.95, 0.5), (), "cdi_query"),
])
def test_encounter_level_routing(codes, findings, expected) -> None:
    stage = RoutingStage(RoutingSettings(audit_sample_rate=0.0))
    enc = _encounter(*[_code(f"J18.{i}", c) for i, c in enumerate(codes)], findings=findings)
    overall = stage(enc).decisions[0]
    assert overall.routing == expected
    assert bool(overall.query) is (expected == "cdi_query")


def test_thresholds_per_setting_then_specialty() -> None:
    routing = RoutingSettings(per_setting={"inpatient": {"auto_threshold": 0.95}},
                              per_specialty={"Oncology": {"review_threshold": 0.8}})
    assert thresholds_for(routing, setting="outpatient").auto == 0.90
    assert thresholds_for(routing, setting="inpatient").auto == 0.95
    both = thresholds_for(routing, setting="inpatient", specialty="oncology")
    assert (both.auto, both.review) == (0.95, 0.8)
    stage = RoutingStage(routing)
    code = _code(confidence=0.93)
    assert stage(_encounter(code, setting="inpatient")).decisions[1].routing == "coder_review"
    assert stage(_encounter(code, setting="outpatient")).decisions[1].routing == "auto_finalize"


@pytest.mark.parametrize("bad", [
    {"per_setting": {"inpatient": {"auto_treshold": 0.9}}},
    {"auto_threshold": 0.6, "review_threshold": 0.7},
    {"audit_sample_rate": 1.5},
])
def test_invalid_thresholds_are_config_errors(bad) -> None:
    with pytest.raises(ConfigError):
        thresholds_for(RoutingSettings(**bad), setting="inpatient")


def test_registered_stage_reads_settings(tmp_path) -> None:
    settings = load_settings(environ={}, home=str(tmp_path), routing={"auto_threshold": 0.99})
    stage = get_registry("stages").get("review.route.v1")(Runtime(settings))
    assert stage.requires == frozenset({"codes", "findings"})
    assert stage.assigns == frozenset({"decisions"})
    assert stage(_encounter(_code(confidence=0.95))).decisions[1].routing == "coder_review"
