"""Clinical abbreviations expanded with context, from a versioned data file.

Each abbreviation has a default expansion and optional *senses* chosen by cue
words near the abbreviation ("MS" near "mitral valve" is mitral stenosis,
near "mg IV" morphine sulfate, else multiple sclerosis). Short ambiguous
abbreviations are ``case_sensitive``: "CA" (cancer) is expanded, "ca" is not.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from codeproof.errors import NlpResourceError

__all__ = ["Abbreviation", "AbbreviationExpander", "AbbreviationMatch", "load_abbreviations"]

_CUE_WINDOW = 60
_CUE_WORD = re.compile(r"[a-z0-9%/]+")
_SENTENCE_END = re.compile(r"[.!?;]\s+|\n")


class _Sense(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    expansion: str
    cues: tuple[str, ...]


class Abbreviation(BaseModel):
    """One abbreviation entry of the data file (strict keys)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    abbr: str
    expansion: str
    case_sensitive: bool = False
    senses: tuple[_Sense, ...] = ()


class _AbbreviationsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: str
    description: str = ""
    abbreviations: tuple[Abbreviation, ...]


@dataclass(frozen=True, slots=True)
class AbbreviationMatch:
    """An abbreviation found in a text with the expansion chosen for its context."""

    start: int
    end: int
    abbr: str
    expansion: str


def load_abbreviations(path: Path | None = None) -> tuple[str, str, tuple[Abbreviation, ...]]:
    """Load and validate an abbreviations file; returns ``(name, version, entries)``."""
    try:
        if path is None:
            raw = (resources.files("codeproof.nlp") / "resources" / "en" / "abbreviations.json"
                   ).read_text(encoding="utf-8")
            where = "abbreviations.json"
        else:
            raw = Path(path).read_text(encoding="utf-8")
            where = str(path)
        data = _AbbreviationsFile.model_validate(json.loads(raw))
    except (OSError, json.JSONDecodeError, ValidationError) as exc:
        raise NlpResourceError(f"invalid abbreviations file {where}: {type(exc).__name__}",
                               resource="abbreviations") from exc
    return data.name, data.version, data.abbreviations


def _regex(abbr: str) -> str:
    body = r"\s*".join(re.escape(part) for part in abbr.split())
    return rf"(?<![\w/-]){body}(?![\w/]|-\w)"


class AbbreviationExpander:
    """Finds abbreviations and picks the expansion that fits the context."""

    def __init__(self, entries: tuple[Abbreviation, ...], *, name: str = "custom",
                 version: str = "0") -> None:
        self.entries = entries
        self.name = name
        self.version = version
        self._sensitive: dict[str, Abbreviation] = {}
        self._insensitive: dict[str, Abbreviation] = {}
        for entry in entries:
            if entry.case_sensitive:
                self._sensitive[entry.abbr] = entry
            else:
                self._insensitive[entry.abbr.lower()] = entry
        every = sorted({e.abbr for e in entries}, key=lambda a: (-len(a), a))
        self._regex = re.compile("|".join(_regex(a) for a in every), re.IGNORECASE)

    @classmethod
    def default(cls) -> AbbreviationExpander:
        """The expander with the packaged English abbreviations."""
        name, version, entries = load_abbreviations()
        return cls(entries, name=name, version=version)

    def lookup(self, token: str) -> Abbreviation | None:
        """The entry for ``token`` as written (case rules applied), or None."""
        entry = self._sensitive.get(token)
        if entry is None:
            entry = self._insensitive.get(token.lower())
        return entry

    def resolve(self, entry: Abbreviation, text: str, start: int, end: int) -> str:
        """The expansion of ``entry`` at ``text[start:end]`` given nearby cue words."""
        if not entry.senses:
            return entry.expansion
        lo, hi = max(0, start - _CUE_WINDOW), min(len(text), end + _CUE_WINDOW)
        # Cues count only inside the abbreviation's own sentence.
        before = _SENTENCE_END.split(text[lo:start])[-1]
        after = _SENTENCE_END.split(text[end:hi])[0]
        window = f"{before} {after}".lower()
        words = set(_CUE_WORD.findall(window))
        best, best_hits = entry.expansion, 0
        for sense in entry.senses:
            hits = sum(1 for cue in sense.cues if cue in words or (" " in cue and cue in window))
            if hits > best_hits:
                best, best_hits = sense.expansion, hits
        return best

    def find(self, text: str) -> list[AbbreviationMatch]:
        """All abbreviations in ``text`` with their contextual expansions."""
        found: list[AbbreviationMatch] = []
        for match in self._regex.finditer(text):
            entry = self.lookup(match.group(0))
            if entry is None:
                continue
            found.append(AbbreviationMatch(match.start(), match.end(), match.group(0),
                                           self.resolve(entry, text, match.start(), match.end())))
        return found

    def expand(self, text: str) -> str:
        """``text`` with every abbreviation replaced by its expansion (offsets change)."""
        parts: list[str] = []
        last = 0
        for match in self.find(text):
            parts.append(text[last:match.start])
            parts.append(match.expansion)
            last = match.end
        parts.append(text[last:])
        return "".join(parts)
