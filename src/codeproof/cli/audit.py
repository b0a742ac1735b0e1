"""CLI: ``audit verify|export|verify-bundle|checkpoint|log|harden-postgres``,
``keys rotate|status``, ``erase`` and ``retention sweep``.

Every command is a thin wrapper over :mod:`codeproof.audit` and
:mod:`codeproof.security`; it acts as the local ``system`` principal of the
given tenant, so access control and audit events apply exactly as in the API.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from codeproof.config import Settings, load_settings
from codeproof.errors import AuditChainBroken, ConfigError

if TYPE_CHECKING:
    from codeproof.audit.log import AuditLog
    from codeproof.security.crypto import EnvelopeSealer

__all__ = ["register"]

audit_app = typer.Typer(help="Verify, inspect and export the hash-chained audit log.",
                        no_args_is_help=True)
keys_app = typer.Typer(help="Key-encryption keys and data keys.", no_args_is_help=True)
retention_app = typer.Typer(help="Retention periods and crypto-shredding.",
                            no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the audit, keys, erase and retention commands to the root app."""
    app.add_typer(audit_app, name="audit")
    app.add_typer(keys_app, name="keys")
    app.add_typer(retention_app, name="retention")
    app.command("erase")(erase)


def _settings() -> Settings:
    return load_settings()


@audit_app.command("verify")
def verify(as_json: bool = typer.Option(False, "--json", help="Print the report as JSON.")) -> None:
    """Verify the chain, checkpoints and head file; exit 1 naming the first bad event."""
    from codeproof.audit.log import verify_audit

    report = verify_audit(_settings())
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    if not report.ok:
        raise AuditChainBroken(
            f"audit chain broken: first bad event seq {report.first_bad_seq} "
            f"(id {report.first_bad_event_id or '-'}): {report.reason}",
            event=report.first_bad_event_id, seq=report.first_bad_seq)
    if not as_json:
        typer.echo(f"audit chain OK: {report.checked} events, {report.checkpoints} "
                   f"checkpoints, signed through seq {report.anchored_seq}")
        for warning in report.warnings:
            typer.echo(f"warning: {warning}", err=True)


@audit_app.command("export")
def export(
    out: Path = typer.Option(..., "--out", help="Bundle file to write (JSON)."),
    tenant: str | None = typer.Option(None, "--tenant",
                                      help="Only this tenant's rows in clear; others "
                                           "redacted to digests."),
    force: bool = typer.Option(False, "--force",
                               help="Export even when the chain does not verify."),
) -> None:
    """Write a signed audit bundle for a regulator (verifiable offline)."""
    from codeproof.audit.export import export_bundle
    from codeproof.audit.log import open_audit_log
    from codeproof.security.access import authorize
    from codeproof.security.base import Principal

    settings = _settings()
    log = open_audit_log(settings)
    principal = Principal.system(tenant or settings.security.default_tenant)
    authorize(principal, "audit.export", tenant=principal.tenant, audit=log)
    summary = export_bundle(log, out, tenant=tenant, actor=principal.user,
                            require_valid=not force)
    typer.echo(f"wrote {summary['path']}: {summary['events']} events "
               f"({summary['redacted']} redacted), sha256 {summary['sha256']}, "
               f"key {summary['key_id']}")


@audit_app.command("verify-bundle")
def verify_bundle_cmd(
    bundle: Path = typer.Argument(..., help="Bundle written by `audit export`."),
    key_id: str | None = typer.Option(None, "--key-id",
                                      help="Expected signing key id (from the published "
                                           "public key)."),
) -> None:
    """Verify an exported bundle offline (signature, chain, checkpoints)."""
    from codeproof.audit.export import verify_bundle

    report = verify_bundle(bundle, expected_key_id=key_id)
    if not report.ok:
        raise AuditChainBroken(f"bundle does not verify: {report.reason}",
                               seq=report.first_bad_seq)
    typer.echo(f"bundle OK: {report.events} events ({report.redacted} redacted), "
               f"signed by key {report.key_id}")


@audit_app.command("checkpoint")
def checkpoint() -> None:
    """Sign the current head now (closes the unanchored tail after a batch)."""
    from codeproof.audit.log import open_audit_log

    cp = open_audit_log(_settings()).checkpoint()
    if cp is None:
        typer.echo("audit log is empty: nothing to checkpoint")
    else:
        typer.echo(f"checkpoint at seq {cp.seq} hash {cp.hash} key {cp.key_id}")


@audit_app.command("log")
def show_log(
    tenant: str | None = typer.Option(None, "--tenant", help="Only this tenant."),
    subject: str | None = typer.Option(None, "--subject", help="Only this subject id."),
    name: str | None = typer.Option(None, "--name", help="Only events of this name."),
    limit: int = typer.Option(50, "--limit", help="At most this many events."),
) -> None:
    """Print audit events as JSON lines (ids, codes and digests only)."""
    from codeproof.audit.log import open_audit_log

    for event in open_audit_log(_settings()).iter_events(tenant=tenant, subject=subject,
                                                          name=name, limit=limit):
        typer.echo(json.dumps(event.to_dict(), sort_keys=True))


@audit_app.command("harden-postgres")
def harden(
    app_role: str = typer.Option(..., "--app-role", help="Role the application connects as."),
    admin_url: str | None = typer.Option(None, "--admin-url",
                                         help="Owner/superuser URL (default: the "
                                              "configured database_url)."),
) -> None:
    """Make the audit tables append-only for APP_ROLE on PostgreSQL (REVOKE + triggers)."""
    from sqlalchemy import create_engine

    from codeproof.audit.log import AuditLog
    from codeproof.audit.postgres import harden_postgres

    engine = create_engine(admin_url or _settings().database_url)
    AuditLog(engine).create_schema()
    harden_postgres(engine, app_role)
    typer.echo(f"audit tables are append-only for role {app_role}")


def _security(settings: Settings) -> tuple[AuditLog, EnvelopeSealer]:
    from codeproof.audit.log import open_audit_log
    from codeproof.security.crypto import EnvelopeSealer, sealer_from_settings

    log = open_audit_log(settings)
    sealer = sealer_from_settings(settings, engine=log.engine, audit=log)
    if not isinstance(sealer, EnvelopeSealer):
        raise ConfigError("security.encrypt_at_rest is false: there are no data keys")
    return log, sealer


@keys_app.command("rotate")
def rotate(tenant: str | None = typer.Option(None, "--tenant",
                                              help="Tenant acting (default tenant).")) -> None:
    """Make a new key-encryption key active and re-wrap every data key under it."""
    from codeproof.security.base import Principal
    from codeproof.security.crypto import rotate_keys

    settings = _settings()
    log, sealer = _security(settings)
    principal = Principal.system(tenant or settings.security.default_tenant)
    old, new, count = rotate_keys(sealer, principal=principal, audit=log)
    typer.echo(f"rotated {old} -> {new}; re-wrapped {count} data keys")


@keys_app.command("rotate-audit-key")
def rotate_audit_key(tenant: str | None = typer.Option(None, "--tenant",
                                                        help="Tenant acting (default "
                                                             "tenant).")) -> None:
    """Retire the audit signing key (kept as a trusted public key) and start a new one."""
    from codeproof.audit.log import open_audit_log, rotate_signing_key
    from codeproof.security.access import authorize
    from codeproof.security.base import Principal

    settings = _settings()
    principal = Principal.system(tenant or settings.security.default_tenant)
    log = open_audit_log(settings)
    authorize(principal, "admin.keys", tenant=principal.tenant, audit=log)
    old, new = rotate_signing_key(settings, actor=principal.user, engine=log.engine)
    typer.echo(f"audit signing key {old} retired (public key kept as trusted); "
               f"new key {new}")


@keys_app.command("status")
def status() -> None:
    """Show the key provider, active KEK and data-key counts (no key material)."""
    settings = _settings()
    _log, sealer = _security(settings)
    live = destroyed = 0
    for record in sealer.keystore.records():
        if record.wrapped is None:
            destroyed += 1
        else:
            live += 1
    typer.echo(f"provider {sealer.key_provider.name}; active KEK "
               f"{sealer.key_provider.active_kek_id}; data keys: {live} live, "
               f"{destroyed} destroyed")


def erase(
    subject: list[str] = typer.Option(None, "--subject",
                                      help="Subject id whose data key to destroy "
                                           "(repeatable)."),
    tenant: str = typer.Option(..., "--tenant", help="Tenant that owns the subjects."),
    all_subjects: bool = typer.Option(False, "--all",
                                      help="Off-board the tenant: destroy every data key "
                                           "of TENANT, the tenant-wide key included."),
) -> None:
    """Erase subjects by destroying their data keys (crypto-shredding); the audit chain stays."""
    from codeproof.security.base import Principal
    from codeproof.security.retention import erase_subject, erase_tenant

    if bool(subject) == all_subjects:
        raise ConfigError("give --subject ID (one or more) or --all, not both")
    log, sealer = _security(_settings())
    principal = Principal.system(tenant)
    if all_subjects:
        count = erase_tenant(sealer=sealer, tenant=tenant, principal=principal, audit=log)
        typer.echo(f"erased tenant {tenant}: {count} data keys destroyed")
        return
    for one in subject:
        destroyed = erase_subject(sealer=sealer, tenant=tenant, subject=one,
                                  principal=principal, audit=log)
        typer.echo(f"{one}: " + ("erased: data key destroyed" if destroyed else
                                 "nothing to erase: no live data key (request recorded)"))


@retention_app.command("sweep")
def sweep(
    tenant: str | None = typer.Option(None, "--tenant", help="Tenant to sweep (default tenant)."),
    all_tenants: bool = typer.Option(False, "--all-tenants",
                                     help="Sweep every tenant of security.tenant_regions "
                                          "(for a scheduled job)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only count what is due."),
) -> None:
    """Destroy data keys older than the tenant region's retention period."""
    from codeproof.security.base import Principal
    from codeproof.security.residency import ResidencyPolicy
    from codeproof.security.retention import RetentionPolicy, sweep_retention

    settings = _settings()
    if all_tenants and tenant:
        raise ConfigError("give --tenant T or --all-tenants, not both")
    tenants = sorted(settings.security.tenant_regions) if all_tenants else \
        [tenant or settings.security.default_tenant]
    log, sealer = _security(settings)
    verb = "due" if dry_run else "erased"
    for one in tenants:
        result = sweep_retention(
            sealer=sealer, retention=RetentionPolicy.from_settings(settings),
            residency=ResidencyPolicy.from_settings(settings),
            principal=Principal.system(one), audit=log, dry_run=dry_run)
        typer.echo(f"{one}: {result.count} subjects {verb}")
