"""The main job: code encounters end to end and write their justification packages.

:func:`code_encounter` runs the configured pipeline over one Encounter, builds
and validates its package, stores both (sealed) in the configured store and
appends audit events. :func:`code_paths` is the batch form behind
``codeproof code``: one bad input never stops the batch, outputs are written
atomically (a crash leaves no partial file), and ``resume`` skips inputs whose
package already exists for the same source bytes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import json
import logging
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeproof.errors import BackendUnavailable, CodeproofError, PipelineError
from codeproof.export.html import render_html
from codeproof.export.package import build_package
from codeproof.ingest import iter_input_files, parse_path
from codeproof.ingest._common import sha256_bytes
from codeproof.model import Encounter, Setting, sha256_text
from codeproof.pipeline import Pipeline
from codeproof.registrations import get_registry
from codeproof.runtime import Runtime
from codeproof.security.base import Principal

__all__ = ["BatchReport", "CodingResult", "code_encounter", "code_paths", "persist_result",
           "pseudonymizer", "run_pipeline", "write_atomic"]

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


def _audit(store: Any) -> Any:
    """The store's hash-chained audit log (same database), or None without a store."""
    return getattr(store, "audit", None) if store is not None else None


def _terminology_version(runtime: Runtime) -> str:
    def build(rt: Runtime) -> str:
        versions = getattr(rt.terminology, "versions", {}) or {}
        digest = str(versions.get("content_digest", ""))
        return (f"ICD-10-CM {versions.get('icd10cm', '?')}; "
                f"ICD-10-PCS {versions.get('icd10pcs', '?')}; {digest[:23]}")

    return runtime.resource("terminology_version", build)  # type: ignore[no-any-return]


def run_pipeline(runtime: Runtime, encounter: Encounter) -> CodingResult:
    """Run the configured pipeline and build the (unpersisted) package. Pure compute.

    This is what a worker process (or a Ray task) runs; persistence and audit happen
    in :func:`persist_result`, in the process that owns the store, so the audit
    chain is appended by one writer in a deterministic order.
    """
    coded = _pipeline(runtime).run(encounter).with_versions(
        terminology=_terminology_version(runtime))
    package = build_package(coded, terminology=runtime.terminology)
    return CodingResult(encounter=coded, package=package)


def _record_events(sink: Any, coded: Encounter, package: dict[str, Any], *,
                   actor: str) -> Any:
    def rec(name: str, properties: dict[str, Any]) -> Any:
        return sink.record(name, tenant=coded.tenant, actor=actor, subject=coded.id,
                           properties=properties)

    rec("encounter.received", {"source_sha256": coded.source.sha256,
                               "format": coded.source.format, "notes": len(coded.notes)})
    for record in coded.stages:
        rec("stage.completed", dataclasses.asdict(record))
    return rec("encounter.coded", {
        "codes": [f"{c.system}:{c.code}" for c in coded.codes],
        "confidences": [round(c.confidence, 4) for c in coded.codes],
        "decisions": [f"{d.system}:{d.code}={d.routing}" for d in coded.decisions],
        "package_sha256": sha256_text(json.dumps(package, sort_keys=True)),
        "versions": dict(coded.versions),
    })


def persist_result(runtime: Runtime, result: CodingResult, *,
                   principal: Principal | None = None) -> CodingResult:
    """Append the audit events of a coded encounter, then store it with its package."""
    coded = result.encounter
    principal = principal or Principal.system(coded.tenant)
    store = _store(runtime)
    audit = _audit(store)
    package = result.package
    if audit is not None:
        batch = audit.batch() if hasattr(audit, "batch") else contextlib.nullcontext(audit)
        with batch as sink:  # one transaction for the encounter's events
            event = _record_events(sink, coded, package, actor=principal.user)
        package = {**package, "audit": {"chain_head": getattr(event, "hash", None)}}
    if store is not None:
        store.save_encounter(coded, package, principal=principal)
    return CodingResult(encounter=coded, package=package)


def code_encounter(runtime: Runtime, encounter: Encounter, *,
                   principal: Principal | None = None, persist: bool = True) -> CodingResult:
    """Run the pipeline over ``encounter``, build its package, and (by default) store and
    audit it. The API and the CLI both call this."""
    result = run_pipeline(runtime, encounter)
    return persist_result(runtime, result, principal=principal) if persist else result


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


#: Batches at least this big run in parallel workers when ``workers`` is 0 (auto).
AUTO_PARALLEL_MIN = 40

_WORKER: dict[str, Runtime] = {}  # per worker *process* only (see _worker_init)

#: Cyclic-GC thresholds of a worker process once its models are loaded: a note
#: allocates many short-lived objects, and the default (700, 10, 10) runs a
#: collection every few hundred of them.
_WORKER_GC_THRESHOLD = (10_000, 10, 10)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while models load.

    Loading builds millions of long-lived objects (word lists, indexes, model
    tables); with the collector on, each new generation-2 collection walks all
    of them again, about a third of a worker's start-up CPU.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _worker_init(settings_json: str) -> None:
    """Build one Runtime per worker process (process-local, never in the parent).

    The worker process is ours alone, so its collector is tuned for the work:
    paused while models load, the loaded objects frozen (moved out of the
    generations the collector scans), then collections less often.
    """
    from codeproof.config import Settings

    with _gc_paused():
        runtime = Runtime(Settings.model_validate_json(settings_json))
        _pipeline(runtime)  # load models once, before the first task
    gc.freeze()
    gc.set_threshold(*_WORKER_GC_THRESHOLD)
    _WORKER["runtime"] = runtime


def pseudonymizer(runtime: Runtime, tenant: str) -> Callable[[str], str]:
    """The tenant's keyed patient pseudonym function (key under ``<home>/keys``)."""
    from codeproof.security.pseudonym import Pseudonymizer

    keyed: Pseudonymizer = runtime.resource(
        "pseudonymizer",
        lambda rt: Pseudonymizer.from_file(rt.settings.home / "keys" / "pseudonym.key"))
    return functools.partial(keyed.subject, tenant)


def _worker_code(path: Path, setting: Setting | None, tenant: str,
                 region: str) -> CodingResult | CodeproofError:
    runtime = _WORKER["runtime"]
    try:
        encounter = parse_path(path, setting=setting, tenant=tenant, region=region,
                               pseudonymize=pseudonymizer(runtime, tenant))
        return run_pipeline(runtime, encounter)
    except CodeproofError as exc:
        return exc


def _results(runtime: Runtime, paths: list[Path], *, setting: Setting | None, tenant: str,
             region: str, workers: int,
             executor: str) -> Iterator[tuple[Path, CodingResult | CodeproofError]]:
    """Yield (path, result-or-error) in input order, computing in the chosen executor."""
    if workers <= 1 or len(paths) <= 1 or executor == "local":
        pseudonymize = pseudonymizer(runtime, tenant)
        for path in paths:
            try:
                encounter = parse_path(path, setting=setting, tenant=tenant, region=region,
                                       pseudonymize=pseudonymize)
                yield path, run_pipeline(runtime, encounter)
            except CodeproofError as exc:
                yield path, exc
        return
    settings_json = runtime.settings.model_dump_json()
    if executor == "ray":
        yield from _ray_results(settings_json, paths, setting=setting, tenant=tenant,
                                region=region, workers=workers)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    context = multiprocessing.get_context("spawn")  # no forked model/thread state
    with ProcessPoolExecutor(max_workers=workers, mp_context=context,
                             initializer=_worker_init, initargs=(settings_json,)) as pool:
        futures = [pool.submit(_worker_code, path, setting, tenant, region) for path in paths]
        for path, future in zip(paths, futures, strict=True):
            try:
                yield path, future.result()
            except BrokenProcessPool as exc:  # a worker failed to start (bad model, config)
                raise PipelineError("a coding worker process failed to start; run with "
                                    "--workers 1 to see the error") from exc


def _ray_results(settings_json: str, paths: list[Path], *, setting: Setting | None,
                 tenant: str, region: str,
                 workers: int) -> Iterator[tuple[Path, CodingResult | CodeproofError]]:
    """Scale out with Ray (``pip install codeproof[ray]``); local cluster on loopback."""
    try:
        import ray
    except ImportError as exc:
        raise BackendUnavailable("the ray executor needs the 'ray' extra installed") from exc
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address="local", num_cpus=workers, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)

    @ray.remote
    class _Coder:  # one per worker: models load once per actor
        def __init__(self, settings: str) -> None:
            _worker_init(settings)

        def code(self, path: str) -> CodingResult | CodeproofError:
            return _worker_code(Path(path), setting, tenant, region)

    try:
        actors = [_Coder.remote(settings_json) for _ in range(workers)]  # type: ignore[attr-defined]
        refs = [actors[i % workers].code.remote(str(p)) for i, p in enumerate(paths)]
        for path, ref in zip(paths, refs, strict=True):
            yield path, ray.get(ref)
    finally:
        if started_here:
            ray.shutdown()


def code_paths(runtime: Runtime, inputs: Iterable[Path], out_dir: Path, *,
               setting: Setting | None = None, tenant: str | None = None,
               resume: bool = False, persist: bool = True, html: bool = True,
               workers: int = 0, executor: str = "process",
               on_result: Callable[[Path, CodingResult | None, CodeproofError | None], None]
               | None = None) -> BatchReport:
    """Code every input file (folders expanded) into ``out_dir``; never stop on one bad input.

    Configuration problems (an unknown stage name, a missing model) fail fast before
    any input is read. Per-input problems (malformed input, a stage failing on one
    note) reject that input with its error code and the batch goes on. With
    ``workers > 1`` the pipeline runs in worker processes (``executor="process"``)
    or Ray actors (``executor="ray"``); this process alone writes files, the store
    and the audit chain, in input order.
    """
    tenant = tenant or runtime.settings.security.default_tenant
    region = runtime.settings.security.tenant_regions.get(tenant, "US")
    report = BatchReport()
    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    todo: list[Path] = []
    for path in iter_input_files(list(inputs)):
        if resume and _already_done(out_dir, path):
            report.skipped.append(path.name)
        else:
            todo.append(path)
    if not todo:  # nothing to code: do not load any model
        report.seconds = time.perf_counter() - started
        return report
    if workers <= 0:  # auto: parallel only when the batch is big enough to pay start-up
        workers = min(os.cpu_count() or 1, 4) if len(todo) >= AUTO_PARALLEL_MIN else 1
    if workers > 1 and len(todo) > 1:
        registry = get_registry("stages")  # fail fast on unknown names without loading
        for name in runtime.settings.pipeline.stages:  # models in this process
            registry.get(name)
        if "coding.assign.v1" in runtime.settings.pipeline.stages:
            from codeproof.coding.dense import ensure_static_table

            # fill the coder's one-time cache here, not in every worker at once
            ensure_static_table(runtime.settings.reference_path)
    else:
        with _gc_paused():  # see _gc_paused; the collector is the caller's, left as it was
            _pipeline(runtime)  # fail fast on configuration errors
    for path, outcome in _results(runtime, todo, setting=setting, tenant=tenant,
                                  region=region, workers=workers, executor=executor):
        if isinstance(outcome, CodeproofError):
            report.rejected.append((str(path), outcome.code, outcome.message))
            logger.info("rejected input %s: %s", path.name, outcome.code)
            if on_result is not None:
                on_result(path, None, outcome)
            continue
        result = persist_result(runtime, outcome) if persist else outcome
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
    if persist and report.coded:
        _checkpoint(runtime)
    report.seconds = time.perf_counter() - started
    return report


def _checkpoint(runtime: Runtime) -> None:
    """Sign the audit head at the end of a batch so no event is left uncovered."""
    audit = _audit(_store(runtime))
    if audit is not None and getattr(audit, "signer", None) is not None:
        audit.checkpoint()
