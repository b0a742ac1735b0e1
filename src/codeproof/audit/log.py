"""The append-only, hash-chained audit log with signed checkpoints.

Every row carries ``prev_hash`` (the hash of the row before it, ``0``*64 for
the first) and ``hash``::

    content_digest = sha256(canonical_json({seq, event_id, name, created,
                                            tenant, actor, subject, properties}))
    hash           = sha256(prev_hash + content_digest)

The content digest sits between the row and the chain so that an export
scoped to one tenant can replace other tenants' rows by their digest and
stay verifiable (see :mod:`codeproof.audit.export`). Sequence numbers are
assigned by the writer under a lock (SQLite ``BEGIN IMMEDIATE``; PostgreSQL
``pg_advisory_xact_lock``), so several processes can append concurrently and
the chain never forks.

:meth:`AuditLog.verify` walks the chain and detects an edited, deleted,
re-ordered or inserted row; with the Ed25519 checkpoints (every
``checkpoint_every`` events, plus the head file outside the database) it also
detects truncation below the newest checkpoint and forged checkpoints.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, insert, make_url, select, text

from codeproof.audit.checkpoints import (
    Checkpoint,
    Ed25519Signer,
    load_trusted_keys,
    read_head,
    replace_signing_key,
    verify_checkpoint,
    write_head,
)
from codeproof.audit.events import (
    GENESIS_HASH,
    AuditEvent,
    Event,
    canonical_json,
    check_properties,
    utc_now,
)
from codeproof.audit.tables import audit_checkpoints, audit_events, metadata
from codeproof.errors import AuditChainBroken, AuditError

if TYPE_CHECKING:
    from codeproof.config import Settings

__all__ = [
    "AuditLog",
    "VerifyReport",
    "content_digest",
    "open_audit_log",
    "rotate_signing_key",
    "row_hash",
    "verify_audit",
]

logger = logging.getLogger(__name__)

#: Key of the PostgreSQL advisory lock that serializes appends ("cpaudit").
PG_LOCK_KEY = 0x6370617564697400 >> 8
#: Compiled once (SQLAlchemy caches its SQL); the values are bound per call.
_INSERT_EVENT = insert(audit_events)
_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")


def content_digest(content: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a row's content."""
    return hashlib.sha256(canonical_json(dict(content)).encode("utf-8")).hexdigest()


def row_hash(prev_hash: str, digest: str) -> str:
    """The chain hash of a row from its predecessor's hash and its content digest."""
    return hashlib.sha256((prev_hash + digest).encode("ascii")).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyReport:
    """Outcome of :meth:`AuditLog.verify`; ``first_bad_*`` name the first broken row."""

    ok: bool
    checked: int
    first_bad_event_id: str | None = None
    reason: str = ""
    first_bad_seq: int | None = None
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    checkpoints: int = 0
    anchored_seq: int = 0  # newest seq covered by a valid signed checkpoint/head
    warnings: tuple[str, ...] = ()

    def raise_for_status(self) -> None:
        """Raise :class:`AuditChainBroken` when the chain does not verify."""
        if not self.ok:
            raise AuditChainBroken(
                f"audit chain broken at seq {self.first_bad_seq}"
                f" (event {self.first_bad_event_id or '-'}): {self.reason}",
                event=self.first_bad_event_id, seq=self.first_bad_seq,
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        out = dataclasses.asdict(self)
        out["warnings"] = list(self.warnings)
        return out


@dataclass(frozen=True, slots=True)
class _Problem:
    seq: int
    event_id: str | None
    reason: str


def _to_event(row: Any) -> AuditEvent:
    properties = json.loads(row.properties)
    if not isinstance(properties, dict):
        raise ValueError("properties is not an object")
    return AuditEvent(
        seq=int(row.seq), event_id=row.event_id, name=row.name, created=row.created,
        tenant=row.tenant, actor=row.actor, subject=row.subject, properties=properties,
        prev_hash=row.prev_hash, hash=row.hash,
    )


class _Appender:
    """Appends inside one locked transaction (used by ``record`` and ``batch``)."""

    def __init__(self, log: AuditLog, conn: Connection) -> None:
        self._log = log
        self._conn = conn
        row = conn.execute(
            select(audit_events.c.seq, audit_events.c.hash)
            .order_by(audit_events.c.seq.desc()).limit(1)
        ).first()
        self.seq = int(row.seq) if row is not None else 0
        self.hash = str(row.hash) if row is not None else GENESIS_HASH
        self.new_checkpoints: list[Checkpoint] = []

    def record(self, name: str, *, tenant: str, actor: str, subject: str,
               properties: dict[str, Any]) -> AuditEvent:
        if not _NAME.match(name):
            raise AuditError(f"audit event name {name!r} must be dotted lower-case",
                             name=name)
        for label, value, limit in (("tenant", tenant, 100), ("actor", actor, 200),
                                    ("subject", subject, 200)):
            if not isinstance(value, str) or len(value) > limit or "\n" in value:
                raise AuditError(f"audit {label} must be a single-line id of <= {limit} chars",
                                 field=label)
        check_properties(properties)
        # round-trip through canonical JSON so the stored and hashed forms are identical
        stored = canonical_json(properties)
        event = AuditEvent(
            seq=self.seq + 1, event_id=uuid.uuid4().hex, name=name, created=utc_now(),
            tenant=tenant, actor=actor, subject=subject, properties=json.loads(stored),
            prev_hash=self.hash, hash="",
        )
        event = dataclasses.replace(
            event, hash=row_hash(self.hash, content_digest(event.content()))
        )
        self._conn.execute(_INSERT_EVENT, {
            "seq": event.seq, "event_id": event.event_id, "name": event.name,
            "created": event.created, "tenant": event.tenant, "actor": event.actor,
            "subject": event.subject, "properties": stored, "prev_hash": event.prev_hash,
            "hash": event.hash,
        })
        self.seq, self.hash = event.seq, event.hash
        every = self._log.checkpoint_every
        if self._log.signer is not None and every > 0 and event.seq % every == 0:
            self.new_checkpoints.append(self._checkpoint())
        return event

    def emit(self, event: Event) -> AuditEvent:
        return self.record(event.name, tenant=event.tenant, actor=event.actor,
                           subject=event.subject, properties=event.properties())

    def _checkpoint(self) -> Checkpoint:
        signer = self._log.signer
        if signer is None:  # pragma: no cover - guarded by callers
            raise AuditError("no signer configured for checkpoints")
        checkpoint = signer.checkpoint(seq=self.seq, hash=self.hash, created=utc_now())
        self._conn.execute(insert(audit_checkpoints).values(**checkpoint.to_dict()))
        return checkpoint


class AuditLog:
    """Append-only hash-chained audit log on a SQLAlchemy engine (SQLite or PostgreSQL).

    Implements the pipeline's ``AuditSink`` protocol (:meth:`record`).
    """

    def __init__(self, engine: Engine, *, signer: Ed25519Signer | None = None,
                 checkpoint_every: int = 100, head_path: Path | None = None,
                 trusted_keys: Mapping[str, bytes] | None = None) -> None:
        self.engine = engine
        self.signer = signer
        self.checkpoint_every = checkpoint_every
        self.head_path = head_path
        keys = dict(trusted_keys or {})
        if signer is not None:
            keys.setdefault(signer.key_id, signer.public_key_bytes)
        #: key_id -> raw Ed25519 public key accepted on checkpoints.
        self.trusted_keys = keys

    # -- schema -----------------------------------------------------------------
    def create_schema(self) -> None:
        """Create the audit and data-key tables when absent."""
        metadata.create_all(self.engine, checkfirst=True)

    # -- writing ----------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            dialect = conn.dialect.name
            if dialect == "sqlite":
                conn.exec_driver_sql("PRAGMA busy_timeout = 30000")
                raw = conn.connection.dbapi_connection
                if raw is not None and not getattr(raw, "in_transaction", False):
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                else:  # an engine that begins its own transactions: take the write lock
                    conn.execute(text("DELETE FROM audit_checkpoints WHERE 1 = 0"))
            elif dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    @contextlib.contextmanager
    def batch(self) -> Iterator[_Appender]:
        """Hold the append lock and write many events in one transaction.

        The yielded object has ``record(...)`` and ``emit(event)`` and is itself
        an ``AuditSink``: pass it to ``Pipeline.run(..., audit=sink)``. Nothing is
        visible to other readers until the block exits without error.
        """
        new: list[Checkpoint] = []
        with self._locked() as conn:
            appender = _Appender(self, conn)
            yield appender
            new = appender.new_checkpoints
        self._anchor(new)

    def record(self, name: str, *, tenant: str, actor: str, subject: str,
               properties: dict[str, Any]) -> AuditEvent:
        """Append one event (its own transaction) and return the stored row."""
        with self.batch() as appender:
            return appender.record(name, tenant=tenant, actor=actor, subject=subject,
                                   properties=properties)

    def emit(self, event: Event) -> AuditEvent:
        """Append a typed :class:`~codeproof.audit.events.Event`."""
        return self.record(event.name, tenant=event.tenant, actor=event.actor,
                           subject=event.subject, properties=event.properties())

    def checkpoint(self) -> Checkpoint | None:
        """Sign the current head now (end of a batch, shutdown); None when empty."""
        if self.signer is None:
            raise AuditError("no audit signing key configured; cannot write a checkpoint")
        with self._locked() as conn:
            appender = _Appender(self, conn)
            if appender.seq == 0:
                return None
            existing = conn.execute(
                select(audit_checkpoints).where(audit_checkpoints.c.seq == appender.seq)
            ).first()
            if existing is not None:
                checkpoint = Checkpoint.from_dict(dict(existing._mapping))
            else:
                checkpoint = appender._checkpoint()
        self._anchor([checkpoint])
        return checkpoint

    def _anchor(self, checkpoints: list[Checkpoint]) -> None:
        if checkpoints and self.head_path is not None:
            newest = max(checkpoints, key=lambda c: c.seq)
            write_head(self.head_path, newest)

    # -- reading ----------------------------------------------------------------
    def head(self) -> tuple[int, str]:
        """``(seq, hash)`` of the newest event (``(0, GENESIS_HASH)`` when empty)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(audit_events.c.seq, audit_events.c.hash)
                .order_by(audit_events.c.seq.desc()).limit(1)
            ).first()
        return (int(row.seq), str(row.hash)) if row is not None else (0, GENESIS_HASH)

    def iter_events(self, *, tenant: str | None = None, subject: str | None = None,
                    name: str | None = None, since_seq: int = 0,
                    until_seq: int | None = None,
                    limit: int | None = None) -> Iterator[AuditEvent]:
        """Stored events in sequence order, optionally filtered."""
        query = select(audit_events).where(audit_events.c.seq > since_seq)
        if until_seq is not None:
            query = query.where(audit_events.c.seq <= until_seq)
        if tenant is not None:
            query = query.where(audit_events.c.tenant == tenant)
        if subject is not None:
            query = query.where(audit_events.c.subject == subject)
        if name is not None:
            query = query.where(audit_events.c.name == name)
        query = query.order_by(audit_events.c.seq)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=1000).execute(query)
            try:
                for row in result:
                    yield _to_event(row)
            finally:
                result.close()

    def checkpoints(self) -> list[Checkpoint]:
        """All stored checkpoints in sequence order."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(audit_checkpoints).order_by(audit_checkpoints.c.seq))
            return [Checkpoint.from_dict(dict(row._mapping)) for row in rows]

    # -- verification -----------------------------------------------------------
    def verify(self) -> VerifyReport:
        """Walk the whole chain plus checkpoints and the head file; never raises on tamper."""
        checkpoints = self.checkpoints()
        head = read_head(self.head_path) if self.head_path is not None else None
        anchors = [*checkpoints, *([head] if head is not None else [])]
        wanted = {anchor.seq for anchor in anchors}
        hashes: dict[int, tuple[str, str]] = {}
        problems: list[_Problem] = []
        prev_hash, prev_id = GENESIS_HASH, None
        prev_prev_hash = ""
        prev_consistent = True
        expected, checked = 1, 0
        query = select(audit_events).order_by(audit_events.c.seq)
        with self.engine.connect() as conn, contextlib.closing(
                conn.execution_options(yield_per=1000).execute(query)) as result:
            for row in result:
                checked += 1
                seq = int(row.seq)
                try:
                    event = _to_event(row)
                    consistent = row_hash(event.prev_hash,
                                          content_digest(event.content())) == event.hash
                except ValueError:
                    event, consistent = None, False
                if seq != expected:
                    problems.append(_Problem(
                        seq, row.event_id,
                        f"events seq {expected}..{seq - 1} are missing (deleted rows)"))
                elif row.prev_hash != prev_hash:
                    if prev_id is not None and row.prev_hash == prev_prev_hash:
                        problems.append(_Problem(
                            seq - 1, prev_id,
                            "row was inserted: the next row links past it"))
                    elif prev_id is not None and prev_consistent and consistent:
                        problems.append(_Problem(
                            seq - 1, prev_id,
                            "row was rewritten and re-hashed: the next row no longer "
                            "links to it"))
                    else:
                        problems.append(_Problem(
                            seq, row.event_id,
                            "row does not link to the previous row (edited, re-ordered "
                            "or inserted)"))
                elif not consistent:
                    problems.append(_Problem(
                        seq, row.event_id, "row content does not match its hash (edited row)"))
                if seq in wanted:
                    hashes[seq] = (str(row.hash), str(row.event_id))
                prev_prev_hash = prev_hash
                prev_hash, prev_id, prev_consistent = str(row.hash), str(row.event_id), \
                    consistent
                expected = seq + 1
                if problems:
                    break  # the first bad row is what matters; stop early
        last_seq = expected - 1
        warnings: list[str] = []
        anchored = 0
        if not self.trusted_keys and anchors:
            warnings.append("no trusted public key: checkpoint signatures not checked")
        if self.head_path is not None and head is None and checkpoints:
            warnings.append("head file missing: truncation together with checkpoint "
                            "rows cannot be detected")
        for anchor in sorted(anchors, key=lambda a: a.seq):
            where = "head file" if anchor is head else "checkpoint"
            if problems and anchor.seq >= problems[0].seq:
                break
            event_hash = hashes.get(anchor.seq)
            if self.trusted_keys and not verify_checkpoint(anchor, self.trusted_keys):
                problems.append(_Problem(
                    anchor.seq, event_hash[1] if event_hash else None,
                    f"{where} at seq {anchor.seq} has an invalid signature or unknown key "
                    "(forged checkpoint)"))
                break
            if anchor.seq > last_seq:
                problems.append(_Problem(
                    last_seq + 1, None,
                    f"events after seq {last_seq} are missing but a signed {where} "
                    f"covers seq {anchor.seq} (truncated log)"))
                break
            if event_hash is None or event_hash[0] != anchor.hash:
                problems.append(_Problem(
                    anchored + 1, None,
                    f"signed {where} at seq {anchor.seq} does not match the chain: events "
                    f"after seq {anchored} were rewritten"))
                break
            anchored = max(anchored, anchor.seq)
        if problems:
            first = min(problems, key=lambda p: p.seq)
            event_id = first.event_id
            if event_id is None:
                event_id = self._event_id_at(first.seq)
            return VerifyReport(ok=False, checked=checked, first_bad_event_id=event_id,
                                reason=first.reason, first_bad_seq=first.seq,
                                last_seq=last_seq, last_hash=prev_hash,
                                checkpoints=len(checkpoints), anchored_seq=anchored,
                                warnings=tuple(warnings))
        if last_seq > anchored and self.signer is not None:
            warnings.append(f"{last_seq - anchored} newest events are not yet covered by a "
                            "signed checkpoint")
        return VerifyReport(ok=True, checked=checked, last_seq=last_seq, last_hash=prev_hash,
                            checkpoints=len(checkpoints), anchored_seq=anchored,
                            warnings=tuple(warnings))

    def _event_id_at(self, seq: int) -> str | None:
        with self.engine.connect() as conn:
            value = conn.execute(
                select(audit_events.c.event_id).where(audit_events.c.seq == seq)
            ).scalar()
        return str(value) if value is not None else None


def open_audit_log(settings: Settings, *, engine: Engine | None = None,
                   create: bool = True) -> AuditLog:
    """The audit log of ``settings``: its database, signing key and head file.

    The signing key is ``<home>/keys/audit_signing.key`` (created 0600 when
    absent) and the head file ``<home>/audit/head.sig``.
    """
    home = Path(settings.home)
    home.mkdir(parents=True, exist_ok=True)
    if engine is None:
        engine = _engine(settings.database_url)
    signer = Ed25519Signer.load_or_create(home / "keys" / "audit_signing.key")
    log = AuditLog(engine, signer=signer,
                   checkpoint_every=settings.security.checkpoint_every,
                   head_path=home / "audit" / _head_name(engine, settings.database_url),
                   trusted_keys=load_trusted_keys(home / "keys" / "audit_trusted"))
    if create:
        log.create_schema()
    return log


def _head_name(engine: Engine, default_url: str) -> str:
    """``head.sig`` for the configured database; ``head-<digest>.sig`` for another one
    (a per-region store), so two databases never share one anchor."""
    def where(url: Any) -> str:
        return f"{url.get_backend_name()}|{url.host}|{url.port}|{url.database}"

    mine = where(engine.url)
    if mine == where(make_url(default_url)):
        return "head.sig"
    return f"head-{hashlib.sha256(mine.encode('utf-8')).hexdigest()[:12]}.sig"


def _engine(url: str) -> Engine:
    engine = create_engine(url)
    if engine.dialect.name == "sqlite" and url not in ("sqlite://", "sqlite:///:memory:"):
        event.listen(engine, "connect", _sqlite_wal)
    return engine


def _sqlite_wal(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # one fsync per append instead of three
    cursor.close()


def rotate_signing_key(settings: Settings, *, actor: str = "system",
                       engine: Engine | None = None) -> tuple[str, str]:
    """Retire the audit signing key and start a new one; returns ``(old_id, new_id)``.

    The head is checkpointed with the old key first, its public half is kept in
    ``<home>/keys/audit_trusted/`` so old checkpoints keep verifying, an
    ``audit.key_rotated`` event is recorded and checkpointed with the new key.
    Callers authorize ``admin.keys`` first.
    """
    log = open_audit_log(settings, engine=engine)
    log.verify().raise_for_status()
    if log.head()[0] > 0:
        log.checkpoint()
    home = Path(settings.home)
    old, new = replace_signing_key(home / "keys" / "audit_signing.key",
                                   home / "keys" / "audit_trusted")
    log = open_audit_log(settings, engine=log.engine)
    log.record("audit.key_rotated", tenant=settings.security.default_tenant, actor=actor,
               subject="", properties={"old_key_id": old.key_id, "new_key_id": new.key_id})
    log.checkpoint()
    return old.key_id, new.key_id


def verify_audit(settings: Settings, *, engine: Engine | None = None) -> VerifyReport:
    """Verify the configured audit log (what ``codeproof audit verify`` runs)."""
    return open_audit_log(settings, engine=engine).verify()
