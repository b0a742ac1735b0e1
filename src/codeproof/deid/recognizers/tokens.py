"""A light tokenizer and per-note case profile for the lexicon recognizers.

Nursing notes are often all upper- or all lower-case, where spaCy's tagger and
NER lose capitalisation cues; these recognizers work on plain tokens and use
capitalisation only when the note is written in mixed case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["CaseMode", "Token", "case_mode", "tokenize"]

CaseMode = Literal["upper", "lower", "mixed"]

_TOKEN = re.compile(
    r"(?P<abbr>[A-Za-z](?:\.[A-Za-z])+\.?)"  # R.N.  M.D.  y.o.
    r"|(?P<word>[A-Za-z]+(?:'[A-Za-z]+)*)"  # O'Rourke  Mary's
    r"|(?P<num>\d+)"
    r"|(?P<nl>\n)"
    r"|(?P<punct>[^\sA-Za-z\d])"
)


@dataclass(frozen=True, slots=True)
class Token:
    """A token: its span, surface text, kind and lower-cased form."""

    start: int
    end: int
    text: str
    kind: str  # abbr | word | num | nl | punct
    lower: str

    @property
    def is_word(self) -> bool:
        """Alphabetic token (word or dotted abbreviation)."""
        return self.kind in ("word", "abbr")

    @property
    def capitalized(self) -> bool:
        """First letter upper-case."""
        return self.text[:1].isupper()


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens with exact offsets (whitespace other than newlines dropped)."""
    tokens: list[Token] = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "punct"
        surface = match.group()
        tokens.append(Token(match.start(), match.end(), surface, kind, surface.lower()))
    return tokens


def case_mode(text: str) -> CaseMode:
    """``upper``/``lower`` when nearly all letters share a case, else ``mixed``."""
    upper = sum(1 for c in text if c.isupper())
    lower = sum(1 for c in text if c.islower())
    total = upper + lower
    if total == 0:
        return "mixed"
    if upper / total > 0.8:
        return "upper"
    if lower / total > 0.97:
        return "lower"
    return "mixed"
