"""Rule reports on the encounter (``drg`` / ``hcc`` / ``em_level``) and the DRG weights table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _rules_support import FIXTURES, FakeTerminology, code, encounter
from typer.testing import CliRunner

from codeproof.cli import app
from codeproof.config import load_settings
from codeproof.errors import MalformedDrgWeights, RuleDataError
from codeproof.model import Encounter
from codeproof.registrations import get_registry
from codeproof.rules.engine import Validator, build_context, check_package_file
from codeproof.rules.reports import load_drg_weights
from codeproof.runtime import Runtime

pytestmark = pytest.mark.issue(5)

WEIGHTS = FIXTURES / "drg_weights_table5_synthetic.csv"
NOTE = FIXTURES / "note_inpatient.txt"
OFFICE_NOTE = (
    "Established patient seen for type 2 diabetes, worsening, A1c reviewed and CMP reviewed; "
    "lipid panel ordered. Increase metformin to 1000 mg twice daily. Hypertension stable."
)
DRG_KEYS = {"grouper", "grouper_version", "grouped", "return_code", "drg", "description", "mdc",
            "severity", "principal_dx", "procedures", "cc_mcc", "mce", "weight", "gmlos",
            "amlos", "weights_source", "weight_status"}
HCC_KEYS = {"model", "package", "payment_year", "blend", "raf", "raf_parts", "hccs",
            "dropped_by_hierarchy"}
EM_KEYS = {"suggested_code", "mdm", "patient", "code_range", "elements", "reasoning", "billed",
           "cues"}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


def _runtime(home: Path, **rules: Any) -> Runtime:
    settings = load_settings(environ={}, home=home, rules=rules)
    return Runtime(settings, terminology=FakeTerminology())


@pytest.fixture(scope="module")
def runtime(home: Path) -> Runtime:
    return _runtime(home)


@pytest.fixture(scope="module")
def weighted(home: Path) -> Runtime:
    return _runtime(home, drg_weights_file=str(WEIGHTS))


def _inpatient(*extra: str) -> Encounter:
    text = NOTE.read_text()
    return encounter(code("I50.9", seq=1, quote="Heart failure, unspecified", note_text=text),
                     code("E11.22", seq=2, quote="Type 2 diabetes mellitus", note_text=text),
                     *(code(c, seq=3 + i) for i, c in enumerate(extra)),
                     text=text, setting="inpatient", age=74, sex="M", payer="medicare",
                     dos="2026-01-20")


def _outpatient(text: str = OFFICE_NOTE, lines: tuple[str, ...] = ("99213",)) -> Encounter:
    quoted = text.strip() != ""
    return encounter(code("E11.9", seq=1, quote="type 2 diabetes" if quoted else "",
                          note_text=text),
                     code("I10", seq=2, quote="Hypertension" if quoted else "", note_text=text),
                     text=text, setting="outpatient", age=70, sex="F", payer="medicare",
                     lines=lines)


def _reports(enc: Encounter) -> dict[str, dict[str, Any]]:
    return {r.name: json.loads(r.data) for r in enc.reports}


def _stage(runtime: Runtime) -> Any:
    return get_registry("stages").get("rules.validate.v1")(runtime)


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (_inpatient, {"drg", "hcc"}),  # inpatient: DRG + HCC, never E/M
        (_outpatient, {"hcc", "em_level"}),  # outpatient with note text: E/M + HCC, no DRG
        (lambda: _outpatient(text=" "), {"hcc"}),  # borderline: no note text, no E/M level
        (lambda: encounter(code("R51.9", seq=1), text="Headache."), {"hcc", "em_level"}),
        (lambda: encounter(setting="inpatient"), set()),  # no codes: nothing applies
    ],
)
def test_reports_by_setting(runtime: Runtime, build: Any, expected: set[str]) -> None:
    out = _stage(runtime)(build())
    reports = _reports(out)
    assert set(reports) == expected
    keys = {"drg": DRG_KEYS, "hcc": HCC_KEYS, "em_level": EM_KEYS}
    for name, data in reports.items():
        assert set(data) == keys[name], name
    producers = {r.name: r.producer for r in out.reports}
    assert all(p.startswith(f"rules.{n.split('_')[0]}.v1:") for n, p in producers.items())


def test_stage_declares_reports_and_does_not_duplicate(runtime: Runtime) -> None:
    stage = _stage(runtime)
    assert stage.assigns == frozenset({"findings", "reports", "versions"})
    once = stage(_inpatient())
    twice = stage(once)
    assert sorted(r.name for r in twice.reports) == sorted(r.name for r in once.reports)


def test_drg_report_content(runtime: Runtime) -> None:
    data = _reports(_stage(runtime)(_inpatient("N18.4")))["drg"]
    assert data["grouped"] is True and data["drg"] == "292" and data["mdc"] == 5
    assert data["principal_dx"] == "I50.9" and data["grouper_version"] == "v43.1"
    assert {"code": "N18.4", "level": "CC", "effect": "drives_drg"} in data["cc_mcc"]
    assert data["mce"] == {"edits": 0, "errors": 0, "warnings": 0, "items": []}
    assert data["weight"] is None and data["weight_status"] == "no_table"


def test_drg_report_summarises_mce_edits(runtime: Runtime) -> None:
    # I50.9 twice: the MCE "secondary duplicates principal" edit
    data = _reports(_stage(runtime)(_inpatient("I50.9")))["drg"]
    assert data["mce"]["edits"] >= 1 and data["mce"]["errors"] >= 1
    assert all(item["rule_id"].startswith("mce.") for item in data["mce"]["items"])


@pytest.mark.parametrize(
    ("extra", "drg", "weight", "status"),
    [
        (("N18.4",), "292", 0.8888, "ok"),  # CC: in the table
        (("E43",), "291", 1.1111, "ok"),  # MCC
        ((), "293", 0.6666, "ok"),  # no CC/MCC (E11.22 is not a CC)
    ],
)
def test_weight_only_with_the_weights_file(runtime: Runtime, weighted: Runtime,
                                           extra: tuple[str, ...], drg: str, weight: float,
                                           status: str) -> None:
    data = _reports(_stage(weighted)(_inpatient(*extra)))["drg"]
    assert data["drg"] == drg and data["weight"] == pytest.approx(weight)
    assert data["weight_status"] == status
    assert data["weights_source"]["file"] == WEIGHTS.name
    assert data["weights_source"]["rows"] == 4
    plain = _reports(_stage(runtime)(_inpatient(*extra)))["drg"]
    assert plain["drg"] == drg and plain["weight"] is None and plain["weights_source"] is None


def test_drg_not_in_the_weights_table(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "t5.csv"
    path.write_text("MS-DRG,Weights\n999,1.0\n")
    data = _reports(_stage(_runtime(home, drg_weights_file=str(path)))(_inpatient()))["drg"]
    assert data["weight"] is None and data["weight_status"] == "drg_not_in_table"


@pytest.mark.parametrize(
    ("content", "rows", "drg", "weight", "gmlos"),
    [
        ("MS-DRG\tMDC\tTYPE\tMS-DRG Title\tWeights\tGMLOS\tAMLOS\n"
         "001\tPRE\tSURG\tTEST ROW\t26.0001\t28.1\t33.2\n", 1, 1, 26.0001, 28.1),  # tab, 001
        ("MS-DRG|MS-DRG Title|Weights|Geometric mean LOS|Arithmetic mean LOS\n"
         "470|TEST ROW|1,234.5|2.0|2.5\n", 1, 470, 1234.5, 2.0),  # pipe, long CMS names
        ("\ufeffTitle line\n\nMS-DRG,Weights\n5,0.5\n6,0.6\nFootnote: test\n", 2, 6, 0.6,
         None),  # BOM, title, footnote ends the table
    ],
)
def test_weights_layouts(tmp_path: Path, content: str, rows: int, drg: int, weight: float,
                         gmlos: float | None) -> None:
    path = tmp_path / "t5.txt"
    path.write_text(content, encoding="utf-8")
    table = load_drg_weights(path)
    assert len(table.rows) == rows
    row = table.get(drg)
    assert row is not None and row.weight == pytest.approx(weight) and row.gmlos == gmlos
    assert table.get(None) is None and len(table.sha256) == 64


def test_fixture_table_reads() -> None:
    table = load_drg_weights(WEIGHTS)
    assert sorted(table.rows) == [291, 292, 293, 637]
    assert table.rows[292].type == "MED" and table.rows[292].mdc == "05"
    assert table.rows[637].gmlos is None and table.rows[637].title.startswith("TEST ROW")


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "cannot read"),  # missing file
        ("DRG;Weight\n291;1.0\n", "no header row"),  # borderline: unknown separator
        ("MS-DRG,Title\n291,x\n", "no header row"),  # no Weights column
        ("MS-DRG,Weights\n291,heavy\n", "is not a number"),
        ("MS-DRG,Weights\n291,-1.0\n", "negative"),
        ("MS-DRG,Weights\n291,\n", "Weights is empty"),
        ("MS-DRG,Weights\n291,1.0\n291,1.1\n", "repeats"),
        ("MS-DRG,Weights\nabc,1.0\n", "not a DRG number"),
        ("MS-DRG,Weights\n\n", "no DRG rows"),
    ],
)
def test_malformed_weights(tmp_path: Path, content: str | None, needle: str) -> None:
    path = tmp_path / "t5.csv"
    if content is not None:
        path.write_text(content)
    with pytest.raises(MalformedDrgWeights, match=needle) as info:
        load_drg_weights(path)
    assert info.value.code == "CP-RULE-005" and isinstance(info.value, RuleDataError)
    assert "t5.csv" in info.value.message and str(tmp_path) not in info.value.message


def test_malformed_weights_fail_the_stage_build(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "t5.csv"
    path.write_text("nothing here\n")
    with pytest.raises(MalformedDrgWeights):
        _stage(_runtime(home, drg_weights_file=str(path)))


def test_weights_not_loaded_when_drg_family_is_off(tmp_path: Path) -> None:
    context = build_context(terminology=None, families=("hcc",),
                            drg_weights_file=tmp_path / "absent.csv")
    assert context.drg_weights is None
    assert Validator(context, families=("hcc",)).check(_inpatient()).reports[0].name == "hcc"


def test_hcc_report_content(runtime: Runtime) -> None:
    data = _reports(_stage(runtime)(_inpatient("N18.4")))["hcc"]
    assert data["model"] == "CMS-HCC Model V28" and data["payment_year"] == 2027
    assert data["blend"] == [{"model": "CMS-HCC Model V28", "weight": 1.0}]
    by_hcc = {h["hcc"]: h for h in data["hccs"]}
    assert by_hcc["226"]["codes"] == ["I50.9"] and by_hcc["226"]["meat"] == "present"
    assert by_hcc["327"]["meat"] == "no_evidence"  # N18.4 has no evidence span here
    parts = data["raf_parts"]
    assert parts["demographic"] + parts["disease"] == pytest.approx(data["raf"], abs=1e-3)
    no_hcc = _reports(_stage(runtime)(encounter(code("R51.9", seq=1), age=70, sex="F")))
    assert no_hcc["hcc"]["hccs"] == [] and no_hcc["hcc"]["raf_parts"]["disease"] == 0.0


def test_em_report_content(runtime: Runtime) -> None:
    out = _stage(runtime)(_outpatient(lines=("99215",)))
    data = _reports(out)["em_level"]
    assert data["suggested_code"] == "99214" and data["mdm"] == "moderate"
    assert data["patient"] == "established" and data["code_range"] == "99212-99215"
    assert data["elements"]["risk"] == {"level": "moderate", "score": 2, "reason":
                                        "prescription drug management or surgery decision / "
                                        "social determinants"}
    assert data["billed"] == [{"code": "99215", "versus_suggested": "above"}]
    assert all(set(c) == {"note_id", "start", "end"} for c in data["cues"])  # offsets only
    # PHI-free: no note words beyond fixed vocabulary reach the report
    assert "metformin" not in json.dumps(data)


def test_package_with_extensions_validates(weighted: Runtime) -> None:
    from codeproof.export.package import build_package, validate_package
    from codeproof.store.sql import _drg_weight

    package = build_package(_stage(weighted)(_inpatient("N18.4")),
                            created_at="2026-01-20T00:00:00+00:00", validate=False)
    validate_package(package)
    ext = package["extensions"]
    assert set(ext) == {"drg", "hcc"} and ext["drg"]["producer"].startswith("rules.drg.v1:")
    assert ext["drg"]["data"]["weight"] == pytest.approx(0.8888)
    assert _drg_weight(package) == pytest.approx(0.8888)  # what the CMI trend reads
    out_pkg = build_package(_stage(weighted)(_outpatient()), validate=True)
    assert set(out_pkg["extensions"]) == {"hcc", "em_level"}


def test_check_package_file_reports(runtime: Runtime) -> None:
    enc, result = check_package_file(FIXTURES / "package_inpatient.json", runtime=runtime,
                                     note_files=[NOTE])
    assert enc.id == "enc-rules-1"
    assert {r.name for r in result.reports} == {"drg", "hcc"}


def test_cli_validate_prints_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEPROOF_RULES__DRG_WEIGHTS_FILE", str(WEIGHTS))
    pkg = str(FIXTURES / "package_inpatient.json")
    args = ["validate", pkg, "--family", "mce", "--family", "drg", "--family", "hcc"]
    result = CliRunner().invoke(app, [*args, "--json"])
    data = json.loads(result.output)
    assert set(data["reports"]) == {"drg", "hcc"}
    drg = data["reports"]["drg"]["data"]
    assert drg["weight"] == pytest.approx(0.8888) and drg["mce"]["edits"] == 0
    human = CliRunner().invoke(app, args).output
    assert "DRG      MS-DRG 292" in human and "weight 0.8888" in human
    assert "HCC      RAF" in human


def test_cli_validate_malformed_weights(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bad = tmp_path / "t5.csv"
    bad.write_text("MS-DRG,Weights\n291,heavy\n")
    monkeypatch.setenv("CODEPROOF_RULES__DRG_WEIGHTS_FILE", str(bad))
    result = CliRunner().invoke(app, ["validate", str(FIXTURES / "package_inpatient.json"),
                                      "--family", "drg"])
    assert getattr(result.exception, "code", "") == "CP-RULE-005"


def test_claim_is_grouped_once_for_drg_and_cdi(monkeypatch: pytest.MonkeyPatch) -> None:
    from codeproof.rules.drg import DrgGrouper

    grouper = DrgGrouper("v43")
    calls: list[str] = []
    native = grouper._group

    def counting(claim: dict[str, Any]) -> dict[str, Any]:
        calls.append(claim["pdx"]["code"])
        return native(claim)

    monkeypatch.setattr(grouper, "_group", counting)
    args: dict[str, Any] = {"pdx": "I509", "sdx": ("N184",), "procedures": (), "age": 70,
                            "sex": "M", "discharge_status": "01", "on": None}
    first = grouper.group(**args)
    assert grouper.group(**args) is first and len(calls) == 1
    assert grouper.group(**{**args, "sdx": ("E43",)}).drg == 291 and len(calls) == 2
    grouper.close()
