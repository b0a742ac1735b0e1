"""Shared recognizer machinery on top of Presidio's ``EntityRecognizer``.

Presidio's ``PatternRecognizer`` reports the whole regex match; clinical PHI is
usually recognised by its *context* ("Pager # 54321", "MRN: 1234567"), so our
patterns mark the identifier with a named group ``phi`` and may use context
around it. Each module keeps its ``PATTERNS`` and ``CONTEXT`` as constants and
its pruning logic in a pure ``invalidate(match_text, text, start, end)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from presidio_analyzer import AnalysisExplanation, EntityRecognizer, RecognizerResult

__all__ = ["PhiPattern", "PhiRegexRecognizer", "result"]


@dataclass(frozen=True, slots=True)
class PhiPattern:
    """A named regex; group ``phi`` (or the whole match) is the identifier."""

    name: str
    regex: str
    score: float
    entity: str
    flags: int = 0

    def compile(self) -> re.Pattern[str]:
        """Compile with the pattern's own flags (Presidio's global flags are not used)."""
        return re.compile(self.regex, self.flags)


def result(entity: str, start: int, end: int, score: float, recognizer: str,
           detail: str) -> RecognizerResult:
    """A Presidio result with an explanation naming our rule."""
    explanation = AnalysisExplanation(recognizer=recognizer, original_score=score,
                                      pattern_name=detail,
                                      textual_explanation=f"{recognizer}:{detail}")
    return RecognizerResult(entity_type=entity, start=start, end=end, score=score,
                            analysis_explanation=explanation,
                            recognition_metadata={"recognizer_name": recognizer})


class PhiRegexRecognizer(EntityRecognizer):
    """A recognizer made of :class:`PhiPattern` s and a pure invalidation function."""

    PATTERNS: ClassVar[Sequence[PhiPattern]] = ()
    CONTEXT: ClassVar[Sequence[str]] = ()
    ENTITIES: ClassVar[Sequence[str]] = ()
    NAME: ClassVar[str] = "regex"

    def __init__(self) -> None:
        self._compiled = [(p, p.compile()) for p in self.PATTERNS]
        super().__init__(supported_entities=list(self.ENTITIES), name=self.NAME,
                         supported_language="en", context=list(self.CONTEXT))

    def load(self) -> None:
        """Nothing to load: patterns compile in ``__init__``."""

    @staticmethod
    def invalidate(match_text: str, text: str, start: int, end: int) -> bool:
        """Return True when a match is not PHI after all (override per module)."""
        return False

    def _invalidator(self) -> Callable[[str, str, int, int], bool]:
        return self.invalidate

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: Any = None) -> list[RecognizerResult]:
        """Run every pattern; keep group ``phi`` spans that survive ``invalidate``."""
        out: list[RecognizerResult] = []
        invalidate = self._invalidator()
        for pattern, compiled in self._compiled:
            if entities and pattern.entity not in entities:
                continue
            for match in compiled.finditer(text):
                group = "phi" if "phi" in compiled.groupindex else 0
                start, end = match.span(group)
                if start < 0 or start == end:
                    continue
                if invalidate(text[start:end], text, start, end):
                    continue
                out.append(result(pattern.entity, start, end, pattern.score, self.NAME,
                                  pattern.name))
        return out
