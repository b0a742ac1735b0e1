"""Signed audit bundles: export, offline verification, tenant-scoped redaction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from codeproof.audit.checkpoints import Ed25519Signer
from codeproof.audit.events import canonical_json
from codeproof.audit.export import export_bundle, verify_bundle
from codeproof.audit.log import AuditLog
from codeproof.errors import AuditChainBroken, AuditError

pytestmark = pytest.mark.issue(7)


def _fill(log: AuditLog) -> None:
    with log.batch() as sink:
        for i in range(24):
            sink.record("stage.completed", tenant="alpha" if i % 2 else "beta",
                        actor="system", subject=f"enc-{i}", properties={"i": i})


def test_export_round_trip(sqlite_log: AuditLog, tmp_path: Path) -> None:
    _fill(sqlite_log)
    out = tmp_path / "bundle.json"
    summary = export_bundle(sqlite_log, out)
    assert summary["events"] == 24 and summary["redacted"] == 0 and summary["chain_ok"]
    report = verify_bundle(out, expected_key_id=sqlite_log.signer.key_id)  # type: ignore[union-attr]
    assert report.ok and report.events == 24
    exported = list(sqlite_log.iter_events(name="audit.exported"))
    assert len(exported) == 1 and exported[0].properties["bundle_sha256"] == summary["sha256"]
    assert sqlite_log.verify().ok


def test_tenant_scope_redacts_other_tenants(sqlite_log: AuditLog, tmp_path: Path) -> None:
    _fill(sqlite_log)
    out = tmp_path / "alpha.json"
    summary = export_bundle(sqlite_log, out, tenant="alpha")
    assert summary["redacted"] == 12
    body = out.read_text(encoding="utf-8")
    assert "beta" not in body and "enc-0" not in body and "enc-1" in body
    assert verify_bundle(out).ok


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda b: b["events"][3].update(subject="enc-x"), "signature"),
        (lambda b: b["events"].pop(5), "signature"),
        (lambda b: b.update(key_id="0" * 16), "key_id"),
    ],
)
def test_modified_bundle_is_rejected(sqlite_log: AuditLog, tmp_path: Path, mutate,  # type: ignore[no-untyped-def]
                                     reason: str) -> None:
    _fill(sqlite_log)
    out = tmp_path / "b.json"
    export_bundle(sqlite_log, out)
    bundle = json.loads(out.read_text(encoding="utf-8"))
    mutate(bundle)
    out.write_text(canonical_json(bundle), encoding="utf-8")
    report = verify_bundle(out)
    assert not report.ok and reason in report.reason


def test_resigned_bundle_fails_with_expected_key(sqlite_log: AuditLog, tmp_path: Path) -> None:
    """An attacker can re-sign with their own key; the published key id catches it."""
    _fill(sqlite_log)
    expected = sqlite_log.signer.key_id  # type: ignore[union-attr]
    forger = AuditLog(sqlite_log.engine, signer=Ed25519Signer.generate())
    out = tmp_path / "forged.json"
    export_bundle(forger, out, require_valid=False)
    report = verify_bundle(out, expected_key_id=expected)
    assert not report.ok and "expected" in report.reason


def test_broken_chain_is_not_exported(sqlite_log: AuditLog, tmp_path: Path) -> None:
    _fill(sqlite_log)
    with sqlite_log.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'm' WHERE seq = 3"))
    with pytest.raises(AuditChainBroken):
        export_bundle(sqlite_log, tmp_path / "x.json")
    assert not (tmp_path / "x.json").exists()


def test_unreadable_bundle(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(AuditError):
        verify_bundle(bad)
