"""Payer rule packs and medical-necessity (NCD-style) packs."""

from __future__ import annotations

import pytest
from _rules_support import FIXTURES, code, encounter, ids

from codeproof.errors import ExpiredPack, UnknownPayer
from codeproof.rules.base import ClaimView, RuleContext
from codeproof.rules.necessity import NecessityRules
from codeproof.rules.packs import load_packs
from codeproof.rules.payer import PayerRules

pytestmark = pytest.mark.issue(5)

PACKS = FIXTURES / "packs"


@pytest.fixture(scope="module")
def context() -> RuleContext:
    return RuleContext(packs=load_packs([PACKS / "medicaid_ca.yaml",
                                         PACKS / "acme_commercial_2025.yaml",
                                         PACKS / "acme_commercial_2026.yaml"]))


def _payer(context: RuleContext, *codes, **kw):  # type: ignore[no-untyped-def]
    return PayerRules()(ClaimView.from_encounter(encounter(*codes, **kw)), context)


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        # prior authorization: OPD place of service only
        ({"lines": ("15823",), "pos": "22"}, ["payer.opd.prior_auth.blepharoplasty"]),
        ({"lines": ("15823",), "pos": "11"}, []),
        # required modifier: side missing / present
        ({"lines": ("20610",)}, ["payer.laterality.arthrocentesis"]),
        ({"lines": ("20610-RT",)}, []),
        ({"lines": ("20610-50",)}, []),
        # deny risk by age: 44 denied, 45 covered (boundary)
        ({"lines": ("G0121",), "age": 44}, ["payer.screening.colonoscopy.age"]),
        ({"lines": ("G0121",), "age": 45}, []),
        # range pattern
        ({"lines": ("99396",)}, ["payer.preventive.routine_physical"]),
        ({"lines": ("99214",)}, []),
        # required documentation: absent / present in the note
        ({"lines": ("99497",), "text": "Discussed diet."}, ["payer.acp.documentation"]),
        ({"lines": ("99497",), "text": "Advance care planning discussed for 20 minutes."}, []),
    ],
)
def test_medicare_example_pack(context: RuleContext, kw, expected) -> None:  # type: ignore[no-untyped-def]
    got = ids(_payer(context, payer="medicare", dos="2026-02-01", **kw))
    assert got == expected


def test_finding_names_pack_version_and_citation(context: RuleContext) -> None:
    (item,) = _payer(context, payer="medicare", lines=("G0121",), age=40)
    assert (item.pack, item.pack_version) == ("medicare.example", "2026.1")
    assert item.citation.startswith("NCD 210.3")
    assert item.severity == "error" and item.blocking and item.fix


@pytest.mark.parametrize(
    ("payer", "dos", "kw", "expected"),
    [
        ("medicaid:CA", "2026-02-01", {"lines": ("72148",)}, ["payer.pa.mri.lumbar"]),
        ("medicaid:CA", "2026-02-01", {"lines": ("99188",), "age": 20},
         ["payer.child.dental.age"]),
        ("medicaid:CA", "2026-02-01", {"lines": ("99188",), "age": 21}, []),
        # commercial pair rule, version by date of service
        ("acme-health", "2025-12-31", {"lines": ("99213", "20610")},
         ["payer.pair.em_with_injection"]),
        ("acme-health", "2026-01-01", {"lines": ("99213", "20610")},
         ["payer.pair.em_with_injection"]),
        ("acme-health", "2026-01-01", {"lines": ("99213-25", "20610")}, []),
        # place of service + required modifier
        ("acme-health", "2026-01-01", {"lines": ("99213",), "pos": "10"},
         ["payer.pos.telehealth"]),
        ("acme-health", "2026-01-01", {"lines": ("99213-95",), "pos": "10"}, []),
        ("acme-health", "2026-01-01", {"lines": ("99213",), "pos": "11"}, []),
        # demographics: sex
        ("acme-health", "2026-01-01", {"lines": ("84153",), "sex": "F"}, ["payer.sex.prostate"]),
        ("acme-health", "2026-01-01", {"lines": ("84153",), "sex": "M"}, []),
    ],
)
def test_medicaid_and_commercial(context: RuleContext, payer, dos, kw, expected) -> None:  # type: ignore[no-untyped-def]
    assert ids(_payer(context, payer=payer, dos=dos, **kw)) == expected


def test_commercial_version_changes_severity(context: RuleContext) -> None:
    (old,) = _payer(context, payer="acme-health", dos="2025-12-31", lines=("99213", "20610"))
    (new,) = _payer(context, payer="acme-health", dos="2026-01-01", lines=("99213", "20610"))
    assert (old.severity, old.pack_version) == ("warning", "2025.4")
    assert (new.severity, new.pack_version) == ("error", "2026.1")


def test_unknown_payer_and_expired_pack(context: RuleContext) -> None:
    with pytest.raises(UnknownPayer):
        _payer(context, payer="nowhere-health", lines=("99213",))
    with pytest.raises(ExpiredPack):
        _payer(context, payer="medicare", dos="2026-10-01", lines=("99213",))


def test_no_payer_no_payer_rules(context: RuleContext) -> None:
    assert _payer(context, payer=None, lines=("G0121",), age=30) == ()


@pytest.mark.parametrize(
    ("dx", "lines", "expected"),
    [
        # HbA1c with diabetes: covered; with headache only: not
        (["E11.9"], ("83036",), []),
        (["R51.9"], ("83036",), ["necessity.ncd.190.21.glycated_hemoglobin"]),
        (["R73.03"], ("83036",), []),  # prediabetes (R73.0*) covered
        # lipid panel: range E08-E13 covers E13.9, not E14 (none) or R51.9
        (["E13.9"], ("80061",), []),
        (["I10"], ("80061",), []),
        (["R51.9"], ("80061",), ["necessity.ncd.190.23.lipid_testing"]),
        # two policies, one dx covers only one
        (["E78.5"], ("80061", "83036"), ["necessity.ncd.190.21.glycated_hemoglobin"]),
        # no policy for the procedure
        (["R51.9"], ("99213",), []),
        # no diagnoses at all
        ([], ("85025",), ["necessity.ncd.190.15.blood_counts"]),
    ],
)
def test_necessity(context: RuleContext, dx, lines, expected) -> None:  # type: ignore[no-untyped-def]
    enc = encounter(*(code(c, seq=i + 1) for i, c in enumerate(dx)), payer="medicare",
                    lines=lines, dos="2026-02-01")
    findings = NecessityRules()(ClaimView.from_encounter(enc), context)
    assert ids(findings) == expected
    for item in findings:
        assert item.pack == "medicare.ncd.lab" and item.citation.startswith("NCD")
