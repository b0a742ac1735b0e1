"""Helpers for tests and benches that need a real PostgreSQL (throw-away databases).

``CODEPROOF_TEST_PG_ADMIN_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``) names a role allowed to
``CREATE DATABASE``; each test session gets its own database and drops it after.
"""

from __future__ import annotations

import os
import uuid

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

__all__ = ["DEFAULT_ADMIN_URL", "create_database", "drop_database", "postgres_unavailable"]

DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _admin_url() -> str:
    return os.environ.get("CODEPROOF_TEST_PG_ADMIN_URL", DEFAULT_ADMIN_URL)


def postgres_unavailable() -> str | None:
    """``None`` when the admin URL answers, else the reason (for ``pytest.skip``)."""
    try:
        engine = create_engine(_admin_url(), connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except (SQLAlchemyError, ImportError) as exc:
        return f"PostgreSQL not reachable at {make_url(_admin_url()).render_as_string()} " \
               f"({type(exc).__name__}); set CODEPROOF_TEST_PG_ADMIN_URL"
    return None


def create_database(prefix: str = "cp_test") -> str:
    """Create a fresh database; return its SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    engine = create_engine(_admin_url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(_admin_url()).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Drop a database made by :func:`create_database` (terminating its sessions)."""
    name = make_url(url).database
    engine = create_engine(_admin_url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()
