"""``codeproof validate`` and ``codeproof rules ...``: compliance validation commands."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date
from pathlib import Path

import typer

from codeproof.errors import ConfigError
from codeproof.model import Report, RuleFinding

__all__ = ["register", "summary_line"]


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"--date {value!r} is not YYYY-MM-DD") from None


def _print_findings(findings: tuple[RuleFinding, ...]) -> None:
    for item in findings:
        codes = ",".join(item.codes) or "-"
        block = " BLOCKING" if item.blocking else ""
        typer.echo(f"{item.severity.upper():<7} {item.rule_id}{block}  [{codes}]")
        typer.echo(f"        {item.message}")
        source = " ".join(x for x in (item.pack, item.pack_version) if x)
        if source or item.citation:
            typer.echo(f"        source: {source}{' - ' if source and item.citation else ''}"
                       f"{item.citation}")
        if item.fix:
            typer.echo(f"        fix: {item.fix}")


def summary_line(report: Report) -> str:
    """One human line for a ``drg`` / ``hcc`` / ``em_level`` report."""
    data = json.loads(report.data)
    if report.name == "drg":
        if not data.get("grouped"):
            return f"ungroupable (return code {data.get('return_code')})"
        weight = data.get("weight")
        shown = f"weight {weight:.4f}" if isinstance(weight, int | float) else (
            f"weight n/a ({data.get('weight_status')})")
        cc = ", ".join(f"{c['code']} {c['level']} {c['effect']}" for c in data["cc_mcc"])
        mce = data.get("mce") or {}
        return (f"MS-DRG {data['drg']} {data['description']} (MDC {data['mdc']}, "
                f"{data['grouper_version']}); {shown}; CC/MCC: {cc or 'none'}; "
                f"MCE edits: {mce.get('edits', 'not run')}")
    if report.name == "hcc":
        hccs = ", ".join(f"HCC {h['hcc']} [{h['meat']}]" for h in data["hccs"]) or "none"
        return (f"RAF {data['raf']:.3f} (demographic {data['raf_parts']['demographic']:.3f}, "
                f"disease {data['raf_parts']['disease']:.3f}; PY{data['payment_year']}); "
                f"{hccs}")
    if report.name == "em_level":
        e = data["elements"]
        return (f"suggested {data['suggested_code']} ({data['patient']}, MDM {data['mdm']}: "
                f"problems {e['problems']['level']}, data {e['data']['level']}, "
                f"risk {e['risk']['level']})")
    return report.producer


def register(app: typer.Typer) -> None:
    """Add ``validate`` and the ``rules`` group to the root app."""
    rules_app = typer.Typer(help="Compliance rule packs: list, check, group.",
                            no_args_is_help=True)
    app.add_typer(rules_app, name="rules")

    @app.command("validate")
    def validate(
        package: Path = typer.Argument(..., exists=True, dir_okay=False,
                                       help="A codeproof.package/v1 JSON file."),
        payer: str = typer.Option(None, "--payer", help="Payer whose packs apply "
                                  "(medicare, medicaid:CA, a commercial name). "
                                  "Default: the package's payer, else rules.payer."),
        on: str = typer.Option(None, "--date", help="Evaluate as of YYYY-MM-DD "
                               "(default: the date of service)."),
        note: list[Path] = typer.Option([], "--note", exists=True, dir_okay=False,
                                        help="Note text file(s); matched to the package "
                                        "by SHA-256 (enables MEAT, E/M and CDI checks)."),
        family: list[str] = typer.Option([], "--family", help="Run only these rule "
                                         "families (repeatable)."),
        as_json: bool = typer.Option(False, "--json", help="Print findings as JSON."),
    ) -> None:
        """Re-check a package; exit 1 when any error-severity finding is found."""
        from codeproof.config import load_settings
        from codeproof.rules.engine import check_package_file
        from codeproof.runtime import Runtime

        encounter, result = check_package_file(
            package, runtime=Runtime(load_settings()), payer=payer, on=_date(on),
            note_files=note, families=family)
        findings = result.findings
        errors = sum(1 for f in findings if f.severity == "error")
        if as_json:
            typer.echo(json.dumps({"encounter_id": encounter.id,
                                   "findings": [asdict(f) for f in findings],
                                   "reports": {r.name: {"producer": r.producer,
                                                        "data": json.loads(r.data)}
                                               for r in result.reports},
                                   "errors": errors}, indent=2))
        else:
            _print_findings(findings)
            for report in result.reports:
                typer.echo(f"{report.name.upper():<8} {summary_line(report)}")
            warnings = sum(1 for f in findings if f.severity == "warning")
            typer.echo(f"{encounter.id}: {errors} error(s), {warnings} warning(s), "
                       f"{len(findings) - errors - warnings} info")
        raise typer.Exit(1 if errors else 0)

    @rules_app.command("list")
    def list_packs(
        payer: str = typer.Option(None, "--payer", help="Only packs that apply to this payer."),
        on: str = typer.Option(None, "--date", help="Only packs in effect on YYYY-MM-DD."),
    ) -> None:
        """List the loaded rule packs (built-in + rules.packs_dir)."""
        from codeproof.config import load_settings
        from codeproof.rules.packs import load_packs

        settings = load_settings()
        packs = load_packs([settings.rules.packs_dir] if settings.rules.packs_dir else [])
        shown = packs.select(payer, _date(on)) if (payer or on) else tuple(packs)
        for pack in shown:
            size = len(pack.rules) + len(pack.policies) + len(pack.cdi) + (1 if pack.meat else 0)
            typer.echo(f"{pack.id:<28} {pack.version:<8} {pack.kind:<10} {pack.key:<14} "
                       f"{pack.effective.label():<24} {size} rule(s)")

    @rules_app.command("check-pack")
    def check_pack(
        files: list[Path] = typer.Argument(..., exists=True, dir_okay=False,
                                           help="Pack files (.yaml/.json) to validate."),
    ) -> None:
        """Validate pack files against the pack format (strict keys); fail on the first bad one."""
        from codeproof.rules.packs import load_pack

        for path in files:
            pack = load_pack(path)
            typer.echo(f"ok {path.name}: {pack.id} {pack.version} ({pack.kind}, "
                       f"{pack.effective.label()})")

    @rules_app.command("import-ncci")
    def import_ncci(
        source: Path = typer.Argument(..., exists=True, file_okay=False,
                                      help="Folder of CMS NCCI PTP/MUE files (.txt/.csv)."),
        out: Path = typer.Option(None, "--out", help="Folder to write ncci.sqlite into "
                                 "(default: rules.ncci_dir, else <reference_dir>/ncci)."),
    ) -> None:
        """Compile CMS NCCI PTP/MUE files into an indexed store (rules.ncci_dir uses it)."""
        from codeproof.config import load_settings
        from codeproof.rules.ncci import NCCI_DB, compile_ncci

        settings = load_settings()
        folder = out or settings.rules.ncci_dir or settings.reference_path / "ncci"
        counts = compile_ncci(source, folder / NCCI_DB)
        for key, value in sorted(counts.items()):
            typer.echo(f"{key:<18} {value:>10,} rows")
        typer.echo(f"wrote {folder / NCCI_DB}; set rules.ncci_dir = {folder}")

    @rules_app.command("group")
    def group(
        pdx: str = typer.Argument(..., help="Principal diagnosis (ICD-10-CM)."),
        sdx: list[str] = typer.Option([], "--sdx", help="Secondary diagnosis (repeatable)."),
        proc: list[str] = typer.Option([], "--proc", help="ICD-10-PCS procedure (repeatable)."),
        age: int = typer.Option(65, "--age", min=0, max=124),
        sex: str = typer.Option("U", "--sex", help="M, F or U."),
        status: str = typer.Option("01", "--discharge-status", help="UB-04 patient status."),
        on: str = typer.Option(None, "--date", help="Discharge date YYYY-MM-DD."),
        version: str = typer.Option(None, "--version", help="v40..v44[.0/.1] or auto "
                                    "(default: rules.drg_version)."),
    ) -> None:
        """Group one inpatient case to an MS-DRG and show CC/MCC contributions."""
        from codeproof.config import load_settings
        from codeproof.rules.base import compact
        from codeproof.rules.drg import DrgGrouper

        grouper = DrgGrouper(version or load_settings().rules.drg_version)
        try:
            result = grouper.group(pdx=compact(pdx), sdx=tuple(compact(s) for s in sdx),
                                   procedures=tuple(compact(p) for p in proc), age=age,
                                   sex=sex.upper(), discharge_status=status, on=_date(on))
        finally:
            grouper.close()
        typer.echo(f"{result.label}  MDC {result.mdc}  severity {result.severity}  "
                   f"(grouper v{result.version})")
        for impact in result.sdx:
            if impact.severity != "NONE":
                state = "excluded" if impact.excluded else (
                    "drives DRG" if impact.drives_drg else "no effect")
                typer.echo(f"  {impact.code:<8} {impact.severity:<4} {state}")
