"""Pure helpers of the workbench: evidence highlighting and view models (no I/O)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Segment", "code_key", "segments"]


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of note text covered by the same set of codes' evidence."""

    start: int
    end: int
    text: str
    codes: tuple[str, ...]  # "SYSTEM:CODE" keys, empty for plain text


def code_key(system: str, code: str) -> str:
    """The DOM/data key of a code."""
    return f"{system}:{code}"


def segments(text: str, spans: Iterable[tuple[int, int, str]]) -> list[Segment]:
    """Split ``text`` at every span boundary; O(n log n) in the number of spans.

    Spans out of range are clipped; overlapping spans give segments that carry
    every covering code, so each code's evidence stays clickable.
    """
    clean = [(max(0, s), min(len(text), e), key) for s, e, key in spans
             if s < e and s < len(text) and e > 0]
    bounds = sorted({0, len(text), *(s for s, _, _ in clean), *(e for _, e, _ in clean)})
    starts: dict[int, list[tuple[int, str]]] = {}
    for s, e, key in clean:
        starts.setdefault(s, []).append((e, key))
    active: dict[str, int] = {}  # key -> end
    out: list[Segment] = []
    for left, right in zip(bounds[:-1], bounds[1:], strict=True):
        for end, key in starts.get(left, ()):
            active[key] = max(end, active.get(key, 0))
        active = {k: e for k, e in active.items() if e > left}
        covering = tuple(sorted(k for k, e in active.items() if e >= right))
        out.append(Segment(left, right, text[left:right], covering))
    return out


def evidence_spans(package: Mapping[str, Any], note_id: str) -> list[tuple[int, int, str]]:
    """(start, end, code key) of every evidence span of ``note_id`` in a package."""
    spans: list[tuple[int, int, str]] = []
    for code in package.get("codes", []):
        key = code_key(str(code.get("system", "")), str(code.get("code", "")))
        for ev in code.get("evidence", []):
            if ev.get("note_id") == note_id and isinstance(ev.get("start"), int) \
                    and isinstance(ev.get("end"), int):
                spans.append((ev["start"], ev["end"], key))
    return spans
