"""ICD-10-CM tabular edits (fake terminology mirroring the real tabular)."""

from __future__ import annotations

import pytest
from _rules_support import FakeTarget, FakeTerminology, code, encounter, ids

from codeproof.rules.base import ClaimView, RuleContext, code_matches
from codeproof.rules.icd10cm_tabular import TabularRules

pytestmark = pytest.mark.issue(5)


def _run(*codes):  # type: ignore[no-untyped-def]
    claim = ClaimView.from_encounter(encounter(*codes))
    return TabularRules()(claim, RuleContext(terminology=FakeTerminology()))


@pytest.mark.parametrize(
    ("codes", "expected", "absent"),
    [
        # positive: invalid and header codes
        ((("E11.99", 1),), ["icd10cm.invalid_code"], []),
        ((("E11", 1),), ["icd10cm.header_code"], []),
        # positive: 7th character missing / not allowed; borderline: valid 7th char
        ((("S72.001", 1),), ["icd10cm.seventh_char.missing"], ["icd10cm.header_code"]),
        ((("S72.001Z", 1),), ["icd10cm.seventh_char.invalid"], ["icd10cm.invalid_code"]),
        ((("S72.001A", 1),), [], ["icd10cm.seventh_char.missing", "icd10cm.invalid_code"]),
        # Excludes1 inherited from the category (E11 excludes E10.-)
        ((("E11.9", 1), ("E10.9", 2)), ["icd10cm.excludes1"], []),
        # negative: same family, no Excludes1
        ((("E11.22", 1), ("N18.4", 2)), [], ["icd10cm.excludes1"]),
        # Excludes2 is informational
        ((("K21.9", 1), ("K20.9", 2)), ["icd10cm.excludes2"], ["icd10cm.excludes1"]),
        # code first: etiology missing; wrong order; right order
        ((("I50.9", 1),), ["icd10cm.code_first.missing"], []),
        ((("I50.9", 1), ("I11.0", 2)), ["icd10cm.code_first.order"],
         ["icd10cm.code_first.missing"]),
        ((("I11.0", 1), ("I50.9", 2)), [],
         ["icd10cm.code_first.order", "icd10cm.code_first.missing"]),
        # use additional: missing (info) / order / satisfied
        ((("E11.9", 1),), ["icd10cm.use_additional.missing"], []),
        ((("Z79.4", 1), ("E11.9", 2)), ["icd10cm.use_additional.order"], []),
        ((("E11.9", 1), ("Z79.4", 2)), [],
         ["icd10cm.use_additional.missing", "icd10cm.use_additional.order"]),
        # manifestation sequenced first; borderline: etiology first
        ((("F02.80", 1), ("G30.9", 2)), ["icd10cm.manifestation_first",
                                          "icd10cm.code_first.order"], []),
        ((("G30.9", 1), ("F02.80", 2)), [], ["icd10cm.manifestation_first"]),
    ],
)
def test_tabular_edits(codes, expected, absent) -> None:  # type: ignore[no-untyped-def]
    got = ids(_run(*(code(c, seq=s) for c, s in codes)))
    for rule_id in expected:
        assert rule_id in got
    for rule_id in absent:
        assert rule_id not in got


def test_severities_and_blocking() -> None:
    findings = {f.rule_id: f for f in _run(code("E11.9", seq=1), code("E10.9", seq=2),
                                           code("I50.9", seq=3))}
    assert findings["icd10cm.excludes1"].severity == "error"
    assert findings["icd10cm.excludes1"].blocking
    assert "OCG I.A.12.a" in findings["icd10cm.excludes1"].citation
    # not a manifestation code: a missing "code first" is informational
    assert findings["icd10cm.code_first.missing"].severity == "info"
    assert not findings["icd10cm.code_first.missing"].blocking


def test_manifestation_without_etiology_is_a_warning() -> None:
    findings = {f.rule_id: f for f in _run(code("G30.9", seq=1), code("F02.80", seq=2))}
    assert "icd10cm.code_first.missing" not in findings
    findings = {f.rule_id: f for f in _run(code("R51.9", seq=1), code("F02.80", seq=2))}
    assert findings["icd10cm.code_first.missing"].severity == "warning"


def test_excludes1_reported_once_per_pair() -> None:
    got = ids(_run(code("E10.9", seq=1), code("E11.9", seq=2)))
    assert got.count("icd10cm.excludes1") == 1


def test_no_terminology_no_findings() -> None:
    claim = ClaimView.from_encounter(encounter(code("E11", seq=1)))
    assert TabularRules()(claim, RuleContext()) == ()


@pytest.mark.parametrize(
    ("value", "pattern", "expected"),
    [
        ("E11.9", "E11.9", True),
        ("E11.9", "E11.-", True),
        ("E11.9", "E11.*", True),
        ("E119", "E11-", True),
        ("E10.9", "E11.-", False),
        ("E13.9", "E08-E13", True),
        ("E14.0", "E08-E13", False),
        ("E08.0", "E08-E13", True),
        ("E03.9", "E00-E03.-", True),
        ("99396", "99381-99397", True),
        ("99398", "99381-99397", False),
        ("O24.410", "O24.4-", True),
        ("O24.31", "O24.4-", False),
    ],
)
def test_code_patterns(value: str, pattern: str, expected: bool) -> None:
    assert code_matches(value, pattern) is expected


def test_excludes1_store_style_references() -> None:
    """The store strips the dash ("(E11.-)" -> "E11"): a reference covers its subcodes."""
    assert "icd10cm.excludes1" in ids(_run(code("E10.9", seq=1), code("E11.22", seq=2)))


@pytest.mark.parametrize(
    ("targets", "expected"),
    [
        ((FakeTarget("5A11", "exact"),), False),
        ((FakeTarget("5A11", "exact"), FakeTarget("5A10", "exact")), True),
        ((FakeTarget("5A1Y", "category_only"),), True),
        ((FakeTarget("", "none"),), True),
        ((), False),  # map not built: no finding
    ],
)
def test_icd11_ambiguity(targets: tuple[FakeTarget, ...], expected: bool) -> None:
    terminology = FakeTerminology(icd11={"E11.9": targets})
    claim = ClaimView.from_encounter(encounter(code("E11.9", seq=1), code("Z79.84", seq=2)))
    got = ids(TabularRules()(claim, RuleContext(terminology=terminology)))
    assert ("icd11.ambiguous" in got) is expected


def test_real_store(reference_dir) -> None:  # type: ignore[no-untyped-def]
    """The compiled terminology store (built once per machine by the root fixture)."""
    from codeproof.coding.codesets import load_terminology

    context = RuleContext(terminology=load_terminology(reference_dir))
    claim = ClaimView.from_encounter(encounter(
        code("F02.80", seq=1), code("E11.9", seq=2), code("E10.9", seq=3),
        code("S72.001", seq=4), code("E11", seq=5), code("B20", seq=6)))
    got = ids(TabularRules()(claim, context))
    for rule_id in ("icd10cm.manifestation_first", "icd10cm.excludes1",
                    "icd10cm.seventh_char.missing", "icd10cm.header_code"):
        assert rule_id in got
    assert got.count("icd10cm.header_code") == 1  # E11 only; B20 is billable
