"""codeproof.audit: the append-only, hash-chained, checkpoint-signed audit log.

- :mod:`codeproof.audit.events` — stored rows (:class:`AuditEvent`) and typed events;
- :mod:`codeproof.audit.log` — :class:`AuditLog` writer, reader and ``verify``;
- :mod:`codeproof.audit.checkpoints` — Ed25519 checkpoints and the signed head file;
- :mod:`codeproof.audit.export` — signed bundles for regulators;
- :mod:`codeproof.audit.postgres` — append-only hardening on PostgreSQL;
- :mod:`codeproof.audit.tables` — SQLAlchemy ``metadata`` for migrations.
"""

from typing import TYPE_CHECKING, Any

from codeproof.audit.events import AuditEvent, Event

if TYPE_CHECKING:
    from codeproof.audit.log import AuditLog, VerifyReport, open_audit_log, verify_audit

__all__ = ["AuditEvent", "AuditLog", "Event", "VerifyReport", "open_audit_log", "verify_audit"]

_FROM_LOG = frozenset({"AuditLog", "VerifyReport", "open_audit_log", "verify_audit"})


def __getattr__(name: str) -> Any:
    """Load :mod:`codeproof.audit.log` (and SQLAlchemy) on first use of its names.

    Pipeline stages import only the event types; a coding worker process never
    writes the log, so it does not pay for importing the database layer.
    """
    if name in _FROM_LOG:
        from codeproof.audit import log

        return getattr(log, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
