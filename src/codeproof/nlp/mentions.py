"""Mention finding: diagnoses, symptoms, procedures and findings with exact offsets.

A :class:`Lexicon` maps token sequences to a kind and a normalized form. It is
built from the versioned term list (``resources/en/lexicon.json``), the
abbreviations file (an abbreviation takes the kind of its expansion) and,
when available, the terminology (ICD-10-CM titles and inclusion terms,
cleaned of "unspecified", "NOS" and parentheses). Matching is a greedy
longest match over word tokens with simple plural folding, so it is linear
in the text length and needs no spaCy model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal, cast

from pydantic import BaseModel, ConfigDict, ValidationError

from codeproof.errors import NlpResourceError
from codeproof.nlp.abbreviations import AbbreviationExpander
from codeproof.nlp.spelling import SpellingCorrector

__all__ = ["Lexicon", "MentionKind", "SpanMatch", "load_lexicon", "terminology_terms"]

MentionKind = Literal["diagnosis", "symptom", "procedure", "finding"]
_KINDS: tuple[MentionKind, ...] = ("diagnosis", "symptom", "procedure", "finding")
#: Kinds in order of preference when a term is listed under several.
_PRIORITY = {"diagnosis": 0, "procedure": 1, "symptom": 2, "finding": 3}

_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[/'-][A-Za-z0-9]+)*")
_STOP_TERMS = frozenset({
    "other", "unspecified", "disease", "disorder", "diseases", "disorders", "syndrome",
    "condition", "conditions", "history", "encounter", "status", "examination", "use",
    "care", "abnormal", "finding", "findings", "injury", "complication", "problem",
    "observation", "contact", "exposure", "screening", "test", "state", "type", "site",
    "part", "unknown", "none", "mass", "change", "changes", "lesion", "pain", "follow-up",
})
_MAX_TOKENS = 8


class _LexiconFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: str
    description: str = ""
    diagnosis: tuple[str, ...] = ()
    symptom: tuple[str, ...] = ()
    procedure: tuple[str, ...] = ()
    finding: tuple[str, ...] = ()


def _fold(token: str) -> str:
    """Lower-case and fold a simple plural ("effusions" -> "effusion")."""
    token = token.lower()
    if token.endswith(("'s", "’s")):
        token = token[:-2]
    if len(token) > 4 and token.endswith("s") and not token.endswith(("ss", "is", "us")):
        return token[:-1]
    return token


def _key(phrase: str) -> tuple[str, ...]:
    return tuple(_fold(t) for t in _TOKEN.findall(phrase))


@dataclass(frozen=True, slots=True)
class SpanMatch:
    """A lexicon hit: ``[start, end)`` into the text, kind and normalized form."""

    start: int
    end: int
    kind: MentionKind
    normalized: str
    source: str  # "lexicon", "abbreviation", "terminology", "spelling"


@dataclass(frozen=True, slots=True)
class _Entry:
    kind: MentionKind
    normalized: str
    source: str


def load_lexicon(path: Path | None = None) -> tuple[str, str, dict[MentionKind, tuple[str, ...]]]:
    """Load and validate a lexicon file; returns ``(name, version, terms by kind)``."""
    try:
        if path is None:
            raw = (resources.files("codeproof.nlp") / "resources" / "en" / "lexicon.json"
                   ).read_text(encoding="utf-8")
            where = "lexicon.json"
        else:
            raw = Path(path).read_text(encoding="utf-8")
            where = str(path)
        data = _LexiconFile.model_validate(json.loads(raw))
    except (OSError, json.JSONDecodeError, ValidationError) as exc:
        raise NlpResourceError(f"invalid lexicon file {where}: {type(exc).__name__}",
                               resource="lexicon") from exc
    terms = {kind: cast(tuple[str, ...], getattr(data, kind)) for kind in _KINDS}
    return data.name, data.version, terms


_PAREN = re.compile(r"\s*[\(\[][^\)\]]*[\)\]]")
_TAILS = re.compile(
    r",?\s*\b(?:unspecified|not elsewhere classified|nec|nos|not otherwise specified|"
    r"without complications?|of unspecified site|unspecified site|site unspecified)\b\s*$",
    re.IGNORECASE)


_GROUPING = re.compile(
    r"^(?:diseases?|disorders?|conditions?|complications?|encounter|personal history|"
    r"family history|history|injuries|malignant neoplasms of|certain|sequelae of|"
    r"symptoms and signs|abnormal findings|persons?|problems?)\b", re.IGNORECASE)
_CLINICAL_SUFFIX = re.compile(
    r"(?:itis|osis|oma|omas|emia|aemia|pathy|algia|plegia|paresis|ectomy|otomy|ostomy|"
    r"plasty|rrhea|rrhage|uria|iasis|cele|ism|ia|megaly|trophy|spasm|sclerosis|cytosis|"
    r"penia|philia|lysis|ptosis|stasis|ectasis|oid)$")
_LEADING = re.compile(r"^(?:other specified|other and unspecified|other|unspecified)\s+",
                      re.IGNORECASE)


def _clean_title(title: str) -> str:
    title = _PAREN.sub("", title)
    title = _LEADING.sub("", title)
    for _ in range(3):
        title = _TAILS.sub("", title).strip(" ,;")
    title = re.sub(r"^unspecified\s+", "", title, flags=re.IGNORECASE)
    return title.strip()


def _terminology_rows(terminology: object) -> Iterable[tuple[str, str, tuple[str, ...]]]:
    texts = getattr(terminology, "texts", None)
    if texts is not None:  # fast path of the store: (code, title, inclusion_terms)
        yield from texts("ICD-10-CM", billable_only=False)
        return
    codes = getattr(terminology, "codes", None)
    if codes is None:
        return
    for info in codes("ICD-10-CM", billable_only=False):
        yield (str(getattr(info, "code", "")), str(getattr(info, "title", "")),
               tuple(getattr(info, "inclusion_terms", ()) or ()))


def terminology_terms(terminology: object) -> list[tuple[str, MentionKind]]:
    """Short, cleaned ICD-10-CM titles and inclusion terms as ``(phrase, kind)``.

    Works on any object with the terminology contract's ``texts(system)`` or
    ``codes(system)``; returns an empty list when it offers neither.
    """
    out: list[tuple[str, MentionKind]] = []
    for code, title, inclusion_terms in _terminology_rows(terminology):
        if not code or code[0] in "VWXYZ":
            continue  # external causes and factors are not mentions
        kind: MentionKind = "diagnosis"
        if code[0] == "R":
            kind = "finding" if code[:2] in ("R7", "R8", "R9") else "symptom"
        for phrase in (title, *inclusion_terms):
            cleaned = _clean_title(phrase)
            tokens = _TOKEN.findall(cleaned)
            if not tokens or len(tokens) > 6 or "," in cleaned or " and " in cleaned.lower():
                continue
            if _GROUPING.match(cleaned):
                continue  # chapter/block-like titles name groups, not concepts
            if len(tokens) == 1 and not _CLINICAL_SUFFIX.search(tokens[0].lower()):
                continue  # single plain words ("axis", "death") are too ambiguous
            out.append((cleaned, kind))
    return out


class Lexicon:
    """Token-sequence dictionary with greedy longest matching."""

    def __init__(self, *, name: str = "custom", version: str = "0") -> None:
        self.name = name
        self.version = version
        self._entries: dict[tuple[str, ...], _Entry] = {}
        self._sensitive: dict[str, _Entry] = {}
        self._longest: dict[str, int] = {}  # first token -> longest entry starting with it
        self.spelling: SpellingCorrector | None = None

    def __len__(self) -> int:
        return len(self._entries) + len(self._sensitive)

    def add(self, phrase: str, kind: MentionKind, *, normalized: str | None = None,
            source: str = "lexicon") -> None:
        """Add ``phrase``; an existing entry wins unless the new kind has priority."""
        key = _key(phrase)
        if not key or len(key) > _MAX_TOKENS:
            return
        if len(key) == 1 and (len(key[0]) < 3 or (source == "terminology"
                                                   and key[0] in _STOP_TERMS)):
            return  # generic single words come only from the curated list
        entry = _Entry(kind, normalized or " ".join(phrase.lower().split()), source)
        old = self._entries.get(key)
        if old is None or (old.source == "terminology" and source != "terminology") or (
            old.source == source and _PRIORITY[kind] < _PRIORITY[old.kind]
        ):
            self._entries[key] = entry
            self._longest[key[0]] = max(self._longest.get(key[0], 0), len(key))

    def add_abbreviations(self, expander: AbbreviationExpander) -> None:
        """Abbreviations whose expansion is a known term become terms themselves."""
        for abbreviation in expander.entries:
            target = self._entries.get(_key(abbreviation.expansion))
            if target is None:
                continue
            entry = _Entry(target.kind, abbreviation.expansion, "abbreviation")
            if abbreviation.case_sensitive:
                self._sensitive[abbreviation.abbr] = entry
            else:
                key = _key(abbreviation.abbr)
                if len(key) == 1 and key not in self._entries:
                    self._entries[key] = entry
                    self._longest[key[0]] = max(self._longest.get(key[0], 0), 1)

    @classmethod
    def default(cls, *, abbreviations: AbbreviationExpander | None = None,
                extra_terms: Iterable[tuple[str, MentionKind]] = ()) -> Lexicon:
        """The packaged lexicon + abbreviations + ``extra_terms`` (e.g. terminology)."""
        name, version, terms = load_lexicon()
        lexicon = cls(name=name, version=version)
        for kind in _KINDS:
            for phrase in terms[kind]:
                lexicon.add(phrase, kind)
        for phrase, kind in extra_terms:
            lexicon.add(phrase, kind, source="terminology")
        if abbreviations is not None:
            lexicon.add_abbreviations(abbreviations)
        curated = {t for key, e in lexicon._entries.items() if e.source == "lexicon" for t in key}
        known = {t for key in lexicon._entries for t in key}
        lexicon.spelling = SpellingCorrector.default(curated, known=known)
        return lexicon

    def match(self, text: str, start: int = 0, end: int | None = None) -> list[SpanMatch]:
        """Greedy longest matches in ``text[start:end]`` (offsets into ``text``)."""
        tokens = [(m.start(), m.end(), m.group(0))
                  for m in _TOKEN.finditer(text, start, len(text) if end is None else end)]
        folded = [_fold(t[2]) for t in tokens]
        longest = self._longest
        entries = self._entries
        corrected: set[int] = set()
        if self.spelling is not None:
            for index, token in enumerate(folded):
                if token not in longest and len(token) >= self.spelling.min_length:
                    fixed = self.spelling.correct(token)
                    if fixed is not None:
                        folded[index] = _fold(fixed)
                        corrected.add(index)
        found: list[SpanMatch] = []
        i = 0
        while i < len(tokens):
            hit: tuple[int, _Entry] | None = None
            sensitive = self._sensitive.get(tokens[i][2])
            reach = longest.get(folded[i], 0)
            if not reach and sensitive is None:
                i += 1
                continue
            for n in range(min(reach, len(tokens) - i), 0, -1):
                entry = entries.get(tuple(folded[i:i + n]))
                if entry is not None:
                    if n == 1 and entry.source == "abbreviation" and sensitive is not None:
                        entry = sensitive
                    hit = (n, entry)
                    break
            if hit is None and sensitive is not None:
                hit = (1, sensitive)
            if hit is None:
                i += 1
                continue
            n, entry = hit
            source = "spelling" if corrected.intersection(range(i, i + n)) else entry.source
            found.append(SpanMatch(tokens[i][0], tokens[i + n - 1][1], entry.kind,
                                   entry.normalized, source))
            i += n
        return found
