"""CMS-HCC risk adjustment via ``hccinfhir`` (Apache-2.0) and the MEAT evidence check.

:class:`HccScorer` maps the claim's ICD-10-CM codes to HCCs, applies the
hierarchies and computes the RAF score. With the default model
(``CMS-HCC Model V28``) the CMS phase-in blend is applied by payment year
(date-of-service year + 1): PY2024 33% V28 + 67% V24, PY2025 67% V28 + 33% V24,
PY2026 on 100% V28. Any other configured model is used alone.

MEAT: for each HCC kept after hierarchies, the note text around the evidence
spans of its codes (``window`` characters each side, from the ``meat`` pack) must
hold Monitor / Evaluate / Assess / Treat language; an HCC without it is flagged
(``hcc.meat.missing``), never silently kept. The words are data (the ``meat``
pack), matched case-insensitively on word boundaries.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

from codeproof.model import CodeAssignment, Evidence, RuleFinding
from codeproof.rules.base import ClaimView, RuleContext, compact, finding, scan_words
from codeproof.rules.packs import MeatLexicon, RulePack
from codeproof.rules.reports import RuleOutput

__all__ = ["HccCategory", "HccRules", "HccScore", "HccScorer", "MeatMatcher", "blend_for",
           "payment_year"]

PACK = "cms.hcc"
V28 = "CMS-HCC Model V28"
V24 = "CMS-HCC Model V24"
_CITATION = "CMS Announcement of Medicare Advantage Capitation Rates (CMS-HCC model)"
_MEAT_CITE = "CMS Medicare Managed Care Manual Ch. 7; MEAT documentation standard"


def blend_for(model: str, on: date | None) -> tuple[tuple[str, float], ...]:
    """(model, weight) pairs for the payment year of ``on``."""
    if model != V28:
        return ((model, 1.0),)
    year = payment_year(on)
    if year <= 2023:
        return ((V24, 1.0),)
    if year == 2024:
        return ((V28, 0.33), (V24, 0.67))
    if year == 2025:
        return ((V28, 0.67), (V24, 0.33))
    return ((V28, 1.0),)


@dataclass(frozen=True, slots=True, kw_only=True)
class HccCategory:
    """One HCC after hierarchies, with the codes that map to it."""

    model: str
    hcc: str
    label: str
    coefficient: float
    codes: tuple[str, ...]  # compact ICD-10-CM


@dataclass(frozen=True, slots=True, kw_only=True)
class HccScore:
    """The RAF result, blended across models when CMS blends them."""

    blend: tuple[tuple[str, float], ...]
    raf: float  # blended risk score (demographic + disease)
    raf_hcc: float  # blended disease part
    categories: tuple[HccCategory, ...]  # of the primary (first) model
    dropped: tuple[tuple[str, str], ...]  # (hcc, by hierarchy) for the primary model


class HccScorer:
    """Wraps ``hccinfhir.calculate_raf``."""

    def __init__(self, model: str = V28) -> None:
        with warnings.catch_warnings():  # hccinfhir loads its tables with deprecated APIs
            warnings.simplefilter("ignore", DeprecationWarning)
            from hccinfhir import calculate_raf
            from hccinfhir.defaults import dx_to_cc_default

        self.model = model
        self._calculate = calculate_raf
        self.package = "hccinfhir 0.4.0"
        #: every ICD-10-CM code (compact) that maps to an HCC in some model
        self._mapped = frozenset(dx for dx, _model in dx_to_cc_default)
        self._cache: dict[tuple[object, ...], HccScore] = {}

    def relevant(self, codes: tuple[str, ...]) -> tuple[str, ...]:
        """The codes that map to any HCC (the others cannot change the score)."""
        return tuple(sorted(c for c in set(codes) if c in self._mapped))

    def score(self, codes: tuple[str, ...], *, age: int | None, sex: str,
              on: date | None) -> HccScore:
        """Score compact ICD-10-CM codes (age 65 / female assumed when unknown).

        Only HCC-mapped codes reach hccinfhir, and results are memoised per
        (codes, age, sex, blend): scoring is a pure function of them.
        """
        relevant = self.relevant(codes)
        blend = blend_for(self.model, on)
        key = (relevant, age, sex, blend)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        if len(self._cache) > 50_000:
            self._cache.clear()
        result = self._score(relevant, age=age, sex=sex, blend=blend)
        self._cache[key] = result
        return result

    def _score(self, codes: tuple[str, ...], *, age: int | None, sex: str,
               blend: tuple[tuple[str, float], ...]) -> HccScore:
        raf = raf_hcc = 0.0
        primary: Any = None
        for model, weight in blend:
            result = self._calculate(list(codes), model_name=model,
                                     age=age if age is not None else 65,
                                     sex=sex if sex in ("M", "F") else "F")
            raf += weight * result.risk_score
            raf_hcc += weight * result.risk_score_hcc
            if primary is None:
                primary = result
        kept = set(primary.hcc_list)
        labels = {d.hcc: (d.label or "", d.coefficient or 0.0) for d in primary.hcc_details}
        categories = tuple(
            HccCategory(model=blend[0][0], hcc=hcc, label=labels.get(hcc, ("", 0.0))[0],
                        coefficient=float(labels.get(hcc, ("", 0.0))[1]),
                        codes=tuple(sorted(primary.cc_to_dx.get(hcc, ()))))
            for hcc in sorted(kept, key=lambda h: (len(h), h))
        )
        dropped = tuple(sorted(
            (hcc, ",".join(sorted(kept))) for hcc in primary.cc_to_dx if hcc not in kept))
        return HccScore(blend=blend, raf=round(raf, 4), raf_hcc=round(raf_hcc, 4),
                        categories=categories, dropped=dropped)


class MeatMatcher:
    """Compiled MEAT vocabulary of one ``meat`` pack."""

    def __init__(self, lexicon: MeatLexicon) -> None:
        self.window = lexicon.window
        groups = (("monitor", lexicon.monitor), ("evaluate", lexicon.evaluate),
                  ("assess", lexicon.assess), ("treat", lexicon.treat))
        self.pattern = re.compile(
            "|".join(rf"(?P<{element}>\b(?:{'|'.join(words)})\b)" for element, words in groups),
            re.IGNORECASE)

    def find(self, claim: ClaimView, evidence: tuple[Evidence, ...]
             ) -> dict[str, tuple[Evidence, ...]]:
        """MEAT element -> evidence of the words found near ``evidence``."""
        found: dict[str, list[Evidence]] = {}
        for span in evidence:
            text = claim.note_text(span.note_id)
            if not text:
                continue
            lo = max(0, span.start - self.window)
            hi = min(len(text), span.end + self.window)
            for match in scan_words(self.pattern, text, lo, hi):
                element = match.lastgroup
                if element is None or element in found:
                    continue
                found[element] = [Evidence(note_id=span.note_id, start=match.start(),
                                           end=match.end(), quote=match.group(0))]
                if len(found) == 4:
                    break
        return {k: tuple(v) for k, v in found.items()}


class HccRules:
    """Rule family ``hcc``: categories, RAF, hierarchies and the MEAT check."""

    family: ClassVar[str] = "hcc"

    def __init__(self) -> None:
        self._matchers: dict[tuple[str, str], MeatMatcher] = {}

    def _matcher(self, context: RuleContext,
                 claim: ClaimView) -> tuple[RulePack, MeatMatcher] | None:
        if context.packs is None:
            return None
        packs = context.packs.select(None, context.date_for(claim), kinds=("meat",))
        if not packs or packs[-1].meat is None:
            return None
        pack, lexicon = packs[-1], packs[-1].meat
        key = (pack.id, pack.version)
        if key not in self._matchers:
            self._matchers[key] = MeatMatcher(lexicon)
        return pack, self._matchers[key]

    def __call__(self, claim: ClaimView, context: RuleContext, /) -> tuple[RuleFinding, ...]:
        """Score the claim and check MEAT evidence for each HCC."""
        return self.run(claim, context).findings

    def run(self, claim: ClaimView, context: RuleContext, /) -> RuleOutput:
        """Score once: findings plus the ``hcc`` report (any claim with diagnoses)."""
        scorer = context.hcc
        if scorer is None or not claim.diagnoses:
            return RuleOutput()
        on = context.date_for(claim)
        by_compact: dict[str, CodeAssignment] = {compact(c.code): c for c in claim.diagnoses}
        score = scorer.score(tuple(by_compact), age=claim.age, sex=claim.sex, on=on)
        meat_status: dict[str, tuple[str, tuple[str, ...]]] = {}
        findings = self._findings(claim, context, scorer, score, by_compact, meat_status) \
            if score.categories else ()
        model = score.blend[0][0].removeprefix("CMS-HCC Model ")
        return RuleOutput(findings=findings, name="hcc",
                          producer=f"rules.hcc.v1:{scorer.package}:{model}",
                          data=_report_data(scorer, score, by_compact, meat_status, on))

    def _findings(self, claim: ClaimView, context: RuleContext, scorer: HccScorer,
                  score: HccScore, by_compact: dict[str, CodeAssignment],
                  meat_status: dict[str, tuple[str, tuple[str, ...]]]
                  ) -> tuple[RuleFinding, ...]:
        blend = " + ".join(f"{w:.0%} {m.removeprefix('CMS-HCC Model ')}" for m, w in score.blend)
        version = f"{blend} ({scorer.package})"
        out: list[RuleFinding] = [finding(
            "hcc.raf", "info",
            f"RAF {score.raf:.3f} (disease part {score.raf_hcc:.3f}; {blend}); HCCs: "
            + ", ".join(c.hcc for c in score.categories),
            codes=tuple(f"ICD-10-CM:{by_compact[d].code}" for c in score.categories
                        for d in c.codes if d in by_compact),
            pack=PACK, pack_version=version, citation=_CITATION,
        )]
        for hcc, kept in score.dropped:
            out.append(finding(
                "hcc.hierarchy", "info",
                f"HCC {hcc} is dropped by the hierarchy (kept: {kept})",
                pack=PACK, pack_version=version, citation=_CITATION,
            ))
        meat = self._matcher(context, claim)
        for category in score.categories:
            codes = [by_compact[d] for d in category.codes if d in by_compact]
            keys = tuple(f"ICD-10-CM:{c.code}" for c in codes)
            evidence = tuple(e for c in codes for e in c.evidence)
            name = f"HCC {category.hcc} {category.label}".strip()
            if not evidence:
                meat_status[category.hcc] = ("no_evidence", ())
                out.append(finding(
                    "hcc.meat.no_evidence", "warning",
                    f"{name}: its codes carry no evidence span, so MEAT cannot be shown",
                    codes=keys, pack=PACK, pack_version=version, citation=_MEAT_CITE,
                    fix="Link the code to the note text that documents the condition.",
                ))
                continue
            if meat is None:
                meat_status[category.hcc] = ("not_checked", ())
                continue
            pack, matcher = meat
            if not any(claim.note_text(e.note_id) for e in evidence):
                meat_status[category.hcc] = ("unverifiable", ())
                out.append(finding(
                    "hcc.meat.unverifiable", "info",
                    f"{name}: the note text is not available, so MEAT was not checked",
                    codes=keys, pack=pack.id, pack_version=pack.version, citation=_MEAT_CITE,
                    fix="Re-run with the note text (codeproof validate --note FILE).",
                ))
                continue
            found = matcher.find(claim, evidence)
            meat_status[category.hcc] = (
                "present" if found else "missing",
                tuple(e for e in ("monitor", "evaluate", "assess", "treat") if e in found))
            if found:
                elements = "/".join(e[0].upper() for e in ("monitor", "evaluate", "assess",
                                                           "treat") if e in found)
                out.append(finding(
                    "hcc.meat.present", "info",
                    f"{name}: MEAT evidence found ({elements})",
                    codes=keys, pack=pack.id, pack_version=pack.version, citation=_MEAT_CITE,
                    evidence=tuple(e for v in found.values() for e in v),
                ))
            else:
                out.append(finding(
                    "hcc.meat.missing", "warning",
                    f"{name}: no monitor/evaluate/assess/treat language near the documented "
                    "condition; the HCC is not supported by this note",
                    codes=keys, pack=pack.id, pack_version=pack.version, citation=_MEAT_CITE,
                    fix="Remove the code from risk adjustment submission, or query the provider "
                        "to document how the condition was managed at this encounter.",
                    evidence=evidence,
                ))
        return tuple(out)


def payment_year(on: date | None) -> int:
    """The CMS payment year of a date of service (the following year; 2026 when unknown)."""
    return (on.year + 1) if on is not None else 2026


def _report_data(scorer: HccScorer, score: HccScore, by_compact: dict[str, CodeAssignment],
                 meat_status: dict[str, tuple[str, tuple[str, ...]]],
                 on: date | None) -> dict[str, Any]:
    """The ``hcc`` report: model/payment year, HCCs with codes and MEAT, RAF and its parts."""
    return {
        "model": scorer.model,
        "package": scorer.package,
        "payment_year": payment_year(on),
        "blend": [{"model": m, "weight": w} for m, w in score.blend],
        "raf": score.raf,
        "raf_parts": {"demographic": round(score.raf - score.raf_hcc, 4),
                      "disease": score.raf_hcc},
        "hccs": [
            {"hcc": c.hcc, "label": c.label, "coefficient": c.coefficient,
             "model": c.model,
             "codes": [by_compact[d].code if d in by_compact else d for d in c.codes],
             "meat": meat_status.get(c.hcc, ("not_checked", ()))[0],
             "meat_elements": list(meat_status.get(c.hcc, ("not_checked", ()))[1])}
            for c in score.categories
        ],
        "dropped_by_hierarchy": [{"hcc": h, "kept": kept.split(",") if kept else []}
                                 for h, kept in score.dropped],
    }
