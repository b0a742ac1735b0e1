"""A fast, rule-based sentence splitter for clinical text.

Clinical notes break the assumptions of newswire splitters: lists without
final periods, vitals ("T 37.5 BP 120/80"), abbreviations with periods
("p.o.", "b.i.d.", "Dr."), all-caps notes and flattened text where a header
follows two spaces. The rules, in order:

1. a blank line always ends a sentence; a line break ends one unless the next
   line starts in lower case (a wrapped line);
2. ``.``, ``!``, ``?`` end a sentence when followed by white space and then an
   upper-case letter, a digit, a bullet, a quote or a slash abbreviation
   ("h/o", "s/p"), unless the word before
   the period closes a title or Latin abbreviation ("Dr.", "e.g."), an
   initial after a name ("John J. Smith"), "No." before a number, or a
   period-separated abbreviation ("p.o.", "b.i.d.");
3. extra boundaries may be forced (section headers and bodies).

PyRuSH (medspaCy's default) is far slower; this splitter is a single pass of
regular expressions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["split_sentences"]

#: Words whose period never ends a sentence (titles, Latin and reference abbreviations).
_NEVER_FINAL = frozenset({
    "dr", "mr", "mrs", "ms", "st", "vs", "prof", "fig", "figs", "approx", "ref", "cf",
    "e.g", "i.e", "jr", "sr", "dept", "univ", "resp", "al",
})

_BOUNDARY = re.compile(
    r"[.!?]+[\"')\]]*(?=\s+(?:[\"'(\[]?[A-Z0-9•\-*]|[a-z]/[a-z]\b))")
_LINE = re.compile(r"\n")
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)$")
_NUMBER_AFTER = re.compile(r"\s*\d")


def _is_abbreviation(text: str, period: int) -> bool:
    """True when the period at ``period`` closes an abbreviation, not a sentence."""
    match = _WORD_BEFORE.search(text, max(0, period - 12), period)
    if match is None:
        return False
    word = match.group(1).lower().rstrip(".")
    if word in _NEVER_FINAL:
        return True
    if word == "no" and _NUMBER_AFTER.match(text, period + 1):  # "No. 3"
        return True
    if len(word) == 1 and text[match.start(1)].isupper():
        # An initial ("John J. Smith") follows a capitalised name, not a number.
        before = text[max(0, match.start(1) - 20):match.start(1)].split()
        previous = before[-1].rstrip(".") if before else ""
        return previous[:1].isupper() and previous.isalpha()
    return "." in word and len(word) <= 6  # "p.o.", "b.i.d." inside a sentence


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
