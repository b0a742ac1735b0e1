"""CDI query opportunities: documentation that would change the MS-DRG (inpatient).

Triggers come from ``cdi`` packs. Two kinds:

- *specificity*: an under-specified code is in the set (``when_codes``, e.g.
  I50.9 unspecified heart failure); each ``alternative`` (I50.21 acute systolic,
  ...) replaces it in a what-if grouping;
- *documented but uncoded*: a ``terms`` regex matches affirmed note text and no
  code of ``unless_codes`` is in the set; each ``alternative`` is added as a
  secondary diagnosis in a what-if grouping.

When any what-if changes the DRG, one ``info`` finding (rule id = the trigger
id, ``cdi.opportunity.*``) lists the current DRG, the DRGs the clarified
documentation could support and the evidence, with a non-leading query for a
human to send. **Codes are never added**: this is the upcoding guard — the
finding is a question to the provider, not a code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import ClassVar

from codeproof.model import Assertion, Evidence, RuleFinding
from codeproof.rules.base import ClaimView, RuleContext, compact, finding
from codeproof.rules.drg import DrgResult
from codeproof.rules.packs import CdiTrigger, RulePack
from codeproof.rules.payer import matching_keys

__all__ = ["CdiRules"]

_NEGATION = re.compile(
    r"\b(?:no|denies|denied|without|negative for|ruled out|rule out|r/o|free of|"
    r"resolved|history of|h/o|family history)\b[^.;\n]{0,40}$",
    re.IGNORECASE,
)


def _queryable(assertion: Assertion) -> bool:
    """A mention a query can be about: uncertain is kept (the query resolves it)."""
    return not (assertion.negated or assertion.historical or assertion.hypothetical
                or assertion.family)


def _affirmed(text: str, start: int) -> bool:
    """False when a negation/uncertainty/history cue precedes ``start`` in its sentence."""
    return _NEGATION.search(text[max(0, start - 60):start]) is None


class CdiRules:
    """Rule family ``cdi``."""

    family: ClassVar[str] = "cdi"

    def __init__(self) -> None:
        self._compiled: dict[str, re.Pattern[str]] = {}

    def _regex(self, trigger: CdiTrigger) -> re.Pattern[str]:
        got = self._compiled.get(trigger.id)
        if got is None:
            got = self._compiled[trigger.id] = re.compile(
                "|".join(f"(?:{t})" for t in trigger.terms), re.IGNORECASE)
        return got

    def __call__(self, claim: ClaimView, context: RuleContext, /) -> tuple[RuleFinding, ...]:
        """Find documentation opportunities that change the DRG."""
        grouper = context.grouper
        if (grouper is None or context.packs is None or claim.setting != "inpatient"
                or claim.principal is None):
            return ()
        on = context.date_for(claim)
        packs = context.packs.select(None, on, kinds=("cdi",))
        if not packs:
            return ()
        current = grouper.group_claim(claim, on)
        if current is None or current.drg is None:
            return ()
        cache: dict[tuple[str, str], DrgResult | None] = {}

        def whatif(target: str, alternative: str) -> DrgResult | None:
            """Regroup with ``target`` replaced by ``alternative`` ("" target: added)."""
            key = (target, alternative)
            if key not in cache:
                if target:
                    cache[key] = grouper.group_claim(claim, on, replace={target: alternative})
                else:
                    cache[key] = grouper.group_claim(claim, on, extra_sdx=(alternative,))
            return cache[key]

        out: list[RuleFinding] = []
        for pack in packs:
            for trigger in pack.cdi:
                made = self._trigger(claim, whatif, current, pack, trigger)
                if made is not None:
                    out.append(made)
        return tuple(out)

    def _trigger(self, claim: ClaimView, whatif: Callable[[str, str], DrgResult | None],
                 current: DrgResult, pack: RulePack, trigger: CdiTrigger) -> RuleFinding | None:
        alternatives = [a.partition(":")[2] for a in trigger.alternatives]
        if trigger.when_codes:
            hits = matching_keys(claim, trigger.when_codes)
            if not hits:
                return None
            target = hits[0].partition(":")[2]
            code = next(c for c in claim.diagnoses if c.code == target)
            evidence: tuple[Evidence, ...] = code.evidence
            whatifs = [(alt, whatif(compact(target), compact(alt))) for alt in alternatives]
            about: tuple[str, ...] = (hits[0],)
        else:
            # an added secondary diagnosis cannot raise a DRG already at MCC level
            if current.severity == "MCC":
                return None
            if trigger.unless_codes and matching_keys(claim, trigger.unless_codes):
                return None
            found = self._documented(claim, trigger)
            if not found:
                return None
            evidence = found
            whatifs = [(alt, whatif("", compact(alt))) for alt in alternatives]
            about = ()
        changed = [(alt, r) for alt, r in whatifs
                   if r is not None and r.drg is not None and r.drg != current.drg]
        if not changed:
            return None
        options = "; ".join(f"{alt} -> {r.label}" for alt, r in changed)
        return finding(
            trigger.id, "info",
            f"CDI query opportunity: current {current.label}. If documented, {options}. "
            f"Query: {trigger.query}",
            codes=about, pack=pack.id, pack_version=pack.version,
            citation=trigger.citation or pack.citation,
            fix="Send a compliant, non-leading query to the provider; code only what the "
                "provider documents in response.",
            blocking=False, evidence=evidence,
        )

    def _documented(self, claim: ClaimView, trigger: CdiTrigger) -> tuple[Evidence, ...]:
        """The first affirmed match of the trigger's terms.

        When the NLP layer found a mention over the match, its ConText assertion
        decides (negated, historical, hypothetical or family mentions are skipped;
        uncertain ones are kept, since the query is how they get resolved);
        otherwise a negation/history cue earlier in the sentence does.
        """
        regex = self._regex(trigger)
        for note in claim.notes:
            for match in regex.finditer(note.text):
                over = [m for m in claim.mentions if m.note_id == note.id
                        and m.start < match.end() and match.start() < m.end]
                affirmed = (any(_queryable(m.assertion) for m in over) if over
                            else _affirmed(note.text, match.start()))
                if affirmed:
                    return (Evidence(note_id=note.id, start=match.start(), end=match.end(),
                                     quote=match.group(0)),)
        return ()
