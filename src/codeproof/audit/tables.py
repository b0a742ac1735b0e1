"""SQLAlchemy tables of the audit log and of the data-key store.

All tables live on one :data:`metadata` so that the service's Alembic
migrations can include them (``target_metadata = [..., audit.tables.metadata]``).
:meth:`codeproof.audit.log.AuditLog.create_schema` creates them when absent.

No column ever holds note text or patient identifiers: events carry ids, codes,
digests and offsets only; data keys are stored *wrapped* by the key provider.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = ["audit_checkpoints", "audit_events", "data_keys", "metadata"]

metadata = MetaData()

#: One row per event; ``seq`` is assigned by the writer (1, 2, 3, ...) under a lock.
audit_events = Table(
    "audit_events",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=False),
    Column("event_id", String(32), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("created", String(32), nullable=False),  # ISO-8601 UTC with microseconds
    Column("tenant", String(100), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("properties", Text, nullable=False),  # canonical JSON, PHI-free
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_events_tenant_seq", "tenant", "seq"),
    Index("ix_audit_events_subject", "subject"),
    Index("ix_audit_events_name", "name"),
)

#: Ed25519-signed anchors of the chain head every ``checkpoint_every`` events.
audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=False),
    Column("hash", String(64), nullable=False),
    Column("created", String(32), nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("signature", String(128), nullable=False),  # hex Ed25519 signature
)

#: Per-tenant ('' subject) and per-subject data keys, wrapped by a key provider.
#: A destroyed key keeps its row with ``wrapped`` NULL and ``destroyed`` set, so
#: that ``open`` can tell "erased" from "never existed" and erasure is final.
data_keys = Table(
    "data_keys",
    metadata,
    Column("tenant", String(100), primary_key=True),
    Column("subject", String(200), primary_key=True),
    Column("kek_id", String(100), nullable=False),
    Column("wrapped", LargeBinary, nullable=True),
    Column("created", String(32), nullable=False),
    Column("destroyed", String(32), nullable=True),
    Index("ix_data_keys_created", "created"),
)
