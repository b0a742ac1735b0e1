"""FHIR R4 representation of a justification package: a Bundle of Claim + Provenance.

- ``Claim`` (status ``draft``, use ``claim``, type ``institutional`` for inpatient
  else ``professional``): one ``diagnosis`` per ICD-10-CM code in sequence order
  (principal first), one ``procedure`` per ICD-10-PCS code, one ``item`` per
  CPT/HCPCS code. Each entry carries codeproof extensions for the calibrated
  confidence, the routing and the audit-sample flag. The patient and provider are
  display-only references: the package holds no identifiers.
- ``Provenance`` targets the Claim: the codeproof software as the assembling
  agent, each note digest as a source entity, the pipeline stages as the
  activity's detail, and the audit-chain head as an extension.

The bundle is validated with ``fhir.resources.R4B`` before it is returned.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from codeproof import __version__
from codeproof.errors import JustificationError

__all__ = ["SYSTEM_URLS", "package_to_fhir", "validate_bundle"]

#: Code system URIs (HL7 terminology registry).
SYSTEM_URLS = {
    "ICD-10-CM": "http://hl7.org/fhir/sid/icd-10-cm",
    "ICD-10-PCS": "http://www.cms.gov/Medicare/Coding/ICD10",
    "CPT": "http://www.ama-assn.org/go/cpt",
    "HCPCS": "urn:oid:2.16.840.1.113883.6.285",
    "ICD-11": "http://id.who.int/icd/release/11/mms",
}
_EXT = "https://codeproof.dev/fhir/StructureDefinition"


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "codeproof:" + ":".join(parts)))


def _code_extensions(code: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {"url": f"{_EXT}/confidence", "valueDecimal": float(code.get("confidence", 0.0))},
        {"url": f"{_EXT}/routing", "valueCode": str(code.get("routing", "coder_review"))},
        {"url": f"{_EXT}/audit-sample", "valueBoolean": bool(code.get("audit_sample", False))},
    ]


def _concept(code: Mapping[str, Any]) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": SYSTEM_URLS[code["system"]], "code": code["code"]}
    if code.get("description") and code["system"] not in {"CPT"}:  # never ship AMA text
        coding["display"] = code["description"]
    return {"coding": [coding]}


def package_to_fhir(package: Mapping[str, Any], *, validate: bool = True) -> dict[str, Any]:
    """Return a FHIR R4 ``Bundle`` (type ``collection``) dict for ``package``."""
    encounter_id = str(package["encounter_id"])
    created = str(package.get("created_at") or "1970-01-01T00:00:00+00:00")
    claim_id = _uuid(encounter_id, "claim")
    prov_id = _uuid(encounter_id, "provenance")
    codes = list(package.get("codes") or [])
    diagnoses: list[dict[str, Any]] = []
    procedures: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    for code in codes:
        system = code.get("system")
        if system == "ICD-10-CM":
            entry: dict[str, Any] = {"sequence": len(diagnoses) + 1,
                                     "diagnosisCodeableConcept": _concept(code),
                                     "extension": _code_extensions(code)}
            if code.get("sequence") == 1:
                entry["type"] = [{"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/ex-diagnosistype",
                    "code": "principal"}]}]
            diagnoses.append(entry)
        elif system == "ICD-10-PCS":
            procedures.append({"sequence": len(procedures) + 1,
                               "procedureCodeableConcept": _concept(code),
                               "extension": _code_extensions(code)})
        elif system in {"CPT", "HCPCS"}:
            items.append({"sequence": len(items) + 1, "productOrService": _concept(code),
                          "extension": _code_extensions(code)})
    setting = package.get("setting", "outpatient")
    payer = package.get("payer") or "unspecified payer"
    claim: dict[str, Any] = {
        "resourceType": "Claim",
        "id": claim_id,
        "status": "draft",
        "type": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/claim-type",
            "code": "institutional" if setting == "inpatient" else "professional"}]},
        "use": "claim",
        "patient": {"display": f"patient of encounter {encounter_id} (identifiers withheld)"},
        "created": created,
        "provider": {"display": "submitting provider (not in package)"},
        "priority": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/processpriority",
            "code": "normal"}]},
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": str(payer)}}],
        "identifier": [{"system": f"{_EXT}/encounter-id", "value": encounter_id}],
        "extension": [{"url": f"{_EXT}/encounter-routing",
                       "valueCode": str(package.get("routing", {}).get("encounter",
                                                                        "coder_review"))}],
    }
    if diagnoses:
        claim["diagnosis"] = diagnoses
    if procedures:
        claim["procedure"] = procedures
    if items:
        claim["item"] = items
    versions = package.get("versions") or {}
    stages = [s.get("stage", "") for s in package.get("stages") or []]
    provenance: dict[str, Any] = {
        "resourceType": "Provenance",
        "id": prov_id,
        "target": [{"reference": f"urn:uuid:{claim_id}"}],
        "recorded": created,
        "activity": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation",
            "code": "CREATE"}], "text": "codeproof pipeline: " + (" > ".join(stages) or "n/a")},
        "agent": [{
            "type": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                "code": "assembler"}]},
            "who": {"display": f"codeproof {__version__}"},
        }],
        "entity": [{"role": "source",
                    "what": {"display": f"note {n.get('id')} sha256:{n.get('sha256')}"}}
                   for n in package.get("notes") or []],
        "extension": [
            {"url": f"{_EXT}/audit-chain-head",
             "valueString": str((package.get("audit") or {}).get("chain_head") or "none")},
            *({"url": f"{_EXT}/version/{k}", "valueString": str(v)}
              for k, v in sorted(versions.items()) if str(v).strip()),
        ],
    }
    if not provenance["entity"]:
        del provenance["entity"]
    bundle = {
        "resourceType": "Bundle",
        "id": _uuid(encounter_id, "bundle"),
        "type": "collection",
        "timestamp": created,
        "entry": [{"fullUrl": f"urn:uuid:{claim_id}", "resource": claim},
                  {"fullUrl": f"urn:uuid:{prov_id}", "resource": provenance}],
    }
    if validate:
        validate_bundle(bundle)
    return bundle


def validate_bundle(bundle: Mapping[str, Any]) -> None:
    """Validate with ``fhir.resources.R4B``; raise :class:`JustificationError` if invalid."""
    from fhir.resources.R4B.bundle import Bundle
    from pydantic import ValidationError

    try:
        Bundle.model_validate(dict(bundle))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise JustificationError(f"FHIR bundle is not valid R4: {where}: {first['msg']}",
                                 encounter=str(bundle.get("id"))) from exc
