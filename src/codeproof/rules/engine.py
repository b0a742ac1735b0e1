"""The validator: every rule family over one encounter, and how its context is built.

:class:`Validator` holds the rule families and a :class:`RuleContext` loaded
once; :meth:`Validator.validate` turns an Encounter into a :class:`ClaimView`
and returns the findings ordered error -> warning -> info (stable within a
severity). With ``strict=True`` (the ``codeproof validate`` command) pack
selection problems raise (UnknownPayer, ExpiredPack); with ``strict=False``
(the pipeline stage) they become one blocking ``rules.packs`` finding carrying
the error code, so one bad payer name does not stop the coding of the encounter.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeproof.errors import ConfigError, RuleDataError
from codeproof.model import Encounter, Report, RuleFinding
from codeproof.rules.base import ClaimView, Rule, RuleContext, TerminologyLike, finding
from codeproof.rules.cdi import CdiRules
from codeproof.rules.drg import DrgGrouper, DrgRules
from codeproof.rules.em import EmRules
from codeproof.rules.hcc import HccRules, HccScorer
from codeproof.rules.icd10cm_tabular import TabularRules
from codeproof.rules.mce import MceChecker, MceRules
from codeproof.rules.ncci import ModifierRules, NcciRules, NcciTables
from codeproof.rules.necessity import NecessityRules
from codeproof.rules.packs import PackSet, load_packs
from codeproof.rules.payer import PayerRules
from codeproof.rules.reports import RuleOutput, load_drg_weights, mce_summary

if TYPE_CHECKING:
    from codeproof.runtime import Runtime

__all__ = [
    "FAMILIES",
    "Validation",
    "Validator",
    "build_context",
    "check_package_file",
    "load_terminology",
    "validate_package_file",
]

logger = logging.getLogger(__name__)

#: rule family name -> rule class, in the order they run
FAMILIES: dict[str, Callable[[], Rule]] = {
    "icd10cm": TabularRules,
    "mce": MceRules,
    "ncci": NcciRules,
    "modifiers": ModifierRules,
    "payer": PayerRules,
    "necessity": NecessityRules,
    "hcc": HccRules,
    "drg": DrgRules,
    "cdi": CdiRules,
    "em": EmRules,
}
_ORDER = {"error": 0, "warning": 1, "info": 2}


class Validator:
    """Runs the selected rule families with one loaded context."""

    def __init__(self, context: RuleContext, *, families: Iterable[str] = (),
                 strict: bool = True) -> None:
        chosen = tuple(families) or tuple(FAMILIES)
        unknown = [f for f in chosen if f not in FAMILIES and "." not in f]
        if unknown:
            raise ConfigError(
                f"unknown rule families {unknown}; available: {', '.join(FAMILIES)} "
                "(or a rule_packs registry name such as rules.ncci.v1)",
                available=list(FAMILIES),
            )
        self.context = context
        self.strict = strict
        self.rules: tuple[Rule, ...] = tuple(_family(name)() for name in chosen)

    @property
    def version(self) -> str:
        """What the findings depend on: pack ids/versions and engine versions."""
        parts = [f"{p.id}@{p.version}" for p in (self.context.packs or ())]
        for engine in (self.context.mce, self.context.grouper):
            if engine is not None:
                parts.append(getattr(engine, "version", "") or getattr(engine, "package", ""))
        if self.context.hcc is not None:
            parts.append(self.context.hcc.package)
        if self.context.ncci is not None:
            parts.append("ncci:" + "+".join(self.context.ncci.sources))
        return "; ".join(dict.fromkeys(p for p in parts if p))

    def validate(self, encounter: Encounter) -> tuple[RuleFinding, ...]:
        """All findings for ``encounter`` (errors first)."""
        return self.validate_claim(ClaimView.from_encounter(encounter))

    def validate_claim(self, claim: ClaimView) -> tuple[RuleFinding, ...]:
        """All findings for a claim view (errors first)."""
        return self.check_claim(claim).findings

    def check(self, encounter: Encounter) -> Validation:
        """Findings and reports for ``encounter``."""
        return self.check_claim(ClaimView.from_encounter(encounter))

    def check_claim(self, claim: ClaimView) -> Validation:
        """Findings (errors first) and the PHI-free reports of the families that apply.

        Families with a ``run`` method (drg, hcc, em) compute their result once and
        return both; the ``drg`` report gets the MCE edit summary of this claim.
        """
        reports: list[RuleOutput] = []
        out: list[RuleFinding] = [
            finding("claim.line_format", "error",
                    f"claim line {text!r} is not CODE[-MOD...][*UNITS]",
                    pack="codeproof.claim", fix="Write lines like 99214-25 or 97110-GP*2.")
            for text in claim.unparsed_lines
        ]
        for rule in self.rules:
            try:
                run = getattr(rule, "run", None)
                if run is None:
                    out.extend(rule(claim, self.context))
                else:
                    result: RuleOutput = run(claim, self.context)
                    out.extend(result.findings)
                    if result.data is not None:
                        reports.append(result)
            except RuleDataError as exc:
                if self.strict:
                    raise
                out.append(finding(
                    "rules.packs", "error", f"[{exc.code}] {exc.message}",
                    pack="codeproof.rules",
                    fix="Fix the payer name or install a rule pack in effect on the date "
                        "of service.",
                ))
                logger.warning("rule family %s skipped on encounter %s: %s", rule.family,
                               claim.encounter_id, exc.code)
        findings = _dedupe(sorted(out, key=lambda f: _ORDER[f.severity]))
        built: list[Report] = []
        for item in reports:
            if item.name == "drg" and item.data is not None:
                mce_ran = self.context.mce is not None and any(
                    r.family == "mce" for r in self.rules)
                item = dataclasses.replace(item, data={
                    **item.data, "mce": mce_summary(findings) if mce_ran else None})
            report = item.report()
            if report is not None:
                built.append(report)
        return Validation(findings=findings, reports=tuple(built))


@dataclass(frozen=True, slots=True, kw_only=True)
class Validation:
    """What one validation produced: findings (errors first) and reports."""

    findings: tuple[RuleFinding, ...] = ()
    reports: tuple[Report, ...] = ()


def _family(name: str) -> Callable[[], Rule]:
    """A built-in family by short name, or any ``rule_packs`` registry entry (plug-ins)."""
    if name in FAMILIES:
        return FAMILIES[name]
    from codeproof.registrations import get_registry

    factory: Callable[[], Rule] = get_registry("rule_packs").get(name)
    return factory


def _dedupe(findings: list[RuleFinding]) -> tuple[RuleFinding, ...]:
    seen: set[tuple[str, str, tuple[str, ...]]] = set()
    out: list[RuleFinding] = []
    for item in findings:
        key = (item.rule_id, item.message, item.codes)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return tuple(out)


def load_terminology(runtime: Runtime) -> TerminologyLike:
    """The runtime's compiled terminology store (built on first use when missing)."""
    terminology: TerminologyLike = runtime.terminology
    return terminology


def build_context(
    *,
    terminology: TerminologyLike | None,
    packs_dir: Path | None = None,
    ncci_dir: Path | None = None,
    ncci_claim_type: str = "practitioner",
    drg_version: str = "v43",
    hcc_model: str = "CMS-HCC Model V28",
    as_of: date | None = None,
    packs: PackSet | None = None,
    families: Iterable[str] = (),
    drg_weights_file: Path | None = None,
) -> RuleContext:
    """Load packs, NCCI tables, the DRG weights and the native MCE/grouper/HCC engines once."""
    chosen = {f.removeprefix("rules.").removesuffix(".v1") for f in families} or set(FAMILIES)
    if ncci_dir is not None and not ncci_dir.is_dir():
        raise ConfigError(f"rules.ncci_dir {ncci_dir} is not a directory",
                          path=str(ncci_dir))
    kind: Any = ncci_claim_type
    return RuleContext(
        terminology=terminology,
        packs=packs if packs is not None else load_packs([packs_dir] if packs_dir else []),
        ncci=NcciTables.open(ncci_dir) if ncci_dir is not None else None,
        mce=MceChecker() if "mce" in chosen else None,
        grouper=DrgGrouper(drg_version) if chosen & {"drg", "cdi"} else None,
        hcc=HccScorer(hcc_model) if "hcc" in chosen else None,
        drg_weights=load_drg_weights(drg_weights_file)
        if drg_weights_file is not None and "drg" in chosen else None,
        as_of=as_of,
        ncci_claim_type=kind,
        families=frozenset(chosen),
    )


def check_package_file(
    path: Path,
    *,
    runtime: Runtime,
    payer: str | None = None,
    on: date | None = None,
    note_files: Iterable[Path] = (),
    families: Iterable[str] = (),
) -> tuple[Encounter, Validation]:
    """Re-check a ``codeproof.package/v1`` file: findings and reports; pack problems raise."""
    from codeproof.rules.package import encounter_from_package, read_package

    package = read_package(path)
    texts = [p.read_text(encoding="utf-8") for p in note_files]
    encounter = encounter_from_package(package, note_texts=texts,
                                       payer=payer or runtime.settings.rules.payer, on=on)
    rules = runtime.settings.rules
    chosen = tuple(families) or rules.families
    context = build_context(
        terminology=load_terminology(runtime) if _wants(chosen, "icd10cm") else None,
        packs_dir=rules.packs_dir, ncci_dir=rules.ncci_dir,
        ncci_claim_type=rules.ncci_claim_type, drg_version=rules.drg_version,
        hcc_model=rules.hcc_model, as_of=on, families=chosen,
        drg_weights_file=rules.drg_weights_file,
    )
    return encounter, Validator(context, families=chosen, strict=True).check(encounter)


def validate_package_file(
    path: Path,
    *,
    runtime: Runtime,
    payer: str | None = None,
    on: date | None = None,
    note_files: Iterable[Path] = (),
    families: Iterable[str] = (),
) -> tuple[Encounter, tuple[RuleFinding, ...]]:
    """Re-check a ``codeproof.package/v1`` file (findings only); pack problems raise."""
    encounter, result = check_package_file(path, runtime=runtime, payer=payer, on=on,
                                           note_files=note_files, families=families)
    return encounter, result.findings


def _wants(families: tuple[str, ...], name: str) -> bool:
    return not families or name in families or f"rules.{name}.v1" in families
