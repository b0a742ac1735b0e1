"""Reference code sets (ICD-10-CM, ICD-10-PCS, ICD-11 maps), compiled and versioned.

``codeproof terminology build`` compiles the sources into ``<reference_dir>``;
:func:`load_terminology` opens the compiled store in well under a second.
The public API below is the contract the rest of codeproof uses.
"""

from __future__ import annotations

from codeproof.coding.codesets.store import (
    CodeInfo,
    Terminology,
    build_terminology,
    load_terminology,
    normalize_code,
)

__all__ = ["CodeInfo", "Terminology", "build_terminology", "load_terminology", "normalize_code"]
