"""The ``justify.writer.v1`` stage and the writer/verifier registry factories.

For each code of the encounter the stage retrieves guidance from the knowledge
base, gathers the rule findings about the code, drafts a justification with the
configured writer, and verifies it. A rejected model draft falls back to the
template writer and lowers the code's confidence by ``justify.rejection_penalty``;
the :class:`~codeproof.model.Justification` records the writer, the verifier and
the number of rejected drafts. Codes also get their ``guideline_refs``.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, ClassVar

from codeproof.errors import CodeproofError
from codeproof.justify.kb import KnowledgeBase, load_kb
from codeproof.justify.verify import GroundingContext, GroundingVerifier, ModelVerifier, Verifier
from codeproof.justify.writer import (
    CodeContext,
    ModelWriter,
    TemplateWriter,
    Writer,
    finding_applies,
)
from codeproof.model import CodeAssignment, Encounter, Evidence, Justification, Statement

__all__ = [
    "JustifyStage",
    "build_contexts",
    "create_grounding_verifier",
    "create_justify_stage",
    "create_llamacpp_writer",
    "create_model_verifier",
    "create_openai_writer",
    "create_template_writer",
]

logger = logging.getLogger(__name__)

_ASSERTION_FLAGS = ("negated", "uncertain", "historical", "hypothetical", "family")


def _verified_evidence(encounter: Encounter, code: CodeAssignment) -> tuple[Evidence, ...]:
    out = []
    for item in code.evidence:
        try:
            text = encounter.note(item.note_id).text
        except KeyError:
            continue
        if 0 <= item.start < item.end <= len(text) and text[item.start:item.end] == item.quote:
            out.append(item)
    return tuple(out)


def _flags(encounter: Encounter, code: CodeAssignment) -> tuple[str, ...]:
    flags: list[str] = [encounter.setting]
    if code.sequence == 1:
        flags.append("principal")
    wanted = set(code.mention_ids)
    for mention in encounter.mentions:
        if mention.id in wanted:
            for flag in _ASSERTION_FLAGS:
                if getattr(mention.assertion, flag) and flag not in flags:
                    flags.append(flag)
    return tuple(flags)


def build_contexts(encounter: Encounter, kb: KnowledgeBase, *, k: int = 3,
                   tabular: Any = None) -> list[CodeContext]:
    """One :class:`CodeContext` per code: evidence, mentions, KB hits, findings."""
    contexts = []
    for code in encounter.codes:
        flags = _flags(encounter, code)
        wanted = set(code.mention_ids)
        hits = kb.for_code(code.code, description=code.description, flags=flags, k=k,
                           system=code.system)
        if code.system in {"ICD-10-CM", "ICD-10-PCS"}:
            policy = kb.search(f"{code.code} {code.description}", k=1, kinds=("policy",))
            if encounter.payer:
                policy = [h for h in policy if h.record.payer.lower() == encounter.payer.lower()]
            hits = [*hits, *policy]
        contexts.append(CodeContext(
            code=code,
            evidence=_verified_evidence(encounter, code),
            mentions=tuple(m for m in encounter.mentions if m.id in wanted),
            hits=tuple(hits),
            findings=tuple(f for f in encounter.findings if finding_applies(f, code)),
            flags=flags,
            tabular=tabular(code) if tabular is not None else None,
        ))
    return contexts


class JustifyStage:
    """``justify.writer.v1``: draft, verify, fall back, record writer + verifier."""

    name: ClassVar[str] = "justify.writer.v1"
    requires: ClassVar[frozenset[str]] = frozenset({"codes"})
    assigns: ClassVar[frozenset[str]] = frozenset({"justifications", "codes"})

    def __init__(self, *, kb: KnowledgeBase, writer: Writer | None = None,
                 verifier: Verifier | None = None, rejection_penalty: float = 0.15,
                 guidelines_per_code: int = 2, tabular: Any = None) -> None:
        self.kb = kb
        self.template = TemplateWriter(guidelines_per_code=guidelines_per_code)
        self.writer: Writer = writer if writer is not None else self.template
        self.verifier: Verifier = verifier if verifier is not None else GroundingVerifier()
        self.rejection_penalty = rejection_penalty
        self.tabular = tabular

    def _grounded_template(self, encounter: Encounter, context: CodeContext,
                           grounding: GroundingContext) -> tuple[tuple[Statement, ...], bool]:
        """Template statements that pass grounding, and whether any grounded one remains.

        A template statement can only fail on malformed input evidence; it is then
        dropped (logged without text) rather than failing the whole encounter. When
        nothing grounded remains, one claim-free statement says so and the
        justification is marked ungrounded (routing sends the code to a coder).
        """
        verifier = GroundingVerifier()
        draft = self.template.draft(encounter, context)
        violations = verifier.violations(encounter, draft.statements, grounding)
        bad = {v.statement for v in violations}
        kept = tuple(s for i, s in enumerate(draft.statements) if i not in bad)
        if bad:
            logger.warning("dropped %d ungrounded template statements for %s in encounter %s",
                           len(bad), context.code.code, encounter.id)
        if kept and any(s.evidence or s.citations for s in kept):
            return kept, True
        code = context.code
        return (Statement(text=f"{code.system} {code.code} has no justification that passes "
                               "verification; a coder must confirm it against the note.",
                          codes=(code.code,)),), False

    def __call__(self, encounter: Encounter, /) -> Encounter:
        """Justify every code; return justifications and (possibly lowered) codes."""
        decision_set = frozenset(c.code for c in encounter.codes)
        code_text = " ".join(c.description for c in encounter.codes)
        justifications: list[Justification] = []
        codes: list[CodeAssignment] = []
        for context in build_contexts(encounter, self.kb, tabular=self.tabular):
            code = context.code
            grounding = GroundingContext(codes=decision_set, citations=context.citations,
                                         code_text=code_text)
            draft = self.writer.draft(encounter, context)
            verdict = self.verifier.verify(encounter, code, draft.statements, grounding,
                                           parse_error=draft.parse_error)
            rejected = 0
            grounded = True
            writer_name = getattr(self.writer, "model_id", self.writer.name)
            verifier_name = verdict.verifier
            statements = draft.statements
            if not verdict.accepted:
                kinds = sorted({v.kind for v in verdict.violations})
                logger.info("draft for %s:%s in encounter %s rejected (%s); template fallback",
                            code.system, code.code, encounter.id, ",".join(kinds))
                rejected = 1
                statements, grounded = self._grounded_template(encounter, context, grounding)
                if not isinstance(self.writer, TemplateWriter):
                    writer_name = f"{self.template.name} (fallback from {writer_name})"
                verifier_name = (f"{GroundingVerifier.name} (draft rejected by "
                                 f"{verdict.verifier}: {','.join(kinds)})")
                code = dataclasses.replace(
                    code, confidence=round(max(0.0, code.confidence - self.rejection_penalty), 4))
            if len(context.evidence) != len(code.evidence):
                # spans whose quote is not the note text at its offsets never leave here
                logger.warning("dropped %d unverifiable evidence spans of %s in encounter %s",
                               len(code.evidence) - len(context.evidence), code.code,
                               encounter.id)
                code = dataclasses.replace(code, evidence=context.evidence)
            refs = tuple(dict.fromkeys(
                c for s in statements for c in s.citations if c in context.citations
                and not any(c == f.rule_id for f in context.findings)))
            if refs and not code.guideline_refs:
                code = dataclasses.replace(code, guideline_refs=refs)
            codes.append(code)
            justifications.append(Justification(
                system=code.system, code=code.code, statements=statements,
                writer=writer_name, verifier=verifier_name, grounded=grounded,
                rejected_drafts=rejected,
            ))
        out = dataclasses.replace(encounter, justifications=tuple(justifications),
                                  codes=tuple(codes))
        return out.with_versions(
            **{"justify.kb": self.kb.corpus_version,
               "justify.writer": getattr(self.writer, "model_id", self.writer.name),
               "justify.verifier": self.verifier.name}
        )


# --------------------------------------------------------------------------- factories


def create_template_writer(runtime: Any) -> TemplateWriter:
    """``writer.template.v1``."""
    return TemplateWriter(guidelines_per_code=runtime.settings.justify.guidelines_per_code)


def create_openai_writer(runtime: Any) -> ModelWriter:
    """``writer.openai.v1``: an OpenAI-compatible endpoint from ``[justify]``."""
    backend = runtime.backend("llm", "llm.openai_compat.v1")
    return ModelWriter(backend, name="writer.openai.v1",
                       max_tokens=runtime.settings.justify.llm_max_tokens)


def create_llamacpp_writer(runtime: Any) -> ModelWriter:
    """``writer.llamacpp.v1``: a local GGUF model in process."""
    backend = runtime.backend("llm", "llm.llamacpp.v1")
    return ModelWriter(backend, name="writer.llamacpp.v1",
                       max_tokens=runtime.settings.justify.llm_max_tokens)


def create_grounding_verifier(runtime: Any) -> GroundingVerifier:
    """``verifier.grounding.v1``."""
    return GroundingVerifier()


def create_model_verifier(runtime: Any) -> ModelVerifier:
    """``verifier.llm.v1``: grounding + the model named by ``backends.llm``."""
    return ModelVerifier(runtime.backend("llm"))


def _tabular_lookup(runtime: Any) -> Any:
    """Code-level tabular text when the terminology is already loaded (never builds it)."""
    terminology = runtime.__dict__.get("terminology")
    if terminology is None and not runtime.settings.reference_path.exists():
        return None
    if terminology is None:
        try:
            terminology = runtime.terminology
        except (CodeproofError, ImportError, AttributeError):
            logger.info("terminology unavailable; justifications carry no tabular statement")
            return None

    def lookup(code: CodeAssignment) -> tuple[str, str] | None:
        if code.system != "ICD-10-CM":
            return None
        try:
            info = terminology.get(code.code, system="ICD-10-CM")
        except (CodeproofError, KeyError):
            return None
        kind = "billable code" if getattr(info, "billable", False) else "category"
        text = f"{kind} titled '{info.title}'"
        for note_kind, label in (("code_first", "code first"),
                                 ("use_additional", "use additional code")):
            try:
                notes = terminology.notes_inherited(info.code, note_kind)
            except (CodeproofError, AttributeError, KeyError):
                notes = ()
            if notes:
                text += f"; {label} note (at {notes[0].source}): {notes[0].text}"
        return (f"ICD-10-CM Tabular {info.code}", text)

    return lookup


def create_justify_stage(runtime: Any) -> JustifyStage:
    """Registry factory for ``justify.writer.v1``."""
    from codeproof.registrations import get_registry

    settings = runtime.settings
    kb = runtime.resource("justify.kb", lambda rt: load_kb(rt.settings))
    writer = get_registry("writers").get(settings.justify.writer)(runtime)
    verifier = get_registry("verifiers").get(settings.justify.verifier)(runtime)
    return JustifyStage(kb=kb, writer=writer, verifier=verifier,
                        rejection_penalty=settings.justify.rejection_penalty,
                        guidelines_per_code=settings.justify.guidelines_per_code,
                        tabular=_tabular_lookup(runtime))
