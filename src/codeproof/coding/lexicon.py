"""Code texts and learned phrases: the two dictionaries candidate generation matches.

* :class:`TitleIndex` holds, for every code, the stems of its official title and
  inclusion terms ("terms"); a term matches a sentence when all of its content
  stems occur in it. Each term is filed under its rarest stem (the *anchor*), so
  a sentence only checks the terms anchored on its own words.
* :class:`Lexicon` holds phrase -> code associations learned from coded notes
  (CodiEsp train): for an n-gram ``g`` of stems and a code ``c``, ``co`` is the
  number of training notes that contain ``g`` and carry ``c``, and ``df`` the
  number of training notes that contain ``g``.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from codeproof.coding.text import STOPWORDS, tokenize

__all__ = ["Lexicon", "PhraseStat", "Term", "TitleIndex", "term_stems"]

_TITLE_DROP = STOPWORDS | {"type", "encounter", "initial", "subsequent", "sequela", "use"}


def term_stems(title: str) -> tuple[str, ...]:
    """Content stems of a code title: the part before "without", no stopwords."""
    lowered = title.lower()
    for cut in (" without ", ", not elsewhere"):
        idx = lowered.find(cut)
        if idx > 0:
            lowered = lowered[:idx]
    seen: list[str] = []
    for token in tokenize(lowered):
        if token.stem in _TITLE_DROP or token.stem in seen:
            continue
        if token.stem == "type":  # keep "type 2" (diabetes) via the digit
            continue
        seen.append(token.stem)
    return tuple(seen)


@dataclass(frozen=True, slots=True)
class Term:
    """One matchable text of a code (its title or an inclusion term)."""

    code: str
    stems: tuple[str, ...]
    title: bool  # True for the official title, False for an inclusion term


class TitleIndex:
    """Terms of all codes, filed under their rarest stem."""

    def __init__(self, terms: Sequence[Term]) -> None:
        self.terms = tuple(terms)
        freq: Counter[str] = Counter(s for term in self.terms for s in set(term.stems))
        n = max(len(self.terms), 1)
        #: inverse document frequency of each stem over all terms (BM25's idf)
        self.idf: dict[str, float] = {
            s: math.log(1.0 + (n - f + 0.5) / (f + 0.5)) for s, f in freq.items()}
        anchors: dict[str, list[int]] = defaultdict(list)
        for i, term in enumerate(self.terms):
            anchor = min(term.stems, key=lambda s: (freq[s], s))
            anchors[anchor].append(i)
        self._anchors = {k: tuple(v) for k, v in anchors.items()}

    def match(self, stems: Iterable[str]) -> list[Term]:
        """Return the terms whose stems are all in ``stems``."""
        present = set(stems)
        found: list[Term] = []
        for stem in present:
            for i in self._anchors.get(stem, ()):
                term = self.terms[i]
                if all(s in present for s in term.stems):
                    found.append(term)
        return found

    def match_partial(self, stems: Iterable[str], *, min_cover: float = 0.6
                      ) -> list[tuple[Term, tuple[str, ...]]]:
        """Terms of >= 3 stems with their rarest stem and >= ``min_cover`` of the
        others present (but not all): ``(term, matched stems)`` pairs."""
        present = set(stems)
        found: list[tuple[Term, tuple[str, ...]]] = []
        for stem in present:
            for i in self._anchors.get(stem, ()):
                term = self.terms[i]
                n = len(term.stems)
                if n < 3:
                    continue
                matched = tuple(s for s in term.stems if s in present)
                if n > len(matched) >= max(2, math.ceil(min_cover * n)):
                    found.append((term, matched))
        return found

    def to_json(self) -> list[list[object]]:
        """Serializable form: ``[code, "stem stem", is_title]`` rows."""
        return [[t.code, " ".join(t.stems), int(t.title)] for t in self.terms]

    @classmethod
    def from_json(cls, rows: Iterable[Sequence[object]]) -> TitleIndex:
        """Inverse of :meth:`to_json`."""
        return cls([Term(code=str(r[0]), stems=tuple(str(r[1]).split()), title=bool(r[2]))
                    for r in rows])


@dataclass(frozen=True, slots=True)
class PhraseStat:
    """Association of a phrase with a code in the training notes."""

    code: str
    co: int  # notes with the phrase and the code
    df: int  # notes with the phrase
    aligned: bool  # the phrase shares a stem with the code's title (or its ancestors')

    @property
    def p(self) -> float:
        """Smoothed P(code | phrase)."""
        return self.co / (self.df + 1.0)


class Lexicon:
    """Learned n-gram -> code associations."""

    def __init__(self, entries: Mapping[str, Sequence[PhraseStat]], *, max_n: int) -> None:
        self.entries = {k: tuple(v) for k, v in entries.items()}
        self.max_n = max_n

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, phrase: str) -> tuple[PhraseStat, ...]:
        """Associations of ``phrase`` (space-joined stems); empty when unknown."""
        return self.entries.get(phrase, ())

    @classmethod
    def learn(cls, docs: Sequence[tuple[set[str], set[str]]], *,
              title_stems: Mapping[str, frozenset[str]], max_n: int,
              min_co: int = 2, min_p: float = 0.08, max_df_ratio: float = 0.25,
              aligned_max_df: int = 4, max_per_phrase: int = 8) -> Lexicon:
        """Learn associations from ``(phrases_of_note, codes_of_note)`` pairs.

        A pair is kept when it co-occurs in ``min_co`` notes with smoothed
        probability ``>= min_p``, or once when the phrase is rare
        (``df <= aligned_max_df``) and shares a content stem with the code's text.
        """
        n_docs = len(docs)
        df: Counter[str] = Counter()
        for phrases, _ in docs:
            df.update(phrases)
        max_df = max(2, int(max_df_ratio * n_docs))
        by_code: dict[str, list[int]] = defaultdict(list)
        for i, (_, codes) in enumerate(docs):
            for code in codes:
                by_code[code].append(i)
        entries: dict[str, list[PhraseStat]] = defaultdict(list)
        for code, idxs in by_code.items():
            co: Counter[str] = Counter()
            for i in idxs:
                co.update(p for p in docs[i][0] if df[p] <= max_df)
            stems = title_stems.get(code, frozenset())
            for phrase, count in co.items():
                d = df[phrase]
                aligned = bool(stems) and any(s in stems for s in phrase.split())
                keep = (count >= min_co and count / (d + 1.0) >= min_p) or (
                    aligned and d <= aligned_max_df)
                if keep:
                    entries[phrase].append(PhraseStat(code, count, d, aligned))
        top = {k: sorted(v, key=lambda s: (-s.p, -s.co, s.code))[:max_per_phrase]
               for k, v in entries.items()}
        return cls(top, max_n=max_n)

    def to_json(self) -> dict[str, object]:
        """Serializable form."""
        return {"max_n": self.max_n,
                "entries": {k: [[s.code, s.co, s.df, int(s.aligned)] for s in v]
                            for k, v in sorted(self.entries.items())}}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Lexicon:
        """Inverse of :meth:`to_json`."""
        raw = data["entries"]
        if not isinstance(raw, dict):
            raise TypeError("lexicon entries must be an object")
        entries = {k: [PhraseStat(str(r[0]), int(r[1]), int(r[2]), bool(r[3])) for r in v]
                   for k, v in raw.items()}
        max_n = data.get("max_n", 4)
        return cls(entries, max_n=int(max_n) if isinstance(max_n, int | str) else 4)
