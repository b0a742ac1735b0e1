"""The pipeline stage ``rules.validate.v1``: every rule family over the encounter's codes."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, ClassVar

from codeproof.model import Encounter
from codeproof.rules.base import ClaimView
from codeproof.rules.engine import Validator, build_context, load_terminology

if TYPE_CHECKING:
    from codeproof.runtime import Runtime

__all__ = ["ValidateStage", "make_validate_stage"]


class ValidateStage:
    """Appends compliance findings (edits, payer, necessity, HCC, DRG, CDI, E/M) and the
    ``drg`` / ``hcc`` / ``em_level`` reports of the families that apply."""

    name: ClassVar[str] = "rules.validate.v1"
    requires: ClassVar[frozenset[str]] = frozenset({"codes"})
    assigns: ClassVar[frozenset[str]] = frozenset({"findings", "reports", "versions"})

    def __init__(self, validator: Validator, *, default_payer: str | None = None) -> None:
        self.validator = validator
        self.default_payer = default_payer

    def __call__(self, encounter: Encounter, /) -> Encounter:
        """Return the encounter with this stage's findings and reports appended.

        A report of the same name from an earlier run is replaced, not duplicated.
        """
        claim = ClaimView.from_encounter(encounter)
        if claim.payer is None and self.default_payer:
            claim = dataclasses.replace(claim, payer=self.default_payer)
        result = self.validator.check_claim(claim)
        names = {r.name for r in result.reports}
        encounter = dataclasses.replace(
            encounter, findings=(*encounter.findings, *result.findings),
            reports=(*(r for r in encounter.reports if r.name not in names), *result.reports))
        return encounter.with_versions(rules=self.validator.version)


def _build_validator(runtime: Runtime) -> Validator:
    rules = runtime.settings.rules
    context = build_context(
        terminology=load_terminology(runtime),
        packs_dir=rules.packs_dir,
        ncci_dir=rules.ncci_dir,
        ncci_claim_type=rules.ncci_claim_type,
        drg_version=rules.drg_version,
        hcc_model=rules.hcc_model,
        families=rules.families,
        drg_weights_file=rules.drg_weights_file,
    )
    return Validator(context, families=rules.families, strict=False)


def make_validate_stage(runtime: Runtime) -> ValidateStage:
    """Registry factory: the validator is built once per Runtime and shared."""
    validator: Validator = runtime.resource("rules.validator", _build_validator)
    return ValidateStage(validator, default_payer=runtime.settings.rules.payer)
