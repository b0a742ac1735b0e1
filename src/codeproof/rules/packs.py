"""Rule packs: versioned YAML/JSON data files validated with strict keys.

A pack (schema ``codeproof.rulepack/v1``) carries one kind of rule data:

- ``payer``: conditions on codes, pairs, modifiers, demographics, place of
  service and setting, with outcomes (deny risk, required modifier, required
  documentation, prior authorization);
- ``necessity``: LCD/NCD-style policies (procedure -> covered diagnoses);
- ``cdi``: clinical documentation improvement triggers (under-specified codes and
  documented-but-uncoded conditions, with the codes a query could lead to);
- ``meat``: the monitor/evaluate/assess/treat vocabulary for the HCC check.

Packs are loaded once (pydantic, ``extra="forbid"``), each with an effective
date range; :class:`PackSet` chooses the packs in effect for a payer and a date
of service and raises :class:`~codeproof.errors.UnknownPayer` or
:class:`~codeproof.errors.ExpiredPack` when there is none. A file that does not
follow the format raises :class:`~codeproof.errors.MalformedPack` naming the file
and the offending keys. The format is documented in ``docs/rules.md``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from codeproof.errors import ExpiredPack, MalformedPack, UnknownPayer
from codeproof.model import Severity

__all__ = [
    "CdiTrigger",
    "Condition",
    "Effective",
    "MeatLexicon",
    "NecessityPolicy",
    "Outcome",
    "PackSet",
    "PayerRule",
    "RulePack",
    "builtin_pack_paths",
    "load_pack",
    "load_packs",
    "payer_key",
]

SCHEMA = "codeproof.rulepack/v1"
_SYSTEMS = ("ICD-10-CM", "ICD-10-PCS", "CPT", "HCPCS", "ICD-11")
_PATTERN_RE = re.compile(
    r"^[A-Z0-9]{1,7}(\.[A-Z0-9]{0,4})?(\*|\.?-)?$|^[A-Z0-9.]{3,8}-[A-Z0-9.]{3,8}$"
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _check_patterns(values: Iterable[str], where: str) -> None:
    for value in values:
        system, sep, pattern = value.partition(":")
        if not sep or system not in _SYSTEMS:
            raise ValueError(
                f"{where}: {value!r} must be 'SYSTEM:PATTERN' with SYSTEM in {', '.join(_SYSTEMS)}"
            )
        if not _PATTERN_RE.match(pattern.upper()):
            raise ValueError(f"{where}: {value!r} is not a code pattern (E11.9, E11.*, E08-E13)")


class Effective(_Strict):
    """Inclusive date range; ``end: null`` means open-ended."""

    start: date
    end: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Effective:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"effective end {self.end} is before start {self.start}")
        return self

    def covers(self, day: date) -> bool:
        """True when ``day`` is inside the range."""
        return self.start <= day and (self.end is None or day <= self.end)

    def label(self) -> str:
        """``2025-10-01..2026-09-30`` (``..open`` when open-ended)."""
        return f"{self.start.isoformat()}..{self.end.isoformat() if self.end else 'open'}"


class Condition(_Strict):
    """When a payer rule applies; every given clause must hold (AND)."""

    codes_any: tuple[str, ...] = ()
    codes_all: tuple[str, ...] = ()
    codes_none: tuple[str, ...] = ()
    pairs: tuple[tuple[str, str], ...] = ()
    modifiers_any: tuple[str, ...] = ()
    modifiers_none: tuple[str, ...] = ()
    age_min: int | None = Field(default=None, ge=0, le=130)
    age_max: int | None = Field(default=None, ge=0, le=130)
    sex: Literal["M", "F"] | None = None
    place_of_service: tuple[str, ...] = ()
    setting: Literal["inpatient", "outpatient"] | None = None

    @model_validator(mode="after")
    def _valid(self) -> Condition:
        _check_patterns(self.codes_any, "codes_any")
        _check_patterns(self.codes_all, "codes_all")
        _check_patterns(self.codes_none, "codes_none")
        for a, b in self.pairs:
            _check_patterns((a, b), "pairs")
        if not (self.codes_any or self.codes_all or self.pairs):
            raise ValueError("a condition needs codes_any, codes_all or pairs")
        if self.age_min is not None and self.age_max is not None and self.age_max < self.age_min:
            raise ValueError("age_max is below age_min")
        return self


class Outcome(_Strict):
    """What a matching payer rule means for the claim."""

    type: Literal["deny_risk", "required_modifier", "required_documentation",
                  "prior_authorization"]
    severity: Severity = "warning"
    message: str = Field(min_length=1)
    fix: str = ""
    blocking: bool | None = None
    modifiers: tuple[str, ...] = ()  # required_modifier: one of them must be on the line
    documentation: tuple[str, ...] = ()  # required_documentation: phrases the note must hold

    @model_validator(mode="after")
    def _valid(self) -> Outcome:
        if self.type == "required_modifier" and not self.modifiers:
            raise ValueError("required_modifier needs 'modifiers'")
        if self.type == "required_documentation" and not self.documentation:
            raise ValueError("required_documentation needs 'documentation'")
        return self


class PayerRule(_Strict):
    """One payer rule: an id, a condition, an outcome and its source."""

    id: str = Field(pattern=r"^[a-z0-9_.\-]+$")
    description: str = ""
    when: Condition
    outcome: Outcome
    citation: str = ""
    effective: Effective | None = None


class NecessityPolicy(_Strict):
    """LCD/NCD-style coverage: these procedures need one of these diagnoses."""

    id: str = Field(pattern=r"^[a-z0-9_.\-]+$")
    title: str
    procedures: tuple[str, ...] = Field(min_length=1)
    covered_diagnoses: tuple[str, ...] = Field(min_length=1)
    citation: str = ""
    severity: Severity = "error"
    effective: Effective | None = None

    @model_validator(mode="after")
    def _valid(self) -> NecessityPolicy:
        _check_patterns(self.procedures, "procedures")
        _check_patterns(self.covered_diagnoses, "covered_diagnoses")
        return self


class CdiTrigger(_Strict):
    """A documentation opportunity that could change the MS-DRG.

    ``when_codes``: an under-specified code in the set (specificity query);
    ``terms``: regexes for a condition documented in the note but not coded
    (``unless_codes`` says which codes already cover it). ``alternatives`` are
    the codes a clarified note could support; the DRG is regrouped with each.
    """

    id: str = Field(pattern=r"^cdi\.opportunity\.[a-z0-9_.]+$")
    when_codes: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()
    unless_codes: tuple[str, ...] = ()
    alternatives: tuple[str, ...] = Field(min_length=1)
    query: str = Field(min_length=1)
    citation: str = ""

    @model_validator(mode="after")
    def _valid(self) -> CdiTrigger:
        if bool(self.when_codes) == bool(self.terms):
            raise ValueError("a CDI trigger needs exactly one of when_codes or terms")
        _check_patterns(self.when_codes, "when_codes")
        _check_patterns(self.unless_codes, "unless_codes")
        _check_patterns(self.alternatives, "alternatives")
        for term in self.terms:
            try:
                re.compile(term)
            except re.error as exc:
                raise ValueError(f"terms: {term!r} is not a regex: {exc}") from exc
        return self


class MeatLexicon(_Strict):
    """Words that show an HCC condition was monitored, evaluated, assessed or treated."""

    window: int = Field(default=250, ge=20, le=5000)
    monitor: tuple[str, ...] = Field(min_length=1)
    evaluate: tuple[str, ...] = Field(min_length=1)
    assess: tuple[str, ...] = Field(min_length=1)
    treat: tuple[str, ...] = Field(min_length=1)


class RulePack(_Strict):
    """A rule pack file (schema ``codeproof.rulepack/v1``)."""

    schema_: Literal["codeproof.rulepack/v1"] = Field(alias="schema")
    id: str = Field(pattern=r"^[a-z0-9_.\-]+$")
    version: str = Field(min_length=1)
    kind: Literal["payer", "necessity", "cdi", "meat"]
    title: str = ""
    payer: str = Field(min_length=1)  # "medicare", "medicaid", a commercial name, or "*"
    plan_type: Literal["medicare", "medicaid", "commercial", "any"] = "any"
    state: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    publisher: str = ""
    citation: str = ""
    effective: Effective
    rules: tuple[PayerRule, ...] = ()
    policies: tuple[NecessityPolicy, ...] = ()
    cdi: tuple[CdiTrigger, ...] = ()
    meat: MeatLexicon | None = None

    @model_validator(mode="after")
    def _valid(self) -> RulePack:
        sections = {"payer": bool(self.rules), "necessity": bool(self.policies),
                    "cdi": bool(self.cdi), "meat": self.meat is not None}
        if not sections[self.kind]:
            field_name = {"payer": "rules", "necessity": "policies", "cdi": "cdi",
                          "meat": "meat"}[self.kind]
            raise ValueError(f"a {self.kind} pack needs a non-empty '{field_name}'")
        extra = [k for k, present in sections.items() if present and k != self.kind]
        if extra:
            raise ValueError(f"a {self.kind} pack may not hold sections of kind {extra}")
        if self.plan_type == "medicaid" and self.state is None:
            raise ValueError("a medicaid pack needs 'state' (two-letter code)")
        ids = [r.id for r in self.rules] + [p.id for p in self.policies] + [c.id for c in self.cdi]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate rule ids: {dupes}")
        return self

    @property
    def key(self) -> str:
        """The payer key packs are selected by (``medicaid:ca``, ``medicare``, ``*``)."""
        return payer_key(self.payer, self.state if self.plan_type == "medicaid" else None)


def payer_key(payer: str, state: str | None = None) -> str:
    """Normalise a payer name: ``"Medicaid", "CA"`` and ``"medicaid:ca"`` give ``medicaid:ca``."""
    name = payer.strip().lower()
    if state:
        name = f"{name}:{state.strip().lower()}"
    return name


def load_pack(path: Path) -> RulePack:
    """Read and validate one pack file (``.yaml``/``.yml``/``.json``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MalformedPack(f"cannot read rule pack {path.name}: {exc.strerror}",
                            file=str(path)) from exc
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise MalformedPack(f"rule pack {path.name} is not valid YAML/JSON: {exc}",
                            file=str(path)) from exc
    if not isinstance(data, dict):
        raise MalformedPack(f"rule pack {path.name} must hold a mapping at the top level",
                            file=str(path))
    try:
        return RulePack.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<pack>'}: {err['msg']}"
            for err in exc.errors()
        )
        raise MalformedPack(f"rule pack {path.name} is malformed: {problems}",
                            file=str(path), problems=[e["msg"] for e in exc.errors()]) from exc


def builtin_pack_paths() -> list[Path]:
    """The packs shipped with codeproof (``codeproof/rules/packs/<year>/``)."""
    root = Path(str(resources.files("codeproof.rules"))) / "packs"
    return sorted(p for p in root.glob("*/*") if p.suffix in (".yaml", ".yml", ".json"))


def load_packs(paths: Iterable[Path] = (), *, builtin: bool = True) -> PackSet:
    """Load the built-in packs plus ``paths`` (files or directories)."""
    files: list[Path] = builtin_pack_paths() if builtin else []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*")
                                if p.suffix in (".yaml", ".yml", ".json")))
        else:
            files.append(path)
    packs = [load_pack(p) for p in files]
    seen: dict[tuple[str, str], Path] = {}
    for pack, path in zip(packs, files, strict=True):
        if (pack.id, pack.version) in seen:
            raise MalformedPack(
                f"rule pack {pack.id} version {pack.version} is defined twice "
                f"({seen[(pack.id, pack.version)].name} and {path.name})",
                pack=pack.id,
            )
        seen[(pack.id, pack.version)] = path
    return PackSet(tuple(packs))


@dataclass(frozen=True, slots=True)
class PackSet:
    """All loaded packs; chooses those in effect for a payer and a date."""

    packs: tuple[RulePack, ...]

    def __iter__(self) -> Iterator[RulePack]:
        return iter(self.packs)

    @property
    def payers(self) -> list[str]:
        """Known payer keys (``*`` excluded)."""
        return sorted({p.key for p in self.packs if p.key != "*"})

    def select(self, payer: str | None, on: date | None, *,
               kinds: Iterable[str] = ("payer", "necessity", "cdi", "meat"),
               ) -> tuple[RulePack, ...]:
        """Packs of ``kinds`` for ``payer`` (plus ``*`` packs) in effect ``on``.

        One version per pack id: the in-effect version with the latest start (or,
        when the date is unknown, the latest version). Raises UnknownPayer when no
        pack names ``payer`` and ExpiredPack when none of its packs covers ``on``.
        """
        wanted = set(kinds)
        key = payer_key(payer) if payer else None
        if key is not None and key not in {p.key for p in self.packs}:
            raise UnknownPayer(
                f"no rule pack for payer {payer!r}; known payers: {', '.join(self.payers)}",
                payer=payer, available=self.payers,
            )
        chosen: dict[str, RulePack] = {}
        payer_in_effect = key is None
        for pack in self.packs:
            if pack.key not in ("*", key) or pack.kind not in wanted:
                continue
            if on is not None and not pack.effective.covers(on):
                continue
            if pack.key == key:
                payer_in_effect = True
            best = chosen.get(pack.id)
            if best is None or pack.effective.start > best.effective.start:
                chosen[pack.id] = pack
        if not payer_in_effect:
            ranges = sorted(
                f"{p.id} {p.version} ({p.effective.label()})"
                for p in self.packs if p.key == key and p.kind in wanted
            )
            if ranges or not any(p.key == key for p in self.packs if p.kind not in wanted):
                raise ExpiredPack(
                    f"no rule pack for payer {payer!r} is in effect on {on}; "
                    f"packs: {', '.join(ranges)}",
                    payer=payer, date=on.isoformat() if on else None,
                )
        return tuple(sorted(chosen.values(), key=lambda p: p.id))
