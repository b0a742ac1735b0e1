"""The coding service: submit an encounter synchronously or as a job, and the worker.

The API and the ``codeproof worker`` command are thin wrappers over
:class:`CodingService`. Its collaborators are injected: ``parse`` (bytes ->
Encounter, default :func:`codeproof.ingest.parse_bytes`) and ``code`` (Encounter ->
result with ``.encounter``/``.package``, default :func:`codeproof.run.code_encounter`,
which stores and audits the result itself: ``persists=True``). Tests and the load
bench inject :mod:`codeproof.api.fake` instead, so that they need no NLP models.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from codeproof.errors import BackendUnavailable, CodeproofError, MalformedInput
from codeproof.model import Encounter
from codeproof.runtime import Runtime
from codeproof.security.base import Principal
from codeproof.store import Store, open_store
from codeproof.store.policy import authorize

from .queue import ClaimedJob, DatabaseQueue, JobRecord

__all__ = ["CodingService", "SubmitResult", "Worker", "open_queue", "valid_encounter_id"]

logger = logging.getLogger(__name__)

Parse = Callable[..., Encounter]
Code = Callable[..., Any]

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def valid_encounter_id(value: str) -> str:
    """Return ``value`` if it is a safe encounter id, else raise ``MalformedInput``."""
    if not _ID.match(value):
        raise MalformedInput("encounter id must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}")
    return value


def open_queue(runtime: Runtime) -> DatabaseQueue:
    """Registry factory of ``queue.database.v1``: the queue in the store's database."""
    store = runtime.resource("store", open_store)
    service = runtime.settings.service
    return DatabaseQueue(store.engine, sealer=store.sealer,
                         lease_seconds=service.job_lease_seconds,
                         max_attempts=service.job_max_attempts)


def _default_parse() -> Parse:
    try:
        from codeproof.ingest import parse_bytes
    except ImportError as exc:  # pragma: no cover - ingest ships with codeproof
        raise BackendUnavailable("codeproof.ingest is not installed") from exc
    return parse_bytes


def _default_code() -> Code:
    try:
        from codeproof.run import code_encounter
    except ImportError as exc:  # pragma: no cover - run ships with codeproof
        raise BackendUnavailable("codeproof.run is not installed") from exc
    return code_encounter


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitResult:
    """What a submission returns: the encounter id, and the job when asynchronous."""

    encounter_id: str
    job: JobRecord | None = None
    created: bool = True
    routing: dict[str, int] = field(default_factory=dict)
    codes: int = 0


class CodingService:
    """Parses, codes and stores encounters; enqueues and runs coding jobs."""

    def __init__(self, runtime: Runtime, *, store: Store | None = None,
                 queue: DatabaseQueue | None = None, parse: Parse | None = None,
                 code: Code | None = None, persists: bool | None = None) -> None:
        self.runtime = runtime
        self.store: Store = store if store is not None else runtime.resource("store",
                                                                             open_store)
        self.queue = queue if queue is not None else runtime.resource("queue", open_queue)
        self._parse = parse
        self._code = code
        # the default coder (codeproof.run.code_encounter) stores the result itself
        self.persists = persists if persists is not None else code is None

    @property
    def parse(self) -> Parse:
        """The ingest function (resolved on first use)."""
        if self._parse is None:
            self._parse = _default_parse()
        return self._parse

    @property
    def code(self) -> Code:
        """The coding function (resolved on first use)."""
        if self._code is None:
            self._code = _default_code()
        return self._code

    def warm_up(self) -> None:
        """Load the real pipeline's models now (they load lazily on first use).

        A worker warms up *before* claiming its first job, so that model loading
        never eats a job's lease; the server warms up in the background and
        reports readiness when done.
        """
        if self._code is None:  # the default coder: codeproof.run.code_encounter
            self.runtime.resource("pipeline", lambda rt: rt.pipeline())

    def _region(self, tenant: str) -> str:
        return self.runtime.settings.security.tenant_regions.get(tenant, "US")

    def code_bytes(self, data: bytes, *, principal: Principal, name: str, encounter_id: str,
                   content_type: str | None = None, setting: str | None = None) -> Any:
        """Parse, code and store one submission under ``encounter_id``; return the result."""
        encounter = self.parse(data, name=name, content_type=content_type,
                               encounter_id=encounter_id,
                               setting=setting, tenant=principal.tenant,
                               region=self._region(principal.tenant))
        # the server, not the payload, owns the id and the tenant
        encounter = dataclasses.replace(encounter, id=encounter_id, tenant=principal.tenant)
        result = self.code(self.runtime, encounter, principal=principal)
        if not self.persists:
            self.store.save_encounter(result.encounter, result.package, principal=principal)
        return result

    def submit(self, data: bytes, *, principal: Principal, content_type: str | None = None,
               name: str | None = None, encounter_id: str | None = None,
               idempotency_key: str | None = None, setting: str | None = None,
               asynchronous: bool = False) -> SubmitResult:
        """Code now (``asynchronous=False``) or enqueue a job; return the encounter id."""
        authorize(principal, "encounter.write")
        encounter_id = valid_encounter_id(encounter_id) if encounter_id else uuid.uuid4().hex
        name = name or f"{encounter_id}.{'json' if _is_json(content_type, data) else 'txt'}"
        if asynchronous:
            job, created = self.queue.submit(
                principal=principal, payload=data, name=name, encounter_id=encounter_id,
                content_type=content_type, idempotency_key=idempotency_key, setting=setting)
            return SubmitResult(encounter_id=job.encounter_id, job=job, created=created)
        result = self.code_bytes(data, principal=principal, name=name,
                                 encounter_id=encounter_id, content_type=content_type,
                                 setting=setting)
        routing: dict[str, int] = {}
        for entry in result.package.get("codes", []):
            key = str(entry.get("routing", "coder_review"))
            routing[key] = routing.get(key, 0) + 1
        return SubmitResult(encounter_id=encounter_id, routing=routing,
                            codes=len(result.package.get("codes", [])))

    # -- worker side --------------------------------------------------------------

    def run_job(self, job: ClaimedJob) -> str:
        """Process one claimed job; return its new status."""
        principal = Principal(user=job.submitted_by, role=job.submitted_role,  # type: ignore[arg-type]
                              tenant=job.tenant)
        try:
            self.code_bytes(job.payload, principal=principal, name=job.name,
                            encounter_id=job.encounter_id, content_type=job.content_type,
                            setting=job.setting)
        except CodeproofError as exc:
            logger.info("job %s: %s", job.id, exc.code)
            return self.queue.fail(job, code=exc.code, message=exc.message,
                                   retryable=exc.http_status >= 500)
        except Exception as exc:  # noqa: BLE001 - a worker must survive any job
            logger.warning("job %s: unexpected %s", job.id, type(exc).__name__)
            return self.queue.fail(job, code="CP-000", message=type(exc).__name__,
                                   retryable=True)
        return "done" if self.queue.complete(job) else "lost"


def _is_json(content_type: str | None, data: bytes) -> bool:
    return "json" in (content_type or "") or data.lstrip()[:1] in (b"{", b"[")


class Worker:
    """Claims jobs in a loop until ``stop`` is set (a thread or a process)."""

    def __init__(self, service: CodingService, *, name: str | None = None,
                 poll_seconds: float = 0.5) -> None:
        self.service = service
        self.name = name or f"worker-{uuid.uuid4().hex[:8]}"
        self.poll_seconds = poll_seconds
        self.processed = 0

    def process_one(self) -> str | None:
        """Claim and run one job; ``None`` when the queue is empty."""
        job = self.service.queue.claim(self.name)
        if job is None:
            return None
        status = self.service.run_job(job)
        self.processed += 1
        return status

    def run(self, stop: threading.Event, *, max_jobs: int | None = None) -> int:
        """Work until ``stop`` is set (or ``max_jobs`` done); return jobs processed."""
        self.service.warm_up()
        logger.info("%s started", self.name)
        while not stop.is_set():
            if max_jobs is not None and self.processed >= max_jobs:
                break
            if self.process_one() is None:
                stop.wait(self.poll_seconds)
        logger.info("%s stopped after %d jobs", self.name, self.processed)
        return self.processed

    def start_thread(self) -> tuple[threading.Thread, threading.Event]:
        """Run in a daemon thread (``serve`` with ``service.embedded_worker``)."""
        stop = threading.Event()
        thread = threading.Thread(target=self.run, args=(stop,), name=self.name, daemon=True)
        thread.start()
        return thread, stop


def wait_for(service: CodingService, job_id: str, *, principal: Principal,
             timeout: float = 10.0) -> JobRecord:
    """Poll a job until it is done or failed (tests, CLI)."""
    deadline = time.monotonic() + timeout
    job = service.queue.get(job_id, principal=principal)
    while job.status not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.05)
        job = service.queue.get(job_id, principal=principal)
    return job
