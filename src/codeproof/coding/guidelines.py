"""ICD-10-CM Official Guidelines for Coding and Reporting, as pure table-driven steps.

The ranker says how likely a code is *documented*; these steps decide what
the guidelines let us *report*. Each step is a pure function over
:class:`Proposal` tuples and cites the guideline section that drove it
(``ICD-10-CM OCG <section>``, FY2026 numbering):

======================  ===========================================================
step                    behaviour
======================  ===========================================================
negation                every mention negated -> no code
family                  condition of a relative -> family-history Z80-Z84
history                 resolved past condition -> personal-history Z85-Z87 / I25.2
uncertain               inpatient: coded as established (II.H, III.C);
                        outpatient: not coded, its symptoms are (IV.H)
combination             diabetes + complication -> E08-E13 combination (I.A.15,
                        I.C.4.a); hypertension + heart/kidney disease -> I11/I12/I13
                        (I.C.9.a)
laterality              "unspecified side" code + documented side -> sided code (I.B.13)
7th character           injury/T codes get A/D/S from the episode of care (I.C.19.a)
integral symptoms       a symptom routinely part of a coded, confirmed diagnosis
                        is not coded separately (I.B.5; the default ``integral``
                        policy, a table); the ``body_system`` policy also drops any
                        R-code when a confirmed diagnosis of the same body system/
                        cause is reported (broader: it also drops symptoms that are
                        not routine, which I.B.6 says to code)
specificity             an unspecified code is dropped when a more specific code of
                        the same category is reported (I.B.2, I.B.18)
sequencing              principal (inpatient, II) / first-listed (outpatient, IV.G)
======================  ===========================================================

Conventions (``coding.convention``)
-----------------------------------
``ocg`` (the default) runs every step above: the code set a US claim reports.
``mentions`` reports every affirmed, documented condition at the granularity the
note states it -- the convention of abstraction/registry coding and of the CodiEsp
gold standard (its annotators code each diagnosis and sign the case report
mentions, injury codes without the 7th character, no combination merging).
It keeps the assertion steps (negated/hypothetical -> no code, family/history ->
Z codes, uncertain by setting), the header-code cap and sequencing, and skips
combination, laterality, 7th character, integral symptoms and unspecified-code
suppression. The decision is explicit configuration rather than corpus tuning:
scoring a coder that follows one convention against gold written under another
measures the convention gap, not the coder (on CodiEsp train the OCG-only steps
cost 0.06 MAP with the same ranker; see docs/coding.md).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from codeproof.coding.candidates import CodeInfoLite, Hit
from codeproof.errors import ConfigError

__all__ = ["CONVENTIONS", "DERIVED_CAP", "Proposal", "apply_guidelines", "assertion_of"]

#: Coding conventions :func:`apply_guidelines` implements (see the module docs).
CONVENTIONS = ("ocg", "mentions")

#: Codes derived by a guideline step (not scored by the ranker) never auto-finalize.
DERIVED_CAP = 0.85

_OCG = "ICD-10-CM OCG "


@dataclass(frozen=True, slots=True)
class Proposal:
    """A scored code on its way to the encounter's code set."""

    system: str
    code: str
    confidence: float  # calibrated P(code documented for the patient now)
    present_confidence: float  # the same, were every mention affirmed (for derived codes)
    score: float  # ranker raw score (log-odds)
    hits: tuple[Hit, ...]
    guideline_refs: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    derived_from: str = ""


@dataclass(frozen=True, slots=True)
class _Assertion:
    negated: bool
    family: bool
    historical: bool
    uncertain: bool
    hypothetical: bool


def assertion_of(hits: Sequence[Hit]) -> _Assertion:
    """Proposal-level assertion: a flag holds when it holds for every live mention."""
    live = [h for h in hits if not h.context.negated]
    if not hits:
        return _Assertion(False, False, False, False, False)
    if not live:
        return _Assertion(True, False, False, False, False)
    return _Assertion(
        negated=False,
        family=all(h.context.family for h in live),
        historical=all(h.context.historical and not h.context.family for h in live),
        uncertain=all(h.context.uncertain for h in live),
        hypothetical=all(h.context.hypothetical for h in live),
    )


# --- tables --------------------------------------------------------------------------

#: resolved condition (code prefix) -> personal history code (OCG I.C.21.c.4)
HISTORY_MAP: tuple[tuple[str, str], ...] = (
    ("C50", "Z85.3"), ("C61", "Z85.46"), ("C18", "Z85.038"), ("C19", "Z85.048"),
    ("C20", "Z85.048"), ("C34", "Z85.118"), ("C67", "Z85.51"), ("C64", "Z85.528"),
    ("C73", "Z85.850"), ("C43", "Z85.820"), ("C53", "Z85.41"), ("C54", "Z85.42"),
    ("C56", "Z85.43"), ("C16", "Z85.028"), ("C25", "Z85.07"), ("C22", "Z85.05"),
    ("C81", "Z85.71"), ("C82", "Z85.72"), ("C83", "Z85.72"), ("C85", "Z85.72"),
    ("C91", "Z85.6"), ("C92", "Z85.6"), ("C95", "Z85.6"), ("C", "Z85.9"),
    ("I21", "I25.2"), ("I22", "I25.2"), ("I63", "Z86.73"), ("G45", "Z86.73"),
    ("I26", "Z86.711"), ("I82.4", "Z86.718"), ("I80", "Z86.718"),
    ("J18", "Z87.01"), ("J15", "Z87.01"), ("J13", "Z87.01"), ("N20", "Z87.442"),
    ("N39.0", "Z87.440"), ("A15", "Z86.11"), ("K25", "Z87.11"), ("K26", "Z87.11"),
    ("S72", "Z87.81"), ("S82", "Z87.81"), ("S52", "Z87.81"), ("S", "Z87.828"),
)

#: condition (code prefix) -> family history code (OCG I.C.21.c.4)
FAMILY_MAP: tuple[tuple[str, str], ...] = (
    ("C18", "Z80.0"), ("C19", "Z80.0"), ("C20", "Z80.0"), ("C21", "Z80.0"),
    ("C15", "Z80.0"), ("C16", "Z80.0"), ("C25", "Z80.0"), ("C34", "Z80.1"),
    ("C50", "Z80.3"), ("C56", "Z80.41"), ("C61", "Z80.42"), ("C64", "Z80.51"),
    ("C67", "Z80.52"), ("C91", "Z80.6"), ("C92", "Z80.6"), ("C81", "Z80.7"),
    ("C43", "Z80.8"), ("C", "Z80.9"), ("D", "Z80.9"),
    ("I63", "Z82.3"), ("I64", "Z82.3"), ("I2", "Z82.49"), ("I1", "Z82.49"),
    ("I", "Z82.49"), ("E10", "Z83.3"), ("E11", "Z83.3"), ("E13", "Z83.3"),
    ("E78", "Z83.42"), ("E", "Z83.49"), ("G40", "Z82.0"), ("G30", "Z82.0"),
    ("F", "Z81.8"), ("J45", "Z82.5"), ("J44", "Z82.5"), ("N18", "Z84.1"),
    ("Q", "Z82.79"), ("M", "Z82.69"), ("H", "Z83.518"), ("K", "Z83.79"),
    ("", "Z84.89"),
)

#: confirmed diagnosis (prefix) -> symptom codes (prefixes) integral to it (OCG I.B.5)
INTEGRAL_SYMPTOMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("J18", ("R05", "R50", "R06.0")), ("J15", ("R05", "R50", "R06.0")),
    ("J12", ("R05", "R50", "R06.0")), ("J20", ("R05", "R50")),
    ("J06", ("R05", "R50", "R07.0")), ("J02", ("R07.0", "R50")), ("J03", ("R07.0", "R50")),
    ("J45", ("R06.2", "R06.0")), ("J44", ("R06.0", "R05")),
    ("K35", ("R10", "R11", "R50")), ("K80", ("R10",)), ("K81", ("R10", "R11")),
    ("K85", ("R10", "R11")), ("K52", ("R19.7", "R11", "R10")), ("A09", ("R19.7", "R11")),
    ("A08", ("R19.7", "R11", "R50")), ("N39.0", ("R30.0", "R35", "R50")),
    ("N10", ("R30.0", "R50", "R10")), ("N20", ("R10", "R31")), ("N23", ("R10",)),
    ("I21", ("R07",)), ("I20", ("R07",)), ("I50", ("R60", "R06.0")),
    ("G43", ("R51",)), ("G44", ("R51",)), ("A41", ("R50", "R65.1")),
    ("E86", ("R53",)), ("M54", ("R52",)), ("B34", ("R50",)), ("A46", ("R50",)),
    ("L03", ("R50", "R60")), ("I80", ("R60", "R52")), ("G03", ("R51", "R50")),
    ("G00", ("R51", "R50")), ("K29", ("R10", "R11")), ("K59.0", ("R19",)),
    ("E11", ("R73", "R35", "R63.1")), ("E10", ("R73", "R35", "R63.1")),
    # signs that are the disease itself: erythema of cellulitis, hypotension of sepsis
    ("L03", ("L53",)), ("A41", ("I95.9",)),
    # a urinary tract infection of a specified site is not also coded as "site not
    # specified" (N39.0's Excludes1 "urinary tract infection of specified site")
    ("N10", ("N39.0",)), ("N30", ("N39.0",)), ("N34", ("N39.0",)),
)

#: symptom (prefix) -> definitive diagnoses (prefixes) of the same body system/cause;
#: a symptom is not reported when one of them is confirmed and reported (OCG I.B.4-5,
#: IV.D). ``R69`` (illness, unspecified) yields to any definitive diagnosis.
BODY_SYSTEM_SYMPTOMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("R00", ("I",)), ("R01", ("I",)), ("R03", ("I",)), ("R04", ("J", "I26")),
    ("R05", ("J", "I50")), ("R06", ("J", "I50", "I26")), ("R07.0", ("J",)),
    ("R07.1", ("J",)), ("R07", ("I20", "I21", "I22", "I24", "I25", "I26", "J")),
    ("R09", ("J",)),
    ("R1", ("K", "A0", "C15", "C16", "C17", "C18", "C19", "C20", "C21", "C22", "C23",
            "C24", "C25")),
    ("R20", ("L", "G")), ("R21", ("L", "B0")), ("R22", ("L", "C", "D1", "D2")),
    ("R23", ("L",)), ("R25", ("G", "M")), ("R26", ("G", "M", "I6")), ("R27", ("G",)),
    ("R29", ("G", "M", "I6")), ("R3", ("N", "C61", "C64", "C65", "C66", "C67", "C68")),
    ("R4", ("F", "G", "I6")), ("R50", ("A", "B", "J", "N10", "N39.0", "L03", "K35", "K57",
                                       "K65", "K81", "K85", "G00", "G01", "G02", "G03",
                                       "G04", "I33", "M00", "M86", "T81.4")),
    ("R51", ("G43", "G44", "I6", "G0", "S06")), ("R53", ("C", "D5", "D6", "E", "B20")),
    ("R55", ("I4", "I95", "I6")), ("R56", ("G40", "G41")), ("R57", ("A41", "T")),
    ("R59", ("C81", "C82", "C83", "C84", "C85", "C86", "C88", "C9", "B")),
    ("R60", ("I50", "N0", "N17", "N18", "N19", "K70", "K71", "K72", "K73", "K74", "I8")),
    ("R62", ("C", "E", "F50", "B20")), ("R63", ("C", "E", "F50", "B20")),
    ("R64", ("C", "B20")), ("R65", ("A41",)),
    ("R69", ("A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O",
             "P", "Q", "S", "T")),
)

#: (diabetes category, complication prefix, combination code, keep complication code)
DIABETES_COMBOS: tuple[tuple[str, str, str, bool], ...] = (
    ("E11", "N18", "E11.22", True), ("E11", "N08", "E11.21", False),
    ("E11", "N05", "E11.21", False), ("E11", "G62.9", "E11.40", False),
    ("E11", "G63", "E11.42", False), ("E11", "G60.9", "E11.42", False),
    ("E11", "H35.0", "E11.319", False), ("E11", "H36", "E11.319", False),
    ("E11", "I73.9", "E11.51", False), ("E11", "L97", "E11.621", True),
    ("E11", "E16.2", "E11.649", False), ("E11", "R73", "E11.65", False),
    ("E11", "E87.2", "E11.10", False),
    ("E10", "N18", "E10.22", True), ("E10", "N08", "E10.21", False),
    ("E10", "G62.9", "E10.40", False), ("E10", "H35.0", "E10.319", False),
    ("E10", "I73.9", "E10.51", False), ("E10", "L97", "E10.621", True),
    ("E10", "E16.2", "E10.649", False), ("E10", "R73", "E10.65", False),
    ("E10", "E87.2", "E10.10", False),
)

_STRONG_HISTORY = re.compile(r"\b(history of|h/o|personal history|past medical history|"
                             r"status post|s/p|resolved|treated for|in remission)\b", re.I)
_FAMILY_SCOPED = re.compile(r"\b(family history|mother|father|sister|brother|sibling|"
                            r"aunt|uncle|grandmother|grandfather|cousin|parents?)\b", re.I)
_SCOPE_BREAK = re.compile(r"[,;:]|\b(but|however|although|whereas|presents?|presented|"
                          r"showed|revealed|patient)\b", re.I)

_SIDE_WORDS = {"right": "right", "left": "left", "bilateral": "bilateral",
               "both": "bilateral"}
_SIDE_RE = re.compile(r"\b(right|left|bilateral|both)\b", re.I)
_SUBSEQUENT_RE = re.compile(r"\b(follow[- ]?up|healing|routine care|subsequent|"
                            r"cast change|removal of (sutures|cast))\b", re.I)
_SEQUELA_RE = re.compile(r"\b(sequela[e]?|late effects?|residual)\b", re.I)


def _lookup(table: Sequence[tuple[str, str]], code: str) -> str | None:
    for prefix, target in table:
        if code.startswith(prefix):
            return target
    return None


def _derive(p: Proposal, code: str, ref: str, note: str, cap: float = DERIVED_CAP
            ) -> Proposal:
    return dataclasses.replace(
        p, code=code, confidence=min(p.present_confidence, cap),
        guideline_refs=(*p.guideline_refs, _OCG + ref), notes=(*p.notes, note),
        derived_from=p.derived_from or p.code)


def _with_ref(p: Proposal, ref: str, note: str) -> Proposal:
    return dataclasses.replace(p, guideline_refs=(*p.guideline_refs, _OCG + ref),
                               notes=(*p.notes, note))


# --- the steps -----------------------------------------------------------------------

def _scoped(window: str) -> str:
    cut = 0
    for m in _SCOPE_BREAK.finditer(window):
        cut = m.end()
    return window[cut:]


def _confirm(p: Proposal, before_of: Callable[[Hit], str] | None) -> _Assertion:
    """Proposal assertion; with the text before each hit, family and resolved-history
    flags also need a strong cue (a relative in the same clause, "history of"...)."""
    a = assertion_of(p.hits)
    if before_of is None or not (a.family or a.historical):
        return a
    live = [h for h in p.hits if not h.context.negated]
    family = a.family and all(_FAMILY_SCOPED.search(_scoped(before_of(h))) for h in live)
    historical = a.historical and all(_STRONG_HISTORY.search(before_of(h)) for h in live)
    return dataclasses.replace(a, family=family, historical=historical)


def _assertions(proposals: Sequence[Proposal], *, setting: str, threshold: float,
                info: Mapping[str, CodeInfoLite],
                before_of: Callable[[Hit], str] | None = None) -> list[Proposal]:
    out: list[Proposal] = []
    for p in proposals:
        a = _confirm(p, before_of)
        if p.system != "ICD-10-CM":
            if not a.negated and not a.family and p.confidence >= threshold:
                out.append(p)
            continue
        if a.negated or a.hypothetical:
            continue  # documented as absent or as a mere possibility: not coded
        if a.family:
            target = _lookup(FAMILY_MAP, p.code)
            if target and target in info and p.present_confidence >= threshold:
                out.append(_derive(p, target, "I.C.21.c.4",
                                   "condition documented in a family member"))
            continue
        if a.historical:
            target = _lookup(HISTORY_MAP, p.code)
            if target is not None:
                if target in info and p.present_confidence >= threshold:
                    out.append(_derive(p, target, "I.C.21.c.4",
                                       "condition documented as resolved history"))
                continue
            # chronic conditions documented as history persist: coded as current
        if a.uncertain:
            if setting == "inpatient":
                if p.present_confidence >= threshold:
                    out.append(_derive(p, p.code, "II.H", "uncertain diagnosis coded as "
                                       "established for an inpatient stay"))
                continue
            if p.confidence >= threshold:
                out.append(_with_ref(p, "IV.H", "uncertain diagnosis: outpatient "
                                     "coding reports it only with supporting detail"))
            continue
        if p.confidence >= threshold:
            out.append(p)
    return out


def _combinations(proposals: list[Proposal], info: Mapping[str, CodeInfoLite]
                  ) -> list[Proposal]:
    by_code = {p.code: p for p in proposals}
    drop: set[str] = set()
    add: list[Proposal] = []
    for dm_cat, comp_prefix, combo, keep in DIABETES_COMBOS:
        dm = next((p for p in proposals if p.code.startswith(dm_cat)
                   and p.code in (f"{dm_cat}.9", f"{dm_cat}.8", dm_cat)), None)
        comp = next((p for p in proposals if p.code.startswith(comp_prefix)), None)
        if dm is None or comp is None or combo not in info or dm.code in drop:
            continue
        merged = dataclasses.replace(
            dm, code=combo, confidence=min(dm.confidence, comp.confidence, DERIVED_CAP),
            hits=dm.hits + comp.hits, derived_from=dm.code,
            guideline_refs=(*dm.guideline_refs, _OCG + "I.A.15", _OCG + "I.C.4.a"),
            notes=(*dm.notes, "diabetes with a documented complication: combination code"))
        drop.add(dm.code)
        if not keep:
            drop.add(comp.code)
        add.append(merged)
    htn = by_code.get("I10")
    if htn is not None:
        heart = next((p for p in proposals if p.code.startswith("I50")), None)
        ckd = next((p for p in proposals if p.code.startswith("N18")), None)
        target = None
        if heart and ckd:
            target = "I13.2" if ckd.code in ("N18.5", "N18.6") else "I13.0"
        elif heart:
            target = "I11.0"
        elif ckd:
            target = "I12.0" if ckd.code in ("N18.5", "N18.6") else "I12.9"
        if target and target in info:
            parts = [q for q in (heart, ckd) if q is not None]
            add.append(dataclasses.replace(
                htn, code=target,
                confidence=min([htn.confidence, DERIVED_CAP,
                                *[q.confidence for q in parts]]),
                hits=htn.hits + tuple(h for q in parts for h in q.hits),
                derived_from="I10",
                guideline_refs=(*htn.guideline_refs, _OCG + "I.C.9.a"),
                notes=(*htn.notes, "hypertension with heart/kidney disease: "
                       "combination code (causal relationship presumed)")))
            drop.add("I10")
    return [p for p in proposals if p.code not in drop] + add


_Attrs = Callable[[Hit], tuple[str | None, str | None]]  # (laterality, episode)


def _laterality(proposals: list[Proposal], info: Mapping[str, CodeInfoLite],
                text_of: Callable[[Hit], str], attributes_of: _Attrs | None = None
                ) -> list[Proposal]:
    out: list[Proposal] = []
    for p in proposals:
        meta = info.get(p.code)
        if meta is None or "unspecified" not in meta.title.lower() or not p.hits:
            out.append(p)
            continue
        sides = {side for h in p.hits if attributes_of is not None
                 for side in (attributes_of(h)[0],) if side}  # NLP attributes first
        if not sides:
            sides = {_SIDE_WORDS[m.group(1).lower()] for h in p.hits
                     for m in _SIDE_RE.finditer(text_of(h))}
        side = sides.pop() if len(sides) == 1 else None
        sibling = _sided_sibling(p.code, meta.title, side, info) if side else None
        if sibling is None:
            out.append(p)
        else:
            out.append(_with_ref(dataclasses.replace(
                p, code=sibling, derived_from=p.code,
                confidence=min(p.confidence, DERIVED_CAP)),
                "I.B.13", f"laterality documented ({side})"))
    return out


def _sided_sibling(code: str, title: str, side: str,
                   info: Mapping[str, CodeInfoLite]) -> str | None:
    lowered = title.lower()
    for candidate in _siblings(code, info):
        meta = info[candidate]
        other = meta.title.lower()
        for unspec in ("unspecified side", "unspecified"):
            if unspec in lowered and lowered.replace(unspec, side, 1) == other:
                return candidate
    return None


def _siblings(code: str, info: Mapping[str, CodeInfoLite]) -> list[str]:
    """Codes of the same length that differ from ``code`` in the last character only."""
    parent = code[:-1]
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return [parent + c for c in last if parent + c != code and parent + c in info]


def _seventh(proposals: list[Proposal], info: Mapping[str, CodeInfoLite],
             text_of: Callable[[Hit], str], enabled: bool,
             attributes_of: _Attrs | None = None) -> list[Proposal]:
    if not enabled:
        return proposals
    out: list[Proposal] = []
    for p in proposals:
        meta = info.get(p.code)
        if p.system != "ICD-10-CM" or meta is None or meta.billable or p.code[0] not in "ST":
            out.append(p)
            continue
        episodes = {e for h in p.hits if attributes_of is not None
                    for e in (attributes_of(h)[1],) if e}
        context = " ".join(text_of(h) for h in p.hits)
        if len(episodes) == 1:  # NLP attribute: initial / subsequent / sequela
            char = {"initial": "A", "subsequent": "D", "sequela": "S"}.get(
                episodes.pop(), "A")
        else:
            char = "S" if _SEQUELA_RE.search(context) else (
                "D" if _SUBSEQUENT_RE.search(context) else "A")
        base = p.code.replace(".", "")
        padded = (base + "XXX")[:6] if len(base) < 6 else base[:6]
        full = f"{padded[:3]}.{padded[3:]}{char}"
        if full in info and info[full].billable:
            meaning = {"A": "initial encounter", "D": "subsequent encounter",
                       "S": "sequela"}[char]
            out.append(_with_ref(dataclasses.replace(
                p, code=full, derived_from=p.code,
                confidence=min(p.confidence, DERIVED_CAP)),
                "I.C.19.a", f"7th character {char} ({meaning})"))
        else:
            out.append(p)
    return out


def _integral(proposals: list[Proposal], policy: str = "integral") -> list[Proposal]:
    confirmed = [p for p in proposals if not assertion_of(p.hits).uncertain
                 and not p.code.startswith(("R", "Z"))]
    drop: set[str] = set()
    for dx, symptoms in INTEGRAL_SYMPTOMS:
        if any(p.code.startswith(dx) for p in confirmed):
            drop |= {p.code for p in proposals if p.code.startswith(symptoms)}
    if policy == "body_system":
        for p in proposals:
            if not p.code.startswith("R"):
                continue
            systems = next((dx for sym, dx in BODY_SYSTEM_SYMPTOMS
                            if p.code.startswith(sym)), ())
            if systems and any(q.code.startswith(systems) for q in confirmed):
                drop.add(p.code)
    kept = [p for p in proposals if p.code not in drop]
    if not any(q.system == "ICD-10-CM" for q in confirmed):
        return kept
    # I.B.6: a sign not routinely associated with the confirmed diagnosis is coded,
    # one that is routinely associated is not; our tables encode only part of that
    # judgement, so a symptom reported next to a confirmed diagnosis goes to review.
    return [_with_ref(dataclasses.replace(p, confidence=min(p.confidence, DERIVED_CAP)),
                      "I.B.6", "sign/symptom reported with a confirmed diagnosis: "
                      "coder confirms it is not routinely associated")
            if p.system == "ICD-10-CM" and p.code.startswith("R")
            and p.confidence > DERIVED_CAP else p for p in kept]


_CHILD_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _unspecified_child(code: str, info: Mapping[str, CodeInfoLite]) -> str | None:
    """The billable "unspecified" descendant of a header code, when one is defined."""
    current = code
    for _ in range(4):
        sep = "." if len(current) == 3 else ""
        children = [current + sep + c for c in _CHILD_CHARS if current + sep + c in info]
        unspecified = [c for c in children if "unspecified" in info[c].title.lower()]
        if not unspecified:
            return None
        preferred = [c for c in unspecified if c[-1] == "9"] or [
            c for c in unspecified if c[-1] == "0"] or unspecified
        if len(preferred) != 1:
            return None
        current = preferred[0]
        if info[current].billable:
            return current
    return None


def _billable(proposals: list[Proposal], info: Mapping[str, CodeInfoLite],
              policy: str = "review") -> list[Proposal]:
    """Header (non-billable) ICD-10-CM codes cannot be reported (I.A.3 / I.B.2).

    Never auto-finalized: the confidence is capped below the auto-finalize band.
    ``policy = "complete"`` also replaces the code by its billable "unspecified"
    descendant when the classification defines one; ``"review"`` keeps the code for
    a coder to complete (many were billable codes before FY2022 and still appear in
    older code sets and corpora such as CodiEsp).
    """
    out: list[Proposal] = []
    for p in proposals:
        meta = info.get(p.code)
        if p.system != "ICD-10-CM" or meta is None or meta.billable:
            out.append(p)
            continue
        child = _unspecified_child(p.code, info)
        capped = dataclasses.replace(p, confidence=min(p.confidence, DERIVED_CAP))
        if child is None or policy != "complete":
            out.append(_with_ref(capped, "I.A.3", "header code: a coder must add the "
                                 "characters the documentation supports"))
        else:
            out.append(_with_ref(dataclasses.replace(capped, code=child,
                                                     derived_from=p.derived_from or p.code),
                                 "I.A.3", "header code completed with its unspecified "
                                 "subcode (no further detail documented)"))
    return out


def _specificity(proposals: list[Proposal], info: Mapping[str, CodeInfoLite]
                 ) -> list[Proposal]:
    out = []
    for p in proposals:
        meta = info.get(p.code)
        if meta is not None and "unspecified" in meta.title.lower():
            sharper = [q for q in proposals if q.code != p.code and q.code[:3] == p.code[:3]
                       and "unspecified" not in info.get(q.code, meta).title.lower()
                       and q.confidence >= p.confidence]
            if sharper:
                continue
            if p.system == "ICD-10-CM" and p.confidence > DERIVED_CAP and any(
                    q.code != p.code and q.system == p.system and q.code[0] == p.code[0]
                    and _inside(p.hits, q.hits) for q in proposals):
                # another code of the chapter reads a longer phrase around its words
                # (e.g. "heart disease" inside "coronary heart disease"): the
                # unspecified code may be redundant, so a coder confirms it
                out.append(_with_ref(
                    dataclasses.replace(p, confidence=DERIVED_CAP), "I.B.2",
                    "unspecified code whose evidence a more specific code also covers"))
                continue
        out.append(p)
    return out


def _inside(first: Sequence[Hit], second: Sequence[Hit]) -> bool:
    """Some span of ``first`` lies strictly inside a longer span of ``second``."""
    return any(a.note_id == b.note_id and b.start <= a.start and a.end <= b.end
               and b.end - b.start > a.end - a.start for a in first for b in second)


def _sequence_key(p: Proposal) -> tuple[int, float]:
    definitive = not p.code.startswith(("R", "Z")) and p.system == "ICD-10-CM"
    return (int(definitive), p.confidence)


def apply_guidelines(proposals: Sequence[Proposal], *, setting: str, threshold: float,
                     info: Mapping[str, CodeInfoLite], text_of: Callable[[Hit], str],
                     seventh_character: bool = True,
                     before_of: Callable[[Hit], str] | None = None,
                     symptom_policy: str = "integral",
                     attributes_of: _Attrs | None = None,
                     header_codes: str = "review", convention: str = "ocg"
                     ) -> list[Proposal]:
    """Run every step in order; return the reportable proposals, principal first.

    ``text_of(hit)`` is the sentence of a hit; ``before_of(hit)`` the text of its
    sentence before it (enables the strong-cue check of family/history flags);
    ``attributes_of(hit)`` the NLP layer's (laterality, episode) for the hit, which
    win over the coder's own reading of the sentence. ``convention`` is ``"ocg"``
    (every step) or ``"mentions"`` (documented conditions as stated; see the module docs).
    """
    if convention not in CONVENTIONS:
        raise ConfigError(f"unknown coding convention {convention!r}; expected one of "
                          f"{', '.join(CONVENTIONS)}")
    ocg = convention == "ocg"
    kept = _assertions(proposals, setting=setting, threshold=threshold, info=info,
                       before_of=before_of)
    if ocg:
        kept = _combinations(kept, info)
        kept = _laterality(kept, info, text_of, attributes_of)
        kept = _seventh(kept, info, text_of, seventh_character, attributes_of)
    kept = _billable(kept, info, header_codes)
    if ocg:
        kept = _integral(kept, symptom_policy)
        kept = _specificity(kept, info)
    best: dict[tuple[str, str], Proposal] = {}
    for p in kept:
        key = (p.system, p.code)
        if key not in best or p.confidence > best[key].confidence:
            best[key] = p
    ordered = sorted(best.values(), key=_sequence_key, reverse=True)
    if ordered:
        ref = "II" if setting == "inpatient" else "IV.G"
        first = ordered[0]
        ordered[0] = dataclasses.replace(
            first, guideline_refs=(*first.guideline_refs, _OCG + ref))
    return ordered
