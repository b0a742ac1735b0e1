"""Rule packs: strict loading, effective dates, payer selection and the stable errors."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from _rules_support import FIXTURES

from codeproof.errors import ExpiredPack, MalformedPack, UnknownPayer
from codeproof.rules.packs import builtin_pack_paths, load_pack, load_packs, payer_key

pytestmark = pytest.mark.issue(5)

PACKS = FIXTURES / "packs"


def test_builtin_packs_load() -> None:
    packs = load_packs()
    kinds = {p.kind for p in packs}
    assert kinds == {"payer", "necessity", "cdi", "meat"}
    assert "medicare" in packs.payers
    assert len(builtin_pack_paths()) >= 4


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("bad_extra_key.yaml", "unexpected_key"),  # strict keys
        ("bad_dates.yaml", "before start"),
        ("bad_pattern.yaml", "SYSTEM:PATTERN"),
        ("bad_outcome.yaml", "required_modifier needs 'modifiers'"),
        ("bad_yaml.yaml", "not valid YAML"),
        ("bad_medicaid.yaml", "needs 'state'"),
    ],
)
def test_malformed_packs_raise(name: str, needle: str) -> None:
    with pytest.raises(MalformedPack) as info:
        load_pack(PACKS / "malformed" / name)
    assert info.value.code == "CP-RULE-004"
    assert needle in info.value.message
    assert name in info.value.message


def test_duplicate_pack_version_is_malformed(tmp_path: Path) -> None:
    src = (PACKS / "medicaid_ca.yaml").read_text()
    (tmp_path / "a.yaml").write_text(src)
    (tmp_path / "b.yaml").write_text(src)
    with pytest.raises(MalformedPack, match="defined twice"):
        load_packs([tmp_path], builtin=False)


def _fixture_packs():  # type: ignore[no-untyped-def]
    return load_packs([PACKS / "medicaid_ca.yaml", PACKS / "acme_commercial_2025.yaml",
                       PACKS / "acme_commercial_2026.yaml"])


@pytest.mark.parametrize(
    ("payer", "day", "expected"),
    [
        ("medicare", date(2025, 10, 1), "medicare.example"),  # first day in effect
        ("medicare", date(2026, 9, 30), "medicare.example"),  # last day in effect
        ("Medicaid:CA", date(2026, 3, 1), "medicaid.ca.example"),
        ("acme-health", date(2025, 12, 31), "acme.commercial@2025.4"),
        ("acme-health", date(2026, 1, 1), "acme.commercial@2026.1"),  # version switch
    ],
)
def test_select_in_effect(payer: str, day: date, expected: str) -> None:
    chosen = _fixture_packs().select(payer, day, kinds=("payer",))
    labels = {p.id for p in chosen} | {f"{p.id}@{p.version}" for p in chosen}
    assert expected in labels


@pytest.mark.parametrize(
    ("payer", "day"),
    [
        ("medicare", date(2025, 9, 30)),  # the day before the pack starts
        ("medicare", date(2026, 10, 1)),  # the day after it ends
        ("medicaid:ca", date(2027, 1, 1)),
    ],
)
def test_expired_pack(payer: str, day: date) -> None:
    with pytest.raises(ExpiredPack) as info:
        _fixture_packs().select(payer, day, kinds=("payer",))
    assert info.value.code == "CP-RULE-003"
    assert payer in info.value.message


@pytest.mark.parametrize("payer", ["medicaid:tx", "blue-nowhere", "medicaid"])
def test_unknown_payer(payer: str) -> None:
    with pytest.raises(UnknownPayer) as info:
        _fixture_packs().select(payer, date(2026, 1, 1))
    assert info.value.code == "CP-RULE-002"
    assert "medicare" in info.value.message  # lists the known payers


def test_no_payer_selects_only_shared_packs() -> None:
    chosen = _fixture_packs().select(None, date(2026, 1, 1))
    assert {p.key for p in chosen} == {"*"}


def test_payer_key() -> None:
    assert payer_key("Medicaid", "CA") == "medicaid:ca"
    assert payer_key(" Medicare ") == "medicare"
