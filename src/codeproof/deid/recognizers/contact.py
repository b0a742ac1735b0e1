"""Phone/fax/pager numbers, e-mail, URLs, IP addresses and SSNs."""

from __future__ import annotations

import ipaddress
import re
from typing import Final

from codeproof.deid.recognizers.base import PhiPattern, PhiRegexRecognizer

__all__ = ["CONTEXT", "PATTERNS", "ClinicalContactRecognizer", "invalidate"]

PATTERNS: Final[tuple[PhiPattern, ...]] = (
    PhiPattern("phone_nanp",
               r"(?<![\d/.])(?<!\d-)(?P<phi>(?:\+?1[\s.\-])?\(?\d{3}\)?[\s.\-]?\d{3}[\s.\-]\d{4})"
               r"(?![\d/]|\.\d)", 0.85, "PHONE"),
    PhiPattern("phone_context",
               r"(?i)\b(?:pager|pgr|pg|beeper|beep|ext|extension|cell|tel|telephone|phone|fax|"
               r"home|work|office|mobile|call\s+back)\s*(?:#|no\.?|number|num)?\s*[:#]?\s*"
               r"(?:#\s*)?(?P<phi>\d{4,5}|\d{3}[\s.\-]\d{4})\b", 0.8, "PHONE"),
    PhiPattern("phone_local",
               r"(?i)\b(?:reached|reach|call|calls|called|contact|contacted|fax|faxed|phone|"
               r"number|#|tel|dial|paged?)\b[^\n\d]{0,20}?(?<![\d\-])"
               r"(?P<phi>[2-9]\d{2}-\d{4})(?![\d\-]|\s*(?:cc|ml|mg|units?|u|hrs?)\b)",
               0.7, "PHONE"),
    PhiPattern("phone_spaced", r"(?<![\d.,/])(?P<phi>\d{3} \d{3} \d{4,5})(?![\d.,/])", 0.6,
               "PHONE"),
    PhiPattern("extension", r"(?<![\w])(?P<phi>[xX]\d{4,5})\b", 0.6, "PHONE"),
    PhiPattern("email", r"(?P<phi>[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)",
               0.95, "EMAIL"),
    PhiPattern("url", r"(?i)(?P<phi>\b(?:https?://|www\.)[^\s<>\"')\]]+)", 0.9, "URL"),
    PhiPattern("url_domain",
               r"(?i)(?<![@\w./])(?P<phi>[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.(?:com|org|net|edu|gov|"
               r"io|us|info|biz)(?:/[^\s<>\"')\]]*)?)\b", 0.7, "URL"),
    PhiPattern("ipv4", r"(?<![\d.])(?P<phi>(?:\d{1,3}\.){3}\d{1,3})(?![\d.])", 0.7,
               "IP_ADDRESS"),
    PhiPattern("ipv6", r"(?i)(?<![\w:])(?P<phi>(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4})(?![\w:])",
               0.8, "IP_ADDRESS"),
    PhiPattern("ssn", r"(?<![\d\-])(?P<phi>\d{3}-\d{2}-\d{4}|\d{3} \d{2} \d{4})(?![\d\-])",
               0.85, "SSN"),
    PhiPattern("ssn_context", r"(?i)\b(?:ssn|social\s+security(?:\s+(?:number|no\.?|#))?)"
               r"\s*[:#]?\s*(?P<phi>\d{9})\b", 0.9, "SSN"),
)

CONTEXT: Final[tuple[str, ...]] = ("phone", "pager", "beeper", "fax", "cell", "call", "ssn",
                                   "email", "contact")


def invalidate(match_text: str, text: str, start: int, end: int) -> bool:
    """Drop impossible SSNs, invalid IPs and number runs that are lab series."""
    digits = re.sub(r"\D", "", match_text)
    if re.fullmatch(r"\d{3}[- ]\d{2}[- ]\d{4}", match_text):
        area, group, serial = digits[:3], digits[3:5], digits[5:]
        if area in {"000", "666"} or area.startswith("9") or group == "00" or serial == "0000":
            return True
        return len(set(digits)) == 1
    if re.fullmatch(r"(?:\d{1,3}\.){3}\d{1,3}", match_text):
        try:
            ipaddress.ip_address(match_text)
        except ValueError:
            return True
        return False
    if ":" in match_text and "@" not in match_text and "/" not in match_text:
        try:
            ipaddress.ip_address(match_text)
        except ValueError:
            return True
        return False
    if len(digits) >= 10 and len(set(digits)) == 1:
        return True
    return False


class ClinicalContactRecognizer(PhiRegexRecognizer):
    """Phone/fax/pager numbers, e-mail, URLs, IPs and SSNs."""

    PATTERNS = PATTERNS
    CONTEXT = CONTEXT
    ENTITIES = ("PHONE", "EMAIL", "URL", "IP_ADDRESS", "SSN")
    NAME = "deid.contact.v1"

    @staticmethod
    def invalidate(match_text: str, text: str, start: int, end: int) -> bool:
        """See :func:`invalidate`."""
        return invalidate(match_text, text, start, end)
