"""Fixtures of the security tests: an audit log to observe events, sealers on memory/SQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, event

from codeproof.audit.log import AuditLog
from codeproof.security.crypto import EnvelopeSealer, SqlKeyStore
from codeproof.security.keys import MemoryKeyProvider

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "security"


@pytest.fixture()
def audit_log(tmp_path: Path) -> AuditLog:
    """An audit log in its own SQLite file (no checkpoints)."""
    engine = create_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    # no fsync in tests: they check logic, not durability
    event.listen(engine, "connect", lambda conn, _rec: conn.execute("PRAGMA synchronous=OFF"))
    log = AuditLog(engine, checkpoint_every=0)
    log.create_schema()
    return log


@pytest.fixture()
def sealer(audit_log: AuditLog) -> EnvelopeSealer:
    """An envelope sealer with data keys in the audit log's database."""
    return EnvelopeSealer(MemoryKeyProvider(), keystore=SqlKeyStore(audit_log.engine))


@pytest.fixture()
def note_bytes() -> bytes:
    """The synthetic note with PHI-looking markers."""
    return (FIXTURES / "synthetic_note.txt").read_bytes()
