"""The justification package (``codeproof.package/v1``): one JSON document per encounter.

The schema is published in ``src/codeproof/export/schemas/codeproof.package.v1.json``
and every package is validated against it before it is written. The package
carries no note text (only note ids, lengths and SHA-256 digests) except the
evidence quotes, each of which equals the note text at its offsets;
:func:`check_evidence` proves that against the notes.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

from codeproof.errors import JustificationError
from codeproof.model import (
    CodeAssignment,
    Encounter,
    Evidence,
    Justification,
    Note,
    RoutingDecision,
    RuleFinding,
)

__all__ = [
    "PACKAGE_SCHEMA_ID",
    "build_package",
    "check_evidence",
    "package_schema",
    "validate_package",
]

PACKAGE_SCHEMA_ID = "codeproof.package/v1"
_MAX_CANDIDATES = 60


@cache
def package_schema() -> dict[str, Any]:
    """The JSON Schema of the package (loaded once from the installed package)."""
    ref = resources.files("codeproof.export").joinpath("schemas/codeproof.package.v1.json")
    return json.loads(ref.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@cache
def _validator() -> Any:
    """The schema compiled to Python by fastjsonschema (~10x faster than jsonschema).

    The published schema is draft 2020-12; it only uses keywords whose meaning is
    the same in draft-07, which fastjsonschema implements. ``tests/export`` checks
    the reference ``jsonschema`` validator agrees on valid and invalid packages.
    """
    import fastjsonschema

    schema = {k: v for k, v in package_schema().items() if k != "$schema"}
    return fastjsonschema.compile(schema)


def validate_package(package: dict[str, Any]) -> None:
    """Raise :class:`JustificationError` when ``package`` breaks the schema."""
    import fastjsonschema

    try:
        _validator()(package)
    except fastjsonschema.JsonSchemaException as exc:
        raise JustificationError(
            f"package {package.get('encounter_id')!r} breaks {PACKAGE_SCHEMA_ID}: "
            f"{getattr(exc, 'message', exc)}",
            encounter=str(package.get("encounter_id")),
        ) from None


def _evidence(ev: Evidence) -> dict[str, Any]:
    return {"note_id": ev.note_id, "start": ev.start, "end": ev.end, "quote": ev.quote}


def _finding(finding: RuleFinding) -> dict[str, Any]:
    return {
        "rule_id": finding.rule_id,
        "severity": finding.severity,
        "message": finding.message,
        "codes": list(finding.codes),
        "pack": finding.pack,
        "pack_version": finding.pack_version,
        "citation": finding.citation,
        "fix": finding.fix,
        "blocking": finding.blocking,
        "evidence": [_evidence(e) for e in finding.evidence],
    }


def _justification(just: Justification | None) -> dict[str, Any] | None:
    if just is None:
        return None
    return {
        "text": just.text,
        "statements": [
            {"text": s.text, "evidence": [_evidence(e) for e in s.evidence],
             "citations": list(s.citations), "codes": list(s.codes)}
            for s in just.statements
        ],
        "writer": just.writer,
        "verifier": just.verifier,
        "grounded": just.grounded,
        "rejected_drafts": just.rejected_drafts,
    }


def _code_versions(versions: dict[str, str]) -> dict[str, str]:
    models = "; ".join(
        f"{k}={v}" for k, v in sorted(versions.items())
        if k.split(".", 1)[0] in {"nlp", "coding", "coding_model", "deid"}
    )
    out = {
        "terminology": versions.get("terminology", "unknown"),
        "rules": versions.get("rules", "not run"),
        "models": models or "unknown",
    }
    for key in ("justify.writer", "justify.verifier", "justify.kb"):
        if key in versions:
            out[key.split(".", 1)[1]] = versions[key]
    return out


def _icd11(code: CodeAssignment, terminology: Any) -> list[dict[str, Any]]:
    if terminology is None or code.system != "ICD-10-CM":
        return []
    targets = getattr(terminology, "icd11_targets", None)
    if targets is None:
        return []
    out = []
    for target in targets(code.code):
        out.append({"code": target.code, "title": target.title,
                    "ambiguity": target.ambiguity, "via": target.via})
    return out


def _encounter_routing(encounter: Encounter,
                       decisions: dict[tuple[str, str], RoutingDecision]) -> dict[str, Any]:
    per_code = [d for key, d in decisions.items() if key[1]]
    counts = Counter(d.routing for d in per_code)
    enc = decisions.get(("", ""))
    if enc is not None:
        routing, reason = enc.routing, enc.reason
    elif not encounter.codes:
        routing, reason = "cdi_query", "no code is supported by the documentation"
    elif counts.get("cdi_query"):
        routing, reason = "cdi_query", "at least one code needs a CDI query"
    elif counts.get("coder_review") or len(per_code) < len(encounter.codes):
        routing, reason = "coder_review", "at least one code needs coder review"
    else:
        routing, reason = "auto_finalize", "every code is in the auto-finalize band"
    return {
        "encounter": routing,
        "reason": reason,
        "counts": {k: counts.get(k, 0) for k in ("auto_finalize", "coder_review", "cdi_query")},
        "cdi_queries": [{"system": d.system, "code": d.code, "query": d.query}
                        for d in decisions.values() if d.query],
    }


def build_package(encounter: Encounter, *, terminology: Any = None,
                  audit_head: str | None = None, created_at: str | None = None,
                  validate: bool = True) -> dict[str, Any]:
    """Build the ``codeproof.package/v1`` dict of a coded encounter."""
    versions = dict(encounter.versions)
    versions["pipeline"] = ",".join(s.stage for s in encounter.stages)
    code_versions = _code_versions(versions)
    justifications = {(j.system, j.code): j for j in encounter.justifications}
    decisions = {(d.system, d.code): d for d in encounter.decisions}
    finding_ids: dict[str, list[str]] = {}
    for finding in encounter.findings:
        for ref in finding.codes:
            finding_ids.setdefault(ref, []).append(finding.rule_id)
    codes = []
    for code in sorted(encounter.codes, key=lambda c: (c.sequence or 10**6, -c.confidence)):
        decision = decisions.get((code.system, code.code))
        entry: dict[str, Any] = {
            "system": code.system,
            "code": code.code,
            "description": code.description,
            "confidence": round(min(max(code.confidence, 0.0), 1.0), 4),
            # Without a routing decision, a human looks at it: never auto-finalize by default.
            "routing": decision.routing if decision else "coder_review",
            "routing_reason": decision.reason if decision else "no routing stage ran",
            "audit_sample": decision.sampled_for_audit if decision else False,
            "sequence": code.sequence,
            "evidence": [_evidence(e) for e in code.evidence],
            "rationale": code.rationale,
            "guideline_refs": list(code.guideline_refs),
            "mention_ids": list(code.mention_ids),
            "justification": _justification(justifications.get((code.system, code.code))),
            "findings": finding_ids.get(f"{code.system}:{code.code}", []),
            "icd11": _icd11(code, terminology),
            "explanation": None if code.explanation is None else {
                "producer": code.explanation.producer,
                "score": code.explanation.score,
                "calibrated": code.explanation.calibrated,
                "detail": code.explanation.detail,
            },
            "versions": code_versions,
        }
        if decision is not None and decision.query:
            entry["cdi_query"] = decision.query
        codes.append(entry)
    candidates = [
        {"system": c.system, "code": c.code, "description": c.description,
         "score": round(float(c.score), 6), "confidence": round(float(c.confidence), 4),
         "sources": list(c.sources)}
        for c in sorted(encounter.candidates, key=lambda c: -c.confidence)[:_MAX_CANDIDATES]
    ]
    extensions: dict[str, Any] = {}
    for report in encounter.reports:
        extensions[report.name] = {"producer": report.producer, "data": json.loads(report.data)}
    package: dict[str, Any] = {
        "schema": PACKAGE_SCHEMA_ID,
        "encounter_id": encounter.id,
        "tenant": encounter.tenant,
        "region": encounter.region,
        "setting": encounter.setting,
        "specialty": encounter.specialty,
        "created_at": created_at or datetime.now(UTC).replace(microsecond=0).isoformat(),
        "date_of_service": encounter.date_of_service,
        "payer": encounter.payer,
        "deidentified": encounter.deidentified,
        "source": {"format": encounter.source.format, "sha256": encounter.source.sha256,
                   "received_at": encounter.source.received_at, "name": encounter.source.name},
        "demographics": {"age": encounter.demographics.age, "sex": encounter.demographics.sex,
                         "discharge_status": encounter.demographics.discharge_status},
        "notes": [{"id": n.id, "kind": n.kind, "sha256": n.sha256, "length": len(n.text)}
                  for n in encounter.notes],
        "codes": codes,
        "candidates": candidates,
        "findings": [_finding(f) for f in encounter.findings],
        "mentions": [
            {"id": m.id, "note_id": m.note_id, "start": m.start, "end": m.end, "kind": m.kind,
             "section": m.section,
             "assertion": {"negated": m.assertion.negated, "uncertain": m.assertion.uncertain,
                           "historical": m.assertion.historical,
                           "hypothetical": m.assertion.hypothetical,
                           "conditional": m.assertion.conditional,
                           "experiencer": m.assertion.experiencer},
             "attributes": {k: v for k, v in (
                 ("laterality", m.attributes.laterality), ("acuity", m.attributes.acuity),
                 ("severity", m.attributes.severity), ("episode", m.attributes.episode),
                 ("body_site", m.attributes.body_site)) if v is not None}}
            for m in encounter.mentions
        ],
        "routing": _encounter_routing(encounter, decisions),
        "stages": [{"stage": s.stage, "input_digest": s.input_digest,
                    "output_digest": s.output_digest, "duration_ms": s.duration_ms}
                   for s in encounter.stages],
        "versions": versions,
        "extensions": extensions,
        "audit": {"chain_head": audit_head},
    }
    if validate:
        validate_package(package)
    return package


def check_evidence(package: dict[str, Any], notes: dict[str, Note] | dict[str, str]) -> list[str]:
    """Return problems where a quote differs from the note at its offsets (empty = all good)."""
    texts = {k: (v.text if isinstance(v, Note) else v) for k, v in notes.items()}
    problems: list[str] = []

    def check(ev: dict[str, Any], where: str) -> None:
        text = texts.get(ev["note_id"])
        if text is None:
            problems.append(f"{where}: unknown note {ev['note_id']}")
        elif text[ev["start"]:ev["end"]] != ev["quote"]:
            problems.append(f"{where}: quote differs from note at {ev['start']}-{ev['end']}")

    for code in package.get("codes", []):
        where = f"{code['system']}:{code['code']}"
        for ev in code.get("evidence", []):
            check(ev, where)
        for st in (code.get("justification") or {}).get("statements", []):
            for ev in st.get("evidence", []):
                check(ev, f"{where} justification")
    for finding in package.get("findings", []):
        for ev in finding.get("evidence", []):
            check(ev, f"finding {finding['rule_id']}")
    return problems
