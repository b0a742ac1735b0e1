"""ICD-10-CM tabular edits over the encounter's diagnosis codes (pure).

Checks, with the ICD-10-CM Official Guidelines for Coding and Reporting (OCG)
section each one rests on:

- ``icd10cm.invalid_code`` — not a code of the tabular list (OCG I.A.2);
- ``icd10cm.header_code`` — a category/subcategory that has children (OCG I.B.2);
- ``icd10cm.seventh_char.missing`` / ``.invalid`` — 7th character rules (OCG I.A.5);
- ``icd10cm.excludes1`` — two codes that may never be reported together, except
  when the conditions are unrelated (OCG I.A.12.a, the note's exception);
- ``icd10cm.excludes2`` — informational: both may be reported (OCG I.A.12.b);
- ``icd10cm.code_first.missing`` / ``.order`` — etiology/manifestation
  convention (OCG I.A.13, I.B.7);
- ``icd10cm.use_additional.missing`` / ``.order`` — "use additional code" notes;
- ``icd10cm.manifestation_first`` — a "in diseases classified elsewhere" code
  sequenced first (OCG I.A.13);
- ``icd11.ambiguous`` — info when the ICD-11 mapping of a code is one-to-many,
  category-level only or absent (only when the terminology carries ICD-11 maps).

Notes sit on ancestors, so each code's notes are gathered walking ``parent``
links. Sex/age conflicts come from the Medicare Code Editor tables
(:mod:`codeproof.rules.mce`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from codeproof.errors import UnknownCode
from codeproof.model import CodeAssignment, RuleFinding
from codeproof.rules.base import (
    ClaimView,
    RuleContext,
    TerminologyLike,
    code_matches,
    compact,
    finding,
)

__all__ = ["InheritedNotes", "NoteRefs", "TabularRules"]

PACK = "icd10cm.tabular"
_MANIFESTATION = re.compile(r"\bin (?:other )?(?:diseases|conditions) classified elsewhere",
                            re.IGNORECASE)
_CODE_LEVEL = re.compile(r"^[A-Z]\d[0-9A-Z](?:\.[0-9A-Z]{1,4})?$")


@dataclass(frozen=True, slots=True)
class NoteRefs:
    """The code references of one note kind, compiled for matching.

    A reference covers the code and everything below it. References come with or
    without the dash ("E10.-" or "E10"), or as ranges ("E00-E03"); a reference to
    a category always includes its subcodes.
    """

    raw: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()  # compact
    ranges: tuple[str, ...] = ()

    @classmethod
    def of(cls, refs: tuple[str, ...]) -> NoteRefs:
        """Compile ``refs``."""
        prefixes: list[str] = []
        ranges: list[str] = []
        for ref in refs:
            body = ref.strip().rstrip("*").rstrip("-").rstrip(".")
            if "-" in body:
                ranges.append(body)
            elif body:
                prefixes.append(compact(body))
        return cls(raw=refs, prefixes=tuple(prefixes), ranges=tuple(ranges))

    def __bool__(self) -> bool:
        return bool(self.raw)

    def matches(self, code: str) -> bool:
        """True when a reference covers ``code``."""
        if self.prefixes and compact(code).startswith(self.prefixes):
            return True
        return any(code_matches(code, r) for r in self.ranges)


_NO_REFS = NoteRefs()


@dataclass(frozen=True, slots=True)
class InheritedNotes:
    """A code's own and inherited tabular notes (code references only)."""

    known: bool
    billable: bool
    title: str
    excludes1: NoteRefs = _NO_REFS
    excludes2: NoteRefs = _NO_REFS
    code_first: NoteRefs = _NO_REFS
    use_additional: NoteRefs = _NO_REFS
    seventh: tuple[str, ...] = ()  # allowed 7th characters
    has_children: bool = False  # children other than 7th-character extensions


def _get(terminology: TerminologyLike, code: str) -> object | None:
    try:
        info: object = terminology.get(code, "ICD-10-CM")
    except UnknownCode:
        return None
    return info


def _gather(terminology: TerminologyLike, code: str) -> InheritedNotes:
    info = _get(terminology, code)
    if info is None:
        return InheritedNotes(known=False, billable=False, title="")
    chain = [info]
    seen = {code}
    parent = getattr(info, "parent", None)
    for _ in range(8):  # chapter depth is at most 7
        if not parent or parent in seen:  # B20, F99...: a code shares its block's id
            break
        seen.add(parent)
        up = _get(terminology, parent)
        if up is None:
            break
        chain.append(up)
        parent = getattr(up, "parent", None)

    def collect(attr: str, *, codes_only: bool = False) -> tuple[str, ...]:
        out: list[str] = []
        for node in chain:
            if codes_only and not _CODE_LEVEL.match(str(getattr(node, "code", ""))):
                continue  # block/chapter notes
            for ref in getattr(node, attr, ()) or ():
                if ref not in out:
                    out.append(ref)
        return tuple(out)

    seventh: tuple[str, ...] = ()
    for node in chain:
        chars = getattr(node, "seventh_characters", ()) or ()
        if chars:
            seventh = tuple(str(c[0]) for c in chars)
            break
    return InheritedNotes(
        known=True,
        billable=bool(getattr(info, "billable", False)),
        title=str(getattr(info, "title", "")),
        excludes1=NoteRefs.of(collect("excludes1_codes")),
        excludes2=NoteRefs.of(collect("excludes2_codes", codes_only=True)),
        code_first=NoteRefs.of(collect("code_first_codes")),
        use_additional=NoteRefs.of(collect("use_additional_codes")),
        seventh=seventh,
        has_children=any(len(compact(str(child))) < 7
                         for child in getattr(info, "children", ()) or ()),
    )


def _key(code: CodeAssignment) -> str:
    return f"ICD-10-CM:{code.code}"


class TabularRules:
    """Rule family ``icd10cm``: tabular conventions of ICD-10-CM."""

    family: ClassVar[str] = "icd10cm"

    def __init__(self) -> None:
        self._cache: dict[str, InheritedNotes] = {}
        self._icd11_cache: dict[str, tuple[object, ...] | None] = {}

    def notes(self, terminology: TerminologyLike, code: str) -> InheritedNotes:
        """Inherited notes of ``code`` (memoised: the terminology is immutable)."""
        got = self._cache.get(code)
        if got is None:
            got = self._cache[code] = _gather(terminology, code)
        return got

    def __call__(self, claim: ClaimView, context: RuleContext, /) -> tuple[RuleFinding, ...]:
        """Run every tabular edit over the claim's ICD-10-CM codes."""
        terminology = context.terminology
        if terminology is None or not claim.diagnoses:
            return ()
        out: list[RuleFinding] = []
        dx = claim.diagnoses
        notes = [self.notes(terminology, c.code) for c in dx]
        for code, info in zip(dx, notes, strict=True):
            out.extend(self._validity(terminology, code, info))
        valid = [(i, c, n) for i, (c, n) in enumerate(zip(dx, notes, strict=True)) if n.known]
        out.extend(self._excludes(valid))
        out.extend(self._pairing(valid))
        principal = notes[0]
        if principal.known and _MANIFESTATION.search(principal.title):
            out.append(finding(
                "icd10cm.manifestation_first", "error",
                f"{dx[0].code} is a manifestation code and cannot be sequenced first",
                codes=(_key(dx[0]),), pack=PACK, citation="ICD-10-CM OCG I.A.13",
                fix="Sequence the underlying (etiology) condition first and this code after it.",
                evidence=dx[0].evidence,
            ))
        out.extend(self._icd11(terminology, dx, self._icd11_cache))
        return tuple(out)

    def _validity(self, terminology: TerminologyLike, code: CodeAssignment,
                  info: InheritedNotes) -> list[RuleFinding]:
        key = _key(code)
        if not info.known:
            stem = self.notes(terminology, code.code[:-1]) if len(compact(code.code)) == 7 \
                else None
            if stem is not None and stem.known and stem.seventh:
                return [finding(
                    "icd10cm.seventh_char.invalid", "error",
                    f"{code.code}: 7th character {code.code[-1]!r} is not allowed here "
                    f"(allowed: {', '.join(stem.seventh)})",
                    codes=(key,), pack=PACK, citation="ICD-10-CM OCG I.A.5",
                    fix="Use one of the 7th characters listed for the category.",
                    evidence=code.evidence,
                )]
            return [finding(
                "icd10cm.invalid_code", "error",
                f"{code.code} is not a valid ICD-10-CM code",
                codes=(key,), pack=PACK, citation="ICD-10-CM OCG I.A.2",
                fix="Replace it with a valid, billable code from the tabular list.",
                evidence=code.evidence,
            )]
        if info.billable:
            return []
        if info.seventh and not info.has_children and len(compact(code.code)) < 7:
            return [finding(
                "icd10cm.seventh_char.missing", "error",
                f"{code.code} needs a 7th character ({', '.join(info.seventh)}); "
                "use placeholder X for missing positions",
                codes=(key,), pack=PACK, citation="ICD-10-CM OCG I.A.5, I.A.4",
                fix="Add the 7th character for the encounter type (e.g. A initial, "
                    "D subsequent, S sequela).",
                evidence=code.evidence,
            )]
        return [finding(
            "icd10cm.header_code", "error",
            f"{code.code} is a header (non-billable) code; a more specific code is required",
            codes=(key,), pack=PACK, citation="ICD-10-CM OCG I.B.2",
            fix="Report the most specific child code the documentation supports, or query "
                "the provider.",
            evidence=code.evidence,
        )]

    @staticmethod
    def _excludes(valid: list[tuple[int, CodeAssignment, InheritedNotes]]) -> list[RuleFinding]:
        out: list[RuleFinding] = []
        reported: set[tuple[str, str, str]] = set()
        for _, a, na in valid:
            for _, b, _nb in valid:
                if a.code == b.code:
                    continue
                pair = tuple(sorted((a.code, b.code)))
                for kind, refs in (("excludes1", na.excludes1), ("excludes2", na.excludes2)):
                    if not refs.matches(b.code):
                        continue
                    marker = (kind, pair[0], pair[1])
                    if marker in reported:
                        continue
                    reported.add(marker)
                    if kind == "excludes1":
                        out.append(finding(
                            "icd10cm.excludes1", "error",
                            f"Excludes1: {a.code} and {b.code} are not reported together",
                            codes=(_key(a), _key(b)), pack=PACK,
                            citation="ICD-10-CM OCG I.A.12.a",
                            fix="Keep the code the documentation supports and remove the "
                                "other; both may stay only when the note shows the two "
                                "conditions are unrelated (Excludes1 exception).",
                            evidence=(*a.evidence, *b.evidence),
                        ))
                    else:
                        out.append(finding(
                            "icd10cm.excludes2", "info",
                            f"Excludes2: {b.code} is not part of {a.code}; both may be "
                            "reported when both conditions are present",
                            codes=(_key(a), _key(b)), pack=PACK,
                            citation="ICD-10-CM OCG I.A.12.b",
                            fix="No action when the note documents both conditions.",
                        ))
        return out

    @staticmethod
    def _pairing(valid: list[tuple[int, CodeAssignment, InheritedNotes]]) -> list[RuleFinding]:
        out: list[RuleFinding] = []
        for pos, code, info in valid:
            others = [(p, c) for p, c, _ in valid if c.code != code.code]
            if info.code_first:
                etiology = [(p, c) for p, c in others if info.code_first.matches(c.code)]
                if not etiology:
                    manifestation = _MANIFESTATION.search(info.title) is not None
                    out.append(finding(
                        "icd10cm.code_first.missing", "warning" if manifestation else "info",
                        f"{code.code} has a 'code first' note and no underlying condition "
                        f"is coded ({', '.join(info.code_first.raw[:6])})",
                        codes=(_key(code),), pack=PACK, citation="ICD-10-CM OCG I.A.13",
                        fix="Code the underlying condition first when documented, or query "
                            "the provider for it.",
                        evidence=code.evidence,
                    ))
                elif all(p > pos for p, _ in etiology):
                    first = etiology[0][1]
                    out.append(finding(
                        "icd10cm.code_first.order", "warning",
                        f"{first.code} must be sequenced before {code.code} ('code first')",
                        codes=(_key(first), _key(code)), pack=PACK,
                        citation="ICD-10-CM OCG I.A.13",
                        fix=f"Move {first.code} before {code.code}.",
                    ))
            if info.use_additional:
                extra = [(p, c) for p, c in others if info.use_additional.matches(c.code)]
                if not extra:
                    out.append(finding(
                        "icd10cm.use_additional.missing", "info",
                        f"{code.code} asks for an additional code when applicable "
                        f"({', '.join(info.use_additional.raw[:6])})",
                        codes=(_key(code),), pack=PACK, citation="ICD-10-CM OCG I.A.13, I.B.7",
                        fix="Add the additional code if the note documents it.",
                    ))
                elif all(p < pos for p, _ in extra):
                    later = extra[0][1]
                    out.append(finding(
                        "icd10cm.use_additional.order", "warning",
                        f"{later.code} is an additional code and should follow {code.code}",
                        codes=(_key(code), _key(later)), pack=PACK,
                        citation="ICD-10-CM OCG I.B.7",
                        fix=f"Move {later.code} after {code.code}.",
                    ))
        return out

    @staticmethod
    def _icd11(terminology: TerminologyLike, dx: tuple[CodeAssignment, ...],
               cache: dict[str, tuple[object, ...] | None]) -> list[RuleFinding]:
        targets_of = getattr(terminology, "icd11_targets", None)
        if targets_of is None:
            return []
        out: list[RuleFinding] = []
        for code in dx:
            if code.code not in cache:
                try:
                    cache[code.code] = tuple(targets_of(code.code))
                except UnknownCode:
                    cache[code.code] = None
            targets = cache[code.code]
            if not targets:  # the ICD-11 map was not built: nothing to say
                continue
            kinds = {str(getattr(t, "ambiguity", "exact")) for t in targets}
            if len(targets) == 1 and kinds <= {"exact"}:
                continue
            shown = ", ".join(str(getattr(t, "code", t)) or "none" for t in targets)
            out.append(finding(
                "icd11.ambiguous", "info",
                f"ICD-11 mapping of {code.code} is {'/'.join(sorted(kinds))} "
                f"(targets: {shown})",
                codes=(_key(code),), pack="icd11.map",
                citation="WHO ICD-10 to ICD-11 mapping tables",
                fix="Choose the ICD-11 target the documentation supports when dual coding.",
            ))
        return out
