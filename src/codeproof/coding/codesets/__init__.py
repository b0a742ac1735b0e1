"""Reference code sets (ICD-10-CM, ICD-10-PCS, ICD-11 maps, CPT/HCPCS), compiled and versioned.

``codeproof terminology build`` compiles the sources into ``<reference_dir>``;
:func:`load_terminology` opens the compiled store in well under a second.
The public API below is the contract the rest of codeproof uses.
"""

from __future__ import annotations

from codeproof.coding.codesets.codes import (
    CPT,
    HCPCS,
    ICD10CM,
    ICD10PCS,
    ICD11,
    SYSTEMS,
    apply_seventh_character,
    infer_system,
    is_valid_format,
    pad_placeholder,
    parse_code_references,
    reference_covers,
)
from codeproof.coding.codesets.icd11 import Icd11Target
from codeproof.coding.codesets.store import (
    NOTE_FIELDS,
    CodeInfo,
    InheritedNote,
    Terminology,
    build_terminology,
    load_terminology,
    normalize_code,
)

__all__ = [
    "CPT",
    "HCPCS",
    "ICD10CM",
    "ICD10PCS",
    "ICD11",
    "NOTE_FIELDS",
    "SYSTEMS",
    "CodeInfo",
    "Icd11Target",
    "InheritedNote",
    "Terminology",
    "apply_seventh_character",
    "build_terminology",
    "infer_system",
    "is_valid_format",
    "load_terminology",
    "normalize_code",
    "pad_placeholder",
    "parse_code_references",
    "reference_covers",
]
