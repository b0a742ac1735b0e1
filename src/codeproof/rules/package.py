"""Read a ``codeproof.package/v1`` document back into an Encounter for re-validation.

The package writer belongs to the export layer; this reader is defensive: it
validates only the fields the rules need (pydantic, unknown fields ignored) and
raises :class:`~codeproof.errors.MalformedInput` naming the bad field. Packages
carry note digests, not note text: the text can be supplied separately and is
accepted only when its SHA-256 equals the digest in the package.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from codeproof.errors import MalformedInput
from codeproof.model import (
    CodeAssignment,
    Demographics,
    Encounter,
    Evidence,
    Note,
    SourceRef,
    System,
    sha256_text,
)

__all__ = ["PackageIn", "encounter_from_package", "read_package"]


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _EvidenceIn(_Loose):
    note_id: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    quote: str = ""


class _CodeIn(_Loose):
    system: System
    code: str = Field(min_length=1)
    description: str = ""
    confidence: float = 0.0
    evidence: list[_EvidenceIn] = Field(default_factory=list)
    rationale: str = ""
    sequence: int = 0


class _DemographicsIn(_Loose):
    age: int | None = Field(default=None, ge=0, le=130)
    sex: Literal["M", "F", "U"] = "U"
    discharge_status: str | None = None


class _NoteIn(_Loose):
    id: str
    sha256: str | None = None
    text: str | None = None
    kind: str = "note"


class _SourceIn(_Loose):
    format: str = "package"
    sha256: str = ""
    received_at: str = ""
    name: str = ""


class PackageIn(_Loose):
    """The fields of a ``codeproof.package/v1`` document the rules read."""

    schema_: Literal["codeproof.package/v1"] = Field(alias="schema")
    encounter_id: str = Field(min_length=1)
    setting: Literal["inpatient", "outpatient"] = "outpatient"
    date_of_service: str | None = None
    payer: str | None = None
    place_of_service: str | None = None
    procedures_billed: list[str] = Field(default_factory=list)
    demographics: _DemographicsIn = Field(default_factory=_DemographicsIn)
    notes: list[_NoteIn] = Field(default_factory=list)
    codes: list[_CodeIn] = Field(default_factory=list)
    source: _SourceIn = Field(default_factory=_SourceIn)


def read_package(path: Path) -> PackageIn:
    """Parse and validate a package file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MalformedInput(f"cannot read package {path.name}: {exc.strerror}",
                             file=path.name) from exc
    except json.JSONDecodeError as exc:
        raise MalformedInput(f"package {path.name} is not JSON (line {exc.lineno})",
                             file=path.name) from exc
    try:
        return PackageIn.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors()[:5]
        )
        raise MalformedInput(f"package {path.name} is not a codeproof.package/v1 document: "
                             f"{problems}", file=path.name) from exc


def encounter_from_package(package: PackageIn, *, note_texts: Sequence[str] = (),
                           payer: str | None = None, on: date | None = None) -> Encounter:
    """Build the Encounter the rules check; ``note_texts`` are matched by SHA-256."""
    by_digest = {sha256_text(t): t for t in note_texts}
    notes: list[Note] = []
    for item in package.notes:
        text = item.text
        if text is not None and item.sha256 and sha256_text(text) != item.sha256:
            raise MalformedInput(f"note {item.id}: text does not match its sha256",
                                 note=item.id)
        if text is None and item.sha256:
            text = by_digest.pop(item.sha256, None)
        notes.append(Note(id=item.id, text=text or "", kind=item.kind))
    if by_digest:
        raise MalformedInput(
            f"{len(by_digest)} supplied note file(s) match no note digest in the package",
            unmatched=len(by_digest),
        )
    codes = tuple(
        CodeAssignment(
            system=c.system, code=c.code, description=c.description, confidence=c.confidence,
            evidence=tuple(Evidence(note_id=e.note_id, start=e.start, end=e.end, quote=e.quote)
                           for e in c.evidence),
            rationale=c.rationale, sequence=c.sequence,
        )
        for c in package.codes
    )
    return Encounter(
        id=package.encounter_id,
        source=SourceRef(format=package.source.format, sha256=package.source.sha256,
                         received_at=package.source.received_at, name=package.source.name),
        notes=tuple(notes),
        setting=package.setting,
        demographics=Demographics(age=package.demographics.age, sex=package.demographics.sex,
                                  discharge_status=package.demographics.discharge_status),
        date_of_service=on.isoformat() if on else package.date_of_service,
        payer=payer or package.payer,
        place_of_service=package.place_of_service,
        procedures_billed=tuple(package.procedures_billed),
        codes=codes,
    )
