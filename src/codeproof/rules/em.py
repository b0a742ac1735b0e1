"""Office/outpatient E/M level from medical decision making (2021 AMA/CMS guidelines).

The three MDM elements are read from the note and the claim's diagnoses:

- **problems**: number and complexity of problems addressed (minimal, low,
  moderate, high) from the count of diagnoses and cues such as "stable",
  "worsening", "exacerbation", "threat to life";
- **data**: amount/complexity of data reviewed and analysed — category 1 (unique
  tests ordered or reviewed, external notes, independent historian), category 2
  (independent interpretation), category 3 (discussion with an external
  physician);
- **risk** of patient management (OTC drugs low; prescription drug management
  moderate; hospitalisation, drug therapy needing intensive toxicity monitoring,
  DNR high).

The MDM level is the highest level that two of the three elements meet; it maps
to 99202-99205 (new) or 99212-99215 (established). Only code numbers are
used. The result is a suggestion with its reasoning (``em.suggested_level``,
info); a billed office E/M code that differs gets ``em.level_mismatch``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

from codeproof.model import Evidence, RuleFinding
from codeproof.rules.base import ClaimLine, ClaimView, RuleContext, finding, scan_words
from codeproof.rules.reports import RuleOutput

__all__ = ["EmAssessment", "EmRules", "assess_mdm"]

PACK = "ama.em.2021"
_CITATION = "AMA CPT E/M Services Guidelines (2021), office or other outpatient MDM table"
LEVELS = ("straightforward", "low", "moderate", "high")
_NEW = ("99202", "99203", "99204", "99205")
_EST = ("99212", "99213", "99214", "99215")
_DELETED = date(2021, 1, 1)

_I = re.IGNORECASE
PATTERNS: dict[str, re.Pattern[str]] = {
    # problems
    "problem_high": re.compile(r"\b(?:severe exacerbation|threat to (?:life|bodily function)|"
                               r"life[- ]threatening|impending|acute (?:mi|myocardial infarction|"
                               r"stroke)|suicidal)\b", _I),
    "problem_exacerbation": re.compile(r"\b(?:worsening|worsened|exacerbation|progressi(?:on|ng)|"
                                       r"uncontrolled|poorly controlled|not at goal|"
                                       r"side effects?)\b", _I),
    "problem_undiagnosed": re.compile(r"\b(?:uncertain prognosis|new (?:lump|mass|nodule)|"
                                      r"undiagnosed new problem)\b", _I),
    "problem_systemic": re.compile(r"\b(?:systemic symptoms|fever (?:and|with) (?:chills|"
                                   r"myalgias?)|acute complicated)\b", _I),
    # data
    "data_test": re.compile(r"\b(?:cbc|cmp|bmp|a1c|hba1c|lipid panel|tsh|urinalysis|ua|"
                            r"x-?ray|ct|mri|ecg|ekg|echo(?:cardiogram)?|ultrasound|bnp|"
                            r"troponin|egfr|creatinine|inr|psa|culture)\b", _I),
    "data_review": re.compile(r"\b(?:reviewed|review of|results?|ordered|order|obtain(?:ed)?|"
                              r"check(?:ed)?)\b", _I),
    "data_external": re.compile(r"\b(?:outside|external|prior|previous) (?:records?|notes?|"
                                r"hospital records|discharge summary)\b", _I),
    "data_historian": re.compile(r"\b(?:independent historian|history (?:obtained|provided) "
                                 r"(?:from|by) (?:the )?(?:mother|father|parent|spouse|wife|"
                                 r"husband|caregiver|daughter|son|family))\b", _I),
    "data_interpretation": re.compile(r"\b(?:independent(?:ly)? interpret(?:ed|ation)|"
                                      r"my (?:own )?(?:interpretation|read)|personally "
                                      r"(?:reviewed|viewed) the (?:images?|films?|tracing|"
                                      r"x-?ray|ecg|ekg|ct))\b", _I),
    "data_discussion": re.compile(r"\b(?:discussed (?:the case |management )?with (?:dr\.?|"
                                  r"cardiology|nephrology|oncology|surgery|the surgeon|"
                                  r"specialist|pharmacist|case manager)|"
                                  r"spoke with (?:dr\.?|the (?:cardiologist|surgeon|specialist)))",
                                  _I),
    # risk
    "risk_high": re.compile(r"\b(?:admit(?:ted)? to (?:the )?hospital|hospitali[sz]ation|"
                            r"direct admission|escalation of care|intensive monitoring for "
                            r"toxicity|dnr|do not resuscitate|emergency (?:major )?surgery|"
                            r"parenteral controlled)\b", _I),
    "risk_rx": re.compile(r"\b(?:start(?:ed)?|continue[sd]?|increase[sd]?|decrease[sd]?|"
                          r"titrat(?:e|ed|ing)|adjust(?:ed)?|refill(?:ed)?|prescri(?:be|bed|"
                          r"ption)|switch(?:ed)? to|discontinue[sd]?)\b[^.\n]{0,60}?"
                          r"\b\d+(?:\.\d+)?\s?(?:mg|mcg|g|units?|ml)\b", _I),
    "risk_surgery": re.compile(r"\b(?:decision (?:for|regarding) (?:elective )?(?:major |minor )?"
                               r"surgery|refer(?:red)? for surgery|social determinants|"
                               r"cannot afford|unable to afford)\b", _I),
    "risk_low": re.compile(r"\b(?:over[- ]the[- ]counter|otc|acetaminophen|ibuprofen|"
                           r"naproxen|loratadine|saline|physical therapy|minor surgery)\b", _I),
    "new_patient": re.compile(r"\bnew patient\b", _I),
    # generic single words last: in the one-pass scan a more specific cue that starts
    # at the same word ("minor surgery", "acute MI") wins
    "problem_chronic": re.compile(r"\b(?:chronic|stable|well[- ]controlled|controlled|at goal)\b",
                                  _I),
    "problem_acute": re.compile(r"\b(?:acute|uncomplicated|self[- ]limited|minor)\b", _I),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class EmAssessment:
    """The three MDM elements (0..3 = straightforward..high) with reasons and cues."""

    problems: int
    data: int
    risk: int
    reasons: tuple[str, ...]
    cues: tuple[Evidence, ...]
    new_patient: bool

    @property
    def mdm(self) -> int:
        """The level two of three elements meet."""
        return sorted((self.problems, self.data, self.risk), reverse=True)[1]

    @property
    def code(self) -> str:
        """Suggested code number."""
        return (_NEW if self.new_patient else _EST)[self.mdm]


#: one pass over the text: the first listed cue wins where two would start at one place
_COMBINED = re.compile("|".join(f"(?P<{name}>{p.pattern})" for name, p in PATTERNS.items()),
                       _I)


def _scan(texts: list[tuple[str, str]]) -> dict[str, list[Evidence]]:
    hit: dict[str, list[Evidence]] = {name: [] for name in PATTERNS}
    for note_id, text in texts:
        for match in scan_words(_COMBINED, text):
            name = match.lastgroup
            if name is not None:
                hit[name].append(Evidence(note_id=note_id, start=match.start(),
                                          end=match.end(), quote=match.group(0)))
    return hit


def assess_mdm(claim: ClaimView) -> EmAssessment:
    """Read the MDM elements from the claim's notes and diagnoses (pure)."""
    hit = _scan([(n.id, n.text) for n in claim.notes])
    n_dx = len([c for c in claim.diagnoses if not c.code.startswith(("Z", "V", "W", "X", "Y"))])
    reasons: list[str] = []
    cues: list[Evidence] = []

    # problems
    if hit["problem_high"]:
        problems = 3
        why = "illness posing a threat to life or bodily function / severe exacerbation"
        cues += hit["problem_high"][:1]
    elif hit["problem_exacerbation"] or hit["problem_undiagnosed"] or hit["problem_systemic"] \
            or (n_dx >= 2 and hit["problem_chronic"]):
        problems = 2
        if hit["problem_exacerbation"]:
            why = "chronic illness with exacerbation, progression or side effects"
            cues += hit["problem_exacerbation"][:1]
        elif hit["problem_undiagnosed"] or hit["problem_systemic"]:
            why = "undiagnosed new problem or acute illness with systemic symptoms"
        else:
            why = f"{n_dx} chronic illnesses addressed"
            cues += hit["problem_chronic"][:1]
    elif n_dx >= 2 or hit["problem_chronic"] or hit["problem_acute"]:
        problems = 1
        why = "stable chronic illness, acute uncomplicated illness, or 2+ minor problems"
    else:
        problems, why = 0, "one self-limited or minor problem"
    reasons.append(f"problems: {LEVELS[problems]} ({why})")

    # data
    tests = {e.quote.lower() for e in hit["data_test"]} if hit["data_review"] else set()
    cat1 = len(tests) + (1 if hit["data_external"] else 0) + (1 if hit["data_historian"] else 0)
    categories = [cat1 >= 3, bool(hit["data_interpretation"]), bool(hit["data_discussion"])]
    if sum(categories) >= 2:
        data, why = 3, "two of three data categories"
    elif any(categories):
        data, why = 2, "one of three data categories"
    elif cat1 >= 2 or hit["data_historian"]:
        data, why = 1, "two data items or an independent historian"
    else:
        data, why = 0, "minimal or no data"
    reasons.append(f"data: {LEVELS[data]} ({why}; {cat1} category-1 items)")
    cues += (hit["data_interpretation"] + hit["data_discussion"] + hit["data_historian"])[:2]

    # risk
    if hit["risk_high"]:
        risk, why = 3, "decision for hospitalisation, escalation or intensive toxicity monitoring"
        cues += hit["risk_high"][:1]
    elif hit["risk_rx"] or hit["risk_surgery"]:
        risk, why = 2, "prescription drug management or surgery decision / social determinants"
        cues += (hit["risk_rx"] + hit["risk_surgery"])[:1]
    elif hit["risk_low"]:
        risk, why = 1, "over-the-counter drugs or low-risk management"
        cues += hit["risk_low"][:1]
    else:
        risk, why = 0, "minimal risk"
    reasons.append(f"risk: {LEVELS[risk]} ({why})")
    return EmAssessment(problems=problems, data=data, risk=risk, reasons=tuple(reasons),
                        cues=tuple(cues), new_patient=bool(hit["new_patient"]))


class EmRules:
    """Rule family ``em``: suggested office E/M level and billed-level check (outpatient)."""

    family: ClassVar[str] = "em"

    def __call__(self, claim: ClaimView, context: RuleContext, /) -> tuple[RuleFinding, ...]:
        """Suggest the MDM level; compare with a billed office E/M code."""
        return self.run(claim, context).findings

    def run(self, claim: ClaimView, context: RuleContext, /) -> RuleOutput:
        """Assess MDM once: findings plus the ``em_level`` report (outpatient with notes)."""
        if claim.setting != "outpatient":
            return RuleOutput()
        on = context.date_for(claim)
        out: list[RuleFinding] = []
        billed = [ln for ln in claim.lines if ln.code in _NEW or ln.code in _EST
                  or ln.code in ("99201", "99211")]
        for line in billed:
            if line.code == "99201" and (on is None or on >= _DELETED):
                out.append(finding(
                    "em.deleted_code", "error", "99201 was deleted on 2021-01-01",
                    codes=(line.key,), pack=PACK, citation=_CITATION,
                    fix="Report 99202-99205 by MDM or total time.",
                ))
        if not any(n.text.strip() for n in claim.notes):
            return RuleOutput(findings=tuple(out))  # no note text (validated without --note)
        relevant = [ln for ln in billed if ln.code not in ("99201", "99211")]
        if not relevant and not claim.diagnoses:
            return RuleOutput(findings=tuple(out))
        assessment = assess_mdm(claim)
        new_patient = assessment.new_patient or any(ln.code in _NEW for ln in relevant)
        if new_patient != assessment.new_patient:
            assessment = EmAssessment(
                problems=assessment.problems, data=assessment.data, risk=assessment.risk,
                reasons=assessment.reasons, cues=assessment.cues, new_patient=new_patient)
        suggested = assessment.code
        out.append(finding(
            "em.suggested_level", "info",
            f"suggested {suggested} (MDM {LEVELS[assessment.mdm]}: "
            f"{'; '.join(assessment.reasons)})",
            codes=(f"CPT:{suggested}",), pack=PACK, citation=_CITATION,
            fix="Confirm against the full note; total time on the date may support a "
                "different level.",
            evidence=assessment.cues,
        ))
        for line in relevant:
            if line.code == suggested:
                continue
            table = _NEW if line.code in _NEW else _EST
            billed_level = table.index(line.code)
            higher = billed_level > assessment.mdm
            out.append(finding(
                "em.level_mismatch", "warning" if higher else "info",
                f"billed {line.code} is {'above' if higher else 'below'} the level the "
                f"documented MDM supports ({suggested})",
                codes=(line.key, f"CPT:{suggested}"), pack=PACK, citation=_CITATION,
                fix=("Document the MDM (or total time) that supports the billed level, or "
                     f"bill {suggested}.") if higher else
                    f"Consider {suggested} if the documentation supports it.",
                blocking=False,
            ))
        return RuleOutput(findings=tuple(out), name="em_level", producer=f"rules.em.v1:{PACK}",
                          data=_report_data(assessment, relevant))


def _report_data(assessment: EmAssessment, billed: list[ClaimLine]) -> dict[str, Any]:
    """The ``em_level`` report: suggested code, MDM elements with reasons, billed check.

    Cues are given as note offsets only (no quoted text).
    """
    table = _NEW if assessment.new_patient else _EST
    reasons = dict(r.split(": ", 1) for r in assessment.reasons)

    def element(name: str, level: int) -> dict[str, Any]:
        reason = reasons.get(name, "").removeprefix(f"{LEVELS[level]} (").removesuffix(")")
        return {"level": LEVELS[level], "score": level, "reason": reason}

    def compare(code: str) -> str:
        level = (_NEW if code in _NEW else _EST).index(code)
        if code == assessment.code:
            return "match"
        return "above" if level > assessment.mdm else "below"

    return {
        "suggested_code": assessment.code,
        "mdm": LEVELS[assessment.mdm],
        "patient": "new" if assessment.new_patient else "established",
        "code_range": f"{table[0]}-{table[-1]}",
        "elements": {"problems": element("problems", assessment.problems),
                     "data": element("data", assessment.data),
                     "risk": element("risk", assessment.risk)},
        "reasoning": "MDM is the highest level two of the three elements meet: "
                     f"problems {LEVELS[assessment.problems]}, data "
                     f"{LEVELS[assessment.data]}, risk {LEVELS[assessment.risk]} -> "
                     f"{LEVELS[assessment.mdm]} ({assessment.code})",
        "billed": [{"code": ln.code, "versus_suggested": compare(ln.code)} for ln in billed],
        "cues": [{"note_id": e.note_id, "start": e.start, "end": e.end}
                 for e in assessment.cues],
    }
