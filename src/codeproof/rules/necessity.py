"""Medical necessity (LCD/NCD-style packs): procedures need a covered diagnosis.

For each policy in effect whose ``procedures`` match a procedure of the claim
(CPT/HCPCS line or ICD-10-PCS code), at least one ICD-10-CM code of the claim
must match ``covered_diagnoses``; otherwise the procedure has no supporting
diagnosis and is flagged (rule id ``necessity.<policy id>``).
"""

from __future__ import annotations

from typing import ClassVar

from codeproof.model import RuleFinding
from codeproof.rules.base import ClaimView, RuleContext, finding
from codeproof.rules.payer import matching_keys

__all__ = ["NecessityRules"]


class NecessityRules:
    """Rule family ``necessity``."""

    family: ClassVar[str] = "necessity"

    def __call__(self, claim: ClaimView, context: RuleContext, /) -> tuple[RuleFinding, ...]:
        """Flag procedures of a policy with no covered diagnosis on the claim."""
        if context.packs is None:
            return ()
        on = context.date_for(claim)
        out: list[RuleFinding] = []
        for pack in context.packs.select(claim.payer, on, kinds=("necessity",)):
            for policy in pack.policies:
                if policy.effective is not None and on is not None \
                        and not policy.effective.covers(on):
                    continue
                procedures = matching_keys(claim, policy.procedures)
                if not procedures:
                    continue
                if matching_keys(claim, policy.covered_diagnoses):
                    continue
                dx = [f"ICD-10-CM:{c.code}" for c in claim.diagnoses]
                out.append(finding(
                    f"necessity.{policy.id}", policy.severity,
                    f"{', '.join(procedures)}: no diagnosis on the claim is covered by "
                    f"{policy.title}",
                    codes=(*procedures, *dx),
                    pack=pack.id, pack_version=pack.version,
                    citation=policy.citation or pack.citation,
                    fix="Add the documented diagnosis that supports the service (if the "
                        "note supports one), or obtain an ABN / expect a medical-necessity "
                        "denial.",
                ))
        return tuple(out)
