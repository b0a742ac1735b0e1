"""On PostgreSQL the application role can append audit rows but never change them."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from codeproof.audit.checkpoints import Ed25519Signer
from codeproof.audit.log import AuditLog
from codeproof.audit.postgres import harden_postgres
from codeproof.errors import ConfigError

pytestmark = [pytest.mark.issue(7), pytest.mark.postgres]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET subject = 'x' WHERE seq = 1",
        "DELETE FROM audit_events WHERE seq = 1",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
        "UPDATE audit_checkpoints SET hash = 'x'",
        "DELETE FROM audit_checkpoints",
    ],
)
def test_app_role_cannot_update_or_delete(pg_database, statement: str) -> None:  # type: ignore[no-untyped-def]
    pg_database.reset()
    log = AuditLog(pg_database.app, signer=Ed25519Signer.generate(), checkpoint_every=1)
    log.record("x.y", tenant="t", actor="a", subject="s", properties={"i": 1})  # INSERT works
    with pytest.raises(DBAPIError) as info, pg_database.app.begin() as conn:
        conn.execute(text(statement))
    assert "permission denied" in str(info.value.orig).lower()
    assert log.verify().ok


def test_trigger_stops_even_the_owner(pg_database) -> None:  # type: ignore[no-untyped-def]
    pg_database.reset()
    log = AuditLog(pg_database.app, checkpoint_every=0)
    log.record("x.y", tenant="t", actor="a", subject="s", properties={})
    with pytest.raises(DBAPIError) as info, pg_database.owner.begin() as conn:
        conn.execute(text("DELETE FROM audit_events"))
    assert "append-only audit log" in str(info.value.orig)
    assert log.verify().ok and log.verify().checked == 1


def test_harden_is_idempotent_and_checks_input(pg_database) -> None:  # type: ignore[no-untyped-def]
    pg_database.reset()
    harden_postgres(pg_database.owner, pg_database.app_role)  # second run: no error
    with pytest.raises(ConfigError):
        harden_postgres(pg_database.owner, "app; DROP TABLE audit_events")
    with pytest.raises(ConfigError):
        harden_postgres(create_engine("sqlite://"), "app")


def test_concurrent_appends_serialize_on_postgres(pg_database) -> None:  # type: ignore[no-untyped-def]
    """Several workers append at once through the advisory lock: one unforked chain."""
    from concurrent.futures import ThreadPoolExecutor

    pg_database.reset()
    log = AuditLog(pg_database.app, signer=Ed25519Signer.generate(), checkpoint_every=10)

    def worker(n: int) -> None:
        for i in range(15):
            log.record("load.test", tenant="t", actor=f"w{n}", subject=str(i),
                       properties={"i": i})

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(worker, range(4)))
    report = log.verify()
    assert report.ok and report.checked == 60 and report.checkpoints == 6
