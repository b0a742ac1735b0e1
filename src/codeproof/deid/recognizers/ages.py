"""Ages over 89 (Safe Harbor aggregates them into "90 or older")."""

from __future__ import annotations

from typing import Final

from codeproof.deid.recognizers.base import PhiPattern, PhiRegexRecognizer

__all__ = ["CONTEXT", "PATTERNS", "ClinicalAgeRecognizer", "invalidate"]

_OLD = r"(?:9\d|1[0-2]\d)"
PATTERNS: Final[tuple[PhiPattern, ...]] = (
    PhiPattern("age_years",
               rf"(?i)(?<![\d.])(?P<phi>{_OLD})\s*-?\s*(?:y/o|y\.o\.?|yo|yr?s?\.?\s*old|"
               r"years?(?:\s*-?\s*old|\s+of\s+age)?|year-old|yrs?\b|y\b)", 0.85, "AGE"),
    PhiPattern("age_label", rf"(?i)\b(?:age|aged|age:)\s*:?\s*(?P<phi>{_OLD})\b", 0.85, "AGE"),
    PhiPattern("age_decade", r"(?i)\bin\s+(?:his|her|their)\s+(?P<phi>(?:90|100)'?s)\b",
               0.7, "AGE"),
    PhiPattern("age_start", rf"(?m)^\s*(?P<phi>{_OLD})\s+(?:s/p|w/|with|m\b|f\b|male|female|"
               r"man|woman|gentleman|lady)", 0.6, "AGE"),
)

CONTEXT: Final[tuple[str, ...]] = ("age", "old", "yo")


def invalidate(match_text: str, text: str, start: int, end: int) -> bool:
    """Ages 90-129 only."""
    digits = "".join(c for c in match_text if c.isdigit())
    return not digits or not 90 <= int(digits) <= 129


class ClinicalAgeRecognizer(PhiRegexRecognizer):
    """Ages over 89."""

    PATTERNS = PATTERNS
    CONTEXT = CONTEXT
    ENTITIES = ("AGE",)
    NAME = "deid.ages.v1"

    @staticmethod
    def invalidate(match_text: str, text: str, start: int, end: int) -> bool:
        """See :func:`invalidate`."""
        return invalidate(match_text, text, start, end)
