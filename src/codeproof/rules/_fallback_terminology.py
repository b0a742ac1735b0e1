"""A minimal terminology adapter over ``simple-icd-10-cm`` (used only as a fallback).

The compiled store (``codeproof.coding.codesets``) is the terminology codeproof
uses. This adapter implements the small subset the rules read
(:class:`codeproof.rules.base.TerminologyLike`) straight from the
``simple-icd-10-cm`` package, for checkouts where the compiled store is not
available (it parses the package XML on import: ~3 s). Code references are
parsed out of the note texts the same way the store contract describes
("gestational diabetes (O24.4-)" -> "O24.4-").
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any

from codeproof.errors import UnknownCode

__all__ = ["FallbackCodeInfo", "FallbackTerminology", "parse_code_refs"]

_REF = re.compile(
    r"\b([A-Z]\d[0-9A-Z](?:\.[0-9A-Z]{1,4})?(?:\.?-)?(?:-[A-Z]\d[0-9A-Z](?:\.[0-9A-Z]{1,4})?"
    r"(?:\.?-)?)?)(?=[,);\s]|$)"
)
_PAREN = re.compile(r"\(([^()]*)\)")


def parse_code_refs(texts: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Code references inside parentheses of note texts, in order, de-duplicated."""
    out: list[str] = []
    for text in texts:
        for group in _PAREN.findall(text):
            for ref in _REF.findall(group):
                if ref not in out:
                    out.append(ref)
    return tuple(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class FallbackCodeInfo:
    """The CodeInfo attributes the rules read."""

    system: str
    code: str
    title: str
    billable: bool
    parent: str | None
    children: tuple[str, ...]
    excludes1_codes: tuple[str, ...]
    excludes2_codes: tuple[str, ...]
    code_first_codes: tuple[str, ...]
    use_additional_codes: tuple[str, ...]
    seventh_characters: tuple[tuple[str, str], ...]


class FallbackTerminology:
    """``get(code)`` over ``simple_icd_10_cm`` (ICD-10-CM only)."""

    versions = {"ICD-10-CM": "FY2026 (simple-icd-10-cm 1.5.0, fallback adapter)"}

    def __init__(self) -> None:
        with warnings.catch_warnings():  # the package uses deprecated importlib.resources calls
            warnings.simplefilter("ignore", DeprecationWarning)
            import simple_icd_10_cm as cm

        self._cm: Any = cm
        self._cache: dict[str, FallbackCodeInfo] = {}

    def get(self, code: str, system: str = "ICD-10-CM") -> FallbackCodeInfo:
        """Return the entry or raise :class:`UnknownCode`."""
        got = self._cache.get(code)
        if got is not None:
            return got
        cm = self._cm
        if system != "ICD-10-CM" or not cm.is_valid_item(code):
            raise UnknownCode(f"{code} is not a {system} code", code=code, system=system)

        def lines(value: Any) -> list[str]:
            if isinstance(value, list):
                return [str(v) for v in value]
            return [str(value)] if value else []

        parent = cm.get_parent(code) or None
        info = FallbackCodeInfo(
            system="ICD-10-CM",
            code=code,
            title=str(cm.get_description(code)),
            billable=bool(cm.is_leaf(code)),
            parent=parent if parent != code else None,
            children=tuple(cm.get_children(code)),
            excludes1_codes=parse_code_refs(lines(cm.get_excludes1(code))),
            excludes2_codes=parse_code_refs(lines(cm.get_excludes2(code))),
            code_first_codes=parse_code_refs(lines(cm.get_code_first(code))),
            use_additional_codes=parse_code_refs(lines(cm.get_use_additional_code(code))),
            seventh_characters=tuple(sorted(cm.get_seven_chr_def(code).items())),
        )
        self._cache[code] = info
        return info
