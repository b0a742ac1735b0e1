"""Batch assertion over JSON lines: the library behind ``codeproof assert``.

Each input line is ``{"id", "text", "target"}``; each output is either an
answer ``{"id", "negated", "historical", "hypothetical", "uncertain",
"experiencer"}`` or an error ``{"id", "line", "code", "error", "message"}``
with a stable error code. A bad line never stops the batch.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator
from typing import Any

from codeproof.errors import InvalidAssertLine, MissingAssertField, NlpError
from codeproof.nlp.engine import NlpEngine, find_target

__all__ = ["annotate_document", "assert_record", "assert_records"]


def assert_record(record: Any, engine: NlpEngine, *, explain: bool = False) -> dict[str, Any]:
    """Answer one parsed record; raises an :class:`NlpError` subclass when it is bad."""
    if not isinstance(record, dict):
        raise InvalidAssertLine("line is not a JSON object")
    missing = [k for k in ("id", "text", "target") if k not in record]
    if missing:
        raise MissingAssertField(f"missing field(s): {', '.join(missing)}", missing=missing)
    text, target = record["text"], record["target"]
    if not isinstance(text, str) or not isinstance(target, str) or not target.strip():
        raise MissingAssertField("'text' and 'target' must be non-empty strings")
    start, end = find_target(text, target)
    assertion = engine.assert_span(text, start, end)
    answer: dict[str, Any] = {
        "id": record["id"],
        "negated": assertion.negated,
        "historical": assertion.historical,
        "hypothetical": assertion.hypothetical,
        "uncertain": assertion.uncertain,
        "experiencer": assertion.experiencer,
    }
    if explain:
        answer["conditional"] = assertion.conditional
        answer["span"] = [start, end]
        answer["cues"] = [[c.start, c.end, c.quote] for c in assertion.cues]
    return answer


def assert_records(lines: Iterable[str], engine: NlpEngine, *,
                   explain: bool = False) -> Iterator[tuple[dict[str, Any], bool]]:
    """Yield ``(output object, ok)`` for every non-blank input line, in order."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        record: Any = None
        try:
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidAssertLine(f"invalid JSON at column {exc.colno}") from exc
            yield assert_record(record, engine, explain=explain), True
        except NlpError as exc:
            ident = record.get("id") if isinstance(record, dict) else None
            yield {"id": ident, "line": number, "code": exc.code,
                   "error": type(exc).__name__, "message": exc.message}, False


def annotate_document(text: str, engine: NlpEngine, *, note_id: str = "note") -> dict[str, Any]:
    """Sections, sentence count and annotated mentions of one text, JSON-ready."""
    sections = engine.sections(text, note_id=note_id)
    sentences = engine.sentences(text, sections=sections)
    mentions = engine.annotate(
        engine.mentions(text, note_id=note_id, sections=sections, sentences=sentences),
        text, sentences=sentences, sections=sections)
    return {
        "note_id": note_id,
        "versions": engine.versions,
        "sections": [{"name": s.name, "header": s.header, "start": s.start, "end": s.end,
                      "body_start": s.body_start, "weight": s.weight} for s in sections],
        "sentences": len(sentences),
        "mentions": [{
            "id": m.id, "start": m.start, "end": m.end, "text": m.text, "kind": m.kind,
            "normalized": m.normalized, "section": m.section,
            "section_weight": m.section_weight,
            "assertion": {**{k: v for k, v in dataclasses.asdict(m.assertion).items()
                             if k != "cues"},
                          "cues": [[c.start, c.end, c.quote] for c in m.assertion.cues]},
            "attributes": dataclasses.asdict(m.attributes),
        } for m in mentions],
    }
