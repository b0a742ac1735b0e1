"""A tiny, deterministic coding pipeline for API tests, demos and the load bench.

It ships in the library (like httpx's ``MockTransport``) so the service can be
exercised without loading spaCy, presidio or the terminology: ``create_app(runtime,
parse=fake_parse, code=fake_code)``. It finds a handful of keywords with exact
offsets, skips a keyword preceded by "no " / "denies ", and builds a
``codeproof.package/v1``-shaped document. It is not a coder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from codeproof.errors import EmptyNote, MalformedInput, UnsupportedFormat
from codeproof.model import (
    CodeAssignment,
    Encounter,
    Evidence,
    Explanation,
    Note,
    Report,
    Routing,
    RoutingDecision,
    SourceRef,
    StageRecord,
)
from codeproof.security.base import Principal

__all__ = ["FakeResult", "fake_code", "fake_parse"]

#: keyword -> (system, code, description, confidence, DRG-ish weight)
_LEXICON: dict[str, tuple[str, str, str, float, float]] = {
    "type 2 diabetes": ("ICD-10-CM", "E11.9",
                        "Type 2 diabetes mellitus without complications", 0.95, 0.9),
    "hypertension": ("ICD-10-CM", "I10", "Essential (primary) hypertension", 0.93, 0.8),
    "pneumonia": ("ICD-10-CM", "J18.9", "Pneumonia, unspecified organism", 0.78, 1.3),
    "heart failure": ("ICD-10-CM", "I50.9", "Heart failure, unspecified", 0.74, 1.5),
    "sepsis": ("ICD-10-CM", "A41.9", "Sepsis, unspecified organism", 0.55, 1.9),
    "fever": ("ICD-10-CM", "R50.9", "Fever, unspecified", 0.97, 0.6),
    "cough": ("ICD-10-CM", "R05.9", "Cough, unspecified", 0.96, 0.5),
    "appendectomy": ("ICD-10-PCS", "0DTJ4ZZ",
                     "Resection of Appendix, Percutaneous Endoscopic Approach", 0.82, 1.7),
}
_NEGATION = re.compile(r"(?:\bno|\bdenies|\bwithout|\bnegative for)\s+$", re.IGNORECASE)
_UNCERTAIN = re.compile(r"(?:possible|probable|suspected|rule out)\s+$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class FakeResult:
    """Same shape as ``codeproof.run.CodingResult``: the coded encounter and package."""

    encounter: Encounter
    package: dict[str, Any]


def fake_parse(data: bytes, *, name: str, content_type: str | None = None,
               encounter_id: str | None = None, setting: str | None = None,
               tenant: str = "default", region: str = "US") -> Encounter:
    """Plain text or a FHIR R4 DocumentReference/Bundle with inline text.

    Same signature as :func:`codeproof.ingest.parse_bytes`.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedInput("input is not UTF-8", name=name) from exc
    fmt = "text"
    if (content_type or "").startswith(("application/json", "application/fhir+json")) \
            or text.lstrip().startswith("{"):
        text, fmt = _fhir_text(text, name)
    elif content_type and not content_type.startswith("text/"):
        raise UnsupportedFormat(f"content type {content_type!r} is not supported", name=name)
    if not text.strip():
        raise EmptyNote("the note is empty", name=name)
    stem = name.rsplit("/", 1)[-1].rsplit(".", 1)[0] or "encounter"
    return Encounter(
        id=encounter_id or stem, tenant=tenant, region=region,
        setting="inpatient" if setting == "inpatient" else "outpatient",
        source=SourceRef(format=fmt, sha256=hashlib.sha256(data).hexdigest(),
                         received_at=datetime.now(UTC).isoformat(), name=name),
        notes=(Note(id="n1", text=text),),
    )


def _fhir_text(raw: str, name: str) -> tuple[str, str]:
    import base64

    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise MalformedInput("body is not valid JSON", name=name) from exc
    if not isinstance(doc, dict):
        raise MalformedInput("FHIR body must be a JSON object", name=name)
    kind = doc.get("resourceType")
    resources = [doc]
    if kind == "Bundle":
        resources = [e.get("resource", {}) for e in doc.get("entry", [])
                     if isinstance(e, dict)]
    elif kind != "DocumentReference":
        raise UnsupportedFormat(f"FHIR resourceType {kind!r} is not supported", name=name)
    texts = []
    for res in resources:
        if not isinstance(res, dict) or res.get("resourceType") != "DocumentReference":
            continue
        for content in res.get("content", []):
            data = (content.get("attachment") or {}).get("data") if isinstance(
                content, dict) else None
            if isinstance(data, str):
                try:
                    texts.append(base64.b64decode(data, validate=True).decode("utf-8"))
                except ValueError as exc:
                    raise MalformedInput("attachment data is not base64 UTF-8",
                                         name=name) from exc
    if not texts:
        raise MalformedInput("no DocumentReference with inline text", name=name)
    return "\n\n".join(texts), f"fhir.{kind}"


def fake_code(runtime: Any, encounter: Encounter, *, principal: Principal) -> FakeResult:
    """Find lexicon keywords, route by confidence, build a schema-valid package."""
    from codeproof.export.package import build_package

    routing = runtime.settings.routing if runtime is not None else None
    auto = routing.auto_threshold if routing is not None else 0.90
    review = routing.review_threshold if routing is not None else 0.70
    codes: list[CodeAssignment] = []
    decisions: list[RoutingDecision] = []
    weights: list[float] = []
    for note in encounter.notes:
        lower = note.text.lower()
        for keyword, (system, code, description, conf, weight) in _LEXICON.items():
            start = lower.find(keyword)
            if start < 0 or _NEGATION.search(lower[max(0, start - 20):start]):
                continue
            end = start + len(keyword)
            uncertain = bool(_UNCERTAIN.search(lower[max(0, start - 20):start]))
            confidence = round(conf * (0.6 if uncertain else 1.0), 4)
            route: Routing = ("cdi_query" if uncertain else "auto_finalize"
                              if confidence >= auto else "coder_review"
                              if confidence >= review else "cdi_query")
            digest = int(hashlib.sha256(f"{encounter.id}:{code}".encode()).hexdigest(), 16)
            evidence = Evidence(note_id=note.id, start=start, end=end,
                                quote=note.text[start:end])
            codes.append(CodeAssignment(
                system=system, code=code, description=description,  # type: ignore[arg-type]
                confidence=confidence, evidence=(evidence,),
                rationale=f"'{evidence.quote}' is documented in the note.",
                guideline_refs=("ICD-10-CM OCG I.A.19",),
                explanation=Explanation(producer="fake.v1", score=conf,
                                        calibrated=confidence)))
            decisions.append(RoutingDecision(
                system=system, code=code, routing=route, confidence=confidence,
                reason=f"fake router: confidence {confidence:.2f}",
                sampled_for_audit=route == "auto_finalize" and digest % 5 == 0,
                query=(f"Please clarify whether {description.lower()} is confirmed, ruled "
                       "out, or undetermined, based on your clinical judgment."
                       if route == "cdi_query" else "")))
            weights.append(weight)
    order = sorted(range(len(codes)), key=lambda i: -codes[i].confidence)
    codes = [dataclasses.replace(codes[i], sequence=rank) for rank, i in
             enumerate(order, 1)]
    drg = Report(name="drg", producer="fake.v1",
                 data=json.dumps({"weight": round(max(weights, default=0.5), 4)}))
    coded = dataclasses.replace(
        encounter, codes=tuple(codes), decisions=tuple(decisions), reports=(drg,),
        versions=(("terminology", "fake"),))
    coded = dataclasses.replace(coded, stages=(StageRecord(
        stage="fake.v1", input_digest=encounter.digest(), output_digest=coded.digest(),
        duration_ms=0.0),))
    return FakeResult(encounter=coded, package=build_package(coded))
