"""SQLAlchemy Core tables of the store, the job queue and the API tokens.

The schema is created and evolved only by the Alembic migrations in
``codeproof/store/migrations`` (``codeproof db upgrade``); this module is the
shared description the queries use. Sealed blobs are ``LargeBinary``; nothing
here holds note text in clear.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "api_tokens",
    "attestations",
    "cdi_queries",
    "codes",
    "decisions",
    "encounters",
    "jobs",
    "metadata",
]

metadata = MetaData()

encounters = Table(
    "cp_encounters", metadata,
    Column("tenant", String(64), nullable=False),
    Column("id", String(128), nullable=False),
    Column("status", String(32), nullable=False),
    Column("setting", String(16), nullable=False),
    Column("specialty", String(64), nullable=False, default=""),
    Column("source_format", String(64), nullable=False),
    Column("source_sha256", String(64), nullable=False),
    Column("received_at", String(40), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("code_count", Integer, nullable=False),
    Column("routing_json", Text, nullable=False),
    Column("min_confidence", Float, nullable=False),
    Column("priority", Float, nullable=False),
    Column("versions_json", Text, nullable=False),
    Column("drg_weight", Float, nullable=True),
    Column("evidence_support", Float, nullable=False, default=1.0),
    Column("attested_by", String(128), nullable=True),
    Column("sealer", String(64), nullable=False),
    # data-key subject of the sealed blobs: the patient pseudonym, else the encounter id
    Column("subject", String(64), nullable=False, server_default=""),
    Column("notes_blob", LargeBinary, nullable=False),
    Column("package_blob", LargeBinary, nullable=False),
    PrimaryKeyConstraint("tenant", "id", name="pk_cp_encounters"),
)
Index("ix_cp_encounters_queue", encounters.c.tenant, encounters.c.status,
      encounters.c.priority)
Index("ix_cp_encounters_created", encounters.c.tenant, encounters.c.created_at)

codes = Table(
    "cp_codes", metadata,
    Column("tenant", String(64), nullable=False),
    Column("encounter_id", String(128), nullable=False),
    Column("system", String(16), nullable=False),
    Column("code", String(32), nullable=False),
    Column("description", Text, nullable=False),
    Column("confidence", Float, nullable=False),
    Column("routing", String(16), nullable=False),
    Column("sampled_for_audit", Boolean, nullable=False, default=False),
    Column("status", String(16), nullable=False),
    Column("final_code", String(32), nullable=True),
    Column("sequence", Integer, nullable=False, default=0),
    PrimaryKeyConstraint("tenant", "encounter_id", "system", "code", name="pk_cp_codes"),
    ForeignKeyConstraint(["tenant", "encounter_id"],
                         ["cp_encounters.tenant", "cp_encounters.id"],
                         ondelete="CASCADE", name="fk_cp_codes_encounter"),
)
Index("ix_cp_codes_code", codes.c.tenant, codes.c.code)

decisions = Table(
    "cp_decisions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant", String(64), nullable=False),
    Column("encounter_id", String(128), nullable=False),
    Column("system", String(16), nullable=False),
    Column("code", String(32), nullable=False),
    Column("action", String(16), nullable=False),
    Column("new_code", String(32), nullable=True),
    Column("reason", String(64), nullable=False),
    Column("comment", Text, nullable=False, default=""),
    Column("user", String(128), nullable=False),
    Column("role", String(32), nullable=False),
    Column("confidence", Float, nullable=False),
    Column("routing", String(16), nullable=False),
    Column("versions_json", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
)
Index("ix_cp_decisions_encounter", decisions.c.tenant, decisions.c.encounter_id)

attestations = Table(
    "cp_attestations", metadata,
    Column("tenant", String(64), nullable=False),
    Column("encounter_id", String(128), nullable=False),
    Column("user", String(128), nullable=False),
    Column("role", String(32), nullable=False),
    Column("statement", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
    PrimaryKeyConstraint("tenant", "encounter_id", name="pk_cp_attestations"),
)

cdi_queries = Table(
    "cp_cdi_queries", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant", String(64), nullable=False),
    Column("encounter_id", String(128), nullable=False),
    Column("system", String(16), nullable=False),
    Column("code", String(32), nullable=False),
    Column("text_blob", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False),
    Column("updated_by", String(128), nullable=False),
    Column("updated_at", String(40), nullable=False),
    Column("history_json", Text, nullable=False),
    Column("subject", String(64), nullable=False, server_default=""),
    UniqueConstraint("tenant", "encounter_id", "system", "code", name="uq_cp_cdi_code"),
)

jobs = Table(
    "cp_jobs", metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("idempotency_key", String(128), nullable=False),
    Column("status", String(16), nullable=False),  # queued | running | done | failed
    Column("setting", String(16), nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("max_attempts", Integer, nullable=False, default=3),
    Column("lease_until", Float, nullable=True),  # epoch seconds
    Column("worker", String(128), nullable=True),
    Column("submitted_by", String(128), nullable=False),
    Column("submitted_role", String(32), nullable=False),
    Column("content_type", String(128), nullable=True),
    Column("name", String(256), nullable=False),
    Column("encounter_id", String(128), nullable=False),
    Column("payload_sha256", String(64), nullable=False),
    Column("payload_blob", LargeBinary, nullable=False),
    Column("sealer", String(64), nullable=False),
    Column("error_code", String(32), nullable=True),
    Column("error", Text, nullable=True),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    Column("available_at", Float, nullable=False),  # epoch seconds (retry back-off)
    UniqueConstraint("tenant", "idempotency_key", name="uq_cp_jobs_key"),
)
Index("ix_cp_jobs_claim", jobs.c.status, jobs.c.available_at)

api_tokens = Table(
    "cp_api_tokens", metadata,
    Column("id", String(36), primary_key=True),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("user", String(128), nullable=False),
    Column("role", String(32), nullable=False),
    Column("tenant", String(64), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("expires_at", Float, nullable=True),
    Column("revoked", Boolean, nullable=False, default=False),
)
