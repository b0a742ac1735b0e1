"""C-CDA / CDA R2 XML documents, parsed with a hardened lxml parser.

The parser resolves no entities, loads no DTD and never touches the network
(XXE-safe). The note text is built from the structured body: for each section,
its title on a line followed by the narrative text. Offsets of evidence index
that text. Sex and birth time come from ``recordTarget``; the setting from the
encompassing encounter's code (``IMP``/``ACUTE`` = inpatient).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from codeproof.errors import EmptyNote, MalformedInput
from codeproof.ingest._common import now_iso, require_text, safe_id, sha256_bytes
from codeproof.model import Demographics, Encounter, Note, Setting, SourceRef

__all__ = ["parse_cda"]

_NS = {"cda": "urn:hl7-org:v3"}


_BLOCKS = {"paragraph", "item", "tr", "br", "caption", "list", "table"}


def _text_of(element: Any) -> str:
    """Narrative text of a CDA ``<text>`` element, one line per block element."""
    from lxml import etree

    lines: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            lines.append(" ".join(current))
            current.clear()

    def walk(node: Any) -> None:
        local = etree.QName(node).localname if isinstance(node.tag, str) else ""
        if node.text and node.text.strip():
            current.append(" ".join(node.text.split()))
        for child in node:
            if isinstance(child.tag, str):
                walk(child)
            if child.tail and child.tail.strip():
                current.append(" ".join(child.tail.split()))
        if local in _BLOCKS:
            flush()

    walk(element)
    flush()
    return "\n".join(lines)


def _date(value: str | None) -> date | None:
    if not value or len(value) < 8 or not value[:8].isdigit():
        return None
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        return None


def parse_cda(data: bytes, *, name: str, encounter_id: str | None = None,
              setting: Setting | None = None, tenant: str = "default",
              region: str = "US",
              pseudonymize: Callable[[str], str] | None = None) -> Encounter:
    """Parse a CDA document into an Encounter with one note."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False, remove_comments=True)
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise MalformedInput(f"{name}: invalid XML (line {exc.lineno})", input=name) from exc
    if etree.QName(root).localname != "ClinicalDocument":
        raise MalformedInput(f"{name}: not a CDA ClinicalDocument", input=name)
    blocks: list[str] = []
    for section in root.iterfind(".//cda:structuredBody//cda:section", _NS):
        title = section.findtext("cda:title", default="", namespaces=_NS).strip()
        text_el = section.find("cda:text", _NS)
        body = _text_of(text_el).strip() if text_el is not None else ""
        if title or body:
            blocks.append(f"{title.upper()}:\n{body}" if title else body)
    if not blocks:
        nb = root.find(".//cda:nonXMLBody/cda:text", _NS)
        if nb is not None and (nb.get("mediaType") or "text/plain").startswith("text/"):
            blocks.append((nb.text or "").strip())
    if not any(b.strip() for b in blocks):
        raise EmptyNote(f"{name}: the CDA document has no narrative text", input=name)
    text = require_text("\n\n".join(blocks), name=name)
    gender = root.find(".//cda:recordTarget//cda:administrativeGenderCode", _NS)
    sex = {"M": "M", "F": "F"}.get((gender.get("code") or "").upper() if gender is not None
                                   else "", "U")
    birth_el = root.find(".//cda:recordTarget//cda:birthTime", _NS)
    birth = _date(birth_el.get("value")) if birth_el is not None else None
    enc = root.find(".//cda:componentOf/cda:encompassingEncounter", _NS)
    cda_setting: Setting | None = None
    service: date | None = None
    if enc is not None:
        code = enc.find("cda:code", _NS)
        if code is not None and code.get("code"):
            cda_setting = "inpatient" if code.get("code") in {"IMP", "ACUTE"} else "outpatient"
        low = enc.find("cda:effectiveTime/cda:low", _NS)
        service = _date(low.get("value")) if low is not None else None
    if service is None:
        eff = root.find("cda:effectiveTime", _NS)
        service = _date(eff.get("value")) if eff is not None else None
    age = None
    if birth and service:
        age = service.year - birth.year - ((service.month, service.day) < (birth.month, birth.day))
    id_el = root.find(".//cda:recordTarget/cda:patientRole/cda:id", _NS)
    patient_key = None
    if id_el is not None and id_el.get("extension"):
        patient_key = f"{id_el.get('root') or ''}|{id_el.get('extension')}"
    enc_id = encounter_id or safe_id(name.rsplit(".", 1)[0], fallback="cda")
    return Encounter(
        id=enc_id,
        source=SourceRef(format="cda", sha256=sha256_bytes(data), received_at=now_iso(),
                         name=name.rsplit("/", 1)[-1]),
        notes=(Note(id=enc_id, text=text, kind="CDA"),),
        setting=setting or cda_setting or "outpatient",
        demographics=Demographics(age=age, sex=sex),  # type: ignore[arg-type]
        date_of_service=service.isoformat() if service else None,
        subject=pseudonymize(patient_key) if pseudonymize and patient_key else "",
        tenant=tenant,
        region=region,
    )
