"""Section detection: headers and their variants, each with a coding weight.

Headers come from a versioned data file (``resources/en/section_patterns.json``).
A header is recognised when it:

- starts a line, follows a sentence end (". A/P: ...") or a run of two spaces
  (flattened notes), and is followed by ``:`` or `` - ``  ("Assessment and
  Plan:", "A/P:", "HPI -"), matched case-insensitively; or
- stands alone on an all-caps line ("PHYSICAL EXAMINATION"); or
- is written in capitals and followed by ``:`` anywhere after white space
  (flattened notes: "ALLERGIES: NKDA MEDICATIONS: aspirin").

A section runs from its header to the next header (or the end of the text).
Text before the first header belongs to no section.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from codeproof.errors import NlpResourceError
from codeproof.model import Section
from codeproof.nlp.context import trie_regex

__all__ = ["SectionDefinition", "SectionDetector", "section_at"]


class _SectionAssertion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    historical: bool = False
    hypothetical: bool = False
    experiencer: str = "patient"


class SectionDefinition(BaseModel):
    """One canonical section: its name, coding weight, headers and assertion defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    weight: float
    headers: tuple[str, ...]
    assertion: _SectionAssertion = _SectionAssertion()


class _SectionsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: str
    description: str = ""
    sections: tuple[SectionDefinition, ...]


@dataclass(frozen=True, slots=True)
class _Hit:
    start: int
    header_end: int
    body_start: int
    header: str
    definition: SectionDefinition


def _norm(header: str) -> str:
    return " ".join(header.lower().split())


class SectionDetector:
    """Finds section headers in a text (see module docstring for the rules)."""

    def __init__(self, definitions: tuple[SectionDefinition, ...], *, name: str = "custom",
                 version: str = "0") -> None:
        self.definitions = definitions
        self.name = name
        self.version = version
        self._by_header: dict[str, SectionDefinition] = {}
        for definition in definitions:
            for header in definition.headers:
                self._by_header.setdefault(_norm(header), definition)
        self._by_name = {d.name: d for d in definitions}
        alternation = trie_regex(sorted(self._by_header))
        self._colon = re.compile(
            rf"(?:^|(?<=[.!?;])|(?<=\s\s)|(?<=[.!?;]\s))[ \t]*(?P<h>{alternation})"
            r"(?:\s*\(s\))?(?P<sep>\s*:|[ \t]+-[ \t])",
            re.IGNORECASE | re.MULTILINE,
        )
        self._caps_inline = re.compile(rf"(?<=\s)(?P<h>{alternation})(?:\s*\(S\))?\s*:",
                                       re.IGNORECASE)
        self._caps_line = re.compile(rf"^[ \t]*(?P<h>{alternation})[ \t]*$",
                                     re.IGNORECASE | re.MULTILINE)

    @classmethod
    def default(cls) -> SectionDetector:
        """The detector with the packaged English headers."""
        name, version, definitions = load_section_patterns()
        return cls(definitions, name=name, version=version)

    def definition(self, name: str) -> SectionDefinition | None:
        """The definition of the canonical section ``name`` (None when unknown)."""
        return self._by_name.get(name)

    def _hits(self, text: str) -> list[_Hit]:
        hits: dict[int, _Hit] = {}
        for match in self._colon.finditer(text):
            header = match.group("h")
            hits[match.start("h")] = _Hit(match.start("h"), match.end("h"), match.end(),
                                          header, self._by_header[_norm(header)])
        for match in self._caps_line.finditer(text):
            header = match.group("h")
            if header.upper() != header or len(header) < 4 or match.start("h") in hits:
                continue
            hits[match.start("h")] = _Hit(match.start("h"), match.end("h"), match.end(),
                                          header, self._by_header[_norm(header)])
        for match in self._caps_inline.finditer(text):
            header = match.group("h")
            # Flattened all-caps notes: "ALLERGIES: NKDA MEDICATIONS: aspirin".
            if header.upper() != header or not header[:1].isalpha() or any(
                hit.start <= match.start("h") < hit.body_start for hit in hits.values()
            ):
                continue
            hits[match.start("h")] = _Hit(match.start("h"), match.end("h"), match.end(),
                                          header, self._by_header[_norm(header)])
        return [hits[k] for k in sorted(hits)]

    def detect(self, text: str, *, note_id: str = "") -> tuple[Section, ...]:
        """Sections of ``text`` in order; offsets index ``text``."""
        hits = self._hits(text)
        sections: list[Section] = []
        for i, hit in enumerate(hits):
            end = hits[i + 1].start if i + 1 < len(hits) else len(text)
            body_end = end
            while body_end > hit.body_start and text[body_end - 1].isspace():
                body_end -= 1
            sections.append(Section(
                note_id=note_id,
                name=hit.definition.name,
                header=text[hit.start:hit.header_end],
                start=hit.start,
                end=max(body_end, hit.body_start),
                body_start=hit.body_start,
                weight=hit.definition.weight,
            ))
        return tuple(sections)


def section_at(sections: tuple[Section, ...] | list[Section], offset: int) -> Section | None:
    """The section whose span ``[start, end)`` contains ``offset`` (None outside all)."""
    found: Section | None = None
    for section in sections:
        if section.start <= offset < max(section.end, section.body_start + 1):
            found = section
        elif section.start > offset:
            break
    return found


def load_section_patterns(
    path: Path | None = None,
) -> tuple[str, str, tuple[SectionDefinition, ...]]:
    """Load and validate a section patterns file; returns ``(name, version, sections)``."""
    try:
        if path is None:
            raw = (resources.files("codeproof.nlp") / "resources" / "en" / "section_patterns.json"
                   ).read_text(encoding="utf-8")
            where = "section_patterns.json"
        else:
            raw = Path(path).read_text(encoding="utf-8")
            where = str(path)
        data = _SectionsFile.model_validate(json.loads(raw))
    except (OSError, json.JSONDecodeError, ValidationError) as exc:
        raise NlpResourceError(f"invalid section patterns file {where}: {type(exc).__name__}",
                               resource="section_patterns") from exc
    return data.name, data.version, data.sections
