"""De-identification before any model sees text (HIPAA Safe Harbor identifiers).

Presidio-based detection with clinical recognizers, operators (redact, typed
placeholder, consistent surrogate, per-patient date shift), an offset map back
to the original text, and a sealed re-identification vault. See docs/deid.md.
"""

from __future__ import annotations

from codeproof.deid.engine import (
    DeidEngine,
    DeidResult,
    DeidStage,
    OffsetMap,
    deidentify_text,
)
from codeproof.deid.spans import PHI_TYPES, PhiSpan

__all__ = [
    "PHI_TYPES",
    "DeidEngine",
    "DeidResult",
    "DeidStage",
    "OffsetMap",
    "PhiSpan",
    "deidentify_text",
]
