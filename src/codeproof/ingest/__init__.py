"""The ingest boundary: bytes -> the first :class:`~codeproof.model.Encounter`.

Formats: plain text (``.txt``), FHIR R4 JSON (``.json``: a DocumentReference
or a Bundle), HL7 v2 (``.hl7``: MDM/ORU with TX/FT OBX text) and C-CDA
(``.xml``). Ingest is not a pipeline stage: it validates once, at the edge, and
raises :class:`~codeproof.errors.IngestError` subclasses with stable codes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from codeproof.errors import IngestError, UnsupportedFormat
from codeproof.ingest._common import safe_id
from codeproof.ingest.cda import parse_cda
from codeproof.ingest.fhir import parse_fhir
from codeproof.ingest.hl7v2 import parse_hl7v2
from codeproof.ingest.text import parse_text
from codeproof.model import Encounter, Setting

__all__ = ["SUPPORTED_SUFFIXES", "iter_input_files", "parse_bytes", "parse_path"]

SUPPORTED_SUFFIXES = (".txt", ".json", ".hl7", ".xml")


def _sniff(data: bytes, content_type: str | None, name: str) -> str:
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype in {"application/fhir+json", "application/json"}:
        return "fhir"
    if ctype in {"text/plain"}:
        return "text"
    if ctype in {"x-application/hl7-v2+er7", "application/hl7-v2"}:
        return "hl7"
    if ctype in {"application/xml", "text/xml", "application/cda+xml"}:
        return "cda"
    suffix = Path(name).suffix.lower()
    if suffix == ".json":
        return "fhir"
    if suffix == ".hl7":
        return "hl7"
    if suffix == ".xml":
        return "cda"
    if suffix == ".txt":
        return "text"
    head = data.lstrip()[:5]
    if head.startswith(b"{"):
        return "fhir"
    if head.startswith(b"MSH|"):
        return "hl7"
    if head.startswith(b"<"):
        return "cda"
    if ctype and not ctype.startswith("text/"):
        raise UnsupportedFormat(f"{name}: unsupported content type {ctype!r}", input=name)
    return "text"


def parse_bytes(data: bytes, *, name: str, content_type: str | None = None,
                encounter_id: str | None = None, setting: Setting | None = None,
                tenant: str = "default", region: str = "US",
                pseudonymize: Callable[[str], str] | None = None) -> Encounter:
    """Parse ``data`` (text, FHIR R4 JSON, HL7 v2 or CDA) into an Encounter.

    ``pseudonymize`` maps a patient identifier found in the input (FHIR
    Patient.identifier, HL7 PID-3, CDA patientRole/id) to the encounter's
    ``subject``; the identifier itself is not kept.
    """
    kind = _sniff(data, content_type, name)
    if kind == "text":
        return parse_text(data, name=name, encounter_id=encounter_id,
                          setting=setting or "outpatient", tenant=tenant, region=region)
    parser = {"fhir": parse_fhir, "hl7": parse_hl7v2, "cda": parse_cda}[kind]
    return parser(data, name=name, encounter_id=encounter_id, setting=setting,
                  tenant=tenant, region=region, pseudonymize=pseudonymize)


def parse_path(path: Path, *, setting: Setting | None = None, tenant: str = "default",
               region: str = "US",
               pseudonymize: Callable[[str], str] | None = None) -> Encounter:
    """Parse one file; the encounter id is the file stem for every format.

    Using the stem for FHIR/HL7/CDA files too keeps ``DIR/<encounter_id>.json``
    predictable for batch users; the resource ids stay in the source record.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{path.name}: cannot read ({exc.strerror})", input=path.name) from exc
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise UnsupportedFormat(
            f"{path.name}: unsupported file type (expected {', '.join(SUPPORTED_SUFFIXES)})",
            input=path.name,
        )
    return parse_bytes(data, name=path.name, encounter_id=safe_id(path.stem, fallback="input"),
                       setting=setting, tenant=tenant, region=region,
                       pseudonymize=pseudonymize)


def iter_input_files(inputs: list[Path]) -> Iterator[Path]:
    """Expand files and folders (recursively, sorted) into input files."""
    for item in inputs:
        if item.is_dir():
            for path in sorted(item.rglob("*")):
                if path.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES:
                    yield path
        else:
            yield item

