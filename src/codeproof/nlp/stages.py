"""The four NLP pipeline stages over the Encounter.

Each works on ``encounter.model_text(note.id)`` (the de-identified,
length-preserving view), so offsets are offsets into the original note;
``Mention.text`` is read from the original ``note.text``.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, ClassVar

from codeproof.model import Encounter, Mention, Section, Sentence
from codeproof.nlp.engine import NlpEngine, engine_from_runtime

if TYPE_CHECKING:
    from codeproof.runtime import Runtime

__all__ = [
    "ContextStage",
    "MentionsStage",
    "SectionsStage",
    "SentencesStage",
    "context_stage",
    "mentions_stage",
    "sections_stage",
    "sentences_stage",
]


def _note_sections(encounter: Encounter, note_id: str) -> tuple[Section, ...]:
    return tuple(s for s in encounter.sections if s.note_id == note_id)


def _note_sentences(encounter: Encounter, note_id: str) -> list[tuple[int, int]]:
    return [(s.start, s.end) for s in encounter.sentences if s.note_id == note_id]


class SectionsStage:
    """Finds section headers of every note (canonical names and coding weights)."""

    name: ClassVar[str] = "nlp.sections.v1"
    requires: ClassVar[frozenset[str]] = frozenset({"notes"})
    assigns: ClassVar[frozenset[str]] = frozenset({"sections"})

    def __init__(self, engine: NlpEngine) -> None:
        self.engine = engine

    def __call__(self, encounter: Encounter, /) -> Encounter:
        """Return the encounter with ``sections`` set."""
        sections: list[Section] = []
        for note in encounter.notes:
            sections.extend(self.engine.sections(encounter.model_text(note.id),
                                                 note_id=note.id))
        out = dataclasses.replace(encounter, sections=tuple(sections))
        return out.with_versions(**{"nlp.section_patterns": self.engine.sectionizer.version})


class SentencesStage:
    """Splits every note into sentences (section headers start sentences)."""

    name: ClassVar[str] = "nlp.sentences.v1"
    requires: ClassVar[frozenset[str]] = frozenset({"notes", "sections"})
    assigns: ClassVar[frozenset[str]] = frozenset({"sentences"})

    def __init__(self, engine: NlpEngine) -> None:
        self.engine = engine

    def __call__(self, encounter: Encounter, /) -> Encounter:
        """Return the encounter with ``sentences`` set."""
        sentences: list[Sentence] = []
        for note in encounter.notes:
            spans = self.engine.sentences(encounter.model_text(note.id),
                                          sections=_note_sections(encounter, note.id))
            sentences.extend(Sentence(note_id=note.id, start=s, end=e) for s, e in spans)
        return dataclasses.replace(encounter, sentences=tuple(sentences))


class MentionsStage:
    """Finds diagnoses, symptoms, procedures and findings with exact offsets."""

    name: ClassVar[str] = "nlp.mentions.v1"
    requires: ClassVar[frozenset[str]] = frozenset({"sections", "sentences"})
    assigns: ClassVar[frozenset[str]] = frozenset({"mentions"})

    def __init__(self, engine: NlpEngine) -> None:
        self.engine = engine

    def __call__(self, encounter: Encounter, /) -> Encounter:
        """Return the encounter with ``mentions`` set (assertions not yet filled)."""
        mentions: list[Mention] = []
        for note in encounter.notes:
            mentions.extend(self.engine.mentions(
                encounter.model_text(note.id), note_id=note.id, original=note.text,
                sections=_note_sections(encounter, note.id), producer=self.name))
        out = dataclasses.replace(encounter, mentions=tuple(mentions))
        return out.with_versions(**{k: v for k, v in self.engine.versions.items()
                                    if k in ("nlp.lexicon", "nlp.abbreviations",
                                             "nlp.misspellings")})


class ContextStage:
    """Fills every mention's Assertion (ConText + section defaults) and Attributes."""

    name: ClassVar[str] = "nlp.context.v1"
    requires: ClassVar[frozenset[str]] = frozenset({"mentions", "sentences"})
    assigns: ClassVar[frozenset[str]] = frozenset({"mentions"})

    def __init__(self, engine: NlpEngine) -> None:
        self.engine = engine

    def __call__(self, encounter: Encounter, /) -> Encounter:
        """Return the encounter with assertions and attributes on its mentions."""
        by_note: dict[str, list[Mention]] = {}
        for mention in encounter.mentions:
            by_note.setdefault(mention.note_id, []).append(mention)
        annotated: dict[str, Mention] = {}
        for note_id, mentions in by_note.items():
            for mention in self.engine.annotate(
                mentions, encounter.model_text(note_id),
                sentences=_note_sentences(encounter, note_id),
                sections=_note_sections(encounter, note_id),
            ):
                annotated[mention.id] = mention
        out = dataclasses.replace(
            encounter, mentions=tuple(annotated.get(m.id, m) for m in encounter.mentions))
        return out.with_versions(**{"nlp.context_rules": self.engine.context.version,
                                    "nlp.attributes": self.engine.attributor.version})


def sections_stage(runtime: Runtime) -> SectionsStage:
    """Registry factory for ``nlp.sections.v1``."""
    return SectionsStage(engine_from_runtime(runtime))


def sentences_stage(runtime: Runtime) -> SentencesStage:
    """Registry factory for ``nlp.sentences.v1``."""
    return SentencesStage(engine_from_runtime(runtime))


def mentions_stage(runtime: Runtime) -> MentionsStage:
    """Registry factory for ``nlp.mentions.v1``."""
    return MentionsStage(engine_from_runtime(runtime))


def context_stage(runtime: Runtime) -> ContextStage:
    """Registry factory for ``nlp.context.v1``."""
    return ContextStage(engine_from_runtime(runtime))
