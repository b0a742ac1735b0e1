"""Attributes linked to a mention: laterality, acuity, severity/stage, episode, body site.

Vocabularies are data (``resources/en/attributes.json``). For a mention the
extractor looks at a *window*: the mention itself plus ``window_before`` words
before and ``window_after`` words after it, never leaving the mention's
sentence. Inside the window the value nearest to the mention wins (a value
inside the mention beats one outside it), so "left knee pain; right hip
fracture" links *left* to the knee pain and *right* to the fracture.
Episode of care (initial / subsequent / sequela, the ICD-10-CM 7th
character) is looked for in the whole sentence, because it is usually stated
once per encounter ("seen for routine healing of ...").
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Literal, cast

from pydantic import BaseModel, ConfigDict, ValidationError

from codeproof.errors import NlpResourceError
from codeproof.model import Attributes
from codeproof.nlp.context import trie_regex

__all__ = ["AttributeExtractor", "load_attribute_vocabulary"]

_WORD = re.compile(r"\S+")
_STAGE_AFTER = re.compile(r"\s*,\s*(?:nyha\s+)?(?:stage|grade|class|gold)\s+[\w]+",
                          re.IGNORECASE)
_BREAK = re.compile(r"[,;:]|\b(?:and|or|but|with|without|presents?|presented|who|which)\b",
                    re.IGNORECASE)

Laterality = Literal["right", "left", "bilateral"]
Acuity = Literal["acute", "chronic", "acute_on_chronic"]
Episode = Literal["initial", "subsequent", "sequela"]


class _Laterality(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    bilateral: tuple[str, ...]
    right: tuple[str, ...]
    left: tuple[str, ...]


class _Acuity(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    acute_on_chronic: tuple[str, ...]
    acute: tuple[str, ...]
    chronic: tuple[str, ...]


class _Episode(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    initial: tuple[str, ...]
    subsequent: tuple[str, ...]
    sequela: tuple[str, ...]


class AttributeVocabulary(BaseModel):
    """The attributes data file (strict keys)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: str
    description: str = ""
    window_before: int = 6
    window_after: int = 6
    laterality: _Laterality
    acuity: _Acuity
    severity: tuple[str, ...]
    episode: _Episode
    body_sites: tuple[str, ...]


def load_attribute_vocabulary(path: Path | None = None) -> AttributeVocabulary:
    """Load and validate the attributes file."""
    try:
        if path is None:
            raw = (resources.files("codeproof.nlp") / "resources" / "en" / "attributes.json"
                   ).read_text(encoding="utf-8")
            where = "attributes.json"
        else:
            raw = Path(path).read_text(encoding="utf-8")
            where = str(path)
        vocabulary = AttributeVocabulary.model_validate(json.loads(raw))
        for pattern in vocabulary.severity:
            re.compile(pattern)
    except (OSError, json.JSONDecodeError, ValidationError, re.error) as exc:
        raise NlpResourceError(f"invalid attributes file {where}: {type(exc).__name__}",
                               resource="attributes") from exc
    return vocabulary


def _alternation(patterns: tuple[str, ...]) -> str:
    return "|".join(f"(?:{p})" for p in sorted(patterns, key=len, reverse=True))


def _compile_groups(groups: dict[str, tuple[str, ...]], *,
                    ignore_case: bool = True) -> re.Pattern[str]:
    parts = [f"(?P<{name}>\\b(?:{_alternation(pats)})(?![\\w]))" for name, pats in groups.items()]
    return re.compile("|".join(parts), re.IGNORECASE if ignore_case else 0)


class AttributeExtractor:
    """Extracts :class:`~codeproof.model.Attributes` for a span of a text."""

    def __init__(self, vocabulary: AttributeVocabulary) -> None:
        self.vocabulary = vocabulary
        self.name = vocabulary.name
        self.version = vocabulary.version
        lat = vocabulary.laterality
        # Upper-case one-letter forms ("R knee") must stay case-sensitive.
        self._laterality = _compile_groups(
            {"bilateral": lat.bilateral, "right": lat.right, "left": lat.left},
            ignore_case=False)
        self._laterality_ci = _compile_groups(
            {"bilateral": tuple(p for p in lat.bilateral if p.islower() or "/" in p),
             "right": ("right", "rt"), "left": ("left", "lt")})
        acu = vocabulary.acuity
        self._acuity = _compile_groups({"acute_on_chronic": acu.acute_on_chronic,
                                        "acute": acu.acute, "chronic": acu.chronic})
        self._severity = [re.compile(rf"\b(?:{p})", re.IGNORECASE) for p in vocabulary.severity]
        epi = vocabulary.episode
        self._episode = _compile_groups({"sequela": epi.sequela, "subsequent": epi.subsequent,
                                         "initial": epi.initial})
        sites = sorted({" ".join(site.lower().split()) for site in vocabulary.body_sites})
        self._body = re.compile(r"\b(?:" + trie_regex(sites) + r")\b", re.IGNORECASE)

    @classmethod
    def default(cls) -> AttributeExtractor:
        """The extractor with the packaged English vocabulary."""
        return cls(load_attribute_vocabulary())

    def window(self, text: str, start: int, end: int,
               sentence: tuple[int, int] | None = None) -> tuple[int, int]:
        """The ``(lo, hi)`` window of ``text`` searched for the span's attributes."""
        s0, s1 = sentence if sentence is not None else (0, len(text))
        words_before = [m.start() for m in _WORD.finditer(text, s0, start)]
        wb = self.vocabulary.window_before
        lo = words_before[-wb] if wb and len(words_before) >= wb else s0
        hi = end
        for count, match in enumerate(_WORD.finditer(text, end, s1), start=1):
            hi = match.end()
            if count >= self.vocabulary.window_after:
                break
        # A clause or list break (",", ";", ":", "and", "or", "with", "but") closes the
        # window, so a modifier of the next concept is not linked to this one.
        for match in _BREAK.finditer(text, lo, start):
            lo = match.end()
        found = _BREAK.search(text, end, hi)
        if found is not None:
            hi = found.start()
        return lo, hi

    @staticmethod
    def _nearest(regex: re.Pattern[str], text: str, lo: int, hi: int, start: int,
                 end: int) -> tuple[str, re.Match[str]] | None:
        best: tuple[int, str, re.Match[str]] | None = None
        for match in regex.finditer(text, lo, hi):
            if match.lastgroup is None:
                continue
            if match.start() >= start and match.end() <= end:
                distance = -1  # inside the mention
            elif match.end() <= start:
                distance = start - match.end()
            else:
                distance = match.start() - end + 1  # after: slightly less preferred
            if best is None or distance < best[0]:
                best = (distance, match.lastgroup, match)
        return None if best is None else (best[1], best[2])

    def extract(self, text: str, start: int, end: int, *,
                sentence: tuple[int, int] | None = None) -> Attributes:
        """Attributes of ``text[start:end]`` (``sentence`` bounds the search)."""
        lo, hi = self.window(text, start, end, sentence)
        laterality: str | None = None
        found = self._nearest(self._laterality, text, lo, hi, start, end)
        found_ci = self._nearest(self._laterality_ci, text, lo, hi, start, end)
        if found is not None or found_ci is not None:
            laterality = (found or found_ci)[0]  # type: ignore[index]
            inside = text[start:end].lower()
            if "right" in inside and "left" in inside:
                laterality = "bilateral"
        acuity = self._nearest(self._acuity, text, lo, hi, start, end)
        acuity_value: str | None = acuity[0] if acuity else None
        if acuity_value == "acute":
            before = text[lo:end].lower()
            if "chronic" in before and re.search(r"exacerbat|decompensat|flare", before):
                acuity_value = "acute_on_chronic"
        severity: str | None = None
        best_distance: int | None = None
        staged = _STAGE_AFTER.match(text, hi)  # "heart failure, NYHA class III"
        severity_hi = staged.end() if staged is not None else hi
        for regex in self._severity:
            for match in regex.finditer(text, lo, severity_hi):
                distance = 0 if start <= match.start() < end else min(
                    abs(match.end() - start), abs(match.start() - end))
                if best_distance is None or distance < best_distance:
                    best_distance = distance
                    severity = self._severity_value(match)
        s0, s1 = sentence if sentence is not None else (0, len(text))
        episode = self._nearest(self._episode, text, s0, s1, start, end)
        body = self._nearest_plain(self._body, text, lo, hi, start, end)
        return Attributes(
            laterality=cast("Laterality | None", laterality),
            acuity=cast("Acuity | None", acuity_value),
            severity=severity,
            episode=cast("Episode | None", episode[0] if episode else None),
            body_site=body,
        )

    @staticmethod
    def _severity_value(match: re.Match[str]) -> str:
        value = (match.group("v") if "v" in match.groupdict() and match.group("v")
                 else match.group(0)).lower()
        value = " ".join(value.replace("-", " ").split())
        head = match.group(0).lower().split()[0]
        if head in ("stage", "grade", "class", "gold", "nyha"):
            suffix = match.groupdict().get("s") or ""
            label = "class" if head == "nyha" else head
            return f"{label} {value}{suffix.lower()}"
        return value

    @staticmethod
    def _nearest_plain(regex: re.Pattern[str], text: str, lo: int, hi: int, start: int,
                       end: int) -> str | None:
        best: tuple[int, str] | None = None
        for match in regex.finditer(text, lo, hi):
            if match.start() >= start and match.end() <= end:
                distance = -1
            elif match.end() <= start:
                distance = start - match.end()
            else:
                distance = match.start() - end
            if best is None or distance < best[0]:
                best = (distance, " ".join(match.group(0).lower().split()))
        return None if best is None else best[1]
