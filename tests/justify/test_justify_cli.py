"""CLI: codeproof kb build/add-policy/add-cases/search/status and codeproof report."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from codeproof.cli import app


@pytest.fixture()
def cli(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CODEPROOF_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CODEPROOF_REFERENCE_DIR", str(tmp_path / "no-reference"))
    monkeypatch.setenv("CODEPROOF_JUSTIFY__KB_DENSE", "off")
    monkeypatch.delenv("CODEPROOF_CONFIG", raising=False)
    runner = CliRunner()

    def run(*args: str):  # type: ignore[no-untyped-def]
        result = runner.invoke(app, list(args), catch_exceptions=False)
        return result

    return run


def test_kb_build_search_and_status(cli) -> None:
    result = cli("kb", "build", "--no-codes")
    assert result.exit_code == 0, result.output
    assert "corpus_version" in result.output and "kb-" in result.output
    result = cli("kb", "search", "history of breast cancer no current treatment", "--json")
    assert result.exit_code == 0
    hits = [json.loads(line) for line in result.output.splitlines()]
    assert "ICD-10-CM OCG I.C.2.d" in [h["citation"] for h in hits]
    assert "guideline" in cli("kb", "status").output


def test_kb_add_policy_and_cases(cli, jh, tmp_path) -> None:
    result = cli("kb", "add-policy", str(jh.FIXTURES / "policy_wound_care.html"),
                 "--payer", "Synthetic Plan")
    assert result.exit_code == 0, result.output
    assert "passages" in result.output and "Synthetic Plan" in result.output
    result = cli("kb", "search", "negative pressure wound therapy", "--kind", "policy")
    assert "Synthetic Plan policy policy-wound-care" in result.output
    package = tmp_path / "p.json"
    package.write_text(json.dumps({"encounter_id": "old-1", "codes": [
        {"system": "ICD-10-CM", "code": "L89.153", "description": "Pressure ulcer of sacral "
         "region, stage 3", "routing": "coder_review"}]}))
    result = cli("kb", "add-cases", str(package))
    assert result.exit_code == 0 and "added 1 cases" in result.output


def test_report_writes_pdf_and_fhir(cli, jh, tmp_path, encounter) -> None:
    from codeproof.config import load_settings
    from codeproof.export.package import build_package
    from codeproof.justify.kb import load_kb
    from codeproof.justify.stage import JustifyStage
    from codeproof.review.routing import RoutingStage

    settings = load_settings(environ={}, home=str(tmp_path / "h2"), justify={"kb_dense": "off"})
    enc = RoutingStage(settings.routing)(JustifyStage(kb=load_kb(settings))(encounter))
    package_path = tmp_path / "enc-1.json"
    package_path.write_text(json.dumps(build_package(enc, audit_head="ab" * 32)))
    note = tmp_path / "notes" / "enc-1.txt"
    note.parent.mkdir()
    note.write_text(jh.NOTE, encoding="utf-8")
    fhir_out = tmp_path / "out" / "enc-1.fhir.json"
    args = ["report", str(package_path), "--fhir", str(fhir_out)]
    from codeproof.export.pdf import is_available

    if is_available():
        args += ["--pdf", str(tmp_path / "out" / "enc-1.pdf"), "--notes", str(note.parent)]
    result = cli(*args)
    assert result.exit_code == 0, result.output
    assert json.loads(fhir_out.read_text())["resourceType"] == "Bundle"
    if is_available():
        assert (tmp_path / "out" / "enc-1.pdf").read_bytes().startswith(b"%PDF")
        assert "1 of 1 notes matched" in result.output


def test_report_needs_an_output_and_a_package(cli, tmp_path) -> None:
    bogus = tmp_path / "x.json"
    bogus.write_text("[1, 2]")
    assert cli("report", str(bogus)).exit_code != 0
    from codeproof.errors import MalformedInput

    with pytest.raises(MalformedInput):
        cli("report", str(bogus), "--fhir", str(tmp_path / "o.json"))
