"""``describe_code``: everything the store knows about one code, as JSON-safe data.

``codeproof lookup`` prints it; the API can return it as is.
"""

from __future__ import annotations

from typing import Any

from codeproof.coding.codesets.codes import (
    CPT,
    HCPCS,
    ICD10CM,
    normalize_code,
    parse_code_references,
)
from codeproof.coding.codesets.store import NOTE_FIELDS, CodeInfo, InheritedNote, Terminology
from codeproof.errors import UnknownCode

__all__ = ["CPT_NOTICE", "HCPCS_NOTICE", "describe_code"]

CPT_NOTICE = ("CPT descriptor not available: CPT descriptors are AMA copyright and are not "
              "shipped; load a licensed file with `codeproof terminology build --cpt-file FILE`")
HCPCS_NOTICE = ("HCPCS Level II descriptor not available: validity is format-only; load the "
                "CMS file with `codeproof terminology build --hcpcs-file FILE`")

_MAX_SOURCES = 40
_VERSION_KEY = {ICD10CM: "icd10cm", "ICD-10-PCS": "icd10pcs", "ICD-11": "icd11.titles",
                CPT: "cpt", HCPCS: "hcpcs"}


def _brief(info: CodeInfo) -> dict[str, Any]:
    return {"code": info.code, "kind": info.kind, "title": info.title,
            "billable": info.billable}


def describe_code(terminology: Terminology, code: str, system: str | None = None
                  ) -> dict[str, Any]:
    """Return code, title, billable, hierarchy, notes (own + inherited), 7th chars, ICD-11.

    Raises :class:`UnknownCode` (CP-REF-003) when no system holds ``code``.
    """
    info = terminology.get(code, system) if system else terminology.find(code)
    if info is None:
        raise UnknownCode(f"{normalize_code(code)} is not a known ICD-10-CM, ICD-10-PCS, "
                          "ICD-11, CPT or HCPCS code", code=normalize_code(code))
    out: dict[str, Any] = {
        "system": info.system,
        "version": (terminology.versions.get(_VERSION_KEY.get(info.system, ""), "")
                    if info.listed else "format check only"),
        "code": info.code,
        "title": info.title,
        "kind": info.kind,
        "billable": info.billable,
        "listed": info.listed,
    }
    if not info.listed:
        out["notice"] = CPT_NOTICE if info.system == CPT else HCPCS_NOTICE
        return out
    ancestors = terminology.ancestors(info.code, info.system) if info.parent else ()
    out["ancestors"] = [_brief(a) for a in ancestors]
    children: list[dict[str, Any]] = []
    for child in info.children:
        try:
            children.append(_brief(terminology.get(child, info.system)))
        except UnknownCode:  # a block id shared with its only category
            children.append({"code": child, "kind": "", "title": "", "billable": False})
    out["children"] = children
    if info.system == ICD10CM:
        notes: dict[str, list[dict[str, Any]]] = {}
        for kind in NOTE_FIELDS:
            own_and_inherited = [
                {"text": n.text, "source": n.source, "source_kind": n.source_kind,
                 "inherited": n.inherited, "codes": list(n.codes)}
                for n in _notes(info, ancestors, kind)
            ]
            if own_and_inherited:
                notes[kind] = own_and_inherited
        out["notes"] = notes
        out["seventh_characters"] = [{"char": c, "meaning": m}
                                     for c, m in info.seventh_characters]
        out["seventh_character_source"] = info.seventh_character_source
        out["requires_seventh"] = info.requires_seventh
        out["icd11"] = [{"code": t.code, "title": t.title, "ambiguity": t.ambiguity,
                         "via": t.via, "relation": t.relation} for t in info.icd11]
        out["icd11_map"] = terminology.versions.get("icd11.map", "absent")
    elif info.system == "ICD-11":
        mapped = terminology.icd10cm_for_icd11(info.code)
        out["icd10cm_sources"] = list(mapped[:_MAX_SOURCES])
        out["icd10cm_sources_total"] = len(mapped)
    return out


def _notes(info: CodeInfo, ancestors: tuple[CodeInfo, ...], kind: str
           ) -> list[InheritedNote]:
    out: list[InheritedNote] = []
    for node in (info, *ancestors):
        for text in getattr(node, kind):
            out.append(InheritedNote(kind=kind, text=text, source=node.code,
                                     source_kind=node.kind, codes=parse_code_references(text),
                                     inherited=node is not info))
    return out
