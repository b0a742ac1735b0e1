"""``codeproof code``: the main job (files or folders in, packages out)."""

from __future__ import annotations

from pathlib import Path

import typer

from codeproof.config import load_settings
from codeproof.run import BatchReport, code_paths
from codeproof.runtime import Runtime

__all__ = ["print_summary", "register"]


def print_summary(report: BatchReport) -> None:
    """Print the batch summary table (encounters, codes, routing counts)."""
    rate = len(report.coded) / report.seconds if report.seconds else 0.0
    rows = [
        ("encounters coded", str(len(report.coded))),
        ("encounters skipped (resume)", str(len(report.skipped))),
        ("inputs rejected", str(len(report.rejected))),
        ("codes", str(report.codes)),
        ("codes auto-finalize", str(report.routing.get("auto_finalize", 0))),
        ("codes coder review", str(report.routing.get("coder_review", 0))),
        ("codes CDI query", str(report.routing.get("cdi_query", 0))),
        ("encounters auto-finalize", str(report.encounter_routing.get("auto_finalize", 0))),
        ("encounters coder review", str(report.encounter_routing.get("coder_review", 0))),
        ("encounters CDI query", str(report.encounter_routing.get("cdi_query", 0))),
        ("seconds", f"{report.seconds:.1f}"),
        ("notes/s", f"{rate:.1f}"),
    ]
    width = max(len(k) for k, _ in rows)
    typer.echo("-" * (width + 12))
    for key, value in rows:
        typer.echo(f"{key:<{width}}  {value:>8}")
    typer.echo("-" * (width + 12))


def register(app: typer.Typer) -> None:
    """Add ``code`` to the root app."""

    @app.command("code")
    def code(
        inputs: list[Path] = typer.Argument(..., help="Files (.txt, .json FHIR R4, .hl7, "
                                            ".xml CDA) or folders of them."),
        out: Path = typer.Option(..., "--out", help="Folder for <encounter_id>.json/.html."),
        setting: str = typer.Option(None, "--setting",
                                    help="inpatient|outpatient. Default: the encounter "
                                    "class of a FHIR/HL7/CDA input, else outpatient."),
        tenant: str = typer.Option(None, "--tenant", help="Tenant to code for (default from "
                                   "config)."),
        resume: bool = typer.Option(False, "--resume", help="Skip inputs whose package "
                                    "already exists for the same source bytes."),
        no_store: bool = typer.Option(False, "--no-store", help="Write files only; do not "
                                      "store encounters or audit events in the database."),
        no_html: bool = typer.Option(False, "--no-html", help="Write JSON packages only."),
        workers: int = typer.Option(0, "--workers", "-j", min=0,
                                    help="Run the pipeline in N parallel workers; 0 (auto) "
                                    "uses up to 4 cores for batches of 40+ inputs."),
        executor: str = typer.Option("process", "--executor",
                                     help="process (local worker processes) or ray "
                                     "(Ray actors; needs the ray extra)."),
        config: Path = typer.Option(None, "--config", help="Config TOML file."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary table."),
    ) -> None:
        """Code clinical notes and write a justification package per encounter.

        Exit 0 when every input was coded, 2 when some input was rejected (each
        named on stderr with its error code; the others are still written).
        """
        if executor not in ("process", "ray"):
            raise typer.BadParameter("must be process or ray", param_hint="--executor")
        if setting is not None and setting not in ("inpatient", "outpatient"):
            raise typer.BadParameter("must be inpatient or outpatient", param_hint="--setting")
        runtime = Runtime(load_settings(config))

        def on_result(path: Path, _result: object, error: object) -> None:
            if error is not None:
                typer.echo(f"rejected {path}: [{error.code}] {error.message}",  # type: ignore[attr-defined]
                           err=True)

        report = code_paths(runtime, inputs, out, setting=setting,  # type: ignore[arg-type]
                            tenant=tenant, resume=resume, persist=not no_store,
                            html=not no_html, workers=workers, executor=executor,
                            on_result=on_result)
        if not (report.coded or report.skipped or report.rejected):
            typer.echo("warning: no input files (.txt, .json, .hl7, .xml) found", err=True)
        if not quiet:
            print_summary(report)
        raise typer.Exit(report.exit_code)
