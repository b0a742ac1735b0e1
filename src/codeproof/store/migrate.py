"""Run the store's Alembic migrations programmatically (``codeproof db upgrade``)."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from codeproof.errors import StorageError

__all__ = ["current_revision", "head_revision", "upgrade"]

logger = logging.getLogger(__name__)

_SCRIPTS = Path(__file__).with_name("migrations")
VERSION_TABLE = "cp_alembic_version"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    return config


def head_revision() -> str:
    """The newest migration revision shipped with this version of codeproof."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    return head or ""


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (``None`` when never migrated)."""
    with engine.connect() as conn:
        return MigrationContext.configure(
            conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Upgrade the database behind ``engine`` to ``revision``; return the new revision."""
    config = _config()
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    except SQLAlchemyError as exc:
        raise StorageError(f"database migration failed ({type(exc).__name__})",
                           dialect=engine.dialect.name) from exc
    now = current_revision(engine) or ""
    logger.info("store schema at revision %s (%s)", now, engine.dialect.name)
    return now
