"""NCCI procedure-to-procedure (PTP) and MUE edits, plus the modifier check.

Loaders read the CMS public file layouts (code numbers only; never AMA CPT
descriptors):

- PTP (practitioner and hospital/outpatient; same layout), tab-separated text or
  CSV: ``Column 1``, ``Column 2``, ``*=in existence prior to 1996``,
  ``Effective Date`` (YYYYMMDD), ``Deletion Date`` (YYYYMMDD or ``*``),
  ``Modifier`` (0 not allowed, 1 allowed, 9 not applicable), ``PTP Edit
  Rationale``. Copyright/header lines before the data are skipped.
- MUE (practitioner, outpatient hospital, DME): ``HCPCS/CPT Code``, ``MUE
  Value``, ``MUE Adjudication Indicator`` (``1 Line Edit``, ``2 Date of
  Service Edit: Policy``, ``3 Date of Service Edit: Clinical``), ``MUE
  Rationale``.

An edit is in effect when ``effective <= date < deletion``: CMS deletes an
edit *as of* its deletion date (a retroactively deleted edit has
deletion == effective and never applied).
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import threading
import weakref
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import ClassVar, Literal, Protocol

from codeproof.errors import MalformedPack
from codeproof.model import RuleFinding
from codeproof.rules.base import ClaimLine, ClaimView, RuleContext, finding

__all__ = [
    "MODIFIERS_NCCI",
    "ModifierRules",
    "MueEdit",
    "NcciRules",
    "NcciSource",
    "NcciStore",
    "NcciTables",
    "PtpEdit",
    "compile_ncci",
    "is_em",
    "load_mue",
    "load_ptp",
]

Kind = Literal["practitioner", "hospital"]
_CODE = re.compile(r"^[0-9A-Z]{4}[0-9A-Z]$")
_DATE = re.compile(r"^\d{8}$")
PACK_PTP = "cms.ncci.ptp"
PACK_MUE = "cms.ncci.mue"
PACK_MOD = "cms.ncci.modifiers"
_CITE_PTP = "CMS NCCI Policy Manual for Medicare Services, Ch. I (PTP edits)"
_CITE_MUE = "CMS NCCI Medically Unlikely Edits (MUE)"

#: NCCI-associated modifiers that may bypass a PTP edit with indicator 1.
MODIFIERS_NCCI = frozenset({
    "E1", "E2", "E3", "E4", "FA", "F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "F9",
    "LC", "LD", "LM", "RC", "RI", "LT", "RT", "TA", "T1", "T2", "T3", "T4", "T5", "T6",
    "T7", "T8", "T9", "24", "25", "57", "58", "78", "79", "27", "59", "91",
    "XE", "XS", "XP", "XU",
})
_X = frozenset({"XE", "XS", "XP", "XU"})
_REPEAT = frozenset({"76", "77", "91", "59", *_X, "LT", "RT", "50"})


def is_em(code: str) -> bool:
    """True for E/M service codes (99202-99499)."""
    return code.isdigit() and 99202 <= int(code) <= 99499


@dataclass(frozen=True, slots=True)
class PtpEdit:
    """One PTP edit row."""

    column1: str
    column2: str
    effective: date
    deletion: date | None
    modifier: Literal[0, 1, 9]
    rationale: str = ""

    def in_effect(self, on: date | None) -> bool:
        """``effective <= on < deletion`` (unknown date: current edits only)."""
        if on is None:
            return self.deletion is None
        return self.effective <= on and (self.deletion is None or on < self.deletion)


@dataclass(frozen=True, slots=True)
class MueEdit:
    """One MUE row."""

    code: str
    value: int
    mai: Literal[1, 2, 3]
    rationale: str = ""


@dataclass(slots=True)
class NcciTables:
    """Loaded PTP and MUE tables by claim type (practitioner / hospital)."""

    ptp: dict[Kind, dict[tuple[str, str], tuple[PtpEdit, ...]]] = field(
        default_factory=lambda: {"practitioner": {}, "hospital": {}})
    mue: dict[Kind, dict[str, MueEdit]] = field(
        default_factory=lambda: {"practitioner": {}, "hospital": {}})
    sources: list[str] = field(default_factory=list)

    def add_ptp(self, kind: Kind, edits: Iterable[PtpEdit], source: str) -> None:
        """Add PTP rows of ``kind``."""
        table = self.ptp[kind]
        for edit in edits:
            key = (edit.column1, edit.column2)
            table[key] = (*table.get(key, ()), edit)
        self.sources.append(source)

    def add_mue(self, kind: Kind, edits: Iterable[MueEdit], source: str) -> None:
        """Add MUE rows of ``kind``."""
        self.mue[kind].update({e.code: e for e in edits})
        self.sources.append(source)

    @property
    def empty(self) -> bool:
        """True when nothing is loaded."""
        return not any(self.ptp.values()) and not any(self.mue.values())

    def ptp_for(self, kind: Kind, codes: Iterable[str]
                ) -> dict[tuple[str, str], tuple[PtpEdit, ...]]:
        """Every PTP edit between two of ``codes`` (one lookup per ordered pair)."""
        table = self.ptp[kind]
        unique = sorted(set(codes))
        return {(a, b): table[(a, b)] for a in unique for b in unique
                if a != b and (a, b) in table}

    def mue_for(self, kind: Kind, codes: Iterable[str]) -> dict[str, MueEdit]:
        """The MUE rows of ``codes``."""
        table = self.mue[kind]
        return {c: table[c] for c in set(codes) if c in table}

    @staticmethod
    def open(directory: Path) -> NcciSource:
        """The compiled ``ncci.sqlite`` in ``directory`` when present, else its text files."""
        compiled = directory / NCCI_DB
        if compiled.is_file():
            return NcciStore(compiled)
        return NcciTables.from_dir(directory)

    @classmethod
    def from_dir(cls, directory: Path) -> NcciTables:
        """Load every ``*.txt``/``*.csv`` under ``directory``.

        The layout (PTP or MUE) is detected from the rows; files whose name holds
        ``hosp``, ``oph`` or ``outpatient`` are hospital tables, others practitioner.
        """
        tables = cls()
        for path, kind, layout, text in _source_files(directory):
            if layout == "mue":
                tables.add_mue(kind, load_mue(text, source=path.name), path.name)
            else:
                tables.add_ptp(kind, load_ptp(text, source=path.name), path.name)
        return tables


def _source_files(directory: Path) -> Iterable[tuple[Path, Kind, str, str]]:
    """(path, kind, "ptp"|"mue", text) of every CMS file under ``directory``."""
    for path in sorted(directory.rglob("*")):
        if path.suffix.lower() not in (".txt", ".csv"):
            continue
        name = path.name.lower()
        kind: Kind = "hospital" if any(k in name for k in ("hosp", "oph", "outpatient")) \
            else "practitioner"
        text = path.read_text(encoding="utf-8", errors="replace")
        layout = "mue" if "mue" in name or _looks_like_mue(text) else "ptp"
        yield path, kind, layout, text


NCCI_DB = "ncci.sqlite"


class NcciSource(Protocol):
    """What the NCCI rules query: in-memory tables or the compiled store."""

    sources: list[str]

    def ptp_for(self, kind: Kind, codes: Iterable[str]
                ) -> dict[tuple[str, str], tuple[PtpEdit, ...]]:
        """Every PTP edit between two of ``codes``."""
        ...

    def mue_for(self, kind: Kind, codes: Iterable[str]) -> dict[str, MueEdit]:
        """The MUE rows of ``codes``."""
        ...


def _day(value: int | None) -> date | None:
    if value is None:
        return None
    return date(value // 10000, value // 100 % 100, value % 100)


class NcciStore:
    """A compiled, indexed SQLite copy of the CMS files (``codeproof rules import-ncci``).

    The full practitioner PTP file has millions of rows; parsing it at each start
    takes long and holds it all in memory. The store is opened read-only and each
    claim costs one indexed query for its PTP pairs and one for its MUE rows.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock:
            self.sources = [r[0] for r in self._db.execute("SELECT name FROM sources")]
        weakref.finalize(self, self._db.close)

    def ptp_for(self, kind: Kind, codes: Iterable[str]
                ) -> dict[tuple[str, str], tuple[PtpEdit, ...]]:
        """Every PTP edit between two of ``codes`` (one indexed query)."""
        unique = sorted(set(codes))
        if len(unique) < 2:
            return {}
        marks = ",".join("?" * len(unique))
        with self._lock:
            rows = self._db.execute(
                f"SELECT col1, col2, effective, deletion, modifier, rationale FROM ptp "
                f"WHERE kind=? AND col1 IN ({marks}) AND col2 IN ({marks})",
                (kind, *unique, *unique)).fetchall()
        out: dict[tuple[str, str], tuple[PtpEdit, ...]] = {}
        for c1, c2, eff, dele, mod, why in rows:
            edit = PtpEdit(c1, c2, _day(eff) or date.min, _day(dele), mod, why)
            out[(c1, c2)] = (*out.get((c1, c2), ()), edit)
        return out

    def mue_for(self, kind: Kind, codes: Iterable[str]) -> dict[str, MueEdit]:
        """The MUE rows of ``codes`` (one indexed query)."""
        unique = sorted(set(codes))
        if not unique:
            return {}
        marks = ",".join("?" * len(unique))
        with self._lock:
            rows = self._db.execute(
                f"SELECT code, value, mai, rationale FROM mue WHERE kind=? AND code IN ({marks})",
                (kind, *unique)).fetchall()
        return {code: MueEdit(code, value, mai, why) for code, value, mai, why in rows}


def compile_ncci(source_dir: Path, database: Path) -> dict[str, int]:
    """Compile the CMS PTP/MUE files under ``source_dir`` into ``database`` (replaced).

    Writes to a temporary file and renames it into place, so readers never see a
    half-written store. Returns row counts per table and kind.
    """
    database.parent.mkdir(parents=True, exist_ok=True)
    tmp = database.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    counts: dict[str, int] = {}
    db = sqlite3.connect(tmp)
    try:
        db.executescript(
            "CREATE TABLE ptp (kind TEXT, col1 TEXT, col2 TEXT, effective INTEGER, "
            "deletion INTEGER, modifier INTEGER, rationale TEXT);"
            "CREATE TABLE mue (kind TEXT, code TEXT, value INTEGER, mai INTEGER, "
            "rationale TEXT, PRIMARY KEY (kind, code));"
            "CREATE TABLE sources (name TEXT);")

        def num(day: date | None) -> int | None:
            return None if day is None else day.year * 10000 + day.month * 100 + day.day

        for path, kind, layout, text in _source_files(source_dir):
            if layout == "mue":
                mue_rows = [(kind, e.code, e.value, e.mai, e.rationale)
                            for e in load_mue(text, source=path.name)]
                db.executemany("INSERT OR REPLACE INTO mue VALUES (?,?,?,?,?)", mue_rows)
                counts[f"mue.{kind}"] = counts.get(f"mue.{kind}", 0) + len(mue_rows)
            else:
                ptp_rows = [(kind, e.column1, e.column2, num(e.effective), num(e.deletion),
                             e.modifier, e.rationale) for e in load_ptp(text, source=path.name)]
                db.executemany("INSERT INTO ptp VALUES (?,?,?,?,?,?,?)", ptp_rows)
                counts[f"ptp.{kind}"] = counts.get(f"ptp.{kind}", 0) + len(ptp_rows)
            db.execute("INSERT INTO sources VALUES (?)", (path.name,))
        if not counts:
            raise MalformedPack(f"no CMS PTP/MUE files (*.txt, *.csv) under {source_dir}",
                                file=str(source_dir))
        db.execute("CREATE INDEX ptp_pair ON ptp (kind, col1, col2)")
        db.commit()
    finally:
        db.close()
    tmp.replace(database)
    return counts


def _rows(text: str) -> Iterable[list[str]]:
    for raw in text.splitlines():
        if not raw.strip():
            continue
        if "\t" in raw:  # the CMS text layout: no quoting, split directly (fast path)
            yield [c.strip().strip('"').strip() for c in raw.split("\t")]
        else:
            row = next(csv.reader(io.StringIO(raw)))
            yield [c.strip().strip('"').strip() for c in row]


def _looks_like_mue(text: str) -> bool:
    head = text[:4000].lower()
    return "mue" in head and "column 1" not in head


def _parse_date(value: str, *, source: str, line: int) -> date:
    if not _DATE.match(value):
        raise MalformedPack(f"{source} line {line}: {value!r} is not a YYYYMMDD date",
                            file=source, line=line)
    return date(int(value[:4]), int(value[4:6]), int(value[6:8]))


def load_ptp(text: str, *, source: str = "ptp") -> list[PtpEdit]:
    """Parse a CMS PTP file (practitioner or hospital layout)."""
    edits: list[PtpEdit] = []
    for number, row in enumerate(_rows(text), start=1):
        if len(row) < 6 or not (_CODE.match(row[0]) and _CODE.match(row[1])):
            continue  # copyright and header lines
        effective = _parse_date(row[3], source=source, line=number)
        deletion = None if row[4] in ("*", "") else _parse_date(row[4], source=source,
                                                                line=number)
        if row[5] not in ("0", "1", "9"):
            raise MalformedPack(f"{source} line {number}: modifier indicator {row[5]!r} "
                                "is not 0, 1 or 9", file=source, line=number)
        indicator: Literal[0, 1, 9] = 0 if row[5] == "0" else (1 if row[5] == "1" else 9)
        edits.append(PtpEdit(row[0], row[1], effective, deletion, indicator,
                             row[6] if len(row) > 6 else ""))
    if not edits:
        raise MalformedPack(f"{source}: no PTP rows found (expected the CMS PTP layout)",
                            file=source)
    return edits


def load_mue(text: str, *, source: str = "mue") -> list[MueEdit]:
    """Parse a CMS MUE file (practitioner, outpatient hospital or DME layout)."""
    edits: list[MueEdit] = []
    for number, row in enumerate(_rows(text), start=1):
        if len(row) < 3 or not _CODE.match(row[0]) or not row[1].isdigit():
            continue
        mai_text = row[2][:1]
        if mai_text not in ("1", "2", "3"):
            raise MalformedPack(f"{source} line {number}: MUE adjudication indicator "
                                f"{row[2]!r} is not 1, 2 or 3", file=source, line=number)
        mai: Literal[1, 2, 3] = 1 if mai_text == "1" else (2 if mai_text == "2" else 3)
        edits.append(MueEdit(row[0], int(row[1]), mai, row[3] if len(row) > 3 else ""))
    if not edits:
        raise MalformedPack(f"{source}: no MUE rows found (expected the CMS MUE layout)",
                            file=source)
    return edits


class NcciRules:
    """Rule family ``ncci``: PTP pairs and MUE unit limits on CPT/HCPCS lines."""

    family: ClassVar[str] = "ncci"

    def __call__(self, claim: ClaimView, context: RuleContext, /) -> tuple[RuleFinding, ...]:
        """Check every pair of lines and every code's units."""
        tables = context.ncci
        if tables is None or claim.setting == "inpatient" or not claim.lines:
            return ()
        kind = context.ncci_claim_type
        on = context.date_for(claim)
        out: list[RuleFinding] = []
        codes = [line.code for line in claim.lines]
        ptp = tables.ptp_for(kind, codes)
        if ptp:
            for a in claim.lines:
                for b in claim.lines:
                    if a.code == b.code:
                        continue
                    for edit in ptp.get((a.code, b.code), ()):
                        if edit.in_effect(on) and edit.modifier != 9:
                            out.append(_ptp_finding(a, b, edit, kind))
        out.extend(_mue(claim.lines, tables.mue_for(kind, codes), kind))
        return tuple(out)


def _ptp_finding(a: ClaimLine, b: ClaimLine, edit: PtpEdit, kind: str) -> RuleFinding:
    version = f"{kind}, effective {edit.effective.isoformat()}"
    codes = (a.key, b.key)
    why = f" ({edit.rationale})" if edit.rationale else ""
    if edit.modifier == 0:
        return finding(
            "ncci.ptp.not_bypassable", "error",
            f"{b.code} is not separately payable with {a.code} on the same date{why}; "
            "no modifier may bypass this edit (indicator 0)",
            codes=codes, pack=PACK_PTP, pack_version=version, citation=_CITE_PTP,
            fix=f"Remove {b.code} (column 2) unless it is on a different date of service.",
        )
    used = (set(a.modifiers) | set(b.modifiers)) & MODIFIERS_NCCI
    if used:
        return finding(
            "ncci.ptp.bypassed", "info",
            f"{b.code} with {a.code}: PTP edit bypassed with modifier "
            f"{', '.join(sorted(used))}{why}",
            codes=codes, pack=PACK_PTP, pack_version=version, citation=_CITE_PTP,
            fix="Keep only if the note documents a separate site, session, encounter or "
                "distinct service.",
        )
    return finding(
        "ncci.ptp.modifier_required", "error",
        f"{b.code} is bundled into {a.code}{why}; payable together only with an "
        "NCCI-associated modifier (indicator 1)",
        codes=codes, pack=PACK_PTP, pack_version=version, citation=_CITE_PTP,
        fix=f"If the service was distinct (separate site/session/encounter), append "
            f"XE/XS/XP/XU (or 59) to {b.code}; otherwise remove it.",
    )


def _mue(lines: tuple[ClaimLine, ...], table: dict[str, MueEdit],
         kind: str) -> list[RuleFinding]:
    out: list[RuleFinding] = []
    totals: Counter[str] = Counter()
    for line in lines:
        totals[line.code] += line.units
    reported: set[str] = set()
    for line in lines:
        edit = table.get(line.code)
        if edit is None:
            continue
        version = f"{kind}, MAI {edit.mai}"
        if edit.mai == 1:
            if line.units > edit.value:
                out.append(finding(
                    "ncci.mue.line", "error",
                    f"line {line.line} {line.code}: {line.units} units exceed the MUE of "
                    f"{edit.value} per line (MAI 1)",
                    codes=(line.key,), pack=PACK_MUE, pack_version=version, citation=_CITE_MUE,
                    fix="Report units above the MUE on separate lines with an appropriate "
                        "modifier (e.g. 76, 91, anatomic) only if separately documented.",
                ))
        elif line.code not in reported and totals[line.code] > edit.value:
            reported.add(line.code)
            clinical = edit.mai == 3
            out.append(finding(
                "ncci.mue.date_of_service", "error",
                f"{line.code}: {totals[line.code]} units on the date of service exceed the "
                f"MUE of {edit.value} (MAI {edit.mai}, "
                f"{'clinical' if clinical else 'policy'})",
                codes=(line.key,), pack=PACK_MUE, pack_version=version, citation=_CITE_MUE,
                fix=("Units above the MUE are denied; appeal with documentation of medical "
                     "necessity.") if clinical else
                    "Units above the MUE are never payable (policy); correct the units.",
                blocking=not clinical,
            ))
    return out


class ModifierRules:
    """Rule family ``modifiers``: modifier use on CPT/HCPCS lines (25, 59, X*, 76, LT/RT, 50)."""

    family: ClassVar[str] = "modifiers"

    def __call__(self, claim: ClaimView, context: RuleContext, /) -> tuple[RuleFinding, ...]:
        """Check modifier consistency line by line and across lines."""
        out: list[RuleFinding] = []
        lines = claim.lines
        counts = Counter(line.code for line in lines)
        procedures = [ln for ln in lines if not is_em(ln.code)]

        def add(rule_id: str, severity: Literal["error", "warning", "info"], message: str,
                line: ClaimLine, fix: str, citation: str) -> None:
            out.append(finding(f"modifier.{rule_id}", severity,
                               f"line {line.line} {line.code}: {message}", codes=(line.key,),
                               pack=PACK_MOD, citation=citation, fix=fix))

        for line in lines:
            mods = set(line.modifiers)
            if "25" in mods and not is_em(line.code):
                add("25.not_em", "error", "modifier 25 applies only to E/M services", line,
                    "Remove 25; use 59/X{EPSU} for distinct procedures.",
                    "CMS NCCI Policy Manual Ch. I, E.1 (modifier 25)")
            if "25" in mods and is_em(line.code) and not procedures:
                add("25.unsupported", "warning",
                    "modifier 25 without a procedure on the same date", line,
                    "Remove 25 unless a procedure or other service is reported that day.",
                    "CMS NCCI Policy Manual Ch. XI, D (modifier 25)")
            if "59" in mods and is_em(line.code):
                add("59.em", "error", "modifier 59 cannot be appended to an E/M service",
                    line, "Use modifier 25 for a significant, separately identifiable E/M.",
                    "CMS NCCI Policy Manual Ch. I, E.1 (modifier 59)")
            if "59" in mods and mods & _X:
                add("59.with_x", "warning", "59 and an X{EPSU} modifier on the same line",
                    line, "Use the X modifier alone; 59 is for cases no X modifier describes.",
                    "CMS MLN Proper Use of the -XE, -XS, -XP, -XU Modifiers")
            if len(mods & _X) > 1:
                add("x.multiple", "warning", "more than one X{EPSU} modifier", line,
                    "Keep the one X modifier that describes why the service is distinct.",
                    "CMS MLN Proper Use of the -XE, -XS, -XP, -XU Modifiers")
            if "50" in mods and mods & {"LT", "RT"}:
                add("50.laterality", "error", "modifier 50 with LT/RT", line,
                    "Report a bilateral procedure with 50 alone (1 unit).",
                    "CMS Medicare Claims Processing Manual Ch. 12, 40.7")
            if {"LT", "RT"} <= mods:
                add("lt_rt.same_line", "warning", "LT and RT on the same line", line,
                    "Use 50 for bilateral procedures, or two lines (RT and LT).",
                    "CMS Medicare Claims Processing Manual Ch. 12, 40.7")
            if "50" in mods and line.units > 1:
                add("50.units", "warning", "bilateral (50) line with more than 1 unit", line,
                    "Report a bilateral procedure as 1 unit with modifier 50.",
                    "CMS Medicare Claims Processing Manual Ch. 12, 40.7")
            if "76" in mods and counts[line.code] < 2:
                add("76.single", "warning", "repeat-procedure modifier 76 on a code "
                    "reported once", line, "Remove 76 or report the original service too.",
                    "CMS Medicare Claims Processing Manual Ch. 12, 30 (modifier 76)")
        by_code: dict[str, list[ClaimLine]] = defaultdict(list)
        for line in lines:
            by_code[line.code].append(line)
        for code_lines in by_code.values():
            if len(code_lines) < 2:
                continue
            plain = [ln for ln in code_lines[1:] if not set(ln.modifiers) & _REPEAT]
            for line in plain:
                add("duplicate_line", "warning",
                    "same code on more than one line without a repeat/distinct modifier",
                    line, "Combine the units on one line, or add 76/77/91/59/X{EPSU}/LT/RT "
                    "when the services were distinct.",
                    "CMS NCCI Policy Manual Ch. I (duplicate services)")
        return tuple(out)
