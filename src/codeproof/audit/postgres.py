"""PostgreSQL hardening: the application role may INSERT and SELECT audit rows, never change them.

:func:`harden_postgres` runs as the schema owner (or a superuser) once, after
the tables exist (``AuditLog.create_schema`` or the Alembic migration):

1. ``REVOKE UPDATE, DELETE, TRUNCATE`` on the audit tables from ``PUBLIC`` and
   the application role; ``GRANT SELECT, INSERT`` to it (and ``SELECT, INSERT,
   UPDATE`` on ``data_keys``, whose rows are tombstoned, never deleted);
2. a ``BEFORE UPDATE OR DELETE`` row trigger and a ``BEFORE TRUNCATE`` statement
   trigger that raise, so even the owner cannot change a row without first
   dropping the trigger (which leaves a trace in the DDL log and still breaks
   the hash chain).

Run it again after migrations; it is idempotent.
"""

from __future__ import annotations

import re

from sqlalchemy import Engine, text

from codeproof.errors import ConfigError

__all__ = ["IMMUTABLE_TABLES", "harden_postgres"]

IMMUTABLE_TABLES = ("audit_events", "audit_checkpoints")
_ROLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

_FUNCTION = """
CREATE OR REPLACE FUNCTION codeproof_audit_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'codeproof: % on %.% is forbidden (append-only audit log)',
    TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END;
$$
"""


def harden_postgres(engine: Engine, app_role: str) -> None:
    """Make the audit tables append-only for ``app_role`` (and, by trigger, for everyone)."""
    if engine.dialect.name != "postgresql":
        raise ConfigError("harden_postgres needs a PostgreSQL engine",
                          dialect=engine.dialect.name)
    if not _ROLE.match(app_role):
        raise ConfigError("app_role must be a plain PostgreSQL identifier")
    role = f'"{app_role}"'
    with engine.begin() as conn:
        conn.execute(text(_FUNCTION))
        for table in IMMUTABLE_TABLES:
            conn.execute(text(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM PUBLIC"))
            conn.execute(text(f"REVOKE ALL ON {table} FROM {role}"))
            conn.execute(text(f"GRANT SELECT, INSERT ON {table} TO {role}"))
            conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}"))
            conn.execute(text(
                f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION codeproof_audit_immutable()"))
            conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}"))
            conn.execute(text(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION codeproof_audit_immutable()"))
        conn.execute(text(f"REVOKE ALL ON data_keys FROM {role}"))
        conn.execute(text(f"GRANT SELECT, INSERT, UPDATE ON data_keys TO {role}"))
