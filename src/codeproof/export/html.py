"""HTML rendering of a package: the note with every code's evidence highlighted.

The note text is HTML-escaped; each evidence span becomes a ``<mark>`` whose
``data-codes`` lists the codes it supports, and clicking a code highlights and
scrolls to its evidence. Overlapping spans are split into segments so every
character is marked with the set of codes that cite it.
"""

from __future__ import annotations

import html
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from codeproof.model import Note

__all__ = ["highlight_note", "render_html"]


@cache
def _env() -> Environment:
    return Environment(loader=PackageLoader("codeproof.export", "templates"),
                       autoescape=select_autoescape(["html", "j2"]))


def highlight_note(text: str, spans: list[tuple[int, int, str]]) -> str:
    """Escape ``text`` and wrap each ``(start, end, label)`` span in ``<mark>``."""
    bounds = {0, len(text)}
    for start, end, _ in spans:
        bounds.update((max(0, start), min(len(text), end)))
    points = sorted(bounds)
    out: list[str] = []
    for a, b in zip(points, points[1:], strict=False):
        labels = sorted({label for s, e, label in spans if s <= a and b <= e})
        chunk = html.escape(text[a:b])
        if labels:
            out.append(f'<mark data-codes="{html.escape(" ".join(labels))}">{chunk}</mark>')
        else:
            out.append(chunk)
    return "".join(out)


def render_html(package: dict[str, Any], notes: list[Note] | dict[str, str]) -> str:
    """Render ``package`` with its notes' text (the package itself holds no note text)."""
    texts = {n.id: n.text for n in notes} if isinstance(notes, list) else dict(notes)
    spans: dict[str, list[tuple[int, int, str]]] = {k: [] for k in texts}
    for code in package.get("codes", []):
        label = f"{code['system']}:{code['code']}"
        for ev in code.get("evidence", []):
            if ev["note_id"] in spans:
                spans[ev["note_id"]].append((ev["start"], ev["end"], label))
    rendered = [
        {"id": meta["id"], "sha256": meta["sha256"],
         "html": highlight_note(texts.get(meta["id"], ""), spans.get(meta["id"], []))}
        for meta in package.get("notes", [])
    ]
    return _env().get_template("package.html.j2").render(package=package, notes=rendered)
