"""Clinical PHI recognizers (Presidio ``EntityRecognizer`` subclasses).

Each module keeps ``PATTERNS``/``CONTEXT`` constants and a pure ``invalidate()``.
"""

from __future__ import annotations

from codeproof.deid.recognizers.ages import ClinicalAgeRecognizer
from codeproof.deid.recognizers.contact import ClinicalContactRecognizer
from codeproof.deid.recognizers.dates import ClinicalDateRecognizer
from codeproof.deid.recognizers.identifiers import ClinicalIdentifierRecognizer
from codeproof.deid.recognizers.locations import ClinicalLocationRecognizer
from codeproof.deid.recognizers.names import ClinicalNameRecognizer

__all__ = [
    "ClinicalAgeRecognizer",
    "ClinicalContactRecognizer",
    "ClinicalDateRecognizer",
    "ClinicalIdentifierRecognizer",
    "ClinicalLocationRecognizer",
    "ClinicalNameRecognizer",
]
