"""Verification of drafted justifications: the deterministic grounding check.

A drafted statement is accepted only when

1. every cited evidence span exists and its quote is the note's text at its
   offsets (``note.text[start:end] == quote``);
2. every phrase the statement text puts in double quotes is verbatim inside one
   of the statement's cited evidence quotes;
3. every code the statement names (in ``codes`` or written in its own words, outside
   quotes and the decision set's descriptions) is in the encounter's decision set,
   or appears in a source the statement cites;
4. every citation is in the retrieved context (knowledge-base hits and rule
   findings handed to the writer);
5. the statement rests on something: at least one evidence span or citation.

:class:`GroundingVerifier` (``verifier.grounding.v1``) always runs.
:class:`ModelVerifier` (``verifier.llm.v1``) runs the same check and then asks a
second model whether the evidence supports the code. Violations name statement
numbers, offsets, codes and citations only: never note text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

from codeproof.backends.llm.base import LLMBackend
from codeproof.errors import BackendError, UngroundedClaim
from codeproof.model import CodeAssignment, Encounter, Evidence, Statement

__all__ = [
    "GroundingContext",
    "check_package_grounding",
    "package_grounding_problems",
    "GroundingVerifier",
    "ModelVerifier",
    "Verdict",
    "Verifier",
    "Violation",
    "quoted_phrases",
]

ViolationKind = Literal["unparseable", "empty", "unknown_note", "bad_offsets",
                        "quote_mismatch", "unquoted_claim", "unknown_code",
                        "unknown_citation", "unsupported", "model_rejected"]

_CURLY = re.compile("\u201c([^\u201d]*)\u201d")
_CODE_IN_TEXT = re.compile(r"\b([A-TV-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?)\b")


def quoted_phrases(text: str) -> list[str]:
    """Phrases a statement puts in straight or curly double quotes.

    Straight quotes are paired in order (1st with 2nd, 3rd with 4th...), so the text
    between two quoted phrases is never mistaken for a quote; empty phrases are skipped.
    """
    straight = _CURLY.sub(" ", text).split('"')[1::2]
    if text.count('"') % 2:
        straight = straight[:-1]  # an unbalanced final mark opens no phrase
    return [p for p in (*straight, *_CURLY.findall(text)) if p.strip()]


def _without_quotes(text: str) -> str:
    parts = _CURLY.sub(" ", text).split('"')
    return " ".join(parts[0::2])


def _norm_code(code: str) -> str:
    return code.split(":", 1)[-1].upper()


@dataclass(frozen=True, slots=True, kw_only=True)
class Violation:
    """Why a statement was rejected (PHI-free)."""

    statement: int  # 0-based index; -1 for the draft as a whole
    kind: ViolationKind
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """The verifier's decision on one draft."""

    accepted: bool
    verifier: str
    violations: tuple[Violation, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class GroundingContext:
    """What a draft may rest on: the decision set and the retrieved sources."""

    codes: frozenset[str]  # canonical codes of the encounter's decision set
    citations: Mapping[str, str] = field(default_factory=dict)  # citation -> source text
    code_text: str = ""  # descriptions of the decision set's codes


class Verifier(Protocol):
    """Accepts or rejects a drafted justification."""

    @property
    def name(self) -> str:
        """The versioned registry name."""
        ...

    def verify(self, encounter: Encounter, code: CodeAssignment,
               statements: Sequence[Statement], context: GroundingContext, *,
               parse_error: str | None = None) -> Verdict:
        """Return the verdict on ``statements`` drafted for ``code``."""
        ...


def _check_evidence(encounter: Encounter, index: int, item: Evidence) -> Violation | None:
    try:
        note = encounter.note(item.note_id)
    except KeyError:
        return Violation(statement=index, kind="unknown_note", detail=f"note {item.note_id!r}")
    if not 0 <= item.start < item.end <= len(note.text):
        return Violation(statement=index, kind="bad_offsets",
                         detail=f"[{item.start},{item.end}) of note {note.id}")
    if note.text[item.start:item.end] != item.quote:
        return Violation(statement=index, kind="quote_mismatch",
                         detail=f"[{item.start},{item.end}) of note {note.id}")
    return None


class GroundingVerifier:
    """``verifier.grounding.v1``: the deterministic grounding check (always runs)."""

    name: ClassVar[str] = "verifier.grounding.v1"

    def violations(self, encounter: Encounter, statements: Sequence[Statement],
                   context: GroundingContext, *,
                   parse_error: str | None = None) -> list[Violation]:
        """Every violation of the five grounding rules, in statement order."""
        if parse_error is not None:
            return [Violation(statement=-1, kind="unparseable", detail=parse_error[:80])]
        if not statements:
            return [Violation(statement=-1, kind="empty", detail="no statements")]
        found: list[Violation] = []
        for index, statement in enumerate(statements):
            bad = [v for v in (_check_evidence(encounter, index, e)
                               for e in statement.evidence) if v is not None]
            found.extend(bad)
            quotes = [e.quote for e in statement.evidence]
            for phrase in quoted_phrases(statement.text):
                if not any(phrase in quote for quote in quotes):
                    found.append(Violation(statement=index, kind="unquoted_claim",
                                           detail=f"{len(phrase)}-char quoted phrase"))
            cited_text = " ".join(context.citations.get(c, "") for c in statement.citations)
            for citation in statement.citations:
                if citation not in context.citations:
                    found.append(Violation(statement=index, kind="unknown_citation",
                                           detail=citation[:80]))
            # quoted phrases are checked verbatim above; a code-like token inside the
            # note's own words ("vitamin B12", "T12 vertebra") is not a coding claim
            claim_text = _without_quotes(statement.text)
            allowed_text = " ".join([cited_text, context.code_text, *quotes])
            named = {_norm_code(c) for c in statement.codes}
            named |= {c for c in _CODE_IN_TEXT.findall(claim_text) if c not in allowed_text}
            for code in sorted(named):
                if code not in context.codes and code not in cited_text:
                    found.append(Violation(statement=index, kind="unknown_code", detail=code))
            if not statement.evidence and not statement.citations:
                found.append(Violation(statement=index, kind="unsupported",
                                       detail="no evidence and no citation"))
        return found

    def verify(self, encounter: Encounter, code: CodeAssignment,
               statements: Sequence[Statement], context: GroundingContext, *,
               parse_error: str | None = None) -> Verdict:
        """Accept when no grounding rule is violated."""
        found = self.violations(encounter, statements, context, parse_error=parse_error)
        return Verdict(accepted=not found, verifier=self.name, violations=tuple(found))


class ModelVerifier:
    """``verifier.llm.v1``: grounding check, then a second model's YES/NO."""

    name: ClassVar[str] = "verifier.llm.v1"
    prompt = "verify_v1.j2"

    def __init__(self, backend: LLMBackend) -> None:
        self.backend = backend
        self.grounding = GroundingVerifier()

    def verify(self, encounter: Encounter, code: CodeAssignment,
               statements: Sequence[Statement], context: GroundingContext, *,
               parse_error: str | None = None) -> Verdict:
        """Grounding first; a grounded draft must also get YES from the model."""
        found = self.grounding.violations(encounter, statements, context,
                                          parse_error=parse_error)
        label = f"{self.name}+{self.grounding.name}:{self.backend.model_id}"
        if found:
            return Verdict(accepted=False, verifier=label, violations=tuple(found))
        from codeproof.justify.writer import render_prompt

        prompt = render_prompt(
            self.prompt, system=code.system, code=code.code, description=code.description,
            evidence=[encounter.model_text(e.note_id)[e.start:e.end]
                      for s in statements for e in s.evidence],
            statements=[s.text for s in statements],
        )
        try:
            answer = self.backend.complete_for(encounter, prompt, max_tokens=4)
        except BackendError as exc:
            return Verdict(accepted=False, verifier=label, violations=(
                Violation(statement=-1, kind="model_rejected",
                          detail=f"verifier model failed: {type(exc).__name__}"),))
        if answer.strip().upper().startswith("YES"):
            return Verdict(accepted=True, verifier=label)
        return Verdict(accepted=False, verifier=label, violations=(
            Violation(statement=-1, kind="model_rejected", detail="second model said no"),))


def package_grounding_problems(package: Mapping[str, Any], notes: Mapping[str, str], *,
                               extra_citations: Iterable[str] = ()) -> list[str]:
    """Problems (PHI-free) in a package's justifications; empty when all is grounded.

    Checks every statement of every code: quotes against ``notes`` (note id -> text)
    at their offsets, citations against the guideline corpus, the package's rule
    findings, Tabular and payer-policy citations and ``extra_citations``, and the
    codes a statement names against the package's codes.
    """
    from codeproof.justify.kb import load_guidelines

    known = {r.citation for r in load_guidelines()} | set(extra_citations)
    known |= {str(f.get("rule_id")) for f in package.get("findings") or []}
    codes = {str(c.get("code")) for c in package.get("codes") or []}
    problems: list[str] = []
    for code in package.get("codes") or []:
        where = f"{package.get('encounter_id')}:{code.get('code')}"
        justification = code.get("justification")
        if not justification:
            problems.append(f"{where}: no justification")
            continue
        if not justification.get("grounded", False):
            problems.append(f"{where}: marked ungrounded")
        for statement in justification.get("statements") or []:
            for ev in statement.get("evidence") or []:
                text = notes.get(str(ev.get("note_id")))
                start, end = int(ev.get("start", -1)), int(ev.get("end", -1))
                if text is None or text[start:end] != ev.get("quote") or start < 0:
                    problems.append(f"{where}: quote at {start}-{end} does not match")
            for citation in statement.get("citations") or []:
                if not (citation in known or citation.startswith("ICD-10-CM Tabular ")
                        or " policy " in citation):
                    problems.append(f"{where}: unknown citation {citation}")
            for named in statement.get("codes") or []:
                if named not in codes:
                    problems.append(f"{where}: names {named} outside the code set")
    return problems


def check_package_grounding(package: Mapping[str, Any], notes: Mapping[str, str]) -> None:
    """Raise :class:`UngroundedClaim` naming the first problem of ``package``."""
    problems = package_grounding_problems(package, notes)
    if problems:
        raise UngroundedClaim(f"{len(problems)} grounding problems; first: {problems[0]}",
                              encounter=str(package.get("encounter_id")))
