"""Fixtures of the audit tests: SQLite engines, and PostgreSQL when reachable on loopback.

PostgreSQL: ``CODEPROOF_TEST_PG_ADMIN_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``) must reach a role that
can create databases and roles. Each test module gets its own database and an
unprivileged application role, both dropped afterwards. Tests skip with the
reason when the server is unreachable.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from codeproof.audit.checkpoints import Ed25519Signer
from codeproof.audit.log import AuditLog
from codeproof.audit.postgres import harden_postgres
from codeproof.audit.tables import metadata

PG_ADMIN_URL = os.environ.get("CODEPROOF_TEST_PG_ADMIN_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@dataclass
class PgDatabase:
    """A throw-away database: ``owner`` engine (admin) and ``app`` engine (app role)."""

    owner: Engine
    app: Engine
    app_role: str

    def reset(self) -> None:
        """Drop and re-create the audit tables, hardened for the app role."""
        metadata.drop_all(self.owner)
        metadata.create_all(self.owner)
        harden_postgres(self.owner, self.app_role)


@pytest.fixture(scope="module")
def pg_database() -> Iterator[PgDatabase]:
    """A fresh PostgreSQL database + app role for this module (skips when unreachable)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (pip install '.[postgres]')")
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT",
                          connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any connection failure means "absent"
        admin.dispose()
        pytest.skip(f"PostgreSQL not reachable at {make_url(PG_ADMIN_URL).host}: "
                    f"{type(exc).__name__}")
    suffix = uuid.uuid4().hex[:10]
    db, role = f"cp_audit_{suffix}", f"cp_app_{suffix}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{db}"'))
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
    url = make_url(PG_ADMIN_URL).set(database=db)
    owner = create_engine(url)
    app = create_engine(url.set(username=role, password=None))
    with owner.begin() as conn:
        conn.execute(text(f'GRANT USAGE ON SCHEMA public TO "{role}"'))
    try:
        yield PgDatabase(owner=owner, app=app, app_role=role)
    finally:
        owner.dispose()
        app.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


@pytest.fixture()
def signer() -> Ed25519Signer:
    """A fresh in-memory checkpoint signer."""
    return Ed25519Signer.generate()


def fast_sqlite(url: str) -> Engine:
    """A SQLite engine without fsync (tests measure logic, not durability)."""
    engine = create_engine(url)
    event.listen(engine, "connect", lambda conn, _rec: conn.execute("PRAGMA synchronous=OFF"))
    return engine


@pytest.fixture()
def fast_engine() -> Callable[[str], Engine]:
    """Factory of fsync-free SQLite engines."""
    return fast_sqlite


@pytest.fixture()
def sqlite_log(tmp_path: Path, signer: Ed25519Signer) -> AuditLog:
    """An empty audit log in a SQLite file, checkpoint every 10, with a head file."""
    engine = fast_sqlite(f"sqlite:///{tmp_path / 'audit.db'}")
    log = AuditLog(engine, signer=signer, checkpoint_every=10,
                   head_path=tmp_path / "audit" / "head.sig")
    log.create_schema()
    return log
