"""A durable coding queue in the store's database (``queue.database.v1``).

Semantics: **at-least-once delivery, exactly-once result**.

- ``submit`` is idempotent per ``(tenant, idempotency_key)``: the same key with the
  same payload returns the existing job; the same key with another payload is a
  :class:`~codeproof.errors.Conflict`. The encounter id is fixed at submission.
- ``claim`` leases one job: PostgreSQL uses ``SELECT ... FOR UPDATE SKIP LOCKED``
  so concurrent workers never take the same row; SQLite serializes claims with
  ``BEGIN IMMEDIATE``. A job whose lease expired (its worker was killed) is claimed
  again; after ``max_attempts`` it is marked ``failed``.
- ``complete``/``fail`` are fenced by ``(worker, attempt)``: a worker that lost its
  lease cannot overwrite the state set by the worker that took over.
- The result is the encounter stored under the job's fixed encounter id, an
  upsert: a job run twice (worker killed after saving, before completing) leaves
  exactly one encounter and one package. Nothing is lost, nothing is duplicated.

Payloads (the submitted note bytes) are sealed at rest under the tenant key and
wiped when the job is done; idempotent replay compares their SHA-256 only.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from codeproof.errors import Conflict, LeaseLost, NotFound
from codeproof.security.base import Principal, Sealer
from codeproof.store import tables as t
from codeproof.store.policy import authorize
from codeproof.store.sql import now_iso

__all__ = ["ClaimedJob", "DatabaseQueue", "JobRecord"]

#: Pending payloads are sealed under the tenant-wide key (subject ""): submitting
#: must not create (and audit) a per-encounter data key on the hot path, and the
#: payload is wiped when its job is done, so it never outlives the sealed encounter.
_PAYLOAD_SUBJECT = ""

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class JobRecord:
    """The public view of a job (no payload)."""

    id: str
    tenant: str
    idempotency_key: str
    status: str  # queued | running | done | failed
    attempts: int
    max_attempts: int
    encounter_id: str
    error_code: str | None
    error: str | None
    created_at: str
    updated_at: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe view."""
        return {"id": self.id, "tenant": self.tenant,
                "idempotency_key": self.idempotency_key, "status": self.status,
                "attempts": self.attempts, "max_attempts": self.max_attempts,
                "encounter_id": self.encounter_id, "error_code": self.error_code,
                "error": self.error, "created_at": self.created_at,
                "updated_at": self.updated_at}


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimedJob:
    """A leased job with its (opened) payload; ``attempt`` fences completion."""

    id: str
    tenant: str
    encounter_id: str
    attempt: int
    worker: str
    submitted_by: str
    submitted_role: str
    content_type: str | None
    name: str
    setting: str | None
    payload: bytes


def _record(row: Any) -> JobRecord:
    return JobRecord(id=row.id, tenant=row.tenant, idempotency_key=row.idempotency_key,
                     status=row.status, attempts=row.attempts, max_attempts=row.max_attempts,
                     encounter_id=row.encounter_id, error_code=row.error_code,
                     error=row.error, created_at=row.created_at, updated_at=row.updated_at)


class DatabaseQueue:
    """The job queue on the store's engine (PostgreSQL or SQLite)."""

    name = "queue.database.v1"

    def __init__(self, engine: Engine, *, sealer: Sealer, lease_seconds: float = 120.0,
                 max_attempts: int = 3, backoff_seconds: float = 2.0) -> None:
        self.engine = engine
        self.sealer = sealer
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds  # retry n waits backoff * 2**(n-1)

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn = conn.execution_options(cp_write=True)
            with conn.begin():
                yield conn

    # -- producer -----------------------------------------------------------------

    def submit(self, *, principal: Principal, payload: bytes, name: str,
               encounter_id: str, content_type: str | None = None,
               idempotency_key: str | None = None,
               setting: str | None = None) -> tuple[JobRecord, bool]:
        """Enqueue a coding job; return ``(job, created)`` (``created`` False on replay)."""
        authorize(principal, "encounter.write")
        key = idempotency_key or uuid.uuid4().hex
        digest = hashlib.sha256(payload).hexdigest()
        existing = self._by_key(principal.tenant, key)
        if existing is not None:
            return self._replay(existing, digest, key), False
        job_id = str(uuid.uuid4())
        blob = self.sealer.seal(tenant=principal.tenant, subject=_PAYLOAD_SUBJECT, data=payload)
        now = now_iso()
        try:
            with self._write() as conn:
                conn.execute(insert(t.jobs).values(
                    id=job_id, tenant=principal.tenant, idempotency_key=key, status="queued",
                    setting=setting, attempts=0, max_attempts=self.max_attempts,
                    lease_until=None, worker=None, submitted_by=principal.user,
                    submitted_role=principal.role, content_type=content_type,
                    name=name[:256], encounter_id=encounter_id, payload_sha256=digest,
                    payload_blob=blob, sealer=self.sealer.name, error_code=None, error=None,
                    created_at=now, updated_at=now, available_at=time.time()))
        except IntegrityError:  # a concurrent submit with the same key won the race
            existing = self._by_key(principal.tenant, key)
            if existing is None:
                raise
            return self._replay(existing, digest, key), False
        logger.info("job %s queued for encounter %s", job_id, encounter_id)
        return self.get(job_id, principal=principal), True

    def _by_key(self, tenant: str, key: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(select(t.jobs).where(
                t.jobs.c.tenant == tenant, t.jobs.c.idempotency_key == key)).first()

    @staticmethod
    def _replay(row: Any, digest: str, key: str) -> JobRecord:
        if row.payload_sha256 != digest:
            raise Conflict("idempotency key reused with a different payload",
                           idempotency_key=key, job_id=row.id)
        return _record(row)

    def get(self, job_id: str, *, principal: Principal) -> JobRecord:
        """One job of the principal's tenant (``NotFound`` otherwise)."""
        authorize(principal, "job.read")
        with self.engine.connect() as conn:
            row = conn.execute(select(t.jobs).where(
                t.jobs.c.tenant == principal.tenant, t.jobs.c.id == job_id)).first()
        if row is None:
            raise NotFound(f"no job {job_id!r}", job_id=job_id)
        return _record(row)

    def counts(self) -> dict[str, int]:
        """Jobs per status (all tenants; for readiness and benches)."""
        with self.engine.connect() as conn:
            return {str(s): int(n) for s, n in conn.execute(
                select(t.jobs.c.status, func.count()).group_by(t.jobs.c.status))}

    # -- consumer -----------------------------------------------------------------

    def claim(self, worker: str) -> ClaimedJob | None:
        """Lease the oldest available job (or one whose lease expired), or ``None``."""
        now = time.time()
        j = t.jobs
        ready = ((j.c.status == "queued") & (j.c.available_at <= now)) | (
            (j.c.status == "running") & (j.c.lease_until < now))
        with self._write() as conn:
            stmt = select(j.c.id, j.c.attempts, j.c.max_attempts, j.c.status).where(
                ready).order_by(j.c.available_at).limit(1)
            if conn.dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            row = conn.execute(stmt).first()
            if row is None:
                return None
            if row.attempts >= row.max_attempts:  # its last lease expired: poison job
                conn.execute(update(j).where(j.c.id == row.id).values(
                    status="failed", error_code=LeaseLost.code,
                    error="worker lost the lease on every attempt", updated_at=now_iso(),
                    lease_until=None))
                logger.warning("job %s failed after %d expired leases", row.id, row.attempts)
                return None
            attempt = row.attempts + 1
            conn.execute(update(j).where(j.c.id == row.id).values(
                status="running", attempts=attempt, worker=worker,
                lease_until=now + self.lease_seconds, updated_at=now_iso()))
            job = conn.execute(select(j).where(j.c.id == row.id)).one()
        payload = self.sealer.open(tenant=job.tenant, subject=_PAYLOAD_SUBJECT,
                                   blob=bytes(job.payload_blob))
        if row.status == "running":
            logger.warning("job %s re-delivered (attempt %d): previous lease expired",
                           job.id, attempt)
        return ClaimedJob(id=job.id, tenant=job.tenant, encounter_id=job.encounter_id,
                          attempt=attempt, worker=worker, submitted_by=job.submitted_by,
                          submitted_role=job.submitted_role, content_type=job.content_type,
                          name=job.name, setting=job.setting, payload=payload)

    def _fenced(self, job: ClaimedJob) -> Any:
        j = t.jobs
        return update(j).where(j.c.id == job.id, j.c.status == "running",
                               j.c.worker == job.worker, j.c.attempts == job.attempt)

    def heartbeat(self, job: ClaimedJob) -> bool:
        """Extend the lease; False when the lease was lost."""
        with self._write() as conn:
            result = conn.execute(self._fenced(job).values(
                lease_until=time.time() + self.lease_seconds))
        return bool(result.rowcount)

    def complete(self, job: ClaimedJob) -> bool:
        """Mark done; False when another worker holds the job now (result is idempotent)."""
        with self._write() as conn:  # the note now lives sealed with its encounter only
            result = conn.execute(self._fenced(job).values(
                status="done", lease_until=None, error_code=None, error=None,
                payload_blob=b"", updated_at=now_iso()))
        if not result.rowcount:
            logger.warning("job %s: lease lost before completion (attempt %d)",
                           job.id, job.attempt)
        return bool(result.rowcount)

    def fail(self, job: ClaimedJob, *, code: str, message: str, retryable: bool) -> str:
        """Record a failure: re-queue with back-off when retryable and attempts remain."""
        with self._write() as conn:
            row = conn.execute(select(t.jobs.c.max_attempts).where(
                t.jobs.c.id == job.id)).one()
            again = retryable and job.attempt < row.max_attempts
            status = "queued" if again else "failed"
            conn.execute(self._fenced(job).values(
                status=status, lease_until=None, error_code=code, error=message[:500],
                available_at=time.time() + (self.backoff_seconds * 2.0 ** (job.attempt - 1)
                                            if again else 0.0),
                updated_at=now_iso()))
        logger.info("job %s attempt %d failed with %s -> %s", job.id, job.attempt, code, status)
        return status
