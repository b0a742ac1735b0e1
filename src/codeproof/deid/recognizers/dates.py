"""Dates (every element smaller than a year) and years written in clinical shorthand.

Safe Harbor keeps a year standing alone; the PhysioNet gold standard and most
institutional policies remove it too when it dates an event ("MI '92"), so years
are reported as ``DATE_YEAR`` and the engine decides (``keep_years``).
"""

from __future__ import annotations

import re
from typing import Final

from codeproof.deid.recognizers.base import PhiPattern, PhiRegexRecognizer

__all__ = ["CONTEXT", "PATTERNS", "ClinicalDateRecognizer", "invalidate"]

_MONTH = (r"(?:january|jan|february|feb|march|mar|april|apr|may|june|jun|july|jul|"
          r"august|aug|september|sept|sep|october|oct|november|nov|december|dec)")
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_ORD = r"(?:st|nd|rd|th)"
_MON_NUM = r"(?:0?[1-9]|1[0-2])"
_EVENT = (r"(?:mi|ami|cabg|cva|tia|avr|mvr|ptca|pci|stent|stents|ppm|aicd|chf|"
          r"dx|dx'd|diagnosed|redo|repair|surgery|fx)(?:\s+in)?")

PATTERNS: Final[tuple[PhiPattern, ...]] = (
    PhiPattern("mdy", rf"(?<![\d/.])(?<!\d-)(?P<phi>{_MON_NUM}[/.\-]{_DAY}[/.\-]"
               r"(?:\d{4}|\d{2}))(?![\d/])", 0.9, "DATE"),
    PhiPattern("iso", r"(?<!\d)(?P<phi>(?:19|20)\d\d-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01]))"
               r"(?!\d)", 0.95, "DATE"),
    PhiPattern("md", rf"(?<![\d/.\w+])(?<!\d-)(?P<phi>{_MON_NUM}/{_DAY})(?![\d/]|\.\d|\+)", 0.7,
               "DATE"),
    PhiPattern("month_year", rf"(?<![\d/.\w+])(?<!\d-)(?P<phi>{_MON_NUM}/(?:3[2-9]|[4-9]\d))"
               r"(?![\d/]|\.\d|\+)", 0.7, "DATE"),
    PhiPattern("month_name",
               rf"(?i)(?<![a-z])(?P<phi>(?:{_DAY}{_ORD}?\s+(?:of\s+)?)?{_MONTH}\.?"
               rf"(?:\s*{_DAY}{_ORD}?\b)?(?:,?\s*(?:of\s+)?(?:19|20)?\d\d\b)?)(?![a-z])",
               0.8, "DATE"),
    PhiPattern("dash_md", rf"(?i)\b(?:on|since|until|from|of)\s+(?P<phi>{_MON_NUM}-{_DAY})\b"
               r"(?!-|\s*(?:mg|mcg|units?|cc|ml|hrs?|days?|times|x)\b)", 0.6, "DATE"),
    PhiPattern("ordinal_day", rf"(?i)\b(?:the|on)\s+(?P<phi>{_DAY}{_ORD})\b", 0.6, "DATE"),
    PhiPattern("year_apostrophe", r"(?<![\w'])(?P<phi>'\d\d|\d\d')(?![\w'])", 0.7,
               "DATE_YEAR"),
    PhiPattern("year_full", r"(?<![\d.:/\-])(?P<phi>(?:19|20)\d\d)"
               r"(?![\d:/]|\.\d|\s*(?:-|->|to)\s*\d)"
               r"(?!\s*(?:cc|ml|mg|mcg|units?|u|kcal|cal|gm?|hrs?|mins?|am|pm|h)\b)", 0.6,
               "DATE_YEAR", re.IGNORECASE),
    PhiPattern("year_short", rf"(?i)\b{_EVENT}\s+(?P<phi>[3-9]\d|0\d)\b(?!\s*(?:%|/|\.\d|"
               r"mg|cc|ml|units?|hrs?|mins?|minutes|hours|days?|weeks?|x|s\b))", 0.5,
               "DATE_YEAR"),
)

CONTEXT: Final[tuple[str, ...]] = ("date", "on", "admitted", "discharged", "dob", "born")

_AMBIGUOUS_MONTHS: Final[frozenset[str]] = frozenset({"may", "mar", "march", "dec", "jan", "jun"})
_YEAR_CONTEXT = re.compile(
    r"(?i)(?:\b(?:in|since|of|year|yr|s/p|dx|dx'd|diagnosed|mi|cabg|cva|pmh|pmhx|hx|history|"
    r"born|dob|until|from|redo|repair|surgery|tia|stent|avr|mvr|ptca|pci)|[,;(])\s*$")


_FRACTIONS: Final[frozenset[tuple[int, int]]] = frozenset(
    {(1, 2), (1, 3), (1, 4), (2, 3), (3, 4), (4, 4), (5, 5)})
_VENT_CONTEXT = re.compile(
    r"\b(?:ps|psv|peep|cpap|bipap|vent|ventilator|simv|imv|settings?|sbt|prvc|"
    r"cmv|a/c|weaned|fio2)\b[^\n]{0,12}$")


def invalidate(match_text: str, text: str, start: int, end: int) -> bool:
    """Prune fractions, scores, bare ambiguous month words and military times."""
    m = match_text.lower()
    if re.fullmatch(r"\d{1,2}/\d{1,2}", m):
        month, day = (int(x) for x in m.split("/"))
        if (month, day) in _FRACTIONS:  # 1/2 NS, 3/4 up, 5/5 strength
            return True
        if day == 10 and re.search(r"(?:pain|discomfort|rated|rates|score|scale|level)"
                                   r"[^\n]{0,20}$", text[max(0, start - 30):start].lower()):
            return True  # pain 5/10
        before = text[max(0, start - 12):start].lower()
        if re.search(r"(?:bp|b/p|pressure|ratio|i:e)\s*:?\s*$", before):
            return True
        return _VENT_CONTEXT.search(text[max(0, start - 25):start].lower()) is not None
    words = re.findall(r"[a-z]+", m)
    if words and words[0] in _AMBIGUOUS_MONTHS and not re.search(r"\d", m):
        return True
    if re.fullmatch(r"\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2}", m) and _VENT_CONTEXT.search(
            text[max(0, start - 25):start].lower()):
        return True  # AC 12/5/40: rate/PEEP/FiO2
    if re.fullmatch(r"\d{1,2}(?:st|nd|rd|th)", m) and re.match(
            r"\s*(?:time|dose|degree|set|attempt|try|bag|unit|line|episode|step|stage|"
            r"floor|shift|day|night|round|trimester|grade)",
            text[end:end + 12].lower()):
        return True
    if re.fullmatch(r"[a-z]+\.?", m) and text[start:end].isupper() and len(m) <= 4 and m in {
            "dec", "mar", "sept", "aug", "oct"}:
        return True  # DEC(reased), MAR (administration record), SEPT(ic) in all-caps notes
    if re.fullmatch(r"(?:19|20)\d\d", m):
        minutes = int(m[2:])
        if minutes >= 60:
            return False  # cannot be a 24-hour time
        before = text[max(0, start - 24):start]
        return _YEAR_CONTEXT.search(before) is None
    return False


class ClinicalDateRecognizer(PhiRegexRecognizer):
    """Dates in clinical formats (7/22, 10/18/03, July 29th, 21 Apr) and event years."""

    PATTERNS = PATTERNS
    CONTEXT = CONTEXT
    ENTITIES = ("DATE", "DATE_YEAR")
    NAME = "deid.dates.v1"

    @staticmethod
    def invalidate(match_text: str, text: str, start: int, end: int) -> bool:
        """See :func:`invalidate`."""
        return invalidate(match_text, text, start, end)
