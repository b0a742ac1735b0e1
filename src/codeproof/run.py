"""The main job: code encounters end to end and write their justification packages.

:func:`code_encounter` runs the configured pipeline over one Encounter, builds
and validates its package, stores both (sealed) in the configured store and
appends audit events. :func:`code_paths` is the batch form behind
``codeproof code``: one bad input never stops the batch, outputs are written
atomically (a crash leaves no partial file), and ``resume`` skips inputs whose
package already exists for the same source bytes.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeproof.errors import CodeproofError, IngestError
from codeproof.export.html import render_html
from codeproof.export.package import build_package
from codeproof.ingest import iter_input_files, parse_path
from codeproof.ingest._common import sha256_bytes
from codeproof.model import Encounter, Setting
from codeproof.pipeline import Pipeline
from codeproof.runtime import Runtime
from codeproof.security.base import Principal

__all__ = ["BatchReport", "CodingResult", "code_encounter", "code_paths", "write_atomic"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class CodingResult:
    """A coded encounter and its package."""

    encounter: Encounter
    package: dict[str, Any]


@dataclass(slots=True, kw_only=True)
class BatchReport:
    """What a batch did: per-input outcome, totals, timing."""

    coded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str, str]] = field(default_factory=list)  # (input, code, message)
    codes: int = 0
    routing: Counter[str] = field(default_factory=Counter)
    encounter_routing: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        """0 when every input was coded (or skipped as done), 2 when some were rejected."""
        return 2 if self.rejected else 0


def _pipeline(runtime: Runtime) -> Pipeline:
    return runtime.resource("pipeline", lambda rt: rt.pipeline())  # type: ignore[no-any-return]


def _store(runtime: Runtime) -> Any:
    """The configured store, or None when the store module is unavailable."""
    try:
        from codeproof.store import open_store
    except ImportError:  # pragma: no cover - store is part of the distribution
        return None
    return runtime.resource("store", open_store)


def _audit(runtime: Runtime, store: Any) -> Any:
    if store is None:
        return None
    try:
        from codeproof.audit import log as audit_log
    except ImportError:  # pragma: no cover
        return None
    if hasattr(audit_log, "open_audit_log"):
        return runtime.resource(
            "audit", lambda rt: audit_log.open_audit_log(rt, engine=store.engine))

    def _plain(rt: Runtime) -> Any:
        log = audit_log.AuditLog(store.engine)
        log.create_schema()
        return log

    return runtime.resource("audit", _plain)


def code_encounter(runtime: Runtime, encounter: Encounter, *,
                   principal: Principal | None = None, persist: bool = True) -> CodingResult:
    """Run the pipeline over ``encounter``, build its package, store and audit it."""
    principal = principal or Principal.system(encounter.tenant)
    store = _store(runtime) if persist else None
    audit = _audit(runtime, store)
    if audit is not None:
        audit.record("encounter.received", tenant=encounter.tenant, actor=principal.user,
                     subject=encounter.id,
                     properties={"source_sha256": encounter.source.sha256,
                                 "format": encounter.source.format,
                                 "notes": len(encounter.notes)})
    coded = _pipeline(runtime).run(encounter, audit=audit, actor=principal.user)
    head = None
    if audit is not None:
        event = audit.record(
            "encounter.coded", tenant=coded.tenant, actor=principal.user, subject=coded.id,
            properties={"codes": [f"{c.system}:{c.code}" for c in coded.codes],
                        "confidences": [round(c.confidence, 4) for c in coded.codes],
                        "decisions": [f"{d.system}:{d.code}={d.routing}"
                                      for d in coded.decisions],
                        "versions": dict(coded.versions)},
        )
        head = getattr(event, "hash", None)
    package = build_package(coded, terminology=runtime.terminology, audit_head=head)
    if store is not None:
        store.save_encounter(coded, package, principal=principal)
    return CodingResult(encounter=coded, package=package)


def write_atomic(path: Path, data: str) -> None:
    """Write ``data`` to ``path`` atomically (temp file + rename in the same folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _already_done(out_dir: Path, path: Path) -> bool:
    target = out_dir / f"{path.stem}.json"
    if not target.exists():
        return False
    try:
        done = json.loads(target.read_text(encoding="utf-8"))
        return bool(done.get("source", {}).get("sha256") == sha256_bytes(path.read_bytes()))
    except (OSError, ValueError):
        return False


def code_paths(runtime: Runtime, inputs: Iterable[Path], out_dir: Path, *,
               setting: Setting | None = None, tenant: str | None = None,
               resume: bool = False, persist: bool = True, html: bool = True,
               on_result: Callable[[Path, CodingResult | None, CodeproofError | None], None]
               | None = None) -> BatchReport:
    """Code every input file (folders expanded) into ``out_dir``; never stop on one bad input."""
    tenant = tenant or runtime.settings.security.default_tenant
    region = runtime.settings.security.tenant_regions.get(tenant, "US")
    report = BatchReport()
    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in iter_input_files(list(inputs)):
        if resume and _already_done(out_dir, path):
            report.skipped.append(path.name)
            continue
        try:
            encounter = parse_path(path, setting=setting, tenant=tenant, region=region)
            result = code_encounter(runtime, encounter, persist=persist)
        except IngestError as exc:
            report.rejected.append((str(path), exc.code, exc.message))
            logger.warning("rejected input %s: %s", path.name, exc.code)
            if on_result is not None:
                on_result(path, None, exc)
            continue
        if html:
            write_atomic(out_dir / f"{result.encounter.id}.html",
                         render_html(result.package, list(result.encounter.notes)))
        # The JSON is written last: its presence marks the input as done (resume).
        write_atomic(out_dir / f"{result.encounter.id}.json",
                     json.dumps(result.package, indent=1, ensure_ascii=False))
        report.coded.append(result.encounter.id)
        report.codes += len(result.package["codes"])
        report.routing.update(c["routing"] for c in result.package["codes"])
        report.encounter_routing[result.package["routing"]["encounter"]] += 1
        if on_result is not None:
            on_result(path, result, None)
    report.seconds = time.perf_counter() - started
    return report
