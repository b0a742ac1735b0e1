"""The ``codeproof deid`` contract: DIR/<stem>.json with exact offsets; exit 2 on rejects."""

from __future__ import annotations

import json
import shutil

from typer.testing import CliRunner

from codeproof.cli import app


def test_cli_contract(fixtures_dir, tmp_path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("note_mixed.txt", "note_upper.txt", "note_utf8.txt"):
        shutil.copy(fixtures_dir / name, inputs / name)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["deid", str(inputs), "--out", str(out), "--no-ner"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "note_mixed.json", "note_upper.json", "note_utf8.json"]
    for stem in ("note_mixed", "note_upper", "note_utf8"):
        text = (inputs / f"{stem}.txt").read_bytes().decode("utf-8")
        data = json.loads((out / f"{stem}.json").read_text("utf-8"))
        assert set(data) == {"spans", "text"}
        assert data["spans"], stem
        for span in data["spans"]:
            assert set(span) == {"start", "end", "type"}
            assert 0 <= span["start"] < span["end"] <= len(text)
    mixed = (inputs / "note_mixed.txt").read_bytes().decode("utf-8")
    data = json.loads((out / "note_mixed.json").read_text("utf-8"))
    quoted = {mixed[s["start"]:s["end"]] for s in data["spans"]}
    # the line after the CRLF is still addressed exactly (no newline translation)
    assert "Jane Whitcombe" in quoted and "Okonkwo" in quoted
    assert "Okonkwo" not in data["text"] and "[NAME]" in data["text"]
    assert "\r\n" in data["text"]
    utf8 = json.loads((out / "note_utf8.json").read_text("utf-8"))
    text = (inputs / "note_utf8.txt").read_bytes().decode("utf-8")
    assert {text[s["start"]:s["end"]] for s in utf8["spans"]} == {"2/3/2020", "pemberton"}


def test_cli_operators_and_rejection(fixtures_dir, tmp_path) -> None:
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(app, [
        "deid", str(fixtures_dir / "note_upper.txt"), str(fixtures_dir / "not_utf8.txt"),
        "--out", str(out), "--operator", "surrogate", "--date-shift", "--patient-key", "p1",
        "--no-ner"])
    assert result.exit_code == 2
    assert "not_utf8.txt" in result.output and "CP-DEID-003" in result.output
    data = json.loads((out / "note_upper.json").read_text("utf-8"))
    assert "HALVORSEN" not in data["text"] and "7/22" not in data["text"]
    assert not (out / "not_utf8.json").exists()
    bad = runner.invoke(app, ["deid", str(fixtures_dir / "note_upper.txt"), "--out", str(out),
                              "--operator", "hash"])
    assert bad.exit_code != 0


def test_cli_empty_and_missing_inputs(tmp_path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["deid", str(empty), str(tmp_path / "missing.txt"),
                                      "--out", str(out), "--no-ner"])
    assert result.exit_code == 2 and "missing.txt" in result.output
    assert json.loads((out / "empty.json").read_text("utf-8")) == {"spans": [], "text": ""}


def test_cli_seals_the_mapping_into_the_vault(fixtures_dir, tmp_path, monkeypatch) -> None:
    from codeproof.deid.vault import DirectoryVaultStore, ReidVault
    from codeproof.runtime import Runtime
    from codeproof.security.base import Principal
    from codeproof.security.crypto import sealer_from_runtime

    monkeypatch.setenv("CODEPROOF_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CODEPROOF_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    out, vault_dir = tmp_path / "out", tmp_path / "vault"
    result = CliRunner().invoke(app, ["deid", str(fixtures_dir / "note_mixed.txt"), "--out",
                                      str(out), "--vault", str(vault_dir), "--no-ner"])
    assert result.exit_code == 0, result.output
    for blob in vault_dir.rglob("*.sealed"):
        assert b"Okonkwo" not in blob.read_bytes()
    text = (fixtures_dir / "note_mixed.txt").read_bytes().decode("utf-8")
    released = json.loads((out / "note_mixed.json").read_text("utf-8"))["text"]
    vault = ReidVault(sealer=sealer_from_runtime(Runtime()),
                      store=DirectoryVaultStore(vault_dir))
    auditor = Principal(user="a", role="auditor", tenant="default")
    assert vault.reidentify(auditor, tenant="default", subject="note_mixed",
                            deidentified_text=released) == text
