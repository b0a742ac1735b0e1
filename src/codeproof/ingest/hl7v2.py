"""HL7 v2 messages (MDM^T02, ORU^R01) carrying clinical text in OBX segments.

The note text is the OBX-5 values of TX/FT/ST/CE-free text observations in
order, joined by newlines, with HL7 escape sequences decoded (``\\.br\\`` is a
line break). Offsets of evidence index that extracted text, which is what the
package stores (its digest) and the HTML shows. PID gives sex and birth date
(for age), PV1-2 the patient class (``I`` is inpatient), PV1-36 the discharge
disposition; identifiers are not kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from codeproof.errors import EmptyNote, MalformedInput
from codeproof.ingest._common import decode_text, now_iso, require_text, safe_id, sha256_bytes
from codeproof.model import Demographics, Encounter, Note, Setting, SourceRef

__all__ = ["parse_hl7v2"]

_TEXT_TYPES = {"TX", "FT", "ST"}
_SEGMENT_RE = re.compile(r"^[A-Z][A-Z0-9]{2}$")


def _unescape(value: str, *, component: str, repetition: str, escape: str, sub: str) -> str:
    if not escape:
        return value
    table = {
        "F": "|", "S": component, "R": repetition, "E": escape, "T": sub,
        ".br": "\n", "X0A": "\n", "X0D": "",
    }
    pattern = re.compile(re.escape(escape) + r"(\.br|X0A|X0D|[FSRET])" + re.escape(escape))
    return pattern.sub(lambda m: table[m.group(1)], value)


def _hl7_date(value: str) -> date | None:
    digits = value[:8]
    if len(digits) == 8 and digits.isdigit():
        try:
            return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
        except ValueError:
            return None
    return None


def parse_hl7v2(data: bytes, *, name: str, encounter_id: str | None = None,
                setting: Setting | None = None, tenant: str = "default",
                region: str = "US",
                pseudonymize: Callable[[str], str] | None = None) -> Encounter:
    """Parse an HL7 v2 message into an Encounter (one note from its OBX text)."""
    raw = decode_text(data, name=name)
    segments = [s for s in re.split(r"\r\n|\r|\n", raw) if s.strip()]
    if not segments or not segments[0].startswith("MSH") or len(segments[0]) < 8:
        raise MalformedInput(f"{name}: HL7 v2 message must start with an MSH segment",
                             input=name)
    field_sep = segments[0][3]
    encoding = segments[0][4:8]
    component, repetition, escape, sub = (list(encoding) + ["", "", "", ""])[:4]
    lines: list[str] = []
    birth: date | None = None
    sex = "U"
    hl7_setting: Setting | None = None
    discharge: str | None = None
    service: date | None = None
    patient_key: str | None = None
    for index, segment in enumerate(segments, 1):
        fields = segment.split(field_sep)
        seg_id = fields[0]
        if not _SEGMENT_RE.match(seg_id):
            raise MalformedInput(f"{name}: segment {index} has an invalid id", input=name,
                                 segment=index)
        if seg_id == "PID":
            if len(fields) > 3 and fields[3]:
                first = fields[3].split(repetition)[0] if repetition else fields[3]
                parts = first.split(component) if component else [first]
                authority = parts[3] if len(parts) > 3 else ""
                if parts[0]:
                    patient_key = f"{authority}|{parts[0]}"
            if len(fields) > 7:
                birth = _hl7_date(fields[7])
            if len(fields) > 8:
                sex = {"M": "M", "F": "F"}.get(fields[8][:1].upper(), "U")
        elif seg_id == "PV1":
            if len(fields) > 2 and fields[2]:
                hl7_setting = "inpatient" if fields[2][:1].upper() == "I" else "outpatient"
            if len(fields) > 36 and fields[36]:
                discharge = fields[36]
            if len(fields) > 44 and fields[44]:
                service = _hl7_date(fields[44])
        elif seg_id == "OBX" and len(fields) > 5 and fields[2] in _TEXT_TYPES:
            for rep in fields[5].split(repetition) if repetition else [fields[5]]:
                lines.append(_unescape(rep, component=component, repetition=repetition,
                                       escape=escape, sub=sub))
    if not lines:
        raise EmptyNote(f"{name}: no TX/FT/ST OBX text in the HL7 message", input=name)
    text = require_text("\n".join(lines), name=name)
    enc_id = encounter_id or safe_id(name.rsplit(".", 1)[0], fallback="hl7")
    age = None
    if birth is not None and service is not None:
        age = service.year - birth.year - ((service.month, service.day) < (birth.month, birth.day))
    return Encounter(
        id=enc_id,
        source=SourceRef(format="hl7v2", sha256=sha256_bytes(data), received_at=now_iso(),
                         name=name.rsplit("/", 1)[-1]),
        notes=(Note(id=enc_id, text=text),),
        setting=setting or hl7_setting or "outpatient",
        demographics=Demographics(age=age, sex=sex,  # type: ignore[arg-type]
                                  discharge_status=discharge),
        date_of_service=service.isoformat() if service else None,
        subject=pseudonymize(patient_key) if pseudonymize and patient_key else "",
        tenant=tenant,
        region=region,
    )
