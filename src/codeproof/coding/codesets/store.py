"""The compiled terminology store: ICD-10-CM, ICD-10-PCS, ICD-11, CPT and HCPCS.

Contract (others code against it):

- ``normalize_code(code, system=None) -> str``: canonical form; ICD-10-CM dotted
  upper-case ("e119" -> "E11.9"), PCS 7 upper-case characters, no dots.
- ``CodeInfo``: frozen dataclass with ``system``, ``code`` (canonical),
  ``title``, ``billable``, ``parent`` (canonical code or None), ``children``,
  ``depth``, ``chapter``, ``block``, ``inclusion_terms``, ``excludes1``,
  ``excludes2``, ``code_first``, ``use_additional``, ``code_also`` (the note
  texts, inherited notes NOT merged), ``excludes1_codes`` / ``excludes2_codes`` /
  ``code_first_codes`` / ``use_additional_codes`` / ``code_also_codes``
  (code references parsed out of the note texts, e.g. "(O24.4-)" -> "O24.4"),
  ``seventh_characters`` (tuple of (char, meaning)) and ``icd11`` (tuple of
  ICD-11 targets, empty when not built). Added: ``kind``, ``includes``,
  ``notes``, ``seventh_note``, ``seventh_character_source``,
  ``requires_seventh``, ``placeholder``, ``manifestation``, ``listed``.
- ``Terminology``: ``versions`` (dict component -> version, including source
  package versions and fiscal year), ``get(code, system="ICD-10-CM")`` (raises
  ``UnknownCode``), ``find(code)`` (infers the system; None if absent),
  ``exists``, ``ancestors(code)`` (CodeInfo tuple, nearest first, up to the
  chapter), ``notes_inherited(code, kind)`` (walks up: Excludes/code-first notes
  sit on ancestors; the code's own notes first), ``codes(system,
  billable_only=True)`` iterator of CodeInfo, ``texts(system)`` (fast
  ``(code, title, inclusion_terms)``), ``descendants(code)``, ``icd11_targets(code)``,
  ``icd10cm_for_icd11(code)``,
  ``with_seventh(code, char)``.
- ``build_terminology(reference_dir, *, icd11_dir=None, cpt_file=None,
  hcpcs_file=None) -> Path`` and ``load_terminology(reference_dir, *,
  build_if_missing=False) -> Terminology``.

Loading opens one read-only SQLite file and reads its ``versions`` table; every
code is read lazily by an indexed query, so loading takes milliseconds.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from codeproof.coding.codesets.build import (
    DB_NAME,
    FISCAL_YEAR,
    FORMAT_VERSION,
    build_terminology,
    store_dir,
)
from codeproof.coding.codesets.codes import (
    CPT,
    HCPCS,
    ICD10CM,
    ICD10PCS,
    ICD11,
    SYSTEMS,
    apply_seventh_character,
    is_valid_format,
    normalize_code,
    parse_code_references,
)
from codeproof.coding.codesets.icd11 import Icd11Target
from codeproof.errors import ReferenceDataError, ReferenceDataMissing, UnknownCode

__all__ = [
    "NOTE_FIELDS",
    "CodeInfo",
    "InheritedNote",
    "Terminology",
    "build_terminology",
    "load_terminology",
    "normalize_code",
]

logger = logging.getLogger(__name__)

#: Note kinds of :meth:`Terminology.notes_inherited` (CodeInfo field names).
NOTE_FIELDS: tuple[str, ...] = ("inclusion_terms", "includes", "excludes1", "excludes2",
                                "code_first", "use_additional", "code_also", "notes")

_CACHE_LIMIT = 300_000
_COLUMNS = ("id, system, code, kind, title, billable, parent_id, depth, chapter, block, "
            "children, notes, seventh_id, icd11, manifestation")


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeInfo:
    """One code (or chapter/block) of a code system, with its own tabular notes.

    Notes are the node's OWN notes; use :meth:`Terminology.notes_inherited` for
    the notes of its ancestors too. ``seventh_characters`` is the 7th-character
    table in effect (own or inherited, from ``seventh_character_source``).
    ``listed`` is False for CPT/HCPCS codes known by their format only.
    """

    system: str
    code: str
    title: str
    billable: bool
    kind: str = "code"
    parent: str | None = None
    children: tuple[str, ...] = ()
    depth: int = 0
    chapter: str = ""
    block: str = ""
    inclusion_terms: tuple[str, ...] = ()
    includes: tuple[str, ...] = ()
    excludes1: tuple[str, ...] = ()
    excludes2: tuple[str, ...] = ()
    code_first: tuple[str, ...] = ()
    use_additional: tuple[str, ...] = ()
    code_also: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    seventh_note: tuple[str, ...] = ()
    excludes1_codes: tuple[str, ...] = ()
    excludes2_codes: tuple[str, ...] = ()
    code_first_codes: tuple[str, ...] = ()
    use_additional_codes: tuple[str, ...] = ()
    code_also_codes: tuple[str, ...] = ()
    seventh_characters: tuple[tuple[str, str], ...] = ()
    seventh_character_source: str | None = None
    requires_seventh: bool = False  # a header that needs a 7th character to be billable
    placeholder: bool = False
    manifestation: bool = False  # "in diseases classified elsewhere": never first-listed
    icd11: tuple[Icd11Target, ...] = ()
    listed: bool = True  # False: CPT/HCPCS code known by format only (no file loaded)


@dataclass(frozen=True, slots=True, kw_only=True)
class InheritedNote:
    """A tabular note in effect for a code, and the code (or block/chapter) it sits on."""

    kind: str  # one of NOTE_FIELDS
    text: str
    source: str  # code, block id or chapter number carrying the note
    source_kind: str  # chapter | block | category | subcategory | extension
    codes: tuple[str, ...]  # references parsed from the text ("O24.4", "E08-E13")
    inherited: bool  # False when the note sits on the code itself


def _refs(texts: tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for text in texts:
        for ref in parse_code_references(text):
            if ref not in out:
                out.append(ref)
    return tuple(out)


class Terminology:
    """Read-only access to a compiled store; safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        uri = self.path.resolve().as_uri() + "?mode=ro&immutable=1"
        try:
            self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
            self.versions: dict[str, str] = dict(
                self._db.execute("SELECT key, value FROM versions"))
        except sqlite3.Error as exc:
            raise ReferenceDataError(f"cannot open the terminology store {self.path.name}: "
                                     f"{exc}; rebuild with `codeproof terminology build`",
                                     file=self.path.name) from exc
        self._lock = threading.Lock()
        self._seventh: dict[int, tuple[str, tuple[tuple[str, str], ...]]] | None = None
        self._cache: dict[int, CodeInfo] = {}  # row id -> CodeInfo
        self._parent_ids: dict[int, int | None] = {}  # row id -> parent row id
        self._keys: dict[tuple[str, str, str | None], int | None] = {}  # lookup -> row id
        self._ancestors: dict[int, tuple[CodeInfo, ...]] = {}
        self._icd11: dict[str, tuple[Icd11Target, ...]] = {}  # JSON -> targets (shared)
        self._listed: dict[str, bool] = {}

    # -- lifecycle -----------------------------------------------------------------
    def close(self) -> None:
        """Close the SQLite connection."""
        self._db.close()

    def __enter__(self) -> Terminology:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        digest = self.versions.get("content_digest", "")[:19]
        return f"Terminology({self.path.parent.name!r}, {digest})"

    # -- queries ---------------------------------------------------------------------
    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _seventh_table(self) -> dict[int, tuple[str, tuple[tuple[str, str], ...]]]:
        if self._seventh is None:
            rows = self._query("SELECT id, code, seventh FROM codes WHERE seventh IS NOT NULL", ())
            self._seventh = {
                row[0]: (row[1], tuple((c, m) for c, m in json.loads(row[2]))) for row in rows
            }
        return self._seventh

    def _has_listed(self, system: str) -> bool:
        if system not in self._listed:
            self._listed[system] = bool(self._query(
                "SELECT 1 FROM codes WHERE system=? LIMIT 1", (system,)))
        return self._listed[system]

    def _info(self, row: tuple[Any, ...], parents: dict[int, str] | None = None) -> CodeInfo:
        cached = self._cache.get(row[0])
        if cached is not None:
            return cached
        parent_id = row[6]
        parent = None
        if parent_id is not None:
            if parents is not None and parent_id in parents:
                parent = parents[parent_id]
            elif parent_id in self._cache:
                parent = self._cache[parent_id].code
            else:
                found = self._query("SELECT code FROM codes WHERE id=?", (parent_id,))
                parent = found[0][0] if found else None
        info = self._make(row, parent)
        if len(self._cache) < _CACHE_LIMIT:
            self._cache[row[0]] = info
            self._parent_ids[row[0]] = parent_id
        return info

    def _by_id(self, row_id: int) -> tuple[CodeInfo, int | None] | None:
        if row_id in self._cache:
            return self._cache[row_id], self._parent_ids.get(row_id)
        rows = self._query(f"SELECT {_COLUMNS} FROM codes WHERE id=?", (row_id,))
        return (self._info(rows[0]), rows[0][6]) if rows else None

    def _make(self, row: tuple[Any, ...], parent: str | None) -> CodeInfo:
        (_row_id, system, code, kind, title, billable, _parent_id, depth, chapter, block,
         children, notes_json, seventh_id, icd11_json, manifestation) = row
        seventh_source: str | None = None
        seventh: tuple[tuple[str, str], ...] = ()
        if seventh_id is not None:
            seventh_source, seventh = self._seventh_table().get(seventh_id, (None, ()))
        icd11: tuple[Icd11Target, ...] = ()
        if icd11_json:
            icd11 = self._icd11.get(icd11_json, ())
            if not icd11:
                icd11 = tuple(Icd11Target(code=c, title=t, ambiguity=a, via=v, relation=r)
                              for c, t, a, v, r in json.loads(icd11_json))
                self._icd11[icd11_json] = icd11
        common: dict[str, Any] = {}
        if notes_json:
            notes: dict[str, list[str]] = json.loads(notes_json)
            for name, texts in notes.items():
                common[name] = tuple(texts)
            for name in ("excludes1", "excludes2", "code_first", "use_additional", "code_also"):
                if name in notes:
                    common[f"{name}_codes"] = _refs(common[name])
        return CodeInfo(
            system=system, code=code, title=title, billable=bool(billable), kind=kind,
            parent=parent, children=tuple(children.split()) if children else (), depth=depth,
            chapter=chapter, block=block,
            seventh_characters=seventh, seventh_character_source=seventh_source,
            requires_seventh=seventh_id is not None and kind != "extension",
            placeholder=system == ICD10CM and "X" in code[3:],
            manifestation=bool(manifestation), icd11=icd11, **common,
        )

    def _rows_for(self, code: str, system: str) -> list[tuple[Any, ...]]:
        return self._query(f"SELECT {_COLUMNS} FROM codes WHERE code=? AND system=? ORDER BY id",
                           (code, system))

    def _row(self, code: str, system: str, kind: str | None) -> tuple[Any, ...] | None:
        rows = self._rows_for(normalize_code(code, system), system)
        if kind is not None:
            rows = [r for r in rows if r[3] == kind]
        else:  # a block sharing its id with a category (B20, F99...) loses to the code
            rows.sort(key=lambda r: r[3] in ("block", "chapter"))
        return rows[0] if rows else None

    def _lookup(self, code: str, system: str, kind: str | None) -> int | None:
        """Return the row id of ``code`` (cached, misses included); its CodeInfo is cached."""
        key = (system, normalize_code(code, system), kind)
        if key in self._keys:
            row_id = self._keys[key]
            if row_id is None or row_id in self._cache:
                return row_id
        row = self._row(key[1], system, kind)
        row_id = None if row is None else row[0]
        if row is not None:
            self._info(row)
        if len(self._keys) < _CACHE_LIMIT:
            self._keys[key] = row_id
        return row_id

    def _get_row_info(self, code: str, system: str, kind: str | None) -> CodeInfo | None:
        row_id = self._lookup(code, system, kind)
        if row_id is None:
            return None
        found = self._by_id(row_id)
        return found[0] if found else None

    def get(self, code: str, system: str = ICD10CM, *, kind: str | None = None) -> CodeInfo:
        """Return the code; raise :class:`UnknownCode` (CP-REF-003) when it is not in the set.

        ``kind="block"`` picks the block where a block shares its id with a code
        (B20, F99, P84, R99, Z66...). Without a loaded CPT/HCPCS file, a code of
        valid format is returned with ``listed=False`` and an empty title.
        """
        if system not in SYSTEMS:
            raise UnknownCode(f"unknown code system {system!r}; known: {', '.join(SYSTEMS)}",
                              system=system)
        info = self._get_row_info(code, system, kind)
        if info is not None:
            return info
        canonical = normalize_code(code, system)
        if system in (CPT, HCPCS) and not self._has_listed(system) and \
                is_valid_format(canonical, system):
            return CodeInfo(system=system, code=canonical, title="", billable=True,
                            listed=False)
        article = "an" if system.startswith(("I", "H")) else "a"
        raise UnknownCode(f"{canonical} is not {article} {system} code in "
                          f"{self.versions.get(_VERSION_KEY.get(system, ''), 'this store')}",
                          code=canonical, system=system)

    def exists(self, code: str, system: str = ICD10CM) -> bool:
        """Return True when :meth:`get` would succeed."""
        try:
            self.get(code, system)
        except UnknownCode:
            return False
        return True

    def find(self, code: str) -> CodeInfo | None:
        """Find ``code`` in any system; None when absent.

        Order: ICD-10-CM, ICD-10-PCS, ICD-11, listed HCPCS, listed CPT; then, for
        an undotted code and only when no file of that system was loaded, a
        format-only CPT or HCPCS code (``listed=False``).
        """
        for system in (ICD10CM, ICD10PCS, ICD11, HCPCS, CPT):
            try:
                if is_valid_format(code, system) or (system == ICD10CM and "-" in code) \
                        or (system == ICD10CM and code.strip().isdigit()):
                    info = self._get_row_info(code, system, None)
                    if info is not None:
                        return info
            except UnknownCode:
                return None
        if "." in code:  # a dotted code is ICD-10-CM/ICD-11, never a format-only CPT/HCPCS
            return None
        for system in (CPT, HCPCS):
            if is_valid_format(code, system) and not self._has_listed(system):
                return self.get(code, system)
        return None

    def title(self, code: str, system: str = ICD10CM) -> str:
        """Return the title of ``code`` ("" for a CPT code without a licensed file)."""
        return self.get(code, system).title

    def ancestors(self, code: str, system: str = ICD10CM) -> tuple[CodeInfo, ...]:
        """Return the ancestors of ``code``, nearest first, up to the chapter."""
        row_id = self._lookup(code, system, None)
        if row_id is None:
            raise UnknownCode(f"{normalize_code(code, system)} is not in {system}",
                              code=code, system=system)
        if row_id in self._ancestors:
            return self._ancestors[row_id]
        out: list[CodeInfo] = []
        found = self._by_id(row_id)
        parent_id = found[1] if found else None
        while parent_id is not None:
            step = self._by_id(parent_id)
            if step is None:
                break
            out.append(step[0])
            parent_id = step[1]
        result = tuple(out)
        if len(self._ancestors) < _CACHE_LIMIT:
            self._ancestors[row_id] = result
        return result

    def descendants(self, code: str, system: str = ICD10CM, *, billable_only: bool = True
                    ) -> tuple[CodeInfo, ...]:
        """Return the codes below ``code`` in tabular order (billable ones by default).

        ``descendants("E11.6")`` -> E11.61x, E11.62x, ..., E11.69; for a block
        ("E08-E13") or chapter the codes it contains. Raises UnknownCode when absent.
        """
        info = self.get(code, system)
        if info.kind in ("block", "chapter"):
            column, value = ("block", info.code) if info.kind == "block" else ("chapter",
                                                                                 info.chapter)
            sql = (f"SELECT {_COLUMNS} FROM codes WHERE system=? AND {column}=? "
                   "AND kind NOT IN ('block', 'chapter')")
            params: tuple[Any, ...] = (system, value)
        else:
            upper = info.code[:-1] + chr(ord(info.code[-1]) + 1)  # prefix range: uses the index
            sql = (f"SELECT {_COLUMNS} FROM codes WHERE code > ? AND code < ? AND system=? "
                   "AND kind NOT IN ('block', 'chapter')")
            params = (info.code, upper, system)
        if billable_only:
            sql += " AND billable=1"
        rows = self._query(sql + " ORDER BY id", params)
        return tuple(self._info(row) for row in rows)

    def notes_inherited(self, code: str, kind: str, system: str = ICD10CM
                        ) -> tuple[InheritedNote, ...]:
        """Return the ``kind`` notes in effect for ``code``: its own, then its ancestors'.

        ``kind`` is one of :data:`NOTE_FIELDS`. ICD-10-CM notes at a category,
        block or chapter apply to every code below it (tabular conventions).
        """
        if kind not in NOTE_FIELDS:
            raise ReferenceDataError(f"unknown note kind {kind!r}; known: "
                                     f"{', '.join(NOTE_FIELDS)}", kind=kind)
        info = self.get(code, system)
        out: list[InheritedNote] = []
        for node in (info, *self.ancestors(code, system)):
            texts: tuple[str, ...] = getattr(node, kind)
            for text in texts:
                out.append(InheritedNote(kind=kind, text=text, source=node.code,
                                         source_kind=node.kind,
                                         codes=parse_code_references(text),
                                         inherited=node is not info))
        return tuple(out)

    def icd11_targets(self, code: str) -> tuple[Icd11Target, ...]:
        """Return the ICD-11 targets of an ICD-10-CM code (empty when the map was not built)."""
        return self.get(code, ICD10CM).icd11

    def icd10cm_for_icd11(self, code: str, *, billable_only: bool = True) -> tuple[str, ...]:
        """Return the ICD-10-CM codes whose ICD-11 targets include ``code`` (reverse map).

        Empty when the map was not built. Scans the map column (tens of milliseconds).
        """
        target = normalize_code(code, ICD11)
        sql = ("SELECT code FROM codes WHERE system=? AND icd11 LIKE ? ESCAPE '\\'")
        if billable_only:
            sql += " AND billable=1"
        escaped = target.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self._query(sql + " ORDER BY id", (ICD10CM, f'%["{escaped}",%'))
        return tuple(row[0] for row in rows)

    def with_seventh(self, code: str, char: str) -> CodeInfo:
        """Return ``code`` extended with 7th character ``char`` (placeholder X added).

        Raises :class:`UnknownCode` when the extended code does not exist.
        """
        return self.get(apply_seventh_character(code, char), ICD10CM)

    def codes(self, system: str = ICD10CM, billable_only: bool = True) -> Iterator[CodeInfo]:
        """Iterate the codes of ``system`` in tabular order (billable ones by default)."""
        sql = f"SELECT {_COLUMNS} FROM codes WHERE system=?"
        if billable_only:
            sql += " AND billable=1"
        rows = self._query(sql + " ORDER BY id", (system,))
        parents = dict(self._query(
            "SELECT id, code FROM codes WHERE system=? AND id IN "
            "(SELECT DISTINCT parent_id FROM codes WHERE system=?)", (system, system)))
        for row in rows:
            yield self._info(row, parents)

    def texts(self, system: str = ICD10CM, billable_only: bool = True
              ) -> Iterator[tuple[str, str, tuple[str, ...]]]:
        """Iterate ``(code, title, inclusion_terms)`` fast (no CodeInfo objects built).

        For retrievers that index every title and inclusion term: ~10x faster than
        :meth:`codes` over the 74,719 billable ICD-10-CM codes.
        """
        sql = "SELECT code, title, notes FROM codes WHERE system=?"
        if billable_only:
            sql += " AND billable=1"
        for code, title, notes_json in self._query(sql + " ORDER BY id", (system,)):
            terms: tuple[str, ...] = ()
            if notes_json and '"inclusion_terms"' in notes_json:
                terms = tuple(json.loads(notes_json)["inclusion_terms"])
            yield code, title, terms


_VERSION_KEY = {ICD10CM: "icd10cm", ICD10PCS: "icd10pcs", ICD11: "icd11.titles", CPT: "cpt",
                HCPCS: "hcpcs"}


def load_terminology(reference_dir: Path | str, *, build_if_missing: bool = False,
                     fiscal_year: int = FISCAL_YEAR) -> Terminology:
    """Open the compiled store under ``reference_dir`` (building it first if asked).

    Raises :class:`ReferenceDataMissing` (CP-REF-002) when it is absent and
    ``build_if_missing`` is False, and :class:`ReferenceDataError` (CP-REF-001)
    when it was compiled by an incompatible codeproof version.
    """
    folder = store_dir(Path(reference_dir), fiscal_year)
    database = folder / DB_NAME
    if not database.is_file():
        if not build_if_missing:
            raise ReferenceDataMissing(
                f"no compiled terminology for FY{fiscal_year} in {Path(reference_dir)}; run "
                "`codeproof terminology build`", fiscal_year=fiscal_year)
        logger.info("terminology store missing: building %s", folder.name)
        build_terminology(reference_dir, fiscal_year=fiscal_year)
    terminology = Terminology(database)
    found = terminology.versions.get("terminology.format")
    if found != FORMAT_VERSION:
        terminology.close()
        if not build_if_missing:
            raise ReferenceDataError(
                f"terminology store format {found} != {FORMAT_VERSION}; rebuild with "
                "`codeproof terminology build`", found=found or "", expected=FORMAT_VERSION)
        logger.info("terminology store format %s is stale: rebuilding", found)
        build_terminology(reference_dir, fiscal_year=fiscal_year)
        terminology = Terminology(database)
    return terminology
