"""Record numbers: MRN, account, unit, reference, policy, device, licence numbers."""

from __future__ import annotations

import re
from typing import Final

from codeproof.deid.recognizers.base import PhiPattern, PhiRegexRecognizer

__all__ = ["CONTEXT", "PATTERNS", "ClinicalIdentifierRecognizer", "invalidate"]

_LABEL = (r"(?:mrn|mr\s*#|mr\s+no\.?|medical\s+record(?:\s+(?:number|no\.?|#))?|"
          r"record\s*(?:#|no\.?|number)|acct|account|acc\s*#|unit\s*(?:no\.?|number|#)|"
          r"ref(?:erence)?|policy|claim|member\s*id|subscriber|id|case|encounter|visit|"
          r"serial(?:\s+(?:number|no\.?))?|s/n|device\s*(?:id|#|number)?|lic(?:ense|ence)?|"
          r"dea|npi|upin|ins(?:urance)?|plate|vin|certificate|cert|health\s*plan)")

PATTERNS: Final[tuple[PhiPattern, ...]] = (
    PhiPattern("labelled_id",
               rf"(?i)\b{_LABEL}\s*(?:#|no\.?|number|num)?\s*[:#=]?\s*(?:#\s*)?"
               r"(?P<phi>(?=[A-Za-z\-]*\d)[A-Za-z0-9][A-Za-z0-9\-]{2,19})\b", 0.8, "ID"),
    PhiPattern("long_number", r"(?<![\d.,/\-])(?P<phi>\d{7,12})(?![\d.,/\-])", 0.55, "ID"),
)

CONTEXT: Final[tuple[str, ...]] = ("mrn", "record", "account", "number", "id", "policy")


def invalidate(match_text: str, text: str, start: int, end: int) -> bool:
    """Keep values that look like identifiers, not doses or times."""
    if re.fullmatch(r"\d{1,3}", match_text):
        return True
    if re.fullmatch(r"(?i)\d+(?:mg|ml|cc|mcg|kg|hr|hrs|am|pm|u)", match_text):
        return True
    return False


class ClinicalIdentifierRecognizer(PhiRegexRecognizer):
    """Medical record, account, device, licence and reference numbers."""

    PATTERNS = PATTERNS
    CONTEXT = CONTEXT
    ENTITIES = ("ID",)
    NAME = "deid.identifiers.v1"

    @staticmethod
    def invalidate(match_text: str, text: str, start: int, end: int) -> bool:
        """See :func:`invalidate`."""
        return invalidate(match_text, text, start, end)
