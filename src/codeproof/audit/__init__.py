"""codeproof.audit: the append-only, hash-chained, checkpoint-signed audit log.

- :mod:`codeproof.audit.events` — stored rows (:class:`AuditEvent`) and typed events;
- :mod:`codeproof.audit.log` — :class:`AuditLog` writer, reader and ``verify``;
- :mod:`codeproof.audit.checkpoints` — Ed25519 checkpoints and the signed head file;
- :mod:`codeproof.audit.export` — signed bundles for regulators;
- :mod:`codeproof.audit.postgres` — append-only hardening on PostgreSQL;
- :mod:`codeproof.audit.tables` — SQLAlchemy ``metadata`` for migrations.
"""

from codeproof.audit.events import AuditEvent, Event
from codeproof.audit.log import AuditLog, VerifyReport, open_audit_log, verify_audit

__all__ = ["AuditEvent", "AuditLog", "Event", "VerifyReport", "open_audit_log", "verify_audit"]
