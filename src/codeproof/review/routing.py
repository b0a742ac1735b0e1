"""Confidence routing: each code, and the encounter, goes to the right queue.

Per code, from its calibrated confidence (after justification verification) and
the rule findings about it:

- a documentation-gap / CDI finding, or confidence below ``review_threshold``
  (default 0.70) -> ``cdi_query`` with a drafted, non-leading physician query;
- a blocking finding, a code with no verbatim evidence, or one whose justification
  did not pass verification (``grounded`` false) -> ``coder_review``;
- confidence at or above ``auto_threshold`` (default 0.90) -> ``auto_finalize``,
  with a deterministic post-coding audit sample (``audit_sample_rate``, default
  5%): the SHA-256 of encounter id + code decides, so reruns sample the same codes;
- otherwise -> ``coder_review`` (evidence pre-highlighted by the workbench).

Thresholds come from ``[routing]`` and are overridden per setting
(``per_setting.inpatient.auto_threshold``) and then per specialty
(``per_specialty.oncology.review_threshold``). The encounter-level decision
(``code == ""``) is the most cautious of its codes and of the findings that name
no code; an encounter with no codes goes to coder review.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from codeproof.errors import ConfigError
from codeproof.model import (
    CodeAssignment,
    Encounter,
    Evidence,
    Routing,
    RoutingDecision,
    RuleFinding,
)

__all__ = [
    "ROUTING_ORDER",
    "RoutingStage",
    "Thresholds",
    "create_routing_stage",
    "draft_query",
    "in_audit_sample",
    "is_cdi_finding",
    "route_code",
    "route_encounter",
    "thresholds_for",
]

#: Routing outcomes from least to most cautious.
ROUTING_ORDER: tuple[Routing, ...] = ("auto_finalize", "coder_review", "cdi_query")
_KEYS = frozenset({"auto_threshold", "review_threshold", "audit_sample_rate"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Thresholds:
    """Effective thresholds for one encounter."""

    auto: float = 0.90
    review: float = 0.70
    audit_sample_rate: float = 0.05


def thresholds_for(routing: Any, *, setting: str = "", specialty: str = "") -> Thresholds:
    """Base ``[routing]`` values, then ``per_setting[setting]``, then ``per_specialty``."""
    values = {"auto_threshold": routing.auto_threshold,
              "review_threshold": routing.review_threshold,
              "audit_sample_rate": routing.audit_sample_rate}
    layers: list[tuple[str, Mapping[str, float]]] = []
    if setting and setting in routing.per_setting:
        layers.append((f"per_setting.{setting}", routing.per_setting[setting]))
    if specialty and specialty.lower() in {k.lower() for k in routing.per_specialty}:
        key = next(k for k in routing.per_specialty if k.lower() == specialty.lower())
        layers.append((f"per_specialty.{key}", routing.per_specialty[key]))
    for where, layer in layers:
        unknown = set(layer) - _KEYS
        if unknown:
            raise ConfigError(f"routing.{where} has unknown keys {sorted(unknown)}; "
                              f"allowed: {sorted(_KEYS)}")
        values.update(layer)
    out = Thresholds(auto=float(values["auto_threshold"]),
                     review=float(values["review_threshold"]),
                     audit_sample_rate=float(values["audit_sample_rate"]))
    if not 0.0 <= out.review <= out.auto <= 1.0 or not 0.0 <= out.audit_sample_rate <= 1.0:
        raise ConfigError("routing thresholds need 0 <= review_threshold <= auto_threshold "
                          "<= 1 and 0 <= audit_sample_rate <= 1")
    return out


def in_audit_sample(encounter_id: str, system: str, code: str, rate: float) -> bool:
    """Deterministic sample: SHA-256(encounter id, system:code) mapped to [0, 1) < rate."""
    digest = hashlib.sha256(f"{encounter_id}\x00{system}:{code}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def is_cdi_finding(finding: RuleFinding, patterns: Iterable[str]) -> bool:
    """True when the finding's rule id marks a documentation gap (CDI opportunity)."""
    rule = finding.rule_id.lower()
    return any(p.lower() in rule for p in patterns)


def _applies(finding: RuleFinding, code: CodeAssignment) -> bool:
    return bool({f"{code.system}:{code.code}", code.code} & set(finding.codes))


def draft_query(encounter: Encounter, *, evidence: Sequence[Evidence],
                topic: str = "the documentation below") -> str:
    """A non-leading, open-ended, multiple-choice physician query.

    It quotes the clinical indicators already in the record (with their note and
    offsets) and asks the provider to clarify in their own words. It names no
    diagnosis and no code, and always offers "Other" and "Unable to determine".
    """
    lines = [f"Clinical documentation query - encounter {encounter.id}", ""]
    if evidence:
        lines.append("The record contains the following documentation:")
        for item in evidence[:4]:
            lines.append(f'  - "{item.quote}" (note {item.note_id}, characters '
                         f"{item.start}-{item.end})")
    else:
        lines.append("The record does not contain enough documentation to support "
                     "the coded condition(s).")
    lines += [
        "",
        f"Based on your clinical judgment, can you please clarify {topic}? "
        "Please respond in the medical record in your own words.",
        "  [ ] A condition is present and is documented as: ____________________",
        "  [ ] The findings are clinically insignificant or part of another condition "
        "already documented",
        "  [ ] Other (please specify): ____________________",
        "  [ ] Unable to determine",
        "",
        "This query is not intended to suggest any particular diagnosis or response.",
    ]
    return "\n".join(lines)


def route_code(encounter: Encounter, code: CodeAssignment, *, findings: Sequence[RuleFinding],
               thresholds: Thresholds, cdi_patterns: Sequence[str],
               grounded: bool = True) -> RoutingDecision:
    """The routing decision for one code (``grounded``: its justification verified)."""
    mine = [f for f in findings if _applies(f, code)]
    cdi = [f for f in mine if is_cdi_finding(f, cdi_patterns)]
    blocking = [f for f in mine if f.blocking]
    confidence = code.confidence
    if cdi or confidence < thresholds.review:
        why = (f"documentation gap: {', '.join(f.rule_id for f in cdi)}" if cdi
               else f"confidence {confidence:.2f} < {thresholds.review:.2f}")
        return RoutingDecision(
            system=code.system, code=code.code, routing="cdi_query", reason=why,
            confidence=confidence,
            query=draft_query(encounter, evidence=code.evidence,
                              topic="the clinical significance of the documentation below"))
    if blocking:
        return RoutingDecision(system=code.system, code=code.code, routing="coder_review",
                               reason=f"blocking finding: {', '.join(f.rule_id for f in blocking)}",
                               confidence=confidence)
    if not code.evidence:
        return RoutingDecision(system=code.system, code=code.code, routing="coder_review",
                               reason="no verbatim evidence span", confidence=confidence)
    if not grounded:
        return RoutingDecision(system=code.system, code=code.code, routing="coder_review",
                               reason="justification did not pass verification",
                               confidence=confidence)
    if confidence >= thresholds.auto:
        sampled = in_audit_sample(encounter.id, code.system, code.code,
                                  thresholds.audit_sample_rate)
        return RoutingDecision(system=code.system, code=code.code, routing="auto_finalize",
                               reason=f"confidence {confidence:.2f} >= {thresholds.auto:.2f}, "
                                      "no blocking finding",
                               confidence=confidence, sampled_for_audit=sampled)
    return RoutingDecision(system=code.system, code=code.code, routing="coder_review",
                           reason=f"confidence {confidence:.2f} in "
                                  f"[{thresholds.review:.2f}, {thresholds.auto:.2f})",
                           confidence=confidence)


def route_encounter(encounter: Encounter, decisions: Sequence[RoutingDecision], *,
                    findings: Sequence[RuleFinding],
                    cdi_patterns: Sequence[str]) -> RoutingDecision:
    """The encounter-level decision (``code == ""``): the most cautious outcome."""
    general = [f for f in findings if not f.codes]
    reasons: list[str] = []
    routing: Routing = "auto_finalize"
    if not decisions:
        routing, reasons = "coder_review", ["no codes assigned"]
    for decision in decisions:
        if ROUTING_ORDER.index(decision.routing) > ROUTING_ORDER.index(routing):
            routing = decision.routing
    counts = {r: sum(1 for d in decisions if d.routing == r) for r in ROUTING_ORDER}
    if decisions:
        reasons.append(", ".join(f"{n} {r}" for r, n in counts.items() if n))
    cdi = [f for f in general if is_cdi_finding(f, cdi_patterns)]
    blocking = [f for f in general if f.blocking]
    if cdi:
        routing = "cdi_query"
        reasons.append(f"documentation gap: {', '.join(f.rule_id for f in cdi)}")
    elif blocking and routing == "auto_finalize":
        routing = "coder_review"
        reasons.append(f"blocking finding: {', '.join(f.rule_id for f in blocking)}")
    query = ""
    if routing == "cdi_query":
        evidence = tuple(e for f in cdi for e in f.evidence) or tuple(
            e for code in encounter.codes for e in code.evidence
            if any(d.code == code.code and d.routing == "cdi_query" for d in decisions))
        query = draft_query(encounter, evidence=evidence,
                            topic="the condition(s), if any, that the documentation below "
                                  "represents")
    confidence = min((d.confidence for d in decisions), default=0.0)
    return RoutingDecision(system="", code="", routing=routing, reason="; ".join(reasons),
                           confidence=confidence,
                           sampled_for_audit=any(d.sampled_for_audit for d in decisions),
                           query=query)


class RoutingStage:
    """``review.route.v1``: per-code and encounter-level routing decisions."""

    name: ClassVar[str] = "review.route.v1"
    requires: ClassVar[frozenset[str]] = frozenset({"codes", "findings"})
    assigns: ClassVar[frozenset[str]] = frozenset({"decisions"})

    def __init__(self, routing: Any) -> None:
        self.routing = routing
        thresholds_for(routing)  # validate the base thresholds once

    def __call__(self, encounter: Encounter, /) -> Encounter:
        """Route every code, then the encounter."""
        thresholds = thresholds_for(self.routing, setting=encounter.setting,
                                    specialty=encounter.specialty)
        patterns = tuple(self.routing.cdi_rule_patterns)
        ungrounded = {(j.system, j.code) for j in encounter.justifications if not j.grounded}
        decisions = [route_code(encounter, code, findings=encounter.findings,
                                thresholds=thresholds, cdi_patterns=patterns,
                                grounded=(code.system, code.code) not in ungrounded)
                     for code in encounter.codes]
        overall = route_encounter(encounter, decisions, findings=encounter.findings,
                                  cdi_patterns=patterns)
        return dataclasses.replace(encounter, decisions=(overall, *decisions))


def create_routing_stage(runtime: Any) -> RoutingStage:
    """Registry factory for ``review.route.v1``."""
    return RoutingStage(runtime.settings.routing)
