"""Fixtures of the security tests: an audit log to observe events, sealers on memory/SQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine

from codeproof.audit.log import AuditLog
from codeproof.security.crypto import EnvelopeSealer, SqlKeyStore
from codeproof.security.keys import MemoryKeyProvider

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "security"


@pytest.fixture()
def audit_log(tmp_path: Path) -> AuditLog:
    """An audit log in its own SQLite file (no checkpoints)."""
    log = AuditLog(create_engine(f"sqlite:///{tmp_path / 'audit.db'}"), checkpoint_every=0)
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
