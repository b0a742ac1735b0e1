"""PHI spans: the one result type of detection, plus merging.

Offsets are half-open character offsets into the exact input text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["PHI_TYPES", "PhiSpan", "merge_spans"]

#: PHI types codeproof emits (HIPAA Safe Harbor identifiers, grouped).
PHI_TYPES: Final[tuple[str, ...]] = (
    "NAME",  # patients, relatives, clinicians
    "DATE",  # every date element smaller than a year
    "DATE_YEAR",  # a year standing alone (kept by Safe Harbor; see docs/deid.md)
    "AGE",  # ages over 89
    "PHONE",  # phone, fax, pager
    "EMAIL",
    "URL",
    "IP_ADDRESS",
    "SSN",
    "ID",  # MRN, account, record, device, licence, reference numbers
    "ADDRESS",  # street addresses, ZIP codes
    "LOCATION",  # cities, states, countries, landmarks
    "HOSPITAL",  # hospitals, clinics, named units
)


@dataclass(frozen=True, slots=True, kw_only=True)
class PhiSpan:
    """One detected identifier: ``text[start:end]`` is PHI of ``type``."""

    start: int
    end: int
    type: str
    score: float = 1.0
    recognizer: str = ""

    def to_dict(self) -> dict[str, int | str]:
        """The CLI/JSON shape ``{"start", "end", "type"}``."""
        return {"start": self.start, "end": self.end, "type": self.type}


def merge_spans(spans: list[PhiSpan] | tuple[PhiSpan, ...], *, gap: str = "",
                text: str = "") -> tuple[PhiSpan, ...]:
    """Merge overlapping (and, with ``text``, whitespace-adjacent same-type) spans.

    The merged span keeps the type of its highest-scoring member. Adjacent
    spans of the same type separated only by characters of ``gap`` in ``text``
    are joined, so "Holy" + "Cross" becomes one HOSPITAL span.
    """
    ordered = sorted(spans, key=lambda s: (s.start, -s.end))
    out: list[PhiSpan] = []
    for span in ordered:
        if out:
            last = out[-1]
            joinable = span.start <= last.end or (
                bool(gap)
                and span.type == last.type
                and text[last.end:span.start] != ""
                and all(ch in gap for ch in text[last.end:span.start])
            )
            if joinable:
                best = last if last.score >= span.score else span
                out[-1] = PhiSpan(start=last.start, end=max(last.end, span.end),
                                  type=best.type, score=max(last.score, span.score),
                                  recognizer=best.recognizer)
                continue
        out.append(span)
    return tuple(out)
