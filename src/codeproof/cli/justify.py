"""``codeproof kb ...`` (knowledge base) and ``codeproof report`` (PDF / FHIR renderings)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from codeproof.config import load_settings
from codeproof.errors import MalformedInput

__all__ = ["register"]


def _settings(dense: str | None = None) -> Any:
    settings = load_settings()
    if dense is not None and dense not in {"auto", "on", "off"}:
        raise typer.BadParameter(f"--dense must be auto, on or off, not {dense!r}")
    if dense is not None:
        settings = settings.model_copy(
            update={"justify": settings.justify.model_copy(update={"kb_dense": dense})})
    return settings


def _print_manifest(manifest: dict[str, Any]) -> None:
    for key in ("corpus_version", "records", "kinds", "guidelines_version", "policies",
                "dense_model", "vectorstore", "codes", "codes_version"):
        typer.echo(f"{key:<20} {manifest.get(key)}")


def _read_package(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MalformedInput(f"cannot read package {path.name}: {type(exc).__name__}",
                             file=path.name) from exc
    if not isinstance(data, dict) or "encounter_id" not in data:
        raise MalformedInput(f"{path.name} is not a codeproof package", file=path.name)
    return data


def register(app: typer.Typer) -> None:
    """Add ``kb`` (build, add-policy, add-cases, search, status) and ``report``."""
    kb_app = typer.Typer(help="The justification knowledge base (guidelines, payer policies, "
                              "past cases, code-level tabular knowledge).",
                         no_args_is_help=True)
    app.add_typer(kb_app, name="kb")

    @kb_app.command("build")
    def kb_build(
        codes: bool = typer.Option(True, "--codes/--no-codes",
                                   help="Also index code-level tabular knowledge from the "
                                        "terminology store (builds it when missing)."),
        dense: str = typer.Option(None, "--dense", help="auto|on|off (default: "
                                                        "justify.kb_dense)."),
    ) -> None:
        """(Re)build the knowledge base; payer policies and cases already added are kept."""
        from codeproof.justify.kb import build_kb
        from codeproof.runtime import Runtime

        settings = _settings(dense)
        terminology = Runtime(settings).terminology if codes else None
        _print_manifest(build_kb(settings, terminology=terminology))

    @kb_app.command("add-policy")
    def kb_add_policy(
        file: Path = typer.Argument(..., exists=True, dir_okay=False,
                                    help="Policy document: .txt, .md, .html or .pdf."),
        payer: str = typer.Option(..., "--payer", help="Payer name, e.g. 'Medicare'."),
        title: str = typer.Option(None, "--title", help="Document title (default: file "
                                                        "stem)."),
        dense: str = typer.Option(None, "--dense", help="auto|on|off."),
    ) -> None:
        """Add or replace one payer policy document (incremental: only it is embedded)."""
        from codeproof.justify.kb import add_policy

        manifest, added = add_policy(_settings(dense), file, payer=payer, title=title)
        typer.echo(f"added {added} passages from {file.name} for payer {payer}")
        _print_manifest(manifest)

    @kb_app.command("add-cases")
    def kb_add_cases(
        inputs: list[Path] = typer.Argument(..., exists=True,
                                            help="Package JSON files or folders of them."),
        dense: str = typer.Option(None, "--dense", help="auto|on|off."),
    ) -> None:
        """Add past coded encounters (codes and decisions, never note text) as cases."""
        from codeproof.justify.kb import add_cases

        paths: list[Path] = []
        for item in inputs:
            paths.extend(sorted(item.glob("*.json")) if item.is_dir() else [item])
        manifest, added = add_cases(_settings(dense), (_read_package(p) for p in paths))
        typer.echo(f"added {added} cases")
        _print_manifest(manifest)

    @kb_app.command("search")
    def kb_search(
        query: str = typer.Argument(..., help="Free-text question, e.g. 'history of "
                                              "breast cancer no current treatment'."),
        k: int = typer.Option(5, "--k", "-k", min=1, help="Number of results."),
        kind: str = typer.Option(None, "--kind",
                                 help="guideline|policy|case|code (default: all but code)."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON lines."),
    ) -> None:
        """Hybrid (BM25 + dense) search of the knowledge base."""
        from codeproof.justify.kb import load_kb

        kb = load_kb(_settings())
        if kind == "code":
            if kb.codes is None:
                typer.echo("no code index: run 'codeproof kb build'", err=True)
                raise typer.Exit(1)
            for code, text, score in kb.codes.search(query, k=k):
                typer.echo(json.dumps({"code": code, "text": text, "score": round(score, 4)})
                           if as_json else f"{score:7.3f}  {code:<8} {text}")
            return
        for hit in kb.search(query, k=k, kinds=(kind,) if kind else None):
            record = hit.record
            if as_json:
                typer.echo(json.dumps({"citation": record.citation, "id": record.id,
                                       "kind": record.kind, "title": record.title,
                                       "score": hit.score, "via": list(hit.via)}))
            else:
                typer.echo(f"{hit.score:.4f}  {record.citation}  {record.title}  "
                           f"[{'+'.join(hit.via)}]")

    @kb_app.command("status")
    def kb_status() -> None:
        """Print the knowledge base manifest (corpus versions, counts, dense model)."""
        from codeproof.justify.kb import kb_dir

        path = kb_dir(_settings()) / "manifest.json"
        if not path.exists():
            typer.echo("no knowledge base built; the built-in guidelines are used "
                       "(run 'codeproof kb build')")
            return
        _print_manifest(json.loads(path.read_text(encoding="utf-8")))

    @app.command("report")
    def report(
        package: Path = typer.Argument(..., exists=True, dir_okay=False,
                                       help="A codeproof package JSON file."),
        pdf: Path = typer.Option(None, "--pdf", help="Write the PDF audit report here."),
        fhir: Path = typer.Option(None, "--fhir", help="Write the FHIR R4 Bundle (Claim + "
                                                       "Provenance) here."),
        notes: list[Path] = typer.Option(None, "--notes",
                                         help="Note files or folders for evidence context "
                                              "(matched to the package by SHA-256)."),
    ) -> None:
        """Render a package as a PDF audit report and/or a FHIR R4 Bundle."""
        from codeproof.export.fhir import package_to_fhir
        from codeproof.export.pdf import notes_by_digest, render_pdf

        if pdf is None and fhir is None:
            raise typer.BadParameter("give --pdf and/or --fhir")
        data = _read_package(package)
        if fhir is not None:
            fhir.parent.mkdir(parents=True, exist_ok=True)
            fhir.write_text(json.dumps(package_to_fhir(data), indent=2), encoding="utf-8")
            typer.echo(f"wrote {fhir}")
        if pdf is not None:
            texts = notes_by_digest(data, notes or [])
            pdf.parent.mkdir(parents=True, exist_ok=True)
            pdf.write_bytes(render_pdf(data, notes=texts))
            typer.echo(f"wrote {pdf} ({len(texts)} of {len(data.get('notes') or [])} notes "
                       "matched for context)")
