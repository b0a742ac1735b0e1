"""Envelope encryption at rest: AES-256-GCM under per-tenant / per-subject data keys.

Each (tenant, subject) pair has its own random 256-bit data key (DEK). The
DEK is stored only *wrapped* by the key provider's KEK (see
:mod:`codeproof.security.keys`) in the ``data_keys`` table; the subject ``""``
is the tenant-wide key for objects that belong to no single subject. A sealed
blob is::

    b"CPS" | version (1 byte, =1) | nonce (12 bytes) | AES-256-GCM(ciphertext + tag)

with the associated data ``b"codeproof.sealed/v1\\0" + tenant + b"\\0" + subject``,
so a blob copied to another tenant's or subject's row fails authentication.

Crypto-shredding: :meth:`EnvelopeSealer.destroy_subject_key` deletes the DEK
(the row keeps a tombstone), after which every blob of that subject is noise
and ``open`` raises :class:`~codeproof.errors.KeyError_` (CP-SEC-005). The
audit chain is unaffected: audit rows hold ids and digests, never data.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Engine, create_engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from codeproof.audit.events import KeyCreated, KeyRotated, emit, utc_now
from codeproof.audit.tables import data_keys
from codeproof.errors import KeyError_, SealedBlobInvalid, SecurityError
from codeproof.security.access import authorize
from codeproof.security.base import NullSealer, Principal, Sealer
from codeproof.security.keys import KeyProvider, WrappedKey

if TYPE_CHECKING:
    from codeproof.config import Settings
    from codeproof.runtime import Runtime

__all__ = [
    "BLOB_MAGIC",
    "BLOB_VERSION",
    "DataKeyRecord",
    "EnvelopeSealer",
    "KeyStore",
    "MemoryKeyStore",
    "SqlKeyStore",
    "rotate_keys",
    "sealer_from_runtime",
    "sealer_from_settings",
]

logger = logging.getLogger(__name__)

BLOB_MAGIC = b"CPS"
BLOB_VERSION = 1
_HEADER = len(BLOB_MAGIC) + 1
_NONCE = 12
_AAD_PREFIX = b"codeproof.sealed/v1\x00"


@dataclass(frozen=True, slots=True, kw_only=True)
class DataKeyRecord:
    """A stored data key: wrapped bytes, or a tombstone once destroyed."""

    tenant: str
    subject: str
    kek_id: str
    wrapped: bytes | None
    created: str
    destroyed: str | None = None


class KeyStore(Protocol):
    """Where wrapped data keys live (the database in production)."""

    def get(self, tenant: str, subject: str) -> DataKeyRecord | None:
        """The record of (tenant, subject), tombstones included."""
        ...

    def add(self, record: DataKeyRecord) -> DataKeyRecord:
        """Insert ``record`` unless one exists; return the stored one (race-safe)."""
        ...

    def destroy(self, tenant: str, subject: str) -> bool:
        """Tombstone the key; True when a live key was destroyed."""
        ...

    def rewrap(self, record: DataKeyRecord, wrapped: WrappedKey) -> None:
        """Replace a live record's wrapped key (KEK rotation)."""
        ...

    def records(self, *, tenant: str | None = None) -> Iterator[DataKeyRecord]:
        """Every record (live and destroyed)."""
        ...


class MemoryKeyStore:
    """Key store in a dict (tests)."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], DataKeyRecord] = {}
        self._lock = threading.Lock()

    def get(self, tenant: str, subject: str) -> DataKeyRecord | None:
        """See :class:`KeyStore`."""
        return self._rows.get((tenant, subject))

    def add(self, record: DataKeyRecord) -> DataKeyRecord:
        """See :class:`KeyStore`."""
        with self._lock:
            return self._rows.setdefault((record.tenant, record.subject), record)

    def destroy(self, tenant: str, subject: str) -> bool:
        """See :class:`KeyStore`."""
        with self._lock:
            record = self._rows.get((tenant, subject))
            if record is None or record.wrapped is None:
                return False
            self._rows[(tenant, subject)] = DataKeyRecord(
                tenant=tenant, subject=subject, kek_id=record.kek_id, wrapped=None,
                created=record.created, destroyed=utc_now())
            return True

    def rewrap(self, record: DataKeyRecord, wrapped: WrappedKey) -> None:
        """See :class:`KeyStore`."""
        with self._lock:
            current = self._rows.get((record.tenant, record.subject))
            if current is not None and current.wrapped is not None:
                self._rows[(record.tenant, record.subject)] = DataKeyRecord(
                    tenant=record.tenant, subject=record.subject, kek_id=wrapped.kek_id,
                    wrapped=wrapped.ciphertext, created=current.created)

    def records(self, *, tenant: str | None = None) -> Iterator[DataKeyRecord]:
        """See :class:`KeyStore`."""
        for record in list(self._rows.values()):
            if tenant is None or record.tenant == tenant:
                yield record


class SqlKeyStore:
    """Key store on the ``data_keys`` table (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_schema(self) -> None:
        """Create the ``data_keys`` table when absent."""
        data_keys.create(self.engine, checkfirst=True)

    @staticmethod
    def _record(row: object) -> DataKeyRecord:
        mapping = row._mapping  # type: ignore[attr-defined]
        wrapped = mapping["wrapped"]
        return DataKeyRecord(tenant=mapping["tenant"], subject=mapping["subject"],
                             kek_id=mapping["kek_id"],
                             wrapped=bytes(wrapped) if wrapped is not None else None,
                             created=mapping["created"], destroyed=mapping["destroyed"])

    def get(self, tenant: str, subject: str) -> DataKeyRecord | None:
        """See :class:`KeyStore`."""
        with self.engine.connect() as conn:
            row = conn.execute(select(data_keys).where(
                data_keys.c.tenant == tenant, data_keys.c.subject == subject)).first()
        return self._record(row) if row is not None else None

    def add(self, record: DataKeyRecord) -> DataKeyRecord:
        """See :class:`KeyStore`."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(data_keys).values(
                    tenant=record.tenant, subject=record.subject, kek_id=record.kek_id,
                    wrapped=record.wrapped, created=record.created, destroyed=None))
            return record
        except IntegrityError:  # another process created it first: use theirs
            existing = self.get(record.tenant, record.subject)
            if existing is None:  # pragma: no cover - cannot happen without a delete
                raise
            return existing

    def destroy(self, tenant: str, subject: str) -> bool:
        """See :class:`KeyStore`.

        On SQLite the old bytes are zeroed (``secure_delete``) and the WAL is
        checkpointed and truncated, so the wrapped key leaves the database files
        (best effort: a concurrent reader can delay the WAL truncation).
        """
        with self.engine.begin() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                conn.exec_driver_sql("PRAGMA secure_delete = ON")
            result = conn.execute(update(data_keys).where(
                data_keys.c.tenant == tenant, data_keys.c.subject == subject,
                data_keys.c.wrapped.is_not(None),
            ).values(wrapped=None, destroyed=utc_now()))
        if sqlite and result.rowcount:
            raw = self.engine.raw_connection()
            try:  # outside any transaction, so the checkpoint can run
                cursor = raw.cursor()
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                cursor.close()
            finally:
                raw.close()
        return bool(result.rowcount)

    def rewrap(self, record: DataKeyRecord, wrapped: WrappedKey) -> None:
        """See :class:`KeyStore`."""
        with self.engine.begin() as conn:
            conn.execute(update(data_keys).where(
                data_keys.c.tenant == record.tenant, data_keys.c.subject == record.subject,
                data_keys.c.wrapped.is_not(None),
            ).values(kek_id=wrapped.kek_id, wrapped=wrapped.ciphertext))

    def records(self, *, tenant: str | None = None) -> Iterator[DataKeyRecord]:
        """See :class:`KeyStore`."""
        query = select(data_keys).order_by(data_keys.c.tenant, data_keys.c.subject)
        if tenant is not None:
            query = query.where(data_keys.c.tenant == tenant)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        for row in rows:
            yield self._record(row)


def _check_id(label: str, value: str) -> None:
    if not isinstance(value, str) or "\x00" in value or len(value) > 200:
        raise SecurityError(f"{label} must be a string id without NUL, <= 200 chars",
                            field=label)


class EnvelopeSealer:
    """AES-256-GCM envelope encryption implementing the ``Sealer`` protocol."""

    name = "sealer.envelope.v1"

    def __init__(self, key_provider: KeyProvider, *, keystore: KeyStore | None = None,
                 cache_ttl: float = 60.0, audit: Any | None = None,
                 audit_factory: Callable[[], Any] | None = None) -> None:
        self.key_provider = key_provider
        self.keystore: KeyStore = keystore if keystore is not None else MemoryKeyStore()
        self.cache_ttl = cache_ttl
        #: where ``key.created`` events go (an AuditSink, or a factory built on first use)
        self._audit = audit
        self._audit_factory = audit_factory
        self._cache: dict[tuple[str, str], tuple[float, bytes]] = {}
        self._lock = threading.Lock()

    # -- Sealer protocol ----------------------------------------------------------
    def seal(self, *, tenant: str, subject: str, data: bytes) -> bytes:
        """Encrypt ``data`` for (tenant, subject); creates the data key on first use."""
        key = self._data_key(tenant, subject, create=True)
        nonce = os.urandom(_NONCE)
        sealed = AESGCM(key).encrypt(nonce, data, self._aad(tenant, subject))
        return BLOB_MAGIC + bytes([BLOB_VERSION]) + nonce + sealed

    def open(self, *, tenant: str, subject: str, blob: bytes) -> bytes:
        """Decrypt ``blob``; ``KeyError_`` after erasure, ``SealedBlobInvalid`` if tampered."""
        if len(blob) < _HEADER + _NONCE + 16 or blob[:3] != BLOB_MAGIC:
            raise SealedBlobInvalid("not a codeproof sealed blob", tenant=tenant)
        if blob[3] != BLOB_VERSION:
            raise SealedBlobInvalid(f"unknown sealed blob version {blob[3]}",
                                    version=blob[3])
        key = self._data_key(tenant, subject, create=False)
        nonce = blob[_HEADER:_HEADER + _NONCE]
        try:
            return AESGCM(key).decrypt(nonce, blob[_HEADER + _NONCE:],
                                       self._aad(tenant, subject))
        except InvalidTag:
            raise SealedBlobInvalid(
                "sealed blob fails authentication (tampered, or another tenant/subject)",
                tenant=tenant,
            ) from None

    # -- key lifecycle ------------------------------------------------------------
    def destroy_subject_key(self, tenant: str, subject: str) -> bool:
        """Crypto-shred (tenant, subject): True when a live key was destroyed."""
        _check_id("tenant", tenant)
        _check_id("subject", subject)
        with self._lock:
            self._cache.pop((tenant, subject), None)
        destroyed = self.keystore.destroy(tenant, subject)
        logger.info("data key destroyed tenant=%s destroyed=%s", tenant, destroyed)
        return destroyed

    def destroy_tenant_keys(self, tenant: str) -> int:
        """Crypto-shred every key of ``tenant`` (tenant off-boarding); returns the count."""
        count = 0
        for record in list(self.keystore.records(tenant=tenant)):
            if record.wrapped is not None:
                count += self.destroy_subject_key(tenant, record.subject)
        return count

    def rotate(self) -> tuple[str, str, int]:
        """Rotate the KEK and re-wrap every live data key; ``(old, new, rewrapped)``.

        Data keys themselves do not change, so no blob needs re-encryption.
        """
        old = self.key_provider.active_kek_id
        new = self.key_provider.rotate()
        count = 0
        for record in list(self.keystore.records()):
            if record.wrapped is None or record.kek_id == new:
                continue
            context = self._context(record.tenant, record.subject)
            plain = self.key_provider.unwrap(WrappedKey(record.kek_id, record.wrapped),
                                             context=context)
            self.keystore.rewrap(record, self.key_provider.wrap(plain, context=context))
            count += 1
        with self._lock:
            self._cache.clear()
        return old, new, count

    def has_key(self, tenant: str, subject: str) -> bool:
        """True when (tenant, subject) has a live data key."""
        record = self.keystore.get(tenant, subject)
        return record is not None and record.wrapped is not None

    # -- internals ----------------------------------------------------------------
    def _key_created(self, tenant: str, subject: str, kek_id: str) -> None:
        if self._audit is None and self._audit_factory is not None:
            self._audit = self._audit_factory()
        if self._audit is not None:
            emit(self._audit, KeyCreated(tenant=tenant, actor="system", subject=subject,
                                         kek_id=kek_id))

    @staticmethod
    def _aad(tenant: str, subject: str) -> bytes:
        return _AAD_PREFIX + tenant.encode("utf-8") + b"\x00" + subject.encode("utf-8")

    @staticmethod
    def _context(tenant: str, subject: str) -> dict[str, str]:
        return {"purpose": "codeproof.dek", "tenant": tenant, "subject": subject}

    def _data_key(self, tenant: str, subject: str, *, create: bool) -> bytes:
        _check_id("tenant", tenant)
        _check_id("subject", subject)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get((tenant, subject))
            if hit is not None and now - hit[0] < self.cache_ttl:
                return hit[1]
        record = self.keystore.get(tenant, subject)
        if record is not None and record.wrapped is None:  # tombstone
            raise KeyError_("the data key of this subject was destroyed (erased)",
                            tenant=tenant)
        context = self._context(tenant, subject)
        if record is None:
            if not create:
                raise KeyError_("no data key exists for this subject", tenant=tenant)
            plain = AESGCM.generate_key(bit_length=256)
            wrapped = self.key_provider.wrap(plain, context=context)
            stored = self.keystore.add(DataKeyRecord(
                tenant=tenant, subject=subject, kek_id=wrapped.kek_id,
                wrapped=wrapped.ciphertext, created=utc_now()))
            if stored.wrapped != wrapped.ciphertext:  # lost a race: use the winner's key
                return self._data_key(tenant, subject, create=False)
            self._key_created(tenant, subject, wrapped.kek_id)
            key = plain
        elif record.wrapped is not None:
            key = self.key_provider.unwrap(WrappedKey(record.kek_id, record.wrapped),
                                           context=context)
        else:  # pragma: no cover - tombstones are refused above
            raise KeyError_("the data key of this subject was destroyed", tenant=tenant)
        with self._lock:
            self._cache[(tenant, subject)] = (now, key)
        return key


def sealer_from_settings(settings: Settings, *, engine: Engine | None = None,
                         key_provider: KeyProvider | None = None,
                         audit: Any | None = None,
                         audit_factory: Callable[[], Any] | None = None) -> Sealer:
    """The configured sealer: envelope encryption with the data keys in the database.

    Returns :class:`NullSealer` only when ``security.encrypt_at_rest`` is false.
    """
    if not settings.security.encrypt_at_rest:
        logger.warning("security.encrypt_at_rest is false: blobs are stored in plaintext")
        return NullSealer()
    if key_provider is None:
        from codeproof.registrations import get_registry
        from codeproof.runtime import Runtime

        factory = get_registry("key_providers").get(settings.backends.key_provider)
        key_provider = factory(Runtime(settings))
    if engine is None:
        settings.home.mkdir(parents=True, exist_ok=True)
        engine = create_engine(settings.database_url)
    store = SqlKeyStore(engine)
    store.create_schema()
    return EnvelopeSealer(key_provider, keystore=store, audit=audit,
                          audit_factory=audit_factory)


def sealer_from_runtime(runtime: Runtime) -> Sealer:
    """Shared sealer of a Runtime (``runtime.resource("sealer", ...)``); injectable."""
    def build(rt: Runtime) -> Sealer:
        provider = rt.backend("key_providers")
        engine = rt.resource("db_engine", lambda r: _engine(r.settings))

        def audit_factory() -> Any:  # the store's audit log: same key, same engine
            from codeproof.audit.log import open_audit_log

            return rt.resource("audit", lambda r: open_audit_log(r.settings, engine=engine))

        return sealer_from_settings(rt.settings, engine=engine, key_provider=provider,
                                    audit_factory=audit_factory)

    return runtime.resource("sealer", build)  # type: ignore[no-any-return]


def _engine(settings: Settings) -> Engine:
    settings.home.mkdir(parents=True, exist_ok=True)
    return create_engine(settings.database_url)


def rotate_keys(sealer: EnvelopeSealer, *, principal: Principal,
                audit: Any) -> tuple[str, str, int]:
    """Authorize ``admin.keys``, rotate the KEK, re-wrap data keys, audit ``key.rotated``."""
    authorize(principal, "admin.keys", tenant=principal.tenant, audit=audit)
    old, new, count = sealer.rotate()
    emit(audit, KeyRotated(tenant=principal.tenant, actor=principal.user,
                           provider=sealer.key_provider.name, old_kek_id=old,
                           new_kek_id=new, rewrapped=count))
    return old, new, count
