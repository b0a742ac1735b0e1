"""Payer rule packs evaluated on a claim (pure).

A rule fires when every clause of its ``when`` holds; its ``outcome`` decides the
finding: ``deny_risk`` and ``prior_authorization`` always report,
``required_modifier`` reports the triggering lines that carry none of the
required modifiers, ``required_documentation`` reports when the notes hold none
of the required phrases. Rule ids in findings are ``payer.<pack rule id>``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from codeproof.model import RuleFinding
from codeproof.rules.base import ClaimLine, ClaimView, RuleContext, compile_patterns, finding
from codeproof.rules.packs import Condition, PayerRule, RulePack

__all__ = ["PayerRules", "claim_matches", "matching_keys"]


def matching_keys(claim: ClaimView, patterns: Iterable[str]) -> list[str]:
    """The claim's ``SYSTEM:CODE`` keys that match any of ``patterns``."""
    return claim.matching(tuple(patterns))


def _lines_matching(claim: ClaimView, patterns: Iterable[str]) -> list[ClaimLine]:
    compiled = compile_patterns(tuple(patterns))
    return [line for line in claim.lines if compiled.matches(line.system, line.code)]


def claim_matches(claim: ClaimView, when: Condition) -> bool:
    """True when every clause of ``when`` holds for ``claim``."""
    if when.setting is not None and claim.setting != when.setting:
        return False
    if when.sex is not None and claim.sex != when.sex:
        return False
    if when.age_min is not None and (claim.age is None or claim.age < when.age_min):
        return False
    if when.age_max is not None and (claim.age is None or claim.age > when.age_max):
        return False
    if when.place_of_service and claim.place_of_service not in when.place_of_service:
        return False
    if when.codes_any and not matching_keys(claim, when.codes_any):
        return False
    if when.codes_all and not all(matching_keys(claim, (p,)) for p in when.codes_all):
        return False
    if when.codes_none and matching_keys(claim, when.codes_none):
        return False
    if when.pairs and not any(matching_keys(claim, (a,)) and matching_keys(claim, (b,))
                              for a, b in when.pairs):
        return False
    if when.modifiers_any or when.modifiers_none:
        lines = _lines_matching(claim, when.codes_any) or list(claim.lines)
        mods = {m for line in lines for m in line.modifiers}
        if when.modifiers_any and not mods & set(when.modifiers_any):
            return False
        if when.modifiers_none and mods & set(when.modifiers_none):
            return False
    return True


class PayerRules:
    """Rule family ``payer``: the payer packs in effect for the claim."""

    family: ClassVar[str] = "payer"

    def __call__(self, claim: ClaimView, context: RuleContext, /) -> tuple[RuleFinding, ...]:
        """Evaluate every payer rule in effect."""
        if context.packs is None:
            return ()
        on = context.date_for(claim)
        out: list[RuleFinding] = []
        for pack in context.packs.select(claim.payer, on, kinds=("payer",)):
            for rule in pack.rules:
                if rule.effective is not None and on is not None and not rule.effective.covers(on):
                    continue
                if claim_matches(claim, rule.when):
                    out.extend(self._outcome(claim, pack, rule))
        return tuple(out)

    @staticmethod
    def _outcome(claim: ClaimView, pack: RulePack, rule: PayerRule) -> list[RuleFinding]:
        outcome = rule.outcome
        keys = matching_keys(claim, (*rule.when.codes_any, *rule.when.codes_all,
                                     *(c for pair in rule.when.pairs for c in pair)))
        common = {"pack": pack.id, "pack_version": pack.version,
                  "citation": rule.citation or pack.citation, "fix": outcome.fix,
                  "blocking": outcome.blocking}
        rule_id = f"payer.{rule.id}"
        if outcome.type == "required_modifier":
            lines = _lines_matching(claim, rule.when.codes_any or rule.when.codes_all)
            missing = [ln for ln in lines if not set(ln.modifiers) & set(outcome.modifiers)]
            return [finding(rule_id, outcome.severity,
                            f"{outcome.message} (line {ln.line} {ln.code} lacks "
                            f"{'/'.join(outcome.modifiers)})",
                            codes=(ln.key,), **common)  # type: ignore[arg-type]
                    for ln in missing]
        if outcome.type == "required_documentation":
            text = "\n".join(n.text for n in claim.notes).lower()
            if not text.strip():
                return [finding(rule_id, "info",
                                f"{outcome.message} (note text not available: verify that a "
                                f"note mentions {', '.join(outcome.documentation)})",
                                codes=keys, **common)]  # type: ignore[arg-type]
            if any(phrase.lower() in text for phrase in outcome.documentation):
                return []
            return [finding(rule_id, outcome.severity,
                            f"{outcome.message} (no note mentions: "
                            f"{', '.join(outcome.documentation)})",
                            codes=keys, **common)]  # type: ignore[arg-type]
        return [finding(rule_id, outcome.severity, outcome.message, codes=keys,
                        **common)]  # type: ignore[arg-type]
