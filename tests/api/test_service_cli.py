"""The service commands through the real CLI entry point (SQLite under a temp home)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.issue(8)


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"CODEPROOF_HOME": str(home), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "codeproof", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_db_upgrade_token_create_and_revoke(tmp_path: Path) -> None:
    home = tmp_path / "home"
    upgraded = run(home, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert json.loads(upgraded.stdout)["revision"] == "0002"
    created = run(home, "token", "create", "--role", "auditor", "--tenant", "acme")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("cp_") and len(token) > 40 and "\n" not in token
    token_id = created.stderr.split("token id ")[1].split()[0]
    assert run(home, "token", "revoke", token_id).returncode == 0
    missing = run(home, "token", "revoke", "no-such-id")
    assert missing.returncode == 1 and "CP-STO-002" in missing.stderr
    bad = run(home, "token", "create", "--role", "system", "--tenant", "acme")
    assert bad.returncode == 1 and "CP-STO-003" in bad.stderr and not bad.stdout
