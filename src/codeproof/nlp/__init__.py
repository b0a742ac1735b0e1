"""codeproof.nlp: the clinical language layer.

Sections, sentences, abbreviations, mentions, ConText assertions and
attributes, as pipeline stages (``nlp.sections.v1``, ``nlp.sentences.v1``,
``nlp.mentions.v1``, ``nlp.context.v1``) and as a plain library API
(:class:`NlpEngine`) for callers that find spans themselves::

    engine = engine_from_runtime(runtime)          # or NlpEngine()
    start, end = find_target(text, "chest pain")
    engine.assert_span(text, start, end).negated
"""

from codeproof.nlp.abbreviations import AbbreviationExpander, AbbreviationMatch
from codeproof.nlp.attributes import AttributeExtractor
from codeproof.nlp.batch import annotate_document, assert_records
from codeproof.nlp.context import ContextEngine, ContextRule, Trigger
from codeproof.nlp.engine import NlpEngine, engine_from_runtime, find_target
from codeproof.nlp.mentions import Lexicon, SpanMatch
from codeproof.nlp.sections import SectionDetector, section_at
from codeproof.nlp.sentences import split_sentences
from codeproof.nlp.stages import ContextStage, MentionsStage, SectionsStage, SentencesStage

__all__ = [
    "AbbreviationExpander",
    "AbbreviationMatch",
    "AttributeExtractor",
    "ContextEngine",
    "ContextRule",
    "ContextStage",
    "Lexicon",
    "MentionsStage",
    "NlpEngine",
    "SectionDetector",
    "SectionsStage",
    "SentencesStage",
    "SpanMatch",
    "Trigger",
    "annotate_document",
    "assert_records",
    "engine_from_runtime",
    "find_target",
    "section_at",
    "split_sentences",
]
