"""ICD-10-CM -> ICD-11 MMS dual coding through the WHO ICD-10 -> ICD-11 tables.

The WHO publishes its mapping tables under its own licence (CC BY-ND 3.0 IGO), so
codeproof never ships them: the user points ``codeproof terminology build
--icd11-dir DIR`` at a folder holding

- ``10To11MapToOneCategory.txt`` (tab-separated; required): one ICD-11 target per
  WHO ICD-10 code (columns ``icd10Code``, ``icd11Code``, ``icd11Title``, ``Relation``,
  ``Match Type``...);
- ``10To11MapToMultipleCategories.xlsx`` or a ``.txt`` export of it (optional):
  every ICD-11 category a WHO ICD-10 code can map to.

The left side is WHO ICD-10, not ICD-10-CM (a clinical modification that adds
characters). An ICD-10-CM code is mapped through the longest WHO ICD-10 code
that is a prefix of it, and every target carries an ambiguity flag:

``exact``          the ICD-10-CM code is itself a WHO ICD-10 code with one target;
``one_to_many``    the WHO code has several ICD-11 targets (the user must choose);
``category_only``  only a truncated parent of the code exists in WHO ICD-10, so the
                   target is category-level (it may be broader than the CM code);
``none``           no WHO prefix exists or the WHO table gives no ICD-11 code.
"""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from codeproof.coding.codesets.codes import ICD10CM, normalize_code
from codeproof.errors import ReferenceDataError, ReferenceDataMissing

__all__ = [
    "ONE_CATEGORY_FILE",
    "Ambiguity",
    "Icd11Target",
    "WhoMap",
    "WhoMapping",
    "map_cm_code",
    "read_who_map",
]

Ambiguity = Literal["exact", "one_to_many", "category_only", "none"]

ONE_CATEGORY_FILE = "10To11MapToOneCategory.txt"
_MULTI_STEM = "10To11MapToMultipleCategories"
_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Icd11Target:
    """One ICD-11 MMS target of an ICD-10-CM code.

    ``code`` is "" when ``ambiguity == "none"`` (there is no target; ``via`` names
    the WHO code tried, or is "" when no WHO prefix exists). Post-coordinated
    targets keep the WHO form ("1A00&XN8P1").
    """

    code: str
    title: str
    ambiguity: Ambiguity
    via: str  # the WHO ICD-10 code the mapping went through
    relation: str = ""  # WHO relation of the one-category table (Equivalent, Subclass...)


@dataclass(frozen=True, slots=True, kw_only=True)
class WhoMapping:
    """The ICD-11 targets of one WHO ICD-10 code."""

    code: str  # WHO ICD-10, dotted like ICD-10-CM
    targets: tuple[tuple[str, str], ...]  # (icd11 code, icd11 title), first = one-category target
    relation: str = ""


WhoMap = Mapping[str, WhoMapping]


def _norm_who(code: str) -> str:
    code = code.strip().upper()
    return code if "-" in code else normalize_code(code, ICD10CM)


def _rows_txt(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t")
        header = next(reader, [])
        keys = _header_keys(header)
        for row in reader:
            yield {key: (row[i].strip() if i < len(row) else "") for key, i in keys.items()}


def _header_keys(header: list[str]) -> dict[str, int]:
    wanted = {"icd10code": "icd10", "icd11code": "icd11", "icd11title": "title",
              "relation": "relation", "10classkind": "kind"}
    keys: dict[str, int] = {}
    for i, name in enumerate(header):
        key = wanted.get(str(name or "").strip().lower())
        if key and key not in keys:
            keys[key] = i
    if "icd10" not in keys or "icd11" not in keys:
        raise ReferenceDataError("WHO mapping table lacks icd10Code/icd11Code columns")
    return keys


def _col_index(ref: str) -> int:
    index = 0
    for char in ref:
        if not char.isalpha():
            break
        index = index * 26 + ord(char.upper()) - 64
    return index - 1


def _rows_xlsx(path: Path) -> Iterator[dict[str, str]]:
    """Stream the first sheet of an .xlsx without a spreadsheet library (fast, no formulas)."""
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ReferenceDataError(f"cannot open {path.name}: {exc}", file=path.name) from exc
    with archive:
        shared: list[str] = []
        if "xl/sharedStrings.xml" in archive.namelist():
            with archive.open("xl/sharedStrings.xml") as handle:
                for _event, elem in ET.iterparse(handle):
                    if elem.tag == f"{_NS}si":
                        shared.append("".join(t.text or "" for t in elem.iter(f"{_NS}t")))
                        elem.clear()
        sheets = sorted(n for n in archive.namelist() if n.startswith("xl/worksheets/sheet"))
        if not sheets:
            raise ReferenceDataError(f"{path.name} has no worksheet", file=path.name)
        keys: dict[str, int] | None = None
        with archive.open(sheets[0]) as handle:
            for _event, elem in ET.iterparse(handle):
                if elem.tag != f"{_NS}row":
                    continue
                cells: dict[int, str] = {}
                for cell in elem.iter(f"{_NS}c"):
                    kind = cell.get("t")
                    if kind == "inlineStr":
                        value = "".join(t.text or "" for t in cell.iter(f"{_NS}t"))
                    else:
                        value = cell.findtext(f"{_NS}v") or ""
                        if kind == "s" and value:
                            value = shared[int(value)]
                    cells[_col_index(cell.get("r", "A"))] = value
                elem.clear()
                row = [cells.get(i, "") for i in range(max(cells, default=-1) + 1)]
                if keys is None:
                    keys = _header_keys(row)
                    continue
                yield {key: (row[i].strip() if i < len(row) else "") for key, i in keys.items()}


def read_who_map(directory: Path) -> dict[str, WhoMapping]:
    """Read the WHO ICD-10 -> ICD-11 tables from a user-supplied ``directory``."""
    one = directory / ONE_CATEGORY_FILE
    if not one.is_file():
        raise ReferenceDataMissing(
            f"{ONE_CATEGORY_FILE} not found in the ICD-11 directory {directory.name!r}",
            file=ONE_CATEGORY_FILE)
    first: dict[str, tuple[str, str, str]] = {}
    for row in _rows_txt(one):
        if not row.get("icd10"):
            continue
        first.setdefault(_norm_who(row["icd10"]),
                         (row["icd11"], row.get("title", ""), row.get("relation", "")))
    multi: dict[str, list[tuple[str, str]]] = {}
    multi_path = next((p for p in (directory / f"{_MULTI_STEM}.txt",
                                   directory / f"{_MULTI_STEM}.xlsx") if p.is_file()), None)
    if multi_path is not None:
        rows = _rows_txt(multi_path) if multi_path.suffix == ".txt" else _rows_xlsx(multi_path)
        for row in rows:
            if row.get("icd10") and row.get("icd11"):
                listed = multi.setdefault(_norm_who(row["icd10"]), [])
                pair = (row["icd11"], row.get("title", ""))
                if pair[0] not in {t[0] for t in listed}:
                    listed.append(pair)
    out: dict[str, WhoMapping] = {}
    for code, (target, title, relation) in first.items():
        targets: list[tuple[str, str]] = [(target, title)] if target else []
        for extra in multi.get(code, ()):
            if extra[0] not in {t[0] for t in targets}:
                targets.append(extra)
        out[code] = WhoMapping(code=code, targets=tuple(targets), relation=relation)
    return out


def map_cm_code(code: str, who: WhoMap, titles: Mapping[str, str] | None = None
                ) -> tuple[Icd11Target, ...]:
    """Map ICD-10-CM ``code`` to ICD-11 through the longest WHO ICD-10 prefix.

    ``titles`` (ICD-11 code -> MMS title) replaces the table's title for a plain
    stem code when given; post-coordinated targets keep the WHO table title.
    Returns one ``none`` entry when no target exists.
    """
    canonical = normalize_code(code, ICD10CM)
    bare = canonical.replace(".", "")
    via = ""
    for length in range(len(bare), 2, -1):
        candidate = normalize_code(bare[:length], ICD10CM)
        if candidate in who:
            via = candidate
            break
    mapping = who.get(via) if via else None
    if mapping is None or not mapping.targets:
        return (Icd11Target(code="", title="", ambiguity="none", via=via,
                            relation=mapping.relation if mapping else ""),)
    ambiguity: Ambiguity
    if via != canonical:
        ambiguity = "category_only"
    elif len(mapping.targets) > 1:
        ambiguity = "one_to_many"
    else:
        ambiguity = "exact"
    lookup = titles or {}
    return tuple(
        Icd11Target(code=target, title=lookup.get(target, title), ambiguity=ambiguity, via=via,
                    relation=mapping.relation if i == 0 else "")
        for i, (target, title) in enumerate(mapping.targets)
    )
