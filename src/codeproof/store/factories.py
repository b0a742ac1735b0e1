"""Registry factories of the storage backends (each takes a Runtime).

- ``storage.sqlite.v1``: embedded default, ``<home>/codeproof.db`` unless
  ``backends.database_url`` names another SQLite file;
- ``storage.postgres.v1``: ``backends.database_url`` (``postgresql+psycopg://...``);
- ``storage.memory.v1``: SQLite ``:memory:`` on one shared connection (tests, demos).

All three run the Alembic migrations to head when opened (idempotent), take the
sealer from ``runtime.resource("sealer", ...)`` and the audit sink from
``runtime.resource("audit", ...)`` when the security module provides them.
"""

from __future__ import annotations

import logging
from importlib import import_module
from importlib.util import find_spec
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from codeproof.errors import ConfigError
from codeproof.pipeline import AuditSink
from codeproof.security.base import NullSealer, Sealer
from codeproof.store.migrate import upgrade
from codeproof.store.sql import SqlStore, make_engine

if TYPE_CHECKING:
    from codeproof.runtime import Runtime

__all__ = ["default_sealer", "memory_store", "postgres_store", "sqlite_store"]

logger = logging.getLogger(__name__)


def default_sealer(runtime: Runtime) -> Sealer:
    """The security module's envelope sealer (AES-256-GCM, data keys in the same DB).

    Delegates to ``codeproof.security.crypto.sealer_from_runtime`` (which honours
    ``security.encrypt_at_rest`` and an injected ``sealer``); ``NullSealer`` only
    when that module is not installed.
    """
    if find_spec("codeproof.security.crypto") is None:
        logger.warning("codeproof.security.crypto is not installed: blobs are NOT encrypted")
        return runtime.resource("sealer", lambda _rt: NullSealer())  # type: ignore[no-any-return]
    build = import_module("codeproof.security.crypto").sealer_from_runtime
    sealer: Sealer = build(runtime)
    return sealer


def _audit_sink(runtime: Runtime, engine: Engine) -> AuditSink | None:
    """The hash-chained audit log in the store's database (``None`` if not installed)."""
    def build(rt: Runtime) -> AuditSink | None:
        if find_spec("codeproof.audit.log") is None:
            return None
        opener = import_module("codeproof.audit.log").open_audit_log
        sink: AuditSink = opener(rt.settings, engine=engine)
        return sink

    return runtime.resource("audit", build)  # type: ignore[no-any-return]


def _open(runtime: Runtime, url: str, *, name: str, memory: bool = False) -> SqlStore:
    engine: Engine = runtime.resource("db_engine", lambda _rt: make_engine(url, memory=memory))
    upgrade(engine)
    return SqlStore(engine, sealer=default_sealer(runtime), name=name,
                    audit=_audit_sink(runtime, engine))


def sqlite_store(runtime: Runtime) -> SqlStore:
    """The embedded SQLite store under ``$CODEPROOF_HOME``."""
    url = runtime.settings.database_url
    if not url.startswith("sqlite"):
        raise ConfigError("storage.sqlite.v1 needs a sqlite:/// database_url", url_scheme=
                          url.split(":", 1)[0])
    if url.startswith("sqlite:///") and url != "sqlite://":
        runtime.settings.home.mkdir(parents=True, exist_ok=True)
    return _open(runtime, url, name="storage.sqlite.v1")


def postgres_store(runtime: Runtime) -> SqlStore:
    """The PostgreSQL store at ``backends.database_url``."""
    url = runtime.settings.backends.database_url or ""
    if not url.startswith("postgresql"):
        raise ConfigError("storage.postgres.v1 needs backends.database_url = "
                          "'postgresql+psycopg://user@host/db'")
    return _open(runtime, url, name="storage.postgres.v1")


def memory_store(runtime: Runtime) -> SqlStore:
    """A throw-away in-memory store (same SQL, same migrations)."""
    return _open(runtime, "sqlite://", name="storage.memory.v1", memory=True)


def upgrade_all(runtime: Runtime, *, harden_role: str | None = None) -> dict[str, object]:
    """``codeproof db upgrade``: store migrations, audit + key tables, PG hardening."""
    from codeproof.store import open_store
    from codeproof.store.migrate import current_revision

    store = open_store(runtime)  # opening migrates to head
    engine = store.engine
    report: dict[str, object] = {"store": getattr(store, "name", "?"),
                                 "dialect": engine.dialect.name,
                                 "revision": current_revision(engine)}
    audit = getattr(store, "audit", None)
    if audit is not None and hasattr(audit, "create_schema"):
        audit.create_schema()
        report["audit_tables"] = "ok"
    if harden_role is not None:
        if engine.dialect.name != "postgresql":
            raise ConfigError("--harden-role applies to PostgreSQL only")
        harden = import_module("codeproof.audit.postgres").harden_postgres
        harden(engine, app_role=harden_role)
        report["hardened_for"] = harden_role
    return report
