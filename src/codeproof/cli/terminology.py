"""``codeproof terminology build``, ``codeproof lookup`` and ``codeproof eval-data synthetic``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from codeproof.config import load_settings

__all__ = ["register"]

terminology_app = typer.Typer(help="Compile and inspect the reference code sets.",
                              no_args_is_help=True)
eval_data_app = typer.Typer(help="Generate evaluation data sets.", no_args_is_help=True)


def _reference_dir(reference_dir: Path | None) -> Path:
    return reference_dir if reference_dir is not None else load_settings().reference_path


@terminology_app.command("build")
def build(
    icd11_dir: Path | None = typer.Option(
        None, "--icd11-dir", exists=True, file_okay=False,
        help="Folder with the WHO ICD-10 -> ICD-11 tables (10To11MapToOneCategory.txt, "
             "optional 10To11MapToMultipleCategories.xlsx)."),
    cpt_file: Path | None = typer.Option(
        None, "--cpt-file", exists=True, dir_okay=False,
        help="Licensed CPT file: code<TAB>descriptor per line (never shipped)."),
    hcpcs_file: Path | None = typer.Option(
        None, "--hcpcs-file", exists=True, dir_okay=False,
        help="CMS HCPCS Level II file (fixed 'HCPC' layout) or code<TAB>short descriptor."),
    reference_dir: Path | None = typer.Option(
        None, "--reference-dir", help="Where to write the store (default: settings "
                                      "reference_dir, else <home>/reference)."),
) -> None:
    """Compile ICD-10-CM FY2026, ICD-10-PCS, ICD-11 (and optional CPT/HCPCS) into the store."""
    from codeproof.coding.codesets import build_terminology, load_terminology

    target = _reference_dir(reference_dir)
    folder = build_terminology(target, icd11_dir=icd11_dir, cpt_file=cpt_file,
                               hcpcs_file=hcpcs_file)
    with load_terminology(target) as terminology:
        versions = terminology.versions
    typer.echo(f"built {folder}")
    for key in sorted(versions):
        typer.echo(f"  {key}: {versions[key]}")
    from codeproof.coding.dense import ensure_static_table

    ready = ensure_static_table(target)  # the coder's dense features (built once, cached)
    typer.echo(f"  coding.dense: {'static MiniLM table cached' if ready else 'unavailable'}")


@terminology_app.command("versions")
def versions(
    reference_dir: Path | None = typer.Option(None, "--reference-dir",
                                              help="Store location (default from settings)."),
) -> None:
    """Print the versions recorded in the compiled store (does not build)."""
    from codeproof.coding.codesets import load_terminology

    with load_terminology(_reference_dir(reference_dir)) as terminology:
        for key in sorted(terminology.versions):
            typer.echo(f"{key}: {terminology.versions[key]}")


def lookup(
    code: str = typer.Argument(..., help="A code: E11.9, e119, 0DTJ4ZZ, 1A00, 99213..."),
    system: str | None = typer.Option(
        None, "--system", help="ICD-10-CM, ICD-10-PCS, ICD-11, CPT or HCPCS (default: infer)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
    reference_dir: Path | None = typer.Option(None, "--reference-dir",
                                              help="Store location (default from settings)."),
) -> None:
    """Print a code with its hierarchy, notes (own and inherited), 7th characters and ICD-11."""
    from codeproof.coding.codesets import load_terminology
    from codeproof.coding.codesets.describe import describe_code

    with load_terminology(_reference_dir(reference_dir), build_if_missing=True) as terminology:
        data = describe_code(terminology, code, system)
    if as_json:
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    for line in render_lookup(data):
        typer.echo(line)


_NOTE_LABELS = {
    "inclusion_terms": "Inclusion terms",
    "includes": "Includes",
    "excludes1": "Excludes1",
    "excludes2": "Excludes2",
    "code_first": "Code first",
    "use_additional": "Use additional code",
    "code_also": "Code also",
    "notes": "Notes",
}


def render_lookup(data: dict[str, Any]) -> list[str]:
    """Render :func:`describe_code` output as the text ``codeproof lookup`` prints."""
    lines = [f"{data['code']}  {data['title'] or '(no descriptor)'}",
             f"  system: {data['system']} ({data['version']})",
             f"  kind: {data['kind']}   billable: {'yes' if data['billable'] else 'no'}"]
    if data.get("notice"):
        lines.append(f"  {data['notice']}")
        return lines
    ancestors = data.get("ancestors", [])
    if ancestors:
        lines.append("  hierarchy:")
        for depth, node in enumerate(reversed(ancestors)):
            lines.append(f"    {'  ' * depth}{node['kind']} {node['code']}  {node['title']}")
        lines.append(f"    {'  ' * len(ancestors)}> {data['code']}")
    children = data.get("children", [])
    if children:
        lines.append(f"  children ({len(children)}):")
        for child in children:
            mark = "" if child["billable"] else "  [header]"
            lines.append(f"    {child['code']}  {child['title']}{mark}")
    for kind, notes in data.get("notes", {}).items():
        lines.append(f"  {_NOTE_LABELS.get(kind, kind)}:")
        for note in notes:
            where = (f"inherited from {note['source_kind']} {note['source']}"
                     if note["inherited"] else "own")
            refs = f"  -> {', '.join(note['codes'])}" if note["codes"] else ""
            lines.append(f"    - {note['text']}  [{where}]{refs}")
    if data.get("seventh_characters"):
        source = data.get("seventh_character_source")
        need = "required" if data.get("requires_seventh") else "applied"
        lines.append(f"  7th characters ({need}; defined at {source}):")
        for item in data["seventh_characters"]:
            lines.append(f"    {item['char']}  {item['meaning']}")
    if data["system"] == "ICD-11" and data.get("icd10cm_sources_total"):
        shown = data["icd10cm_sources"]
        more = data["icd10cm_sources_total"] - len(shown)
        lines.append(f"  mapped from ICD-10-CM ({data['icd10cm_sources_total']} billable codes): "
                     + ", ".join(shown) + (f" (+{more} more)" if more > 0 else ""))
    if data["system"] == "ICD-10-CM":
        targets = data.get("icd11", [])
        if not targets:
            lines.append(f"  ICD-11: not built ({data.get('icd11_map', 'absent')})")
        for target in targets:
            if target["ambiguity"] == "none":
                via = f" via {target['via']}" if target["via"] else ""
                lines.append(f"  ICD-11: none (no WHO ICD-11 target{via})")
            else:
                lines.append(f"  ICD-11: {target['code']}  {target['title']}  "
                             f"[{target['ambiguity']} via {target['via']}]")
    return lines


@eval_data_app.command("synthetic")
def synthetic(
    n: int = typer.Option(100, "--n", min=1, help="Number of encounter notes."),
    seed: int = typer.Option(7, "--seed", help="Random seed (same seed, same files)."),
    out: Path = typer.Option(..., "--out", help="Output folder (text/<id>.txt + gold.tsv)."),
) -> None:
    """Write N synthetic US encounter notes with gold ICD-10-CM codes (clinosim)."""
    from codeproof.evalsets.synthetic import write_synthetic_set

    summary = write_synthetic_set(out, n=n, seed=seed)
    typer.echo(f"wrote {summary.notes} notes and {summary.codes} gold codes to {out}")


def register(app: typer.Typer) -> None:
    """Attach ``terminology``, ``lookup`` and ``eval-data`` to the root app."""
    app.add_typer(terminology_app, name="terminology")
    app.command("lookup")(lookup)
    app.add_typer(eval_data_app, name="eval-data")
