"""The SQL store: SQLAlchemy 2 Core over SQLite (embedded default) or PostgreSQL.

One implementation serves both dialects (and the in-memory fake, which is SQLite
``:memory:`` on a single shared connection). Dialect differences are confined to
:func:`make_engine` (SQLite pragmas: WAL, ``busy_timeout``, foreign keys). Each
write is one ``engine.begin()`` transaction.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, case, create_engine, delete, event, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool

from codeproof.errors import (
    Conflict,
    InvalidDecision,
    NotFound,
    StorageError,
)
from codeproof.model import Encounter
from codeproof.pipeline import AuditSink
from codeproof.security.base import Principal, Sealer
from codeproof.store import tables as t
from codeproof.store.base import (
    ACTIONS,
    CDI_STATUSES,
    REASONS,
    Action,
    Analytics,
    AttestationRecord,
    CdiQuery,
    CodeRow,
    DecisionRecord,
    EncounterMeta,
    QueueItem,
    Store,
)
from codeproof.store.policy import authorize

__all__ = ["SqlStore", "make_engine", "now_iso"]

logger = logging.getLogger(__name__)

_ROUTINGS = ("auto_finalize", "coder_review", "cdi_query")


def now_iso() -> str:
    """Current UTC time, ISO-8601 with microseconds (sorts lexically)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def make_engine(url: str, *, memory: bool = False) -> Engine:
    """Create an engine for ``url``; SQLite gets WAL, a busy timeout and foreign keys."""
    try:
        if memory:
            engine = create_engine("sqlite://", poolclass=StaticPool,
                                   connect_args={"check_same_thread": False})
        elif url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"check_same_thread": False,
                                                      "timeout": 30})
        else:
            engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    except (SQLAlchemyError, ImportError) as exc:
        raise StorageError(f"cannot create database engine ({type(exc).__name__})") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy control transactions (pysqlite's implicit BEGIN is off).
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin_immediate(conn: Connection) -> None:
    # Writers take the lock at BEGIN (no lock-upgrade deadlocks); readers stay deferred.
    immediate = conn.get_execution_options().get("cp_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _float(value: Any, default: float = 0.0) -> float:
    if isinstance(value, bool):
        return default
    if isinstance(value, int | float):
        return float(value)
    return default


def _code_entries(package: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``codes`` of a ``codeproof.package/v1`` document, normalized for the index."""
    entries: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for position, raw in enumerate(package.get("codes") or ()):
        if not isinstance(raw, Mapping):
            continue
        system, code = str(raw.get("system", "")), str(raw.get("code", ""))
        if not system or not code or (system, code) in seen:
            continue
        seen.add((system, code))
        routing = raw.get("routing")
        if isinstance(routing, Mapping):
            routing = routing.get("routing")
        routing = str(routing) if routing in _ROUTINGS else "coder_review"
        query = raw.get("cdi_query") or raw.get("query") or ""
        entries.append({
            "system": system[:16], "code": code[:32],
            "description": str(raw.get("description", "")),
            "confidence": min(1.0, max(0.0, _float(raw.get("confidence")))),
            "routing": routing,
            "sampled_for_audit": bool(raw.get("audit_sample", raw.get("sampled_for_audit"))),
            "sequence": int(raw["sequence"]) if isinstance(raw.get("sequence"), int)
            else position + 1,
            "evidence": len(raw.get("evidence") or ()),
            "query": str(query) if isinstance(query, str) else "",
        })
    return entries


def _drg_weight(package: Mapping[str, Any]) -> float | None:
    """The MS-DRG relative weight: ``extensions.drg.data`` (a stage report) or ``drg``."""
    drg = package.get("drg")
    extensions = package.get("extensions")
    if isinstance(extensions, Mapping) and isinstance(extensions.get("drg"), Mapping):
        drg = extensions["drg"].get("data")
    if isinstance(drg, Mapping):
        for key in ("weight", "relative_weight"):
            if isinstance(drg.get(key), int | float):
                return float(drg[key])
    return None


def _versions(encounter: Encounter, package: Mapping[str, Any]) -> dict[str, str]:
    versions = {k: str(v) for k, v in encounter.versions}
    raw = package.get("versions")
    if isinstance(raw, Mapping):
        versions.update({str(k): str(v) for k, v in raw.items()})
    return versions


class SqlStore(Store):
    """A :class:`Store` over one SQLAlchemy engine."""

    def __init__(self, engine: Engine, *, sealer: Sealer, name: str = "storage.sqlite.v1",
                 audit: AuditSink | None = None) -> None:
        self._engine = engine
        self.sealer = sealer
        self.name = name
        self.audit = audit

    # -- plumbing -----------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (shared with the audit log and the job queue)."""
        return self._engine

    def close(self) -> None:
        """Dispose of the connection pool."""
        self._engine.dispose()

    def _seal(self, tenant: str, subject: str, value: Any) -> bytes:
        return self.sealer.seal(tenant=tenant, subject=subject,
                                data=json.dumps(value).encode("utf-8"))

    def _open(self, tenant: str, subject: str, blob: bytes) -> Any:
        return json.loads(self.sealer.open(tenant=tenant, subject=subject, blob=bytes(blob)))

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (SQLite: ``BEGIN IMMEDIATE``); commits on success."""
        with self._engine.connect() as conn:
            conn = conn.execution_options(cp_write=True)
            with conn.begin():
                yield conn

    def _event(self, name: str, principal: Principal, subject: str,
               properties: dict[str, Any]) -> None:
        if self.audit is not None:
            self.audit.record(name, tenant=principal.tenant, actor=principal.user,
                              subject=subject, properties=properties)

    def _encounter_row(self, conn: Connection, tenant: str, encounter_id: str) -> Any:
        row = conn.execute(select(t.encounters).where(
            t.encounters.c.tenant == tenant, t.encounters.c.id == encounter_id)).first()
        if row is None:
            raise NotFound(f"no encounter {encounter_id!r}", encounter_id=encounter_id)
        return row

    @staticmethod
    def _meta(row: Any) -> EncounterMeta:
        return EncounterMeta(
            id=row.id, tenant=row.tenant, status=row.status, setting=row.setting,
            specialty=row.specialty, source_format=row.source_format,
            source_sha256=row.source_sha256, received_at=row.received_at,
            created_at=row.created_at, updated_at=row.updated_at, created_by=row.created_by,
            code_count=row.code_count, routing=json.loads(row.routing_json),
            min_confidence=row.min_confidence, priority=row.priority,
            versions=json.loads(row.versions_json), drg_weight=row.drg_weight,
            attested_by=row.attested_by,
        )

    @staticmethod
    def _code(row: Any) -> CodeRow:
        return CodeRow(encounter_id=row.encounter_id, system=row.system, code=row.code,
                       description=row.description, confidence=row.confidence,
                       routing=row.routing, sampled_for_audit=bool(row.sampled_for_audit),
                       status=row.status, final_code=row.final_code, sequence=row.sequence)

    # -- encounters ---------------------------------------------------------------

    def save_encounter(self, encounter: Encounter, package: dict[str, Any], *,
                       principal: Principal) -> None:
        """Store (or replace) notes + package sealed, and index the codes, atomically."""
        authorize(principal, "encounter.write", tenant=encounter.tenant, audit=self.audit,
                  subject=encounter.id)
        try:
            sealed = self.seal_encounter(encounter, package)
            with self.write() as conn:
                self.save_encounter_in(conn, encounter, package, sealed, principal=principal)
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot save encounter {encounter.id!r} "
                               f"({type(exc).__name__})", encounter_id=encounter.id) from exc
        self._event("encounter.saved", principal, encounter.id,
                    {"codes": len(_code_entries(package)), "store": self.name})

    def seal_encounter(self, encounter: Encounter,
                       package: Mapping[str, Any]) -> dict[str, Any]:
        """Seal notes, package and CDI query drafts *before* the write transaction.

        Sealing may create the subject's data key (a write of the key store); doing
        it outside the store's transaction keeps SQLite's single writer free.
        """
        tenant = encounter.tenant
        # The patient pseudonym when ingest found one, so erasing a person shreds all
        # of their encounters; else the encounter itself is the subject.
        subject = encounter.subject or encounter.id
        notes = [{"id": n.id, "text": n.text, "kind": n.kind, "date": n.date}
                 for n in encounter.notes]
        return {
            "subject": subject,
            "notes": self._seal(tenant, subject, notes),
            "package": self._seal(tenant, subject, dict(package)),
            "queries": {(e["system"], e["code"]): self._seal(tenant, subject, e["query"])
                        for e in _code_entries(package) if e["routing"] == "cdi_query"},
        }

    def save_encounter_in(self, conn: Connection, encounter: Encounter,
                          package: Mapping[str, Any], sealed: Mapping[str, Any], *,
                          principal: Principal) -> None:
        """The body of :meth:`save_encounter` inside the caller's transaction (jobs).

        ``sealed`` comes from :meth:`seal_encounter`.
        """
        tenant = encounter.tenant
        entries = _code_entries(package)
        routing: dict[str, int] = defaultdict(int)
        for entry in entries:
            routing[entry["routing"]] += 1
        review = [e["confidence"] for e in entries if e["routing"] != "auto_finalize"]
        min_conf = min((e["confidence"] for e in entries), default=1.0)
        priority = (2.0 * (routing["cdi_query"] > 0) + 1.0 * (routing["coder_review"] > 0)
                    + (1.0 - min(review, default=1.0)))
        status = "auto_finalized" if entries and not review else "in_review"
        supported = sum(1 for e in entries if e["evidence"] > 0)
        now = now_iso()
        key = {"tenant": tenant, "encounter_id": encounter.id}
        conn.execute(delete(t.codes).where(t.codes.c.tenant == tenant,
                                           t.codes.c.encounter_id == encounter.id))
        conn.execute(delete(t.attestations).where(
            t.attestations.c.tenant == tenant, t.attestations.c.encounter_id == encounter.id))
        conn.execute(delete(t.cdi_queries).where(
            t.cdi_queries.c.tenant == tenant, t.cdi_queries.c.encounter_id == encounter.id))
        existing = conn.execute(select(t.encounters.c.created_at).where(
            t.encounters.c.tenant == tenant, t.encounters.c.id == encounter.id)).first()
        conn.execute(delete(t.encounters).where(t.encounters.c.tenant == tenant,
                                                t.encounters.c.id == encounter.id))
        conn.execute(insert(t.encounters).values(
            tenant=tenant, id=encounter.id, status=status, setting=encounter.setting,
            specialty=encounter.specialty, source_format=encounter.source.format,
            source_sha256=encounter.source.sha256, received_at=encounter.source.received_at,
            created_at=existing.created_at if existing is not None else now, updated_at=now,
            created_by=principal.user, code_count=len(entries),
            routing_json=_dumps(dict(routing)), min_confidence=min_conf, priority=priority,
            versions_json=_dumps(_versions(encounter, package)),
            drg_weight=_drg_weight(package),
            evidence_support=supported / len(entries) if entries else 1.0,
            attested_by=None, sealer=self.sealer.name, subject=sealed["subject"],
            notes_blob=sealed["notes"], package_blob=sealed["package"],
        ))
        if entries:
            conn.execute(insert(t.codes), [
                {**key, "system": e["system"], "code": e["code"],
                 "description": e["description"], "confidence": e["confidence"],
                 "routing": e["routing"], "sampled_for_audit": e["sampled_for_audit"],
                 "status": "auto_finalized" if e["routing"] == "auto_finalize" else "pending",
                 "final_code": None, "sequence": e["sequence"]}
                for e in entries
            ])
        queries = [e for e in entries if e["routing"] == "cdi_query"]
        if queries:
            conn.execute(insert(t.cdi_queries), [
                {**key, "system": e["system"], "code": e["code"],
                 "text_blob": sealed["queries"][(e["system"], e["code"])],
                 "subject": sealed["subject"],
                 "status": "draft", "updated_by": principal.user, "updated_at": now,
                 "history_json": _dumps([{"at": now, "by": principal.user,
                                          "status": "draft", "edited": "drafted"}])}
                for e in queries
            ])

    def get_package(self, encounter_id: str, *, principal: Principal) -> dict[str, Any]:
        """The decrypted package (codes, evidence; audited)."""
        authorize(principal, "package.read", audit=self.audit, subject=encounter_id)
        with self._engine.connect() as conn:
            row = self._encounter_row(conn, principal.tenant, encounter_id)
        package = self._open(row.tenant, row.subject or row.id, row.package_blob)
        self._event("package.viewed", principal, encounter_id, {})
        if not isinstance(package, dict):
            raise StorageError(f"package of {encounter_id!r} is not an object")
        return package

    def get_notes(self, encounter_id: str, *, principal: Principal) -> list[dict[str, Any]]:
        """The decrypted notes (a PHI view: audited before it happens)."""
        authorize(principal, "notes.read", audit=self.audit, subject=encounter_id,
                  resource="notes")
        with self._engine.connect() as conn:
            row = self._encounter_row(conn, principal.tenant, encounter_id)
        notes = self._open(row.tenant, row.subject or row.id, row.notes_blob)
        self._event("notes.viewed", principal, encounter_id, {"notes": len(notes)})
        return list(notes)

    def get_encounter_meta(self, encounter_id: str, *, principal: Principal) -> EncounterMeta:
        """Clear-text metadata (no PHI)."""
        authorize(principal, "encounter.read")
        with self._engine.connect() as conn:
            return self._meta(self._encounter_row(conn, principal.tenant, encounter_id))

    def list_encounters(self, *, principal: Principal, status: str | None = None,
                        code: str | None = None, query: str | None = None,
                        limit: int = 50, offset: int = 0) -> list[EncounterMeta]:
        """Search the tenant's encounters by status, code (prefix) or id (substring)."""
        authorize(principal, "encounter.read")
        enc = t.encounters
        stmt = select(enc).where(enc.c.tenant == principal.tenant)
        if status:
            stmt = stmt.where(enc.c.status == status)
        if code:
            sub = select(t.codes.c.encounter_id).where(
                t.codes.c.tenant == principal.tenant,
                or_(t.codes.c.code.startswith(code.upper(), autoescape=True),
                    t.codes.c.final_code.startswith(code.upper(), autoescape=True)))
            stmt = stmt.where(enc.c.id.in_(sub))
        if query:
            stmt = stmt.where(enc.c.id.contains(query, autoescape=True))
        stmt = stmt.order_by(enc.c.created_at.desc(), enc.c.id).limit(
            max(1, min(limit, 500))).offset(max(0, offset))
        with self._engine.connect() as conn:
            return [self._meta(row) for row in conn.execute(stmt)]

    def get_codes(self, encounter_id: str, *, principal: Principal) -> list[CodeRow]:
        """The codes of one encounter, in sequence order."""
        authorize(principal, "encounter.read")
        with self._engine.connect() as conn:
            self._encounter_row(conn, principal.tenant, encounter_id)
            rows = conn.execute(select(t.codes).where(
                t.codes.c.tenant == principal.tenant,
                t.codes.c.encounter_id == encounter_id).order_by(t.codes.c.sequence))
            return [self._code(row) for row in rows]

    # -- review -------------------------------------------------------------------

    def record_decision(self, encounter_id: str, *, principal: Principal, system: str,
                        code: str, action: Action, reason: str, new_code: str | None = None,
                        comment: str = "") -> DecisionRecord:
        """Record one coder decision and move the code's review status, atomically."""
        authorize(principal, "decision.write", audit=self.audit, subject=encounter_id)
        if action not in ACTIONS:
            raise InvalidDecision(f"action must be one of {', '.join(ACTIONS)}",
                                  action=str(action))
        if reason not in REASONS:
            raise InvalidDecision(f"reason must be one of {', '.join(REASONS)}",
                                  reason=str(reason))
        if reason == "other" and not comment.strip():
            raise InvalidDecision("reason 'other' needs a comment")
        if action == "modify" and not (new_code or "").strip():
            raise InvalidDecision("a modify decision needs the new code")
        if action != "modify":
            new_code = None
        now = now_iso()
        with self.write() as conn:
            row = self._encounter_row(conn, principal.tenant, encounter_id)
            if row.status == "finalized":
                raise Conflict(f"encounter {encounter_id!r} is attested and final",
                               encounter_id=encounter_id)
            code_row = conn.execute(select(t.codes).where(
                t.codes.c.tenant == principal.tenant, t.codes.c.encounter_id == encounter_id,
                t.codes.c.system == system, t.codes.c.code == code)).first()
            if code_row is None:
                raise NotFound(f"encounter {encounter_id!r} has no code {system}:{code}",
                               encounter_id=encounter_id, code=code)
            status = {"accept": "accepted", "modify": "modified", "reject": "rejected"}[action]
            conn.execute(update(t.codes).where(
                t.codes.c.tenant == principal.tenant, t.codes.c.encounter_id == encounter_id,
                t.codes.c.system == system, t.codes.c.code == code,
            ).values(status=status, final_code=(new_code or "").strip().upper() or None))
            conn.execute(update(t.encounters).where(
                t.encounters.c.tenant == principal.tenant, t.encounters.c.id == encounter_id,
            ).values(updated_at=now, status="in_review"))
            result = conn.execute(insert(t.decisions).values(
                tenant=principal.tenant, encounter_id=encounter_id, system=system, code=code,
                action=action, new_code=(new_code or "").strip().upper() or None,
                reason=reason, comment=comment, user=principal.user, role=principal.role,
                confidence=code_row.confidence, routing=code_row.routing,
                versions_json=row.versions_json, created_at=now,
            ))
            decision_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        self._event("code.decision", principal, encounter_id,
                    {"system": system, "code": code, "action": action, "reason": reason,
                     "new_code": new_code, "decision_id": decision_id})
        return DecisionRecord(
            id=decision_id, encounter_id=encounter_id, system=system, code=code,
            action=action, new_code=(new_code or "").strip().upper() or None, reason=reason,
            comment=comment, user=principal.user, role=principal.role,
            confidence=code_row.confidence, routing=code_row.routing,
            versions=json.loads(row.versions_json), created_at=now)

    def list_decisions(self, *, principal: Principal, encounter_id: str | None = None,
                       limit: int = 1000) -> list[DecisionRecord]:
        """Decisions of the tenant, oldest first."""
        authorize(principal, "encounter.read")
        d = t.decisions
        stmt = select(d).where(d.c.tenant == principal.tenant)
        if encounter_id is not None:
            stmt = stmt.where(d.c.encounter_id == encounter_id)
        stmt = stmt.order_by(d.c.id).limit(max(1, min(limit, 100_000)))
        with self._engine.connect() as conn:
            return [DecisionRecord(
                id=r.id, encounter_id=r.encounter_id, system=r.system, code=r.code,
                action=r.action, new_code=r.new_code, reason=r.reason, comment=r.comment,
                user=r.user, role=r.role, confidence=r.confidence, routing=r.routing,
                versions=json.loads(r.versions_json), created_at=r.created_at,
            ) for r in conn.execute(stmt)]

    def attest(self, encounter_id: str, *, principal: Principal,
               statement: str) -> AttestationRecord:
        """Finalize an encounter once every code it holds for review has a decision."""
        authorize(principal, "encounter.attest", audit=self.audit, subject=encounter_id)
        if not statement.strip():
            raise InvalidDecision("an attestation needs a statement")
        now = now_iso()
        with self.write() as conn:
            row = self._encounter_row(conn, principal.tenant, encounter_id)
            if row.status == "finalized":
                raise Conflict(f"encounter {encounter_id!r} is already attested",
                               encounter_id=encounter_id)
            pending = conn.execute(select(func.count()).select_from(t.codes).where(
                t.codes.c.tenant == principal.tenant, t.codes.c.encounter_id == encounter_id,
                t.codes.c.status == "pending")).scalar_one()
            if pending:
                raise Conflict(f"{pending} code(s) still need a decision before attestation",
                               encounter_id=encounter_id, pending=int(pending))
            conn.execute(insert(t.attestations).values(
                tenant=principal.tenant, encounter_id=encounter_id, user=principal.user,
                role=principal.role, statement=statement, created_at=now))
            conn.execute(update(t.encounters).where(
                t.encounters.c.tenant == principal.tenant, t.encounters.c.id == encounter_id,
            ).values(status="finalized", attested_by=principal.user, updated_at=now))
        self._event("encounter.attested", principal, encounter_id, {})
        return AttestationRecord(encounter_id=encounter_id, user=principal.user,
                                 role=principal.role, statement=statement, created_at=now)

    def get_attestation(self, encounter_id: str, *,
                        principal: Principal) -> AttestationRecord | None:
        """The attestation of an encounter, if any."""
        authorize(principal, "encounter.read")
        with self._engine.connect() as conn:
            r = conn.execute(select(t.attestations).where(
                t.attestations.c.tenant == principal.tenant,
                t.attestations.c.encounter_id == encounter_id)).first()
        if r is None:
            return None
        return AttestationRecord(encounter_id=r.encounter_id, user=r.user, role=r.role,
                                 statement=r.statement, created_at=r.created_at)

    def review_queue(self, queue: str, *, principal: Principal,
                     limit: int = 50) -> list[QueueItem]:
        """The ``coder``, ``cdi`` or ``audit`` queue of the tenant."""
        if queue not in ("coder", "cdi", "audit"):
            raise InvalidDecision("queue must be one of coder, cdi, audit", queue=queue)
        authorize(principal, f"queue.{queue}", audit=self.audit)
        enc, c = t.encounters, t.codes
        pending = func.sum(case((c.c.status == "pending", 1), else_=0))
        lowest = func.min(c.c.confidence)
        stmt = (select(enc, pending.label("pending"), lowest.label("lowest"))
                .join(c, and_(c.c.tenant == enc.c.tenant, c.c.encounter_id == enc.c.id))
                .where(enc.c.tenant == principal.tenant)
                .group_by(*enc.c))
        if queue == "coder":
            stmt = stmt.where(enc.c.status == "in_review").having(pending > 0)
            stmt = stmt.order_by(enc.c.priority.desc(), lowest, enc.c.created_at)
        elif queue == "cdi":
            cdi = func.sum(case((c.c.routing == "cdi_query", 1), else_=0))
            stmt = stmt.where(enc.c.status != "finalized").having(cdi > 0)
            stmt = stmt.order_by(enc.c.priority.desc(), lowest, enc.c.created_at)
        else:
            sampled = func.sum(case((c.c.sampled_for_audit, 1), else_=0))
            stmt = stmt.where(enc.c.status == "auto_finalized").having(sampled > 0)
            stmt = stmt.order_by(enc.c.created_at.desc())
        stmt = stmt.limit(max(1, min(limit, 500)))
        with self._engine.connect() as conn:
            return [QueueItem(encounter=self._meta(r), pending=int(r.pending or 0),
                              lowest_confidence=float(r.lowest if r.lowest is not None
                                                      else 1.0))
                    for r in conn.execute(stmt)]

    # -- CDI ----------------------------------------------------------------------

    def _query(self, r: Any) -> CdiQuery:
        return CdiQuery(id=r.id, encounter_id=r.encounter_id, system=r.system, code=r.code,
                        text=str(self._open(r.tenant, r.subject or r.encounter_id,
                                            r.text_blob)),
                        status=r.status, updated_by=r.updated_by, updated_at=r.updated_at,
                        history=tuple(json.loads(r.history_json)))

    def list_cdi_queries(self, *, principal: Principal,
                         encounter_id: str | None = None) -> list[CdiQuery]:
        """Drafted physician queries of the tenant."""
        authorize(principal, "cdi.read", audit=self.audit, subject=encounter_id or "",
                  resource="cdi_queries")
        q = t.cdi_queries
        stmt = select(q).where(q.c.tenant == principal.tenant)
        if encounter_id is not None:
            stmt = stmt.where(q.c.encounter_id == encounter_id)
        with self._engine.connect() as conn:
            return [self._query(r) for r in conn.execute(stmt.order_by(q.c.id))]

    def update_cdi_query(self, query_id: int, *, principal: Principal,
                         text: str | None = None, status: str | None = None) -> CdiQuery:
        """Edit a query's text and/or status; each change is appended to its history."""
        authorize(principal, "cdi.write", audit=self.audit)
        if status is not None and status not in CDI_STATUSES:
            raise InvalidDecision(f"status must be one of {', '.join(CDI_STATUSES)}",
                                  status=status)
        if text is None and status is None:
            raise InvalidDecision("nothing to update: give text and/or status")
        now = now_iso()
        q = t.cdi_queries
        sealed_text: bytes | None = None
        if text is not None:
            with self._engine.connect() as conn:
                owner = conn.execute(select(q.c.encounter_id, q.c.subject).where(
                    q.c.tenant == principal.tenant, q.c.id == query_id)).first()
            if owner is None:
                raise NotFound(f"no CDI query {query_id}", query_id=query_id)
            sealed_text = self._seal(principal.tenant, owner.subject or owner.encounter_id,
                                     text)
        with self.write() as conn:
            r = conn.execute(select(q).where(q.c.tenant == principal.tenant,
                                             q.c.id == query_id)).first()
            if r is None:
                raise NotFound(f"no CDI query {query_id}", query_id=query_id)
            history = json.loads(r.history_json)
            history.append({"at": now, "by": principal.user, "status": status or r.status,
                            "edited": "text" if text is not None else "status"})
            values: dict[str, Any] = {"updated_by": principal.user, "updated_at": now,
                                      "history_json": _dumps(history)}
            if sealed_text is not None:
                values["text_blob"] = sealed_text
            if status is not None:
                values["status"] = status
            conn.execute(update(q).where(q.c.tenant == principal.tenant, q.c.id == query_id)
                         .values(**values))
            r = conn.execute(select(q).where(q.c.tenant == principal.tenant,
                                             q.c.id == query_id)).one()
        self._event("cdi.query.updated", principal, r.encounter_id,
                    {"query_id": query_id, "status": r.status})
        return self._query(r)

    # -- analytics ----------------------------------------------------------------

    def analytics(self, *, principal: Principal) -> Analytics:
        """Automation rate, override rates, agreement and the CMI trend (upcoding watch)."""
        authorize(principal, "analytics.read", audit=self.audit)
        tenant = principal.tenant
        with self._engine.connect() as conn:
            n_enc = conn.execute(select(func.count()).select_from(t.encounters).where(
                t.encounters.c.tenant == tenant)).scalar_one()
            code_counts: dict[str, int] = {
                str(routing): int(n) for routing, n in conn.execute(
                    select(t.codes.c.routing, func.count()).where(t.codes.c.tenant == tenant)
                    .group_by(t.codes.c.routing))}
            by_action = list(conn.execute(
                select(t.decisions.c.code, t.decisions.c.action, t.decisions.c.reason,
                       func.count()).where(t.decisions.c.tenant == tenant)
                .group_by(t.decisions.c.code, t.decisions.c.action, t.decisions.c.reason)))
            days = list(conn.execute(
                select(func.substr(t.encounters.c.created_at, 1, 10).label("day"),
                       func.avg(t.encounters.c.drg_weight), func.count(),
                       func.avg(t.encounters.c.evidence_support))
                .where(t.encounters.c.tenant == tenant,
                       t.encounters.c.drg_weight.is_not(None))
                .group_by("day").order_by("day")))
        n_codes = int(sum(code_counts.values()))
        auto = int(code_counts.get("auto_finalize", 0))
        decided = sum(int(n) for _, _, _, n in by_action)
        accepts = sum(int(n) for _, a, _, n in by_action if a == "accept")
        per_code: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        per_reason: dict[str, int] = defaultdict(int)
        for code, action, reason, n in by_action:
            per_code[code][1] += int(n)
            if action != "accept":
                per_code[code][0] += int(n)
                per_reason[reason] += int(n)
        trend = tuple((str(d), round(float(c), 4), int(n), round(float(s or 0.0), 4))
                      for d, c, n, s in days)
        alert, detail = _upcoding_watch(trend)
        return Analytics(
            encounters=int(n_enc), codes=n_codes, auto_finalized_codes=auto,
            automation_rate=auto / n_codes if n_codes else 0.0, decided=decided,
            override_rate=(decided - accepts) / decided if decided else 0.0,
            agreement=accepts / decided if decided else 0.0,
            overrides_by_code=tuple(sorted(((c, o, d) for c, (o, d) in per_code.items()),
                                           key=lambda x: (-x[1], x[0]))),
            overrides_by_reason=tuple(sorted(per_reason.items(), key=lambda x: (-x[1], x[0]))),
            cmi_trend=trend, upcoding_alert=alert, upcoding_detail=detail,
        )

    def history(self, encounter_id: str, *, principal: Principal) -> list[dict[str, Any]]:
        """The review trail of one encounter (decisions, CDI edits, attestation), in order."""
        authorize(principal, "encounter.read")
        events: list[dict[str, Any]] = []
        for d in self.list_decisions(principal=principal, encounter_id=encounter_id):
            events.append({"at": d.created_at, "event": "code.decision", "by": d.user,
                           "detail": f"{d.action} {d.system}:{d.code}"
                           + (f" -> {d.new_code}" if d.new_code else "")
                           + f" ({d.reason})"})
        with self._engine.connect() as conn:
            for r in conn.execute(select(t.cdi_queries.c.code, t.cdi_queries.c.history_json)
                                  .where(t.cdi_queries.c.tenant == principal.tenant,
                                         t.cdi_queries.c.encounter_id == encounter_id)):
                for h in json.loads(r.history_json):
                    events.append({"at": h["at"], "event": "cdi.query", "by": h["by"],
                                   "detail": f"{r.code}: {h['edited']} ({h['status']})"})
        attestation = self.get_attestation(encounter_id, principal=principal)
        if attestation is not None:
            events.append({"at": attestation.created_at, "event": "encounter.attested",
                           "by": attestation.user, "detail": "attested and finalized"})
        return sorted(events, key=lambda e: str(e["at"]))


def _upcoding_watch(trend: Iterable[tuple[str, float, int, float]]) -> tuple[bool, str]:
    """Alert when the CMI of the recent half rises > 5% while evidence support does not.

    A case-mix rise explained by better documentation (more codes backed by evidence
    spans) is expected after CDI work; a rise without it is the upcoding signal.
    """
    points = list(trend)
    if len(points) < 2:
        return False, "not enough days with DRG weights to judge a trend"
    half = len(points) // 2
    base, recent = points[:half], points[half:]

    def _avg(rows: list[tuple[str, float, int, float]], cmi: bool) -> float:
        weight = sum(r[2] for r in rows)
        total = sum((r[1] if cmi else r[3]) * r[2] for r in rows)
        return total / weight if weight else 0.0

    cmi_base, cmi_recent = _avg(base, True), _avg(recent, True)
    sup_base, sup_recent = _avg(base, False), _avg(recent, False)
    rise = (cmi_recent - cmi_base) / cmi_base if cmi_base else 0.0
    detail = (f"CMI {cmi_base:.3f} -> {cmi_recent:.3f} ({rise:+.1%}); evidence support "
              f"{sup_base:.2f} -> {sup_recent:.2f}")
    return rise > 0.05 and sup_recent <= sup_base, detail
