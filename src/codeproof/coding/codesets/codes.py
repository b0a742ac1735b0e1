"""Pure helpers over code strings: canonical forms, formats, note references.

Nothing here touches the store: these functions work on strings alone, so rules
and tests can use them without a compiled terminology.

- :func:`normalize_code` gives the canonical form of a code ("e119" -> "E11.9").
- :func:`infer_system` guesses the code system from the shape of a code.
- :func:`parse_code_references` pulls code references out of a tabular note
  ("gestational diabetes (O24.4-)" -> ``("O24.4",)``, "(E08-E13)" -> ``("E08-E13",)``).
- :func:`reference_covers` tells whether a code falls under such a reference.
- :func:`pad_placeholder` / :func:`apply_seventh_character` build 7th-character codes.
"""

from __future__ import annotations

import re

from codeproof.errors import UnknownCode

__all__ = [
    "CPT",
    "HCPCS",
    "ICD10CM",
    "ICD10PCS",
    "ICD11",
    "SYSTEMS",
    "apply_seventh_character",
    "infer_system",
    "is_valid_format",
    "normalize_code",
    "pad_placeholder",
    "parse_code_references",
    "reference_covers",
]

ICD10CM = "ICD-10-CM"
ICD10PCS = "ICD-10-PCS"
ICD11 = "ICD-11"
CPT = "CPT"
HCPCS = "HCPCS"
SYSTEMS: tuple[str, ...] = (ICD10CM, ICD10PCS, ICD11, CPT, HCPCS)

# ICD-10-CM: letter, digit, alphanumeric, then up to four more characters after the dot.
_CM_RE = re.compile(r"^[A-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,4})?$")
_CM_BLOCK_RE = re.compile(r"^[A-Z][0-9][0-9A-Z]-[A-Z][0-9][0-9A-Z]$")
# ICD-10-PCS: seven characters from digits and letters except I and O.
_PCS_RE = re.compile(r"^[0-9A-HJ-NP-Z]{7}$")
# ICD-11 MMS stem codes: the 2nd character is always a letter ("1A00", "BA00.0", "XN8P1"),
# optionally post-coordinated with "&" (extension) or "/" (cluster).
_ICD11_PART = r"(?:[0-9A-Z][A-Z][0-9A-Z]{2}(?:\.[0-9A-Z]{1,2}){0,2}|X[A-Z0-9]{3,5})"
_ICD11_RE = re.compile(rf"^{_ICD11_PART}(?:[&/]{_ICD11_PART})*$")
# CPT: five digits (Category I) or four digits + F (II), T (III), U (PLA), M (MAAA).
_CPT_RE = re.compile(r"^[0-9]{4}[0-9FTUM]$")
# HCPCS Level II: a letter A-V then four digits.
_HCPCS_RE = re.compile(r"^[A-V][0-9]{4}$")

_FORMATS: dict[str, re.Pattern[str]] = {
    ICD10CM: _CM_RE,
    ICD10PCS: _PCS_RE,
    ICD11: _ICD11_RE,
    CPT: _CPT_RE,
    HCPCS: _HCPCS_RE,
}

# A code reference inside a tabular note. A trailing "-" or ".-" means "and its
# subdivisions"; "X-Y" is a range. The lookbehind keeps words like "COVID19" out.
_REF_CODE = r"[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?"
_REF_RE = re.compile(
    rf"(?<![A-Za-z0-9.])({_REF_CODE})(?:\.?-(?![A-Z0-9]))?(?:\s*-\s*({_REF_CODE})(?:\.?-(?![A-Z0-9]))?)?"
    r"(?![A-Za-z0-9])"
)


def _squash(code: str) -> str:
    return "".join(code.split()).upper()


def infer_system(code: str) -> str | None:
    """Guess the code system from the shape of ``code`` (None if no shape fits).

    Shapes overlap ("A0425" is both a HCPCS and an undotted ICD-10-CM shape;
    "B020ZZZ" is a PCS code and an ICD-10-CM shape), so ICD-10-CM wins ties;
    :meth:`Terminology.find` resolves ties against the store instead.
    """
    raw = _squash(code)
    if "&" in raw or "/" in raw:
        return ICD11 if _ICD11_RE.match(raw) else None
    if _CM_RE.match(raw) or _CM_BLOCK_RE.match(raw):
        return ICD10CM
    for system in (CPT, ICD11, ICD10PCS, HCPCS):
        if _FORMATS[system].match(raw):
            return system
    return None


def is_valid_format(code: str, system: str) -> bool:
    """Return True when ``code`` has the shape of a ``system`` code (no existence check)."""
    pattern = _FORMATS.get(system)
    return bool(pattern and pattern.match(normalize_code(code, system)))


def normalize_code(code: str, system: str | None = None) -> str:
    """Return the canonical form of ``code``.

    ICD-10-CM is dotted upper case after the third character ("e119" -> "E11.9";
    blocks keep their range form "A00-A09"); ICD-10-PCS, CPT and HCPCS are upper
    case without dots; ICD-11 keeps its dots. Raises :class:`UnknownCode` for an
    empty string.
    """
    raw = _squash(code).rstrip(".")
    if not raw:
        raise UnknownCode("empty code", system=system or "")
    chosen = system or infer_system(raw)
    if chosen == ICD10CM:
        if _CM_BLOCK_RE.match(raw) or raw.isdigit():  # block or chapter number
            return raw
        bare = raw.replace(".", "")
        return bare if len(bare) <= 3 else f"{bare[:3]}.{bare[3:]}"
    if chosen in (ICD10PCS, CPT, HCPCS):
        return raw.replace(".", "")
    return raw


def parse_code_references(text: str) -> tuple[str, ...]:
    """Return the ICD-10-CM code references found in a tabular note, in order.

    "gestational diabetes (O24.4-)" -> ``("O24.4",)``; "(E08-E13)" -> ``("E08-E13",)``;
    "(M1A.-, M10.-)" -> ``("M1A", "M10")``; "(R13.11-R13.19)" -> ``("R13.11-R13.19",)``.
    A trailing dash (all subdivisions) is dropped: a reference covers its descendants.
    """
    refs: list[str] = []
    for match in _REF_RE.finditer(text):
        start = normalize_code(match.group(1), ICD10CM)
        end = match.group(2)
        ref = f"{start}-{normalize_code(end, ICD10CM)}" if end else start
        if ref not in refs:
            refs.append(ref)
    return tuple(refs)


def reference_covers(reference: str, code: str) -> bool:
    """Return True when ICD-10-CM ``code`` falls under ``reference``.

    A single reference covers the code and its descendants ("O24.4" covers
    "O24.419"); a range "E08-E13" covers every code whose prefix of the same
    length sorts between the two ends, inclusive ("E11.9" yes, "E14" no).
    """
    bare = normalize_code(code, ICD10CM).replace(".", "")
    ref = _squash(reference)
    if _CM_RE.match(ref):
        return bare.startswith(ref.replace(".", ""))
    low, sep, high = ref.partition("-")
    if not sep or not _CM_RE.match(low) or not _CM_RE.match(high):
        return False
    low_b, high_b = low.replace(".", ""), high.replace(".", "")
    return low_b <= bare[: len(low_b)] and bare[: len(high_b)] <= high_b


def pad_placeholder(code: str) -> str:
    """Pad an ICD-10-CM code with placeholder "X" to six characters (before a 7th).

    "S02.0" -> "S02.0XX"; "T36.0X1" stays; "S72.001" stays.
    """
    bare = normalize_code(code, ICD10CM).replace(".", "")
    bare = bare.ljust(6, "X")
    return normalize_code(bare, ICD10CM)


def apply_seventh_character(code: str, char: str) -> str:
    """Return ``code`` with the 7th character ``char`` added, padding with "X".

    "S02.0" + "A" -> "S02.0XXA"; "S72.001" + "A" -> "S72.001A". Existence is
    checked by the store (:meth:`Terminology.with_seventh`), not here.
    """
    if len(char) != 1 or not char.isalnum():
        raise UnknownCode(f"invalid 7th character {char!r}", code=code)
    bare = pad_placeholder(code).replace(".", "")
    if len(bare) != 6:
        raise UnknownCode(f"{code} cannot take a 7th character", code=code)
    return normalize_code(bare + char.upper(), ICD10CM)
