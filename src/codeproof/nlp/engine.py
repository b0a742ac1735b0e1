"""The NLP engine: one object that holds every compiled language resource.

Build it once per :class:`~codeproof.runtime.Runtime` with
:func:`engine_from_runtime` (shared as ``runtime.resource("nlp", ...)``); the
pipeline stages and the coding engine both call it. Every method works on a
plain string and returns offsets into that string.
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeproof.errors import CodeproofError, TargetNotFound
from codeproof.model import Assertion, Attributes, Mention, Section
from codeproof.nlp.abbreviations import AbbreviationExpander, AbbreviationMatch
from codeproof.nlp.attributes import AttributeExtractor
from codeproof.nlp.context import ContextEngine, Trigger
from codeproof.nlp.mentions import Lexicon, MentionKind, SpanMatch, terminology_terms
from codeproof.nlp.sections import SectionDetector, section_at
from codeproof.nlp.sentences import split_sentences

if TYPE_CHECKING:
    from codeproof.runtime import Runtime

__all__ = ["NlpEngine", "engine_from_runtime", "find_target"]

logger = logging.getLogger(__name__)

Span = tuple[int, int]
_STRUCTURE_CACHE = 8  # texts whose sections and sentences are kept


def find_target(text: str, target: str) -> Span:
    """Offsets of ``target`` in ``text``: case-insensitive, any run of white space.

    When that finds nothing, punctuation is ignored ("x-ray" finds "X ray").

    With several occurrences, prefer a whole-word one, then one written exactly
    as ``target``, then one that is not a section header (followed by ``:``),
    then the first.
    Raises :class:`TargetNotFound`.
    """
    parts = target.split()
    if not parts:
        raise TargetNotFound("empty target")
    pattern = r"\s+".join(re.escape(p) for p in parts)
    matches = list(re.finditer(pattern, text, re.IGNORECASE))
    if not matches:
        # Fall back to punctuation-insensitive matching ("x-ray" ~ "x ray", "Crohn's").
        words = re.findall(r"[^\W_]+", target)
        if words:
            loose = r"[\W_]*".join(re.escape(w) for w in words)
            matches = list(re.finditer(rf"(?<![^\W_]){loose}(?![^\W_])", text,
                                       re.IGNORECASE))
    if not matches:
        raise TargetNotFound("target not found in text", target_length=len(target))

    def rank(match: re.Match[str]) -> tuple[bool, bool, bool, int]:
        bounded = not (_word_char(text, match.start() - 1) and _word_char(text, match.start())
                       ) and not (_word_char(text, match.end()) and
                                  _word_char(text, match.end() - 1))
        exact = " ".join(match.group(0).split()) == " ".join(parts)
        header = text[match.end():match.end() + 3].lstrip().startswith(":")
        return (not bounded, not exact, header, match.start())

    best = min(matches, key=rank)
    return best.start(), best.end()


def _word_char(text: str, index: int) -> bool:
    return 0 <= index < len(text) and text[index].isalnum()


_LIST_ITEM = re.compile(r"[ \t]*(?:[-*•]|\d{1,2}[.)])\s")


def _list_lead(text: str, sentences: Sequence[Span], sentence: Span) -> Span | None:
    """The lead-in sentence ending in ``:`` that a list item (or the next line) hangs from.

    Walks back over list items ("- fever", "2. chills") to a sentence that ends
    with a colon ("Negative for:", "Denies:"); None when there is none.
    """
    index = bisect.bisect_left(sentences, sentence)
    if index >= len(sentences) or sentences[index] != sentence:
        return None
    while index > 0:
        previous = sentences[index - 1]
        if text[previous[0]:previous[1]].rstrip().endswith(":"):
            return previous
        if not (_LIST_ITEM.match(text, sentences[index][0])
                and _LIST_ITEM.match(text, previous[0])):
            return None
        index -= 1
    return None


def _containing(spans: Sequence[Span], offset: int) -> Span | None:
    lo, hi = 0, len(spans) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        start, end = spans[mid]
        if offset < start:
            hi = mid - 1
        elif offset >= end:
            lo = mid + 1
        else:
            return spans[mid]
    return None


class NlpEngine:
    """Sections, sentences, abbreviations, mentions, assertions and attributes."""

    def __init__(self, *, context: ContextEngine | None = None,
                 sections: SectionDetector | None = None,
                 abbreviations: AbbreviationExpander | None = None,
                 attributes: AttributeExtractor | None = None,
                 lexicon: Lexicon | None = None,
                 extra_terms: Iterable[tuple[str, MentionKind]] = ()) -> None:
        self.context = context if context is not None else ContextEngine.default()
        self.sectionizer = sections if sections is not None else SectionDetector.default()
        self.abbreviator = (abbreviations if abbreviations is not None
                            else AbbreviationExpander.default())
        self.attributor = attributes if attributes is not None else AttributeExtractor.default()
        self._lexicon = lexicon
        self._extra_terms = tuple(extra_terms)
        # Sections and sentences of the last few texts, so that callers asserting many
        # spans of one note without passing them pay for them once.
        self._structure: dict[str, tuple[tuple[Section, ...], list[Span]]] = {}

    @property
    def lexicon(self) -> Lexicon:
        """The mention lexicon, built on first use (term file + abbreviations + extras)."""
        if self._lexicon is None:
            self._lexicon = Lexicon.default(abbreviations=self.abbreviator,
                                            extra_terms=self._extra_terms)
            logger.info("nlp lexicon built: %d entries", len(self._lexicon))
        return self._lexicon

    @property
    def versions(self) -> dict[str, str]:
        """Versions of the language resources (recorded in the Encounter)."""
        versions = {
            "nlp.context_rules": self.context.version,
            "nlp.section_patterns": self.sectionizer.version,
            "nlp.abbreviations": self.abbreviator.version,
            "nlp.attributes": self.attributor.version,
        }
        if self._lexicon is not None:
            versions["nlp.lexicon"] = self._lexicon.version
            if self._lexicon.spelling is not None:
                versions["nlp.misspellings"] = self._lexicon.spelling.version
        return versions

    # -- structure ---------------------------------------------------------------------
    def sections(self, text: str, *, note_id: str = "") -> tuple[Section, ...]:
        """Sections of ``text`` (header spans, body spans, canonical names, weights)."""
        return self.sectionizer.detect(text, note_id=note_id)

    def sentences(self, text: str, *,
                  sections: Sequence[Section] | None = None) -> list[Span]:
        """Sentence spans; section headers and bodies always start a sentence."""
        if sections is None:
            sections = self.sections(text)
        breaks = [s.start for s in sections] + [s.body_start for s in sections]
        return split_sentences(text, breaks=breaks)

    @staticmethod
    def section_at(sections: Sequence[Section], offset: int) -> Section | None:
        """The section containing ``offset`` (None before the first header)."""
        return section_at(list(sections), offset)

    # -- abbreviations -----------------------------------------------------------------
    def abbreviations(self, text: str) -> list[AbbreviationMatch]:
        """Abbreviations found in ``text`` with their contextual expansions."""
        return self.abbreviator.find(text)

    def expand_abbreviations(self, text: str) -> str:
        """``text`` with abbreviations expanded (offsets change: for matching only)."""
        return self.abbreviator.expand(text)

    # -- assertions and attributes -----------------------------------------------------
    def assert_span(self, text: str, start: int, end: int, *,
                    sentences: Sequence[Span] | None = None,
                    sections: Sequence[Section] | None = None,
                    triggers: list[Trigger] | None = None,
                    note_id: str = "") -> Assertion:
        """ConText assertion of ``text[start:end]`` plus its section's defaults.

        ``sentences``/``sections`` are computed when not given. A mention in a
        past-history section is historical; in family history its experiencer
        is "other" (see ``section_patterns.json``).
        """
        if sections is None or sentences is None:
            cached_sections, cached_sentences = self._structure_of(text)
            sections = cached_sections if sections is None else sections
            sentences = cached_sentences if sentences is None else sentences
        sentence = _containing(sentences, start) or (0, len(text))
        lead = _list_lead(text, sentences, sentence)
        if lead is not None:
            # "Denies:\n- fever\n- chills": the lead-in's forward triggers reach the items.
            own = triggers if triggers is not None else self.context.triggers(text, *sentence)
            triggers = [t for t in self.context.triggers(text, *lead)
                        if t.rule.direction in ("forward", "bidirectional")] + own
            sentence = (lead[0], sentence[1])
        assertion = self.context.assert_span(text, start, end, sentence=sentence,
                                             triggers=triggers, note_id=note_id)
        section = section_at(list(sections), start)
        if section is not None and start >= section.body_start:
            definition = self.sectionizer.definition(section.name)
            if definition is not None:
                defaults = definition.assertion
                assertion = dataclasses.replace(
                    assertion,
                    historical=assertion.historical or defaults.historical,
                    hypothetical=assertion.hypothetical or defaults.hypothetical,
                    experiencer=("other" if defaults.experiencer == "other"
                                 else assertion.experiencer),
                )
        return assertion

    def _structure_of(self, text: str) -> tuple[tuple[Section, ...], list[Span]]:
        found = self._structure.get(text)
        if found is None:
            sections = self.sections(text)
            found = (sections, self.sentences(text, sections=sections))
            if len(self._structure) >= _STRUCTURE_CACHE:
                self._structure.pop(next(iter(self._structure)))
            self._structure[text] = found
        return found

    def attributes_for_span(self, text: str, start: int, end: int, *,
                            sentences: Sequence[Span] | None = None) -> Attributes:
        """Laterality, acuity, severity/stage, episode and body site of a span."""
        if sentences is None:
            sentences = self._structure_of(text)[1]
        sentence = _containing(sentences, start)
        return self.attributor.extract(text, start, end, sentence=sentence)

    def assert_target(self, text: str, target: str) -> Assertion:
        """Assertion of the phrase ``target`` in ``text`` (raises TargetNotFound)."""
        start, end = find_target(text, target)
        return self.assert_span(text, start, end)

    # -- mentions ----------------------------------------------------------------------
    def match_terms(self, text: str) -> list[SpanMatch]:
        """Lexicon hits (term, abbreviation, terminology phrase) in ``text``."""
        return self.lexicon.match(text)

    def mentions(self, text: str, *, note_id: str, original: str | None = None,
                 sections: Sequence[Section] | None = None,
                 sentences: Sequence[Span] | None = None,
                 producer: str = "nlp.mentions.v1") -> tuple[Mention, ...]:
        """Mentions found in ``text`` (the model view); ``Mention.text`` from ``original``."""
        source = original if original is not None else text
        if sections is None:
            sections = self.sections(text, note_id=note_id)
        section_list = list(sections)
        found: list[Mention] = []
        for hit in self.lexicon.match(text):
            if hit.source == "terminology" and text[hit.start:hit.end].isupper() and (
                hit.end - hit.start <= 3
            ):
                continue  # short all-caps tokens from titles are usually not concepts
            section = section_at(section_list, hit.start)
            if section is not None and hit.start < section.body_start:
                continue  # a header ("PAST MEDICAL HISTORY") is not a mention
            found.append(Mention(
                id=f"{note_id}:m{hit.start}-{hit.end}",
                note_id=note_id,
                start=hit.start,
                end=hit.end,
                text=source[hit.start:hit.end],
                kind=hit.kind,
                normalized=hit.normalized,
                section=section.name if section is not None else None,
                section_weight=section.weight if section is not None else 1.0,
                producer=producer,
            ))
        return tuple(found)

    def annotate(self, mentions: Sequence[Mention], text: str, *,
                 sentences: Sequence[Span] | None = None,
                 sections: Sequence[Section] | None = None) -> tuple[Mention, ...]:
        """Mentions with their assertion and attributes filled (triggers per sentence)."""
        if sections is None:
            sections = self.sections(text)
        if sentences is None:
            sentences = self.sentences(text, sections=sections)
        cache: dict[Span, list[Trigger]] = {}
        out: list[Mention] = []
        for mention in mentions:
            sentence = _containing(sentences, mention.start) or (0, len(text))
            if sentence not in cache:
                cache[sentence] = self.context.triggers(text, *sentence)
            assertion = self.assert_span(text, mention.start, mention.end,
                                         sentences=sentences, sections=sections,
                                         triggers=cache[sentence], note_id=mention.note_id)
            attributes = self.attributor.extract(text, mention.start, mention.end,
                                                 sentence=sentence)
            out.append(dataclasses.replace(mention, assertion=assertion,
                                           attributes=attributes))
        return tuple(out)


def _terminology_terms(runtime: Runtime) -> list[tuple[str, MentionKind]]:
    """Phrases from the terminology when it can be loaded; [] otherwise (logged)."""
    try:
        terminology: Any = runtime.terminology
        from codeproof.cache import cache_key, cached
        from codeproof.nlp import mentions as mentions_module

        versions = getattr(terminology, "versions", {}) or {}
        key = cache_key(versions.get("content_digest", repr(sorted(versions.items()))),
                        Path(mentions_module.__file__))
        terms: list[tuple[str, MentionKind]] = cached(
            runtime.settings.reference_path, "nlp-terminology-terms", key,
            lambda: terminology_terms(terminology))
        return terms
    except (CodeproofError, ImportError, AttributeError, OSError, TypeError) as exc:
        logger.warning("nlp: terminology phrases unavailable (%s); using the term list only",
                       type(exc).__name__)
        return []


def engine_from_runtime(runtime: Runtime) -> NlpEngine:
    """The runtime's shared engine (``runtime.resource("nlp", ...)``)."""

    def build(rt: Runtime) -> NlpEngine:
        return NlpEngine(extra_terms=_terminology_terms(rt))

    engine: NlpEngine = runtime.resource("nlp", build)
    return engine
