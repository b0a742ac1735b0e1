"""``codeproof deid``: de-identify text files into ``<stem>.json`` (external contract)."""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["register"]


def deid(
    inputs: list[Path] = typer.Argument(..., help="Text files or directories of *.txt files."),
    out: Path = typer.Option(..., "--out", help="Directory for <stem>.json outputs."),
    operator: str = typer.Option("placeholder", "--operator",
                                 help="redact | placeholder | surrogate"),
    date_shift: bool = typer.Option(False, "--date-shift/--no-date-shift",
                                    help="Shift dates by a per-patient offset."),
    patient_key: str | None = typer.Option(
        None, "--patient-key",
        help="Key for consistent surrogates/date shifts (default: each file's stem)."),
    keep_years: bool = typer.Option(False, "--keep-years/--no-keep-years",
                                    help="Keep years standing alone (Safe Harbor allows)."),
    ner: bool = typer.Option(False, "--ner/--no-ner",
                             help="Add spaCy NER (en-core-web-sm) to the recognizers."),
    residual_check: bool = typer.Option(True, "--residual-check/--no-residual-check",
                                        help="Re-scan output; reject files with PHI left."),
    vault_dir: Path | None = typer.Option(
        None, "--vault",
        help="Seal each file's re-identification mapping into this vault directory."),
) -> None:
    """De-identify INPUT files; exit 2 when some input was rejected."""
    from codeproof.deid.batch import deidentify_files
    from codeproof.deid.engine import DeidEngine
    from codeproof.deid.operators import make_operator

    make_operator(operator)  # validates the name before loading models
    vault = None
    tenant = "default"
    if vault_dir is not None:
        from codeproof.deid.vault import DirectoryVaultStore, ReidVault
        from codeproof.runtime import Runtime
        from codeproof.security.crypto import sealer_from_runtime

        runtime = Runtime()
        tenant = runtime.settings.security.default_tenant
        vault = ReidVault(sealer=sealer_from_runtime(runtime),
                          store=DirectoryVaultStore(vault_dir))
    engine = DeidEngine(keep_years=keep_years, use_ner=ner)
    report = deidentify_files(inputs, out, engine=engine, operator=operator,  # type: ignore[arg-type]
                              date_shift=date_shift, patient_key=patient_key,
                              check_residual=residual_check, vault=vault, tenant=tenant)
    for path, exc in report.rejected:
        typer.echo(f"rejected {path} [{exc.code}]: {exc.message}", err=True)
    typer.echo(f"wrote {len(report.written)} files to {out}; rejected {len(report.rejected)}",
               err=True)
    if report.rejected:
        # SystemExit, not typer.Exit: the root runs click with standalone_mode=False,
        # which turns typer.Exit into a return value and would lose the status.
        raise SystemExit(2)


def register(app: typer.Typer) -> None:
    """Add the ``deid`` command to the root app."""
    app.command("deid")(deid)
