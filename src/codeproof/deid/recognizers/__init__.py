"""Clinical PHI recognizers (Presidio ``EntityRecognizer`` subclasses).

Each module keeps ``PATTERNS``/``CONTEXT`` constants and a pure ``invalidate()``.
"""

from __future__ import annotations

from codeproof.deid.recognizers.ages import AgeRecognizer
from codeproof.deid.recognizers.contact import ContactRecognizer
from codeproof.deid.recognizers.dates import DateRecognizer
from codeproof.deid.recognizers.identifiers import IdentifierRecognizer
from codeproof.deid.recognizers.locations import LocationRecognizer
from codeproof.deid.recognizers.names import NameRecognizer

__all__ = [
    "AgeRecognizer",
    "ContactRecognizer",
    "DateRecognizer",
    "IdentifierRecognizer",
    "LocationRecognizer",
    "NameRecognizer",
]
