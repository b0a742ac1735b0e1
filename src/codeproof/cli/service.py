"""Service commands: serve, worker, token create|revoke, db upgrade, calibrate."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Any

import typer

__all__ = ["register"]

token_app = typer.Typer(help="Issue and revoke API tokens.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


def _runtime() -> Any:
    from codeproof.runtime import Runtime

    return Runtime()


def _pipeline_kwargs(pipeline: str | None) -> dict[str, Any]:
    from codeproof.api.app import pipeline_functions

    if pipeline not in (None, "real", "fake"):
        raise typer.BadParameter("--pipeline must be 'real' or 'fake'")
    return pipeline_functions(pipeline or _runtime().settings.service.pipeline)


def serve(
    host: str | None = typer.Option(None, help="Bind address [default: service.host]."),
    port: int | None = typer.Option(None, help="Port [default: service.port]."),
    worker: bool | None = typer.Option(
        None, "--worker/--no-worker",
        help="Also run a job worker thread in each server process "
             "[default: service.embedded_worker]."),
    pipeline: str | None = typer.Option(
        None, help="'real' (configured stages) or 'fake' (keyword demo coder, no models) "
                   "[default: service.pipeline]."),
    workers: int | None = typer.Option(None, help="Server processes [default: "
                                                  "service.workers]."),
) -> None:
    """Start the API and the workbench (``/ui``)."""
    import os

    import uvicorn

    runtime = _runtime()
    settings = runtime.settings.service
    _pipeline_kwargs(pipeline)  # validate early
    if worker is not None:
        os.environ["CODEPROOF_SERVICE__EMBEDDED_WORKER"] = "true" if worker else "false"
    if pipeline is not None:
        os.environ["CODEPROOF_SERVICE__PIPELINE"] = pipeline
    uvicorn.run("codeproof.api.app:app_from_environment", factory=True,
                host=host or settings.host, port=port or settings.port,
                workers=workers or settings.workers, log_level="warning", access_log=False)


def worker_command(
    name: str | None = typer.Option(None, help="Worker name (in job rows and logs)."),
    max_jobs: int | None = typer.Option(None, help="Stop after this many jobs."),
    pipeline: str | None = typer.Option(None, help="'real' or 'fake' (see serve)."),
) -> None:
    """Process coding jobs from the queue until interrupted."""
    from codeproof.jobs import CodingService, Worker

    runtime = _runtime()
    service = CodingService(runtime, **_pipeline_kwargs(pipeline))
    worker = Worker(service, name=name, poll_seconds=runtime.settings.service.job_poll_seconds)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        done = worker.run(stop, max_jobs=max_jobs)
    except KeyboardInterrupt:
        done = worker.processed
    typer.echo(f"{worker.name}: {done} job(s) processed")


@token_app.command("create")
def token_create(
    role: str = typer.Option(..., help="coder | cdi | auditor | admin | integration"),
    tenant: str = typer.Option(..., help="Tenant the token acts for."),
    user: str | None = typer.Option(None, help="User name [default: ROLE@TENANT]."),
    ttl_days: float | None = typer.Option(None, help="Expiry in days [default: never]."),
) -> None:
    """Print a new bearer token (only its SHA-256 is stored)."""
    from codeproof.api.auth import create_token
    from codeproof.store import open_store

    store = open_store(_runtime())
    token_id, token = create_token(store.engine, role=role, tenant=tenant, user=user,
                                   ttl_days=ttl_days)
    typer.echo(f"token id {token_id}", err=True)
    typer.echo(token)


@token_app.command("revoke")
def token_revoke(token_id: str = typer.Argument(..., help="Token id printed at creation.")
                 ) -> None:
    """Revoke a token by id."""
    from codeproof.api.auth import revoke_token
    from codeproof.errors import NotFound
    from codeproof.store import open_store

    if not revoke_token(open_store(_runtime()).engine, token_id):
        raise NotFound(f"no token {token_id!r}")
    typer.echo(f"revoked {token_id}")


@db_app.command("upgrade")
def db_upgrade(
    harden_role: str | None = typer.Option(
        None, help="PostgreSQL: make the audit tables append-only for this application role "
                   "(run as the schema owner)."),
) -> None:
    """Migrate the store to the newest schema, and create the audit and key tables."""
    from codeproof.store.factories import upgrade_all

    report = upgrade_all(_runtime(), harden_role=harden_role)
    typer.echo(json.dumps(report, indent=2))


def calibrate(
    tenant: str | None = typer.Option(None, help="Tenant [default: security.default_tenant]."),
    out: Path | None = typer.Option(None, help="Output JSON [default: "
                                               "<home>/calibration/feedback-TENANT.json]."),
    min_decisions: int = typer.Option(20, help="Refuse to fit on fewer judged codes."),
) -> None:
    """Refit confidence calibration from the coders' stored decisions."""
    from codeproof.security.base import Principal
    from codeproof.store import open_store
    from codeproof.store.calibration import refit_from_decisions

    runtime = _runtime()
    principal = Principal.system(tenant or runtime.settings.security.default_tenant)
    fit, path = refit_from_decisions(runtime, open_store(runtime), principal=principal,
                                     out=out, min_decisions=min_decisions)
    typer.echo(f"{fit.n} judged codes ({fit.positives} accepted), method {fit.method}")
    typer.echo(f"Brier {fit.brier_before:.4f} -> {fit.brier_after:.4f}; "
               f"ECE {fit.ece_before:.4f} -> {fit.ece_after:.4f}")
    typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Add the service commands to the root app."""
    app.command("serve")(serve)
    app.command("worker")(worker_command)
    app.command("calibrate")(calibrate)
    app.add_typer(token_app, name="token")
    app.add_typer(db_app, name="db")
