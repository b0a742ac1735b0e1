"""Spelling correction for term matching: a curated list plus one-edit lookups.

A misspelled word ("pnuemonia", "hypertention", "diarhea") is mapped to a
lexicon word so the term still matches; the mention keeps the note's own text
as evidence and records ``source="spelling"``. Two sources, in order:

1. the curated ``resources/en/misspellings.json`` (also British spellings);
2. British spellings of medical words ("haemorrhage", "oedema", "tumour",
   "leucopenia") when the American form is a lexicon word;
3. a deletion index over the curated lexicon words (SymSpell-style): a word
   of ``min_length``+ letters that is not a known word is corrected only when
   exactly one lexicon word is one *typical typing slip* away: two adjacent
   letters swapped ("pnuemonia") or a doubled letter written once or twice
   ("diarhea", "fibrilation"). Substituted letters are not corrected:
   "injection", "rejection", "hepatoma" are words, not typos.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from codeproof.errors import NlpResourceError

__all__ = ["SpellingCorrector", "load_misspellings"]


class _MisspellingsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: str
    description: str = ""
    min_length: int = 6
    corrections: dict[str, str]


def load_misspellings(path: Path | None = None) -> tuple[str, str, int, dict[str, str]]:
    """Load the misspellings file; returns ``(name, version, min_length, corrections)``."""
    try:
        if path is None:
            raw = (resources.files("codeproof.nlp") / "resources" / "en" / "misspellings.json"
                   ).read_text(encoding="utf-8")
            where = "misspellings.json"
        else:
            raw = Path(path).read_text(encoding="utf-8")
            where = str(path)
        data = _MisspellingsFile.model_validate(json.loads(raw))
    except (OSError, json.JSONDecodeError, ValidationError) as exc:
        raise NlpResourceError(f"invalid misspellings file {where}: {type(exc).__name__}",
                               resource="misspellings") from exc
    corrections = {k.lower(): v.lower() for k, v in data.corrections.items()}
    return data.name, data.version, data.min_length, corrections


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


class SpellingCorrector:
    """Maps an unknown lower-case word to the lexicon word it most likely misspells."""

    def __init__(self, vocabulary: Iterable[str], *, known: Iterable[str] = (),
                 corrections: dict[str, str] | None = None, min_length: int = 6,
                 version: str = "0") -> None:
        self.version = version
        self.min_length = min_length
        self._corrections = dict(corrections or {})
        words = {w for w in vocabulary if w.isalpha() and len(w) >= min_length - 1}
        self._vocabulary = words
        self._known = set(words) | {w for w in known if w.isalpha()}
        self._index: dict[str, set[str]] = {}
        for word in words:
            self._index.setdefault(word, set()).add(word)
            for deleted in _deletions(word):
                self._index.setdefault(deleted, set()).add(word)
        self._memo: dict[str, str | None] = {}

    @classmethod
    def default(cls, vocabulary: Iterable[str], *, known: Iterable[str] = ()
                ) -> SpellingCorrector:
        """A corrector over ``vocabulary`` with the packaged misspellings list."""
        _name, version, min_length, corrections = load_misspellings()
        return cls(vocabulary, known=known, corrections=corrections, min_length=min_length,
                   version=version)

    def correct(self, word: str) -> str | None:
        """The corrected word, or None when ``word`` is known or no single fix exists."""
        if word in self._memo:
            return self._memo[word]
        result = self._correct(word)
        if len(self._memo) < 50_000:
            self._memo[word] = result
        return result

    def _correct(self, word: str) -> str | None:
        curated = self._corrections.get(word)
        if curated is not None:
            return curated
        if len(word) < self.min_length or not word.isalpha() or word in self._known:
            return None
        british = _americanize(word)
        if british != word and british in self._vocabulary:
            return british
        candidates: set[str] = set()
        for key in (word, *_deletions(word)):
            candidates |= self._index.get(key, set())
        candidates = {c for c in candidates if c != word and _typo(word, c)}
        return next(iter(candidates)) if len(candidates) == 1 else None


_BRITISH = (("aem", "em"), ("oed", "ed"), ("oes", "es"), ("aes", "es"), ("leuc", "leuk"),
            ("aen", "en"), ("ael", "el"), ("aec", "ec"))


def _americanize(word: str) -> str:
    """British to American spelling of medical words ("haemorrhage", "oedema", "tumour")."""
    for old, new in _BRITISH:
        word = word.replace(old, new)
    if word.endswith("our") and len(word) > 5:
        word = word[:-3] + "or"
    if word.startswith("oe"):
        word = "e" + word[2:]
    return word


def _typo(a: str, b: str) -> bool:
    """True when ``a`` is ``b`` with one typical typing slip.

    Only two slips count, because they rarely turn a word into another real
    word: two adjacent letters swapped ("pnuemonia"), or a doubled letter
    written once or a letter doubled ("diarhea", "fibrilation", "hypoxxia").
    A substituted letter does not count ("injection" is not "infection").
    """
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return (len(diff) == 2 and diff[1] == diff[0] + 1
                and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    if abs(len(a) - len(b)) != 1:
        return False
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    for i in range(len(long_)):
        if long_[:i] + long_[i + 1:] == short:
            doubled = (i > 0 and long_[i - 1] == long_[i]) or (
                i + 1 < len(long_) and long_[i + 1] == long_[i])
            if doubled:
                return True
    return False
