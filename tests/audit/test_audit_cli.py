"""The audit/keys/erase/retention commands (CLI contract: `audit verify` exit codes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from codeproof.cli import app
from codeproof.config import load_settings
from codeproof.errors import AuditChainBroken, KeyError_
from codeproof.security.crypto import sealer_from_settings

pytestmark = pytest.mark.issue(7)


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    for key in [k for k in os.environ if k.startswith("CODEPROOF_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("CODEPROOF_HOME", str(home))
    monkeypatch.setenv("CODEPROOF_SECURITY__CHECKPOINT_EVERY", "5")
    monkeypatch.chdir(tmp_path)
    return home


def _run(*args: str) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output, result.exception


def test_verify_export_checkpoint_round_trip(home: Path, tmp_path: Path) -> None:
    code, out, _ = _run("audit", "verify")
    assert code == 0 and "0 events" in out
    sealer = sealer_from_settings(load_settings())
    blob = sealer.seal(tenant="default", subject="enc-1", data=b"synthetic note")
    code, out, _ = _run("keys", "rotate")
    assert code == 0 and "re-wrapped 1 data keys" in out
    code, out, _ = _run("keys", "status")
    assert "1 live, 0 destroyed" in out
    code, out, _ = _run("erase", "--subject", "enc-1", "--tenant", "default")
    assert code == 0 and "data key destroyed" in out
    with pytest.raises(KeyError_):
        sealer_from_settings(load_settings()).open(tenant="default", subject="enc-1",
                                                   blob=blob)
    code, out, _ = _run("retention", "sweep", "--dry-run")
    assert code == 0 and "default: 0 subjects due" in out
    code, out, _ = _run("audit", "checkpoint")
    assert code == 0 and "checkpoint at seq" in out
    code, out, _ = _run("audit", "verify")
    assert code == 0 and "audit chain OK" in out
    bundle = tmp_path / "bundle.json"
    code, out, _ = _run("audit", "export", "--out", str(bundle))
    assert code == 0 and bundle.exists()
    code, out, _ = _run("audit", "verify-bundle", str(bundle))
    assert code == 0 and "bundle OK" in out
    code, out, _ = _run("audit", "log", "--name", "subject.erased")
    assert code == 0 and '"keys_destroyed": 1' in out


def test_verify_names_first_bad_event(home: Path) -> None:
    for _ in range(3):
        assert _run("audit", "checkpoint")[0] == 0
    sealer = sealer_from_settings(load_settings())
    for i in range(4):
        sealer.seal(tenant="default", subject=f"s{i}", data=b"x")
        _run("erase", "--subject", f"s{i}", "--tenant", "default")
    engine = create_engine(f"sqlite:///{home / 'codeproof.db'}")
    with engine.begin() as conn:
        bad_id = conn.execute(text("SELECT event_id FROM audit_events WHERE seq = 2")).scalar()
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2"))
    engine.dispose()
    code, _out, exc = _run("audit", "verify")
    assert code != 0 and isinstance(exc, AuditChainBroken)
    assert bad_id in exc.message and "seq 2" in exc.message
    # the real entry point: error line with the code, non-zero exit, no traceback
    proc = subprocess.run([sys.executable, "-m", "codeproof", "audit", "verify"],
                          capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert proc.returncode == 1
    assert proc.stderr.startswith("error [CP-AUD-002]") and bad_id in proc.stderr
    assert "Traceback" not in proc.stderr


def test_rotate_audit_key_keeps_old_checkpoints_verifiable(home: Path, tmp_path: Path) -> None:
    sealer = sealer_from_settings(load_settings())
    for i in range(7):  # 7 key.created... events are written by erase below
        sealer.seal(tenant="default", subject=f"s{i}", data=b"x")
        _run("erase", "--subject", f"s{i}", "--tenant", "default")
    old_pub = (home / "keys" / "audit_signing.pub").read_text()
    code, out, _ = _run("keys", "rotate-audit-key")
    assert code == 0 and "retired" in out
    assert (home / "keys" / "audit_signing.pub").read_text() != old_pub
    assert len(list((home / "keys" / "audit_trusted").glob("*.pub"))) == 1
    code, out, exc = _run("audit", "verify")
    assert code == 0, exc
    # without the retired public key the old checkpoints would not verify
    from codeproof.audit.checkpoints import Ed25519Signer
    from codeproof.audit.log import AuditLog

    bare = AuditLog(create_engine(f"sqlite:///{home / 'codeproof.db'}"),
                    signer=Ed25519Signer.load_or_create(home / "keys" / "audit_signing.key"))
    report = bare.verify()
    assert not report.ok and report.first_bad_seq == 5 and "forged" in report.reason
    bundle = tmp_path / "b.json"
    assert _run("audit", "export", "--out", str(bundle))[0] == 0
    code, out, exc = _run("audit", "verify-bundle", str(bundle))
    assert code == 0, exc
    code, out, _ = _run("audit", "log", "--name", "audit.key_rotated")
    assert '"old_key_id"' in out


def test_erase_several_subjects_and_whole_tenant(home: Path) -> None:
    sealer = sealer_from_settings(load_settings())
    blobs = {s: sealer.seal(tenant="acme", subject=s, data=b"x") for s in ("", "a", "b", "c")}
    code, out, _ = _run("erase", "--tenant", "acme", "--subject", "a", "--subject", "b")
    assert code == 0 and out.count("data key destroyed") == 2
    assert sealer_from_settings(load_settings()).open(tenant="acme", subject="c",
                                                      blob=blobs["c"]) == b"x"
    code, _, exc = _run("erase", "--tenant", "acme")  # neither --subject nor --all
    assert code != 0 and exc is not None
    code, out, _ = _run("erase", "--tenant", "acme", "--all")
    assert code == 0 and "2 data keys destroyed" in out  # "" and "c" were still live
    with pytest.raises(KeyError_):
        sealer_from_settings(load_settings()).open(tenant="acme", subject="",
                                                   blob=blobs[""])
    assert _run("audit", "verify")[0] == 0


def test_retention_sweep_all_tenants(home: Path, tmp_path: Path) -> None:
    (tmp_path / "codeproof.toml").write_text(  # the working directory's config file
        '[security]\ntenant_regions = {acme = "US", bergen = "EU"}\n'
        'retention_days = {US = 0, EU = 3650}\n', encoding="utf-8")
    sealer = sealer_from_settings(load_settings())
    for tenant in ("acme", "bergen"):
        sealer.seal(tenant=tenant, subject="p1", data=b"x")
    code, out, exc = _run("retention", "sweep", "--all-tenants")
    assert code == 0, exc
    assert "acme: 1 subjects erased" in out and "bergen: 0 subjects erased" in out
    code, _, exc = _run("retention", "sweep", "--all-tenants", "--tenant", "acme")
    assert code != 0
