"""Anonymization operators: redact, typed placeholder, consistent surrogate, date shift.

An :class:`Operator` turns one detected span into replacement text. Surrogates
and date shifts are *consistent per patient*: they derive from an HMAC of the
patient key, so the same name maps to the same surrogate in every note of that
patient, and every date of that patient moves by the same number of days
(intervals between dates are preserved). Different patient keys give unrelated
surrogates and shifts.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import hmac
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Final

__all__ = [
    "DateShifter",
    "Operator",
    "PlaceholderOperator",
    "RedactOperator",
    "SurrogateOperator",
    "make_operator",
    "placeholder_factory",
    "redact_factory",
    "surrogate_factory",
]

_SURROGATE_FIRST: Final[tuple[str, ...]] = (
    "Alex", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Avery", "Quinn",
    "Parker", "Rowan", "Reese", "Drew", "Emerson", "Hayden", "Kendall", "Logan", "Sawyer")
_SURROGATE_LAST: Final[tuple[str, ...]] = (
    "Ashford", "Bramley", "Calloway", "Dunmore", "Ellery", "Fairbank", "Galloway",
    "Hartwell", "Ingram", "Jessup", "Kingsley", "Lockwood", "Merriman", "Northcott",
    "Oakley", "Pemberton", "Radcliffe", "Stanwick", "Thornbury", "Underhill", "Wexford")
_SURROGATE_PLACES: Final[tuple[str, ...]] = (
    "Riverside", "Lakeview", "Hillcrest", "Fairview", "Brookside", "Maplewood", "Oakdale",
    "Cedar Grove", "Pinehurst", "Westfield")
_MONTHS: Final[dict[str, int]] = {
    **{m.lower(): i for i, m in enumerate(calendar.month_name) if m},
    **{m.lower(): i for i, m in enumerate(calendar.month_abbr) if m},
    "sept": 9,
}


def _digest(key: str, *parts: str) -> int:
    mac = hmac.new(key.encode("utf-8"), "\x1f".join(parts).encode("utf-8"), hashlib.sha256)
    return int.from_bytes(mac.digest()[:8], "big")


class Operator(ABC):
    """Replace one PHI span; ``name`` is the versioned registry name."""

    name: ClassVar[str]

    @abstractmethod
    def replace(self, original: str, phi_type: str, *, patient_key: str = "") -> str:
        """Return the replacement for ``original`` of ``phi_type``."""


class RedactOperator(Operator):
    """Replace every identifier with the same marker, hiding even its type."""

    name = "deid.redact.v1"
    MARK: ClassVar[str] = "[REDACTED]"

    def replace(self, original: str, phi_type: str, *, patient_key: str = "") -> str:
        """Return ``[REDACTED]``."""
        return self.MARK


class PlaceholderOperator(Operator):
    """Replace with a typed placeholder such as ``[NAME]`` or ``[DATE]``."""

    name = "deid.placeholder.v1"

    def replace(self, original: str, phi_type: str, *, patient_key: str = "") -> str:
        """Return ``[<TYPE>]``."""
        return f"[{phi_type}]"


class SurrogateOperator(Operator):
    """Realistic surrogates, consistent per patient key (same input -> same output)."""

    name = "deid.surrogate.v1"

    def replace(self, original: str, phi_type: str, *, patient_key: str = "") -> str:
        """Return a surrogate of the same kind and roughly the same shape."""
        norm = " ".join(original.lower().split())
        h = _digest(patient_key, phi_type, norm)
        if phi_type == "NAME":
            words = original.split()
            if len(words) >= 2:
                out = f"{_SURROGATE_FIRST[h % len(_SURROGATE_FIRST)]} " \
                      f"{_SURROGATE_LAST[(h >> 8) % len(_SURROGATE_LAST)]}"
            else:
                out = _SURROGATE_LAST[h % len(_SURROGATE_LAST)]
            return out.upper() if original.isupper() else (
                out.lower() if original.islower() else out)
        if phi_type in ("HOSPITAL", "LOCATION"):
            place = _SURROGATE_PLACES[h % len(_SURROGATE_PLACES)]
            return f"{place} Hospital" if phi_type == "HOSPITAL" else place
        if phi_type in ("PHONE", "ID", "SSN", "AGE", "ADDRESS", "DATE", "DATE_YEAR",
                        "IP_ADDRESS"):
            return _same_shape_digits(original, h) if phi_type != "AGE" else "90+"
        if phi_type == "EMAIL":
            return f"user{h % 100000}@example.org"
        if phi_type == "URL":
            return f"https://example.org/{h % 100000}"
        return f"[{phi_type}]"


def _same_shape_digits(original: str, seed: int) -> str:
    """Replace every digit (and letter) keeping punctuation and length."""
    out = []
    state = seed
    for ch in original:
        state = (state * 6364136223846793005 + 1442695040888963407) & (2**64 - 1)
        if ch.isdigit():
            out.append(str((state >> 33) % 10))
        elif ch.isalpha():
            out.append(chr(ord("A") + (state >> 33) % 26))
        else:
            out.append(ch)
    return "".join(out)


@dataclass(frozen=True, slots=True)
class DateShifter:
    """Shift dates by a per-patient number of days in ``[-max_days, -1]``.

    The same patient key always gives the same shift, so intervals between a
    patient's dates are preserved; the original format is kept (``7/22`` stays
    ``m/d``, ``2020-03-04`` stays ISO). Dates it cannot parse return ``None``
    and the caller falls back to the placeholder.
    """

    patient_key: str
    max_days: int = 365

    @property
    def days(self) -> int:
        """The shift in days (negative)."""
        return -(1 + _digest(self.patient_key, "date-shift") % self.max_days)

    def shift(self, original: str, *, reference_year: int = 2001) -> str | None:
        """Return ``original`` moved by :attr:`days`, in the same format, or ``None``."""
        delta = dt.timedelta(days=self.days)
        s = original.strip()
        m = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", s)
        if m:
            d = _date(int(m[1]), int(m[2]), int(m[3]))
            return None if d is None else (d + delta).isoformat()
        m = re.fullmatch(r"(\d{1,2})([/.\-])(\d{1,2})(?:([/.\-])(\d{2}|\d{4}))?", s)
        if m:
            year_text = m[5]
            year = reference_year if year_text is None else _full_year(year_text)
            d = _date(year, int(m[1]), int(m[3]))
            if d is None:
                return None
            new = d + delta
            out = f"{new.month}{m[2]}{new.day}"
            if year_text is not None:
                yy = str(new.year) if len(year_text) == 4 else f"{new.year % 100:02d}"
                out += f"{m[4]}{yy}"
            return out
        m = re.fullmatch(r"(?i)([a-z]+)\.?\s+(\d{1,2})(st|nd|rd|th)?(?:,?\s+(\d{4}))?", s)
        if m and m[1].lower() in _MONTHS:
            year = int(m[4]) if m[4] else reference_year
            d = _date(year, _MONTHS[m[1].lower()], int(m[2]))
            if d is None:
                return None
            new = d + delta
            name = calendar.month_name[new.month]
            full_names = {n.lower() for n in calendar.month_name if n}
            if m[1].lower() not in full_names:
                name = calendar.month_abbr[new.month]
            if m[1].isupper():
                name = name.upper()
            out = f"{name} {new.day}{_suffix(new.day) if m[3] else ''}"
            return out + (f", {new.year}" if m[4] else "")
        return None


def _suffix(day: int) -> str:
    if 11 <= day % 100 <= 13:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def _full_year(text: str) -> int:
    if len(text) == 4:
        return int(text)
    value = int(text)
    return 2000 + value if value < 50 else 1900 + value


def _date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def make_operator(name: str) -> Operator:
    """Build an operator by CLI name: ``redact``, ``placeholder`` or ``surrogate``."""
    from codeproof.errors import ConfigError

    if name == "redact":
        return RedactOperator()
    if name == "placeholder":
        return PlaceholderOperator()
    if name == "surrogate":
        return SurrogateOperator()
    raise ConfigError(f"unknown de-identification operator {name!r}; choose one of "
                      "redact, placeholder, surrogate", operator=name)


def redact_factory(runtime: object) -> Operator:
    """Registry factory for ``deid.redact.v1``."""
    return RedactOperator()


def placeholder_factory(runtime: object) -> Operator:
    """Registry factory for ``deid.placeholder.v1``."""
    return PlaceholderOperator()


def surrogate_factory(runtime: object) -> Operator:
    """Registry factory for ``deid.surrogate.v1``."""
    return SurrogateOperator()
