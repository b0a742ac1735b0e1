"""PDF audit report per encounter, rendered from the package dict with WeasyPrint.

The report holds what a compliance auditor checks: the encounter header and
routing, a table of codes (confidence, routing, audit sample), and per code its
evidence excerpts (with surrounding context when the note texts are supplied),
its justification statements with their citations, the writer and verifier that
produced them, the rule findings about it and any drafted CDI query; then all
rule results, the versions of everything, the pipeline stages and the
audit-chain hash. WeasyPrint is the optional extra ``pdf``; without it
:func:`render_pdf` raises :class:`~codeproof.errors.BackendUnavailable`.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from codeproof.errors import BackendUnavailable
from codeproof.model import sha256_text

__all__ = ["is_available", "notes_by_digest", "render_pdf", "report_html"]

logger = logging.getLogger(__name__)

_CONTEXT = 80

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>codeproof audit report {{ p.encounter_id }}</title>
<style>
@page { size: A4; margin: 16mm 14mm; @bottom-right { content: "page " counter(page)
  " of " counter(pages); font-size: 8pt; color: #555; }
  @bottom-left { content: "codeproof audit report - {{ p.encounter_id }}"; font-size: 8pt;
  color: #555; } }
body { font-family: sans-serif; font-size: 9.5pt; color: #111; }
h1 { font-size: 15pt; margin: 0 0 4pt; } h2 { font-size: 12pt; margin: 14pt 0 4pt;
  border-bottom: 1px solid #999; } h3 { font-size: 10.5pt; margin: 10pt 0 3pt; }
table { border-collapse: collapse; width: 100%; margin: 4pt 0; }
th, td { border: 1px solid #bbb; padding: 2pt 4pt; text-align: left; vertical-align: top; }
th { background: #eee; } .mono { font-family: monospace; font-size: 8.5pt; word-break: break-all; }
mark { background: #ffe58a; } .ctx { color: #555; } .muted { color: #666; }
.r-auto_finalize { color: #0a6b2a; } .r-coder_review { color: #8a5a00; }
.r-cdi_query { color: #a11; } pre { white-space: pre-wrap; font-size: 8.5pt;
  background: #f6f6f6; padding: 4pt; border: 1px solid #ddd; }
.code { page-break-inside: avoid; }
</style></head><body>
<h1>Coding audit report &mdash; encounter {{ p.encounter_id }}</h1>
<table>
<tr><th>Tenant / region</th><td>{{ p.tenant }} / {{ p.region }}</td>
    <th>Setting</th><td>{{ p.setting }}{% if p.specialty %} ({{ p.specialty }}){% endif %}</td></tr>
<tr><th>Created</th><td>{{ p.created_at }}</td><th>Date of service</th>
    <td>{{ p.date_of_service or "not stated" }}</td></tr>
<tr><th>Payer</th><td>{{ p.payer or "not stated" }}</td><th>De-identified</th>
    <td>{{ "yes" if p.deidentified else "no" }}</td></tr>
<tr><th>Encounter routing</th><td colspan="3" class="r-{{ routing.encounter }}">
    <b>{{ routing.encounter }}</b> &mdash; {{ routing.reason }}</td></tr>
<tr><th>Audit-chain hash</th><td colspan="3" class="mono">{{ chain_head }}</td></tr>
</table>

<h2>Codes</h2>
<table><tr><th>#</th><th>System</th><th>Code</th><th>Description</th><th>Confidence</th>
<th>Routing</th><th>Audit sample</th></tr>
{% for c in p.codes %}<tr><td>{{ c.sequence or "" }}</td><td>{{ c.system }}</td>
<td><b>{{ c.code }}</b></td><td>{{ c.description }}</td>
<td>{{ "%.2f"|format(c.confidence) }}</td>
<td class="r-{{ c.routing }}">{{ c.routing }}</td>
<td>{{ "yes" if c.audit_sample else "no" }}</td></tr>
{% else %}<tr><td colspan="7">No codes were assigned.</td></tr>{% endfor %}
</table>

{% for c in p.codes %}<div class="code">
<h3>{{ c.system }} {{ c.code }} &mdash; {{ c.description }}</h3>
<p><b>Confidence</b> {{ "%.2f"|format(c.confidence) }} &middot; <b>routing</b>
<span class="r-{{ c.routing }}">{{ c.routing }}</span> ({{ c.routing_reason }})</p>
<p><b>Evidence</b></p>
<table><tr><th>Note</th><th>Offsets</th><th>Excerpt</th></tr>
{% for e in c.evidence %}<tr><td>{{ e.note_id }}</td><td>{{ e.start }}&ndash;{{ e.end }}</td>
<td>{% set x = excerpt(e) %}<span class="ctx">{{ x[0] }}</span><mark>{{ e.quote }}</mark><span
 class="ctx">{{ x[1] }}</span></td></tr>
{% else %}<tr><td colspan="3" class="muted">No verbatim evidence span.</td></tr>{% endfor %}
</table>
{% if c.justification %}<p><b>Justification</b> <span class="muted">(writer
{{ c.justification.writer }}; verifier {{ c.justification.verifier }};
grounded: {{ "yes" if c.justification.grounded else "NO" }}; rejected drafts:
{{ c.justification.rejected_drafts }})</span></p>
<ol>{% for s in c.justification.statements %}<li>{{ s.text }}{% if s.citations %}
 <span class="muted">[{{ s.citations|join("; ") }}]</span>{% endif %}{% if s.evidence %}
 <span class="muted">[evidence {% for e in s.evidence %}{{ e.note_id }}:{{ e.start
 }}-{{ e.end }}{% if not loop.last %}, {% endif %}{% endfor %}]</span>{% endif %}</li>
{% endfor %}</ol>{% endif %}
{% if c.guideline_refs %}<p><b>Guideline citations</b>: {{ c.guideline_refs|join("; ") }}</p>
{% endif %}
{% if c.findings %}<p><b>Rule findings</b>: {{ c.findings|join(", ") }}</p>{% endif %}
{% if c.cdi_query %}<p><b>Drafted physician query</b></p><pre>{{ c.cdi_query }}</pre>{% endif %}
</div>{% endfor %}

{% if routing.encounter == "cdi_query" and enc_query %}<h2>Encounter CDI query</h2>
<pre>{{ enc_query }}</pre>{% endif %}

<h2>Rule results</h2>
<table><tr><th>Rule</th><th>Severity</th><th>Codes</th><th>Message</th><th>Pack</th>
<th>Citation</th><th>Fix</th></tr>
{% for f in p.findings %}<tr><td>{{ f.rule_id }}{% if f.blocking %} <b>(blocking)</b>
{% endif %}</td>
<td>{{ f.severity }}</td><td>{{ f.codes|join(", ") }}</td><td>{{ f.message }}</td>
<td>{{ f.pack }} {{ f.pack_version }}</td><td>{{ f.citation }}</td><td>{{ f.fix }}</td></tr>
{% else %}<tr><td colspan="7">No rule findings.</td></tr>{% endfor %}
</table>

<h2>Versions</h2>
<table>{% for k, v in versions %}<tr><th>{{ k }}</th><td class="mono">{{ v }}</td></tr>{% endfor %}
</table>

<h2>Pipeline stages</h2>
<table><tr><th>Stage</th><th>Input digest</th><th>Output digest</th><th>ms</th></tr>
{% for s in p.stages %}<tr><td>{{ s.stage }}</td><td class="mono">{{ s.input_digest[:16] }}</td>
<td class="mono">{{ s.output_digest[:16] }}</td><td>{{ s.duration_ms }}</td></tr>
{% else %}<tr><td colspan="4">No stage records.</td></tr>{% endfor %}
</table>

<h2>Source</h2>
<table><tr><th>Format</th><td>{{ p.source.format }}</td></tr>
<tr><th>SHA-256</th><td class="mono">{{ p.source.sha256 }}</td></tr>
{% for n in p.notes %}<tr><th>Note {{ n.id }}</th><td class="mono">{{ n.length }} chars,
sha256 {{ n.sha256 }}</td></tr>{% endfor %}
</table>
</body></html>
"""


def is_available() -> bool:
    """True when WeasyPrint is importable."""
    return importlib.util.find_spec("weasyprint") is not None


def report_html(package: Mapping[str, Any], *,
                notes: Mapping[str, str] | None = None) -> str:
    """The report as HTML (what :func:`render_pdf` prints); autoescaped."""
    import jinja2

    texts = dict(notes or {})

    def excerpt(evidence: Mapping[str, Any]) -> tuple[str, str]:
        text = texts.get(str(evidence.get("note_id")))
        start, end = int(evidence.get("start", 0)), int(evidence.get("end", 0))
        if text is None or text[start:end] != evidence.get("quote"):
            return ("", "")  # no note, or a quote that does not match: show the quote only
        before = text[max(0, start - _CONTEXT):start]
        after = text[end:end + _CONTEXT]
        return ((" ..." if start > _CONTEXT else "") + before,
                after + ("... " if end + _CONTEXT < len(text) else ""))

    routing = dict(package.get("routing") or {})
    queries = routing.get("cdi_queries") or []
    env = jinja2.Environment(autoescape=True, undefined=jinja2.ChainableUndefined)
    return env.from_string(_TEMPLATE).render(
        p=package, routing=routing, excerpt=excerpt,
        chain_head=(package.get("audit") or {}).get("chain_head") or "not recorded",
        versions=sorted((package.get("versions") or {}).items()),
        enc_query=next((q.get("query") for q in queries if not q.get("code")), ""),
    )


def render_pdf(package: Mapping[str, Any], *, notes: Mapping[str, str] | None = None) -> bytes:
    """Render the audit report of ``package`` as PDF bytes."""
    if not is_available():
        raise BackendUnavailable("PDF reports need WeasyPrint; pip install 'codeproof[pdf]'")
    import weasyprint

    html = report_html(package, notes=notes)
    logger.info("rendering PDF report for encounter %s", package.get("encounter_id"))
    pdf: bytes = weasyprint.HTML(string=html).write_pdf()
    return pdf


def notes_by_digest(package: Mapping[str, Any], paths: Iterable[Path]) -> dict[str, str]:
    """Map the package's note ids to texts read from ``paths`` (files or folders).

    A file is used only when the SHA-256 of its text equals a note digest recorded
    in the package, so a report never shows text from the wrong document.
    """
    wanted = {str(n.get("sha256")): str(n.get("id")) for n in package.get("notes") or []}
    found: dict[str, str] = {}
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir()
                     else [path])
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        note_id = wanted.get(sha256_text(text))
        if note_id is not None:
            found[note_id] = text
    return found
