"""A fast, rule-based sentence splitter for clinical text.

Clinical notes break the assumptions of newswire splitters: lists without
final periods, vitals ("T 37.5 BP 120/80"), abbreviations with periods
("p.o.", "b.i.d.", "Dr."), all-caps notes and flattened text where a header
follows two spaces. The rules, in order:

1. a blank line always ends a sentence; a line break ends one unless the next
   line starts in lower case (a wrapped line);
2. ``.``, ``!``, ``?`` end a sentence when followed by white space and then an
   upper-case letter, a digit, a bullet or a quote, unless the word before
   the period is a known abbreviation, a single letter (an initial) or a
   period-separated abbreviation ("e.g.", "p.o.");
3. extra boundaries may be forced (section headers and bodies).

PyRuSH (medspaCy's default) is far slower; this splitter is a single pass of
regular expressions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["split_sentences"]

_ABBREVIATIONS = frozenset({
    "dr", "mr", "mrs", "ms", "st", "vs", "etc", "approx", "no", "nos", "fig", "figs", "pt",
    "pts", "dx", "hx", "tx", "rx", "sx", "inc", "jr", "sr", "prof", "min", "max", "mo",
    "yo", "y.o", "wk", "wks", "hr", "hrs", "sec", "vol", "ref", "cf", "al", "resp", "temp",
    "avg", "dept", "univ", "ca", "e.g", "i.e", "a.m", "p.m", "p.o", "b.i.d", "t.i.d",
    "q.i.d", "q.d", "q.h", "h.s", "p.r.n", "n.p.o", "u.s", "q", "mg", "ml", "mcg", "cm", "mm",
})

_BOUNDARY = re.compile(r"[.!?]+[\"')\]]*(?=\s+[\"'(\[]?[A-Z0-9•\-*])")
_LINE = re.compile(r"\n")
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)$")


def _is_abbreviation(text: str, period: int) -> bool:
    """True when the period at ``period`` closes an abbreviation, not a sentence."""
    match = _WORD_BEFORE.search(text, max(0, period - 12), period)
    if match is None:
        return False
    word = match.group(1).lower().rstrip(".")
    if len(word) == 1 and text[match.start(1)].isupper():  # initial: "J. Smith"
        return True
    return word in _ABBREVIATIONS or ("." in word and len(word) <= 6)


def split_sentences(text: str, *, breaks: Iterable[int] = ()) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` of ``text``, trimmed of white space.

    ``breaks`` are offsets where a sentence must start (e.g. section headers).
    """
    cuts: set[int] = {0, len(text)}
    for match in _LINE.finditer(text):
        nxt = match.end()
        while nxt < len(text) and text[nxt] in " \t":
            nxt += 1
        if nxt < len(text) and text[nxt] == "\n":
            cuts.add(nxt)
        elif nxt >= len(text) or not text[nxt].islower():
            cuts.add(match.end())
    for match in _BOUNDARY.finditer(text):
        period = match.start()
        if text[period] == "." and _is_abbreviation(text, period):
            continue
        if text[period] == "." and period > 0 and text[period - 1].isdigit():
            # "1." list marker at a line start is not a sentence.
            line_start = text.rfind("\n", 0, period) + 1
            if text[line_start:period].strip().isdigit():
                continue
        cuts.add(match.end())
    for offset in breaks:
        if 0 < offset < len(text):
            cuts.add(offset)
    ordered = sorted(cuts)
    spans: list[tuple[int, int]] = []
    for start, end in zip(ordered, ordered[1:], strict=False):
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans
