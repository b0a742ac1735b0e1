"""Justification writers: the deterministic template writer and model-backed drafters.

Every writer turns a :class:`CodeContext` (the code, its evidence, the
knowledge-base hits retrieved for it, the rule findings about it) into
:class:`~codeproof.model.Statement` objects that cite evidence spans and sources.

- :class:`TemplateWriter` (``writer.template.v1``, the default): composes the
  statements from structured records only; no model, no network; grounded by
  construction (its output still goes through the verifier).
- :class:`ModelWriter` (``writer.openai.v1`` / ``writer.llamacpp.v1``): renders
  ``prompts/justify_v1.j2`` with de-identified excerpts (``encounter.model_text``),
  calls the backend through its PHI/residency gate and parses the JSON answer.
  Evidence is cited by reference (``E1``...), mapped back to exact note offsets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, ClassVar, Protocol

from codeproof.backends.llm.base import LLMBackend
from codeproof.errors import BackendError, RegionViolation
from codeproof.justify.kb import KBHit
from codeproof.model import CodeAssignment, Encounter, Evidence, Mention, RuleFinding, Statement

__all__ = ["CodeContext", "Draft", "ModelWriter", "TemplateWriter", "Writer",
           "finding_applies", "render_prompt"]

_SECTION_LABELS = {
    "assessment_plan": "assessment and plan", "hpi": "history of present illness",
    "pmh": "past medical history", "chief_complaint": "chief complaint",
    "discharge_diagnoses": "discharge diagnoses", "ros": "review of systems",
    "family_history": "family history", "social_history": "social history",
}


def finding_applies(finding: RuleFinding, code: CodeAssignment) -> bool:
    """True when ``finding`` names ``code`` (``SYSTEM:CODE`` or bare)."""
    keys = {f"{code.system}:{code.code}", code.code}
    return bool(keys & set(finding.codes))


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeContext:
    """Everything a writer may use for one code (the verifier's retrieved context)."""

    code: CodeAssignment
    evidence: tuple[Evidence, ...]  # the code's evidence spans that verify
    mentions: tuple[Mention, ...] = ()
    hits: tuple[KBHit, ...] = ()
    findings: tuple[RuleFinding, ...] = ()
    flags: tuple[str, ...] = ()  # assertion/setting words: historical, inpatient...
    tabular: tuple[str, str] | None = None  # (citation, text) from the terminology

    @property
    def citations(self) -> dict[str, str]:
        """citation -> source text, for the verifier."""
        out = {hit.record.citation: hit.record.text for hit in self.hits}
        out.update({f.rule_id: f.message for f in self.findings})
        if self.tabular is not None:
            out[self.tabular[0]] = self.tabular[1]
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Draft:
    """A writer's output: statements, or why none could be parsed."""

    statements: tuple[Statement, ...]
    writer: str
    parse_error: str | None = None


class Writer(Protocol):
    """Drafts statements for one code."""

    @property
    def name(self) -> str:
        """The versioned registry name."""
        ...

    def draft(self, encounter: Encounter, context: CodeContext) -> Draft:
        """Return the drafted statements for ``context.code``."""
        ...


def _first_sentences(text: str, limit: int = 240) -> str:
    sentences = re.split(r"(?<=\.)\s+", text)
    out = sentences[0]
    for sentence in sentences[1:]:
        if len(out) + len(sentence) + 1 > limit:
            break
        out = f"{out} {sentence}"
    return out


def _quote(text: str) -> str:
    """Quote ``text`` with marks it does not contain (the verifier parses them back)."""
    if '"' not in text:
        return f'"{text}"'
    if "\u201c" not in text and "\u201d" not in text:
        return f"\u201c{text}\u201d"
    return f"[{text}]"  # cannot be quoted unambiguously: bracketed, still cited by offsets


class TemplateWriter:
    """``writer.template.v1``: deterministic statements from structured records."""

    name: ClassVar[str] = "writer.template.v1"

    def __init__(self, *, guidelines_per_code: int = 2, max_quotes: int = 3) -> None:
        self.guidelines_per_code = guidelines_per_code
        self.max_quotes = max_quotes

    def draft(self, encounter: Encounter, context: CodeContext) -> Draft:
        """Evidence, assertion, guideline, tabular and rule statements, in that order."""
        code = context.code
        label = f"{code.system} {code.code} ({code.description})"
        statements: list[Statement] = []
        evidence = context.evidence[: self.max_quotes]
        if evidence:
            quoted = " and ".join(_quote(e.quote) for e in evidence)
            sections = sorted({m.section for m in context.mentions if m.section})
            where = ""
            if sections:
                names = ", ".join(_SECTION_LABELS.get(s, s.replace("_", " ")) for s in sections)
                where = f" in the {names} section{'s' if len(sections) > 1 else ''}"
            statements.append(Statement(
                text=f"{label} is supported by the documentation{where}: {quoted}.",
                evidence=evidence, codes=(code.code,)))
        else:
            statements.append(Statement(
                text=f"{label} has no verbatim evidence span attached; it rests on the "
                     "sources cited below and needs coder confirmation.",
                citations=tuple(h.record.citation for h in context.hits[:1]),
                codes=(code.code,)))
        cues = tuple(c for m in context.mentions for c in m.assertion.cues)
        status = [f for f in context.flags if f in {"historical", "uncertain", "family",
                                                    "hypothetical", "negated"}]
        if status and cues:
            words = ", ".join(status)
            cue_text = " and ".join(_quote(c.quote) for c in cues[:2])
            statements.append(Statement(
                text=f"The documentation marks the condition as {words} ({cue_text}).",
                evidence=cues[:2], codes=(code.code,)))
        for hit in [h for h in context.hits if h.record.kind == "guideline"][
                : self.guidelines_per_code]:
            record = hit.record
            statements.append(Statement(
                text=f"{record.citation} ({record.title}): {_first_sentences(record.text)}",
                citations=(record.citation,)))
        for hit in [h for h in context.hits if h.record.kind == "policy"][:1]:
            statements.append(Statement(
                text=f"{hit.record.citation} applies: {_first_sentences(hit.record.text, 200)}",
                citations=(hit.record.citation,)))
        if context.tabular is not None:
            statements.append(Statement(text=f"{context.tabular[0]}: {context.tabular[1]}.",
                                        citations=(context.tabular[0],)))
        for finding in context.findings:
            blocking = ", blocking" if finding.blocking else ""
            pack = " ".join(p for p in (finding.pack, finding.pack_version) if p)
            source = f" [{pack}]" if pack else ""
            statements.append(Statement(
                text=f"Compliance check {finding.rule_id}{source} ({finding.severity}"
                     f"{blocking}): {finding.message}",
                citations=(finding.rule_id,)))
        return Draft(statements=tuple(statements), writer=self.name)


def render_prompt(name: str, **values: Any) -> str:
    """Render ``prompts/<name>`` with strict undefined variables."""
    import jinja2

    source = files("codeproof.justify").joinpath(f"prompts/{name}").read_text("utf-8")
    env = jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined,  # noqa: S701
                             keep_trailing_newline=True)
    return env.from_string(source).render(**values)


def _parse_json_object(text: str) -> Any:
    start = text.find("{")
    if start < 0:
        raise ValueError("no JSON object in the answer")
    obj, _ = json.JSONDecoder().raw_decode(text[start:])
    return obj


def _as_str_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


class ModelWriter:
    """Drafts with an LLM backend (``writer.openai.v1`` / ``writer.llamacpp.v1``)."""

    prompt = "justify_v1.j2"

    def __init__(self, backend: LLMBackend, *, name: str, max_tokens: int = 384,
                 all_codes: Callable[[Encounter], Sequence[str]] | None = None) -> None:
        self.backend = backend
        self.name = name
        self.max_tokens = max_tokens
        self._all_codes = all_codes or (lambda enc: [c.code for c in enc.codes])

    @property
    def model_id(self) -> str:
        """``<writer name>:<backend model id>``, recorded in the package."""
        return f"{self.name}:{self.backend.model_id}"

    def build_prompt(self, encounter: Encounter, context: CodeContext) -> str:
        """The prompt, from de-identified text only (``encounter.model_text``)."""
        code = context.code
        evidence = [{"ref": f"E{i}", "quote": encounter.model_text(e.note_id)[e.start:e.end]}
                    for i, e in enumerate(context.evidence, 1)]
        return render_prompt(
            self.prompt, system=code.system, code=code.code, description=code.description,
            codes=list(self._all_codes(encounter)), evidence=evidence,
            guidelines=[{"citation": h.record.citation, "title": h.record.title,
                         "text": h.record.text} for h in context.hits],
            findings=[{"rule_id": f.rule_id, "message": f.message} for f in context.findings],
        )

    def draft(self, encounter: Encounter, context: CodeContext) -> Draft:
        """Call the model (PHI-gated) and parse its JSON into statements."""
        prompt = self.build_prompt(encounter, context)
        try:
            answer = self.backend.complete_for(encounter, prompt, max_tokens=self.max_tokens)
        except RegionViolation:
            raise
        except BackendError as exc:
            return Draft(statements=(), writer=self.model_id,
                         parse_error=f"backend failed: {type(exc).__name__}")
        try:
            payload = _parse_json_object(answer)
            items = payload["statements"]
            if not isinstance(items, list):
                raise TypeError("statements is not a list")
        except (ValueError, KeyError, TypeError) as exc:
            return Draft(statements=(), writer=self.model_id,
                         parse_error=f"unparseable answer: {type(exc).__name__}")
        refs = {f"E{i}": e for i, e in enumerate(context.evidence, 1)}
        statements = []
        for item in items:
            if not isinstance(item, dict):
                return Draft(statements=(), writer=self.model_id,
                             parse_error="statement is not an object")
            cited: list[Evidence] = []
            for ref in _as_str_list(item.get("evidence")):
                # an unknown reference becomes an impossible span: the verifier rejects it
                cited.append(refs.get(ref.strip("[] "),
                                      Evidence(note_id="?", start=-1, end=-1, quote=ref)))
            statements.append(Statement(
                text=str(item.get("text", "")).strip(), evidence=tuple(cited),
                citations=tuple(c.strip("[] ") for c in _as_str_list(item.get("citations"))),
                codes=tuple(_as_str_list(item.get("codes"))),
            ))
        return Draft(statements=tuple(statements), writer=self.model_id)
