"""FHIR R4 JSON: a ``DocumentReference`` with inline text, or a ``Bundle``.

A Bundle may hold DocumentReferences (one note each), a Patient (age and sex for
coding edits; no identifiers are kept), an Encounter (setting from its class,
date of service from its period, discharge disposition) and Procedure resources
coded in CPT/HCPCS (the billed procedure lines). Resources are validated with
``fhir.resources.R4B`` (the R4-compatible models) at this boundary; validation
messages name the field path only, never the value, so no PHI leaks into errors.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

from pydantic import ValidationError

from codeproof.errors import EmptyNote, MalformedInput, UnsupportedFormat
from codeproof.ingest._common import decode_text, now_iso, require_text, safe_id, sha256_bytes
from codeproof.model import Demographics, Encounter, Note, Setting, SourceRef

__all__ = ["parse_fhir"]

_INPATIENT_CLASSES = {"IMP", "ACUTE", "NONAC", "inpatient", "SS", "OBSENC"}
_PROC_SYSTEMS = ("http://www.ama-assn.org/go/cpt", "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets")


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{loc}: {err['type']}")
    return "; ".join(parts)


def _model(resource_type: str) -> Any:
    from fhir.resources.R4B import get_fhir_model_class

    return get_fhir_model_class(resource_type)


def _validate(resource: dict[str, Any], *, name: str) -> Any:
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str):
        raise MalformedInput(f"{name}: FHIR resource without resourceType", input=name)
    try:
        cls = _model(rtype)
    except (KeyError, ValueError) as exc:
        raise MalformedInput(f"{name}: unknown FHIR resourceType {rtype!r}", input=name) from exc
    try:
        return cls.model_validate(resource)
    except ValidationError as exc:
        raise MalformedInput(
            f"{name}: invalid FHIR R4 {rtype}: {_validation_message(exc)}", input=name
        ) from exc


def _note_from_docref(doc: Any, index: int, *, name: str) -> Note:
    texts: list[str] = []
    for content in doc.content or ():
        attachment = content.attachment
        ctype = (attachment.contentType or "text/plain").split(";")[0].strip().lower()
        if attachment.data is None:
            continue
        if not (ctype.startswith("text/") or ctype in {"application/xhtml+xml"}):
            raise UnsupportedFormat(
                f"{name}: DocumentReference attachment type {ctype!r} is not text", input=name
            )
        raw = attachment.data if isinstance(attachment.data, bytes) else bytes(attachment.data)
        texts.append(decode_text(raw, name=name))
    if not texts:
        raise EmptyNote(f"{name}: DocumentReference #{index} has no inline text", input=name)
    kind = "note"
    if doc.type is not None and doc.type.coding:
        kind = doc.type.coding[0].display or doc.type.coding[0].code or "note"
    note_id = safe_id(doc.id or "", fallback=f"doc{index}")
    doc_date = str(doc.date)[:10] if doc.date else None
    return Note(id=note_id, text=require_text("\n\n".join(texts), name=name), kind=kind,
                date=doc_date)


def _age(birth: date | None, on: date | None) -> int | None:
    if birth is None or on is None:
        return None
    years = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    return max(years, 0)


def _as_date(value: Any) -> date | None:
    if value is None:
        return None
    text = str(value)[:10]
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def parse_fhir(data: bytes, *, name: str, encounter_id: str | None = None,
               setting: Setting | None = None, tenant: str = "default",
               region: str = "US",
               pseudonymize: Callable[[str], str] | None = None) -> Encounter:
    """Turn FHIR R4 JSON bytes into an Encounter (raises IngestError subclasses)."""
    try:
        obj = json.loads(decode_text(data, name=name))
    except json.JSONDecodeError as exc:
        raise MalformedInput(f"{name}: invalid JSON at line {exc.lineno} column {exc.colno}",
                             input=name) from exc
    if not isinstance(obj, dict):
        raise MalformedInput(f"{name}: a FHIR resource must be a JSON object", input=name)
    rtype = obj.get("resourceType")
    resources: list[dict[str, Any]]
    if rtype == "Bundle":
        _validate(obj, name=name)
        resources = [entry["resource"] for entry in obj.get("entry") or ()
                     if isinstance(entry, dict) and isinstance(entry.get("resource"), dict)]
    elif rtype == "DocumentReference":
        resources = [obj]
    else:
        raise UnsupportedFormat(
            f"{name}: expected a FHIR Bundle or DocumentReference, got {rtype!r}", input=name
        )

    notes: list[Note] = []
    birth: date | None = None
    sex = "U"
    period_start: date | None = None
    fhir_setting: Setting | None = None
    discharge: str | None = None
    fhir_encounter_id: str | None = None
    procedures: list[str] = []
    patient_key: str | None = None
    for res in resources:
        kind = res.get("resourceType")
        if kind == "DocumentReference":
            notes.append(_note_from_docref(_validate(res, name=name), len(notes) + 1, name=name))
        elif kind == "Patient":
            patient = _validate(res, name=name)
            birth = _as_date(patient.birthDate)
            ident = next((i for i in patient.identifier or () if i.value), None)
            if ident is not None:
                patient_key = f"{ident.system or ''}|{ident.value}"
            elif patient.id:
                patient_key = f"Patient/{patient.id}"
            sex = {"male": "M", "female": "F"}.get(patient.gender or "", "U")
        elif kind == "Encounter":
            enc = _validate(res, name=name)
            fhir_encounter_id = enc.id
            code = enc.class_fhir.code if enc.class_fhir is not None else None
            if code:
                fhir_setting = "inpatient" if code in _INPATIENT_CLASSES else "outpatient"
            if enc.period is not None:
                period_start = _as_date(enc.period.start)
            hosp = enc.hospitalization
            if hosp is not None and hosp.dischargeDisposition is not None:
                coding = hosp.dischargeDisposition.coding or []
                discharge = coding[0].code if coding else None
        elif kind == "Procedure":
            proc = _validate(res, name=name)
            for coding in (proc.code.coding if proc.code is not None else None) or []:
                if coding.system in _PROC_SYSTEMS and coding.code:
                    procedures.append(coding.code)
    if not notes:
        raise EmptyNote(f"{name}: no DocumentReference with inline text", input=name)
    on = period_start or _as_date(notes[0].date)
    enc_id = encounter_id or safe_id(fhir_encounter_id or notes[0].id, fallback="encounter")
    return Encounter(
        id=enc_id,
        source=SourceRef(format=f"fhir.{rtype}", sha256=sha256_bytes(data),
                         received_at=now_iso(), name=name.rsplit("/", 1)[-1]),
        notes=tuple(notes),
        setting=setting or fhir_setting or "outpatient",
        demographics=Demographics(age=_age(birth, on), sex=sex,  # type: ignore[arg-type]
                                  discharge_status=discharge),
        date_of_service=on.isoformat() if on else None,
        procedures_billed=tuple(procedures),
        subject=pseudonymize(patient_key) if pseudonymize and patient_key else "",
        tenant=tenant,
        region=region,
    )
