"""NCCI PTP/MUE loaders (CMS layouts), PTP and MUE edits, and the modifier check."""

from __future__ import annotations

from datetime import date

import pytest
from _rules_support import FIXTURES, encounter, ids

from codeproof.errors import MalformedPack
from codeproof.rules.base import ClaimView, RuleContext, parse_claim_line
from codeproof.rules.ncci import (
    NCCI_DB,
    ModifierRules,
    NcciRules,
    NcciSource,
    NcciStore,
    NcciTables,
    compile_ncci,
    load_mue,
    load_ptp,
)

pytestmark = pytest.mark.issue(5)

NCCI = FIXTURES / "ncci"


@pytest.fixture(scope="module", params=["memory", "sqlite"])
def tables(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> NcciSource:
    """The same CMS fixture files, parsed in memory and compiled to the SQLite store."""
    if request.param == "memory":
        return NcciTables.from_dir(NCCI)
    folder = tmp_path_factory.mktemp("ncci")
    counts = compile_ncci(NCCI, folder / NCCI_DB)
    assert counts["ptp.practitioner"] == 7 and counts["mue.hospital"] == 1
    source = NcciTables.open(folder)
    assert isinstance(source, NcciStore)
    return source


def _ncci(tables: NcciSource, *lines: str, dos: str = "2026-02-01",
          kind: str = "practitioner"):  # type: ignore[no-untyped-def]
    claim = ClaimView.from_encounter(encounter(lines=lines, dos=dos))
    return NcciRules()(claim, RuleContext(ncci=tables, ncci_claim_type=kind))  # type: ignore[arg-type]


def test_loaders_read_cms_layouts() -> None:
    tables = NcciTables.from_dir(NCCI)
    assert ("20610", "99213") in tables.ptp["practitioner"]
    assert ("96372", "96374") in tables.ptp["hospital"]
    assert ("96372", "96374") not in tables.ptp["practitioner"]
    assert tables.mue["practitioner"]["20610"].value == 2
    assert tables.mue["practitioner"]["20610"].mai == 2
    assert tables.mue["hospital"]["96372"].mai == 3
    edit = tables.ptp["practitioner"][("45378", "45330")][0]
    assert edit.deletion == date(2026, 1, 1)


@pytest.mark.parametrize(
    ("loader", "name", "needle"),
    [(load_ptp, "malformed_ptp.txt", "YYYYMMDD"), (load_mue, "malformed_mue.csv", "1, 2 or 3")],
)
def test_malformed_tables(loader, name, needle) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MalformedPack, match=needle):
        loader((FIXTURES / name).read_text(), source=name)


def test_empty_table_is_malformed() -> None:
    with pytest.raises(MalformedPack, match="no PTP rows"):
        load_ptp("just a header\n", source="x.txt")


@pytest.mark.parametrize(
    ("lines", "dos", "expected"),
    [
        # indicator 0: never bypassable, even with a modifier
        (("93000", "93005-59"), "2026-02-01", ["ncci.ptp.not_bypassable"]),
        # indicator 1 without modifier -> error; with an NCCI modifier -> info
        (("20610", "99213"), "2026-02-01", ["ncci.ptp.modifier_required"]),
        (("20610", "99213-25"), "2026-02-01", ["ncci.ptp.bypassed"]),
        (("11042", "97597-XS"), "2026-02-01", ["ncci.ptp.bypassed"]),
        # a non-NCCI modifier does not bypass
        (("11042", "97597-GP"), "2026-02-01", ["ncci.ptp.modifier_required"]),
        # deletion date is exclusive: last day in effect, then gone
        (("45378", "45330"), "2025-12-31", ["ncci.ptp.modifier_required"]),
        (("45378", "45330"), "2026-01-01", []),
        # effective date is inclusive
        (("43239", "43235"), "2026-03-31", []),
        (("43239", "43235"), "2026-04-01", ["ncci.ptp.modifier_required"]),
        # indicator 9: not applicable
        (("12001", "12002"), "2026-02-01", []),
        # negative: no edit for the pair
        (("99213", "36415"), "2026-02-01", []),
    ],
)
def test_ptp(tables: NcciSource, lines, dos, expected) -> None:  # type: ignore[no-untyped-def]
    got = [i for i in ids(_ncci(tables, *lines, dos=dos)) if i.startswith("ncci.ptp")]
    assert got == expected


def test_ptp_finding_content(tables: NcciSource) -> None:
    (item,) = _ncci(tables, "93000", "93005")
    assert item.severity == "error" and item.blocking
    assert item.codes == ("CPT:93000", "CPT:93005")
    assert item.pack == "cms.ncci.ptp" and "1996-01-01" in item.pack_version
    assert "NCCI" in item.citation


def test_hospital_tables_are_separate(tables: NcciSource) -> None:
    assert _ncci(tables, "96372", "96374", kind="practitioner") == ()
    assert ids(_ncci(tables, "96372", "96374", kind="hospital")) == ["ncci.ptp.modifier_required"]


@pytest.mark.parametrize(
    ("lines", "expected", "blocking"),
    [
        (("20610*2",), [], None),  # at the MUE (borderline)
        (("20610*3",), ["ncci.mue.date_of_service"], True),  # MAI 2: policy, absolute
        (("20610-RT", "20610-LT*2"), ["ncci.mue.date_of_service"], True),  # summed over lines
        (("97110*7",), ["ncci.mue.date_of_service"], False),  # MAI 3: clinical, appealable
        (("97110*6",), [], None),
        (("11042*2",), ["ncci.mue.line"], True),  # MAI 1: per line
        (("11042", "11042-59"), [], None),  # MAI 1: separate lines each within the MUE
    ],
)
def test_mue(tables: NcciSource, lines, expected, blocking) -> None:  # type: ignore[no-untyped-def]
    found = [f for f in _ncci(tables, *lines) if f.rule_id.startswith("ncci.mue")]
    assert [f.rule_id for f in found] == expected
    if blocking is not None:
        assert found[0].blocking is blocking


def test_inpatient_claims_skip_ncci(tables: NcciSource) -> None:
    claim = ClaimView.from_encounter(encounter(lines=("93000", "93005"), setting="inpatient"))
    assert NcciRules()(claim, RuleContext(ncci=tables)) == ()


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (("20610-25",), ["modifier.25.not_em"]),
        (("99213-25",), ["modifier.25.unsupported"]),
        (("99213-25", "20610-RT"), []),
        (("99213-59", "20610"), ["modifier.59.em"]),
        (("97597-59-XS",), ["modifier.59.with_x"]),
        (("97597-XS-XU",), ["modifier.x.multiple"]),
        (("20610-50-RT",), ["modifier.50.laterality"]),
        (("20610-LT-RT",), ["modifier.lt_rt.same_line"]),
        (("20610-50*2",), ["modifier.50.units"]),
        (("20610-50",), []),
        (("93000-76",), ["modifier.76.single"]),
        (("93000", "93000-76"), []),
        (("93000", "93000"), ["modifier.duplicate_line"]),
        (("20610-RT", "20610-LT"), []),
    ],
)
def test_modifiers(lines, expected) -> None:  # type: ignore[no-untyped-def]
    claim = ClaimView.from_encounter(encounter(lines=lines))
    assert ids(ModifierRules()(claim, RuleContext())) == expected


@pytest.mark.parametrize(
    ("text", "code", "mods", "units"),
    [("99213", "99213", (), 1), ("20610-rt*2", "20610", ("RT",), 2),
     ("J1100-JW", "J1100", ("JW",), 1)],
)
def test_parse_claim_line(text: str, code: str, mods: tuple[str, ...], units: int) -> None:
    line = parse_claim_line(text, line=1)
    assert line is not None
    assert (line.code, line.modifiers, line.units) == (code, mods, units)


@pytest.mark.parametrize("text", ["9921", "99213-", "99213-ABC", "99213*x", ""])
def test_parse_claim_line_rejects(text: str) -> None:
    assert parse_claim_line(text, line=1) is None


def test_compile_rejects_empty_folder(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MalformedPack, match="no CMS PTP/MUE files"):
        compile_ncci(tmp_path, tmp_path / "out" / NCCI_DB)


def test_cli_import_ncci(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from codeproof.cli import app

    result = CliRunner().invoke(app, ["rules", "import-ncci", str(NCCI), "--out",
                                      str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "ptp.practitioner" in result.output and (tmp_path / NCCI_DB).is_file()
