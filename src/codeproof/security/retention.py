"""Retention per region and erasure by crypto-shredding.

Sealed data of a subject is readable only while its data key lives. Two things
destroy a key:

- :func:`erase_subject` — an erasure request (GDPR art. 17) for one subject;
- :func:`sweep_retention` — keys older than their region's retention period
  (``security.retention_days``, e.g. US 7 years, EU 10 years) are destroyed.

Both need the ``admin.erase`` action and both write audit events
(``subject.erased``, ``retention.swept``). The audit log itself is never
deleted or rewritten: it holds ids and digests only, so it keeps verifying
after erasure. Tenant-wide keys (subject ``""``) are not swept by age; they
go with :meth:`EnvelopeSealer.destroy_tenant_keys` when a tenant leaves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from codeproof.audit.events import RetentionSwept, SubjectErased, emit
from codeproof.errors import ConfigError
from codeproof.security.access import authorize
from codeproof.security.base import Principal
from codeproof.security.crypto import EnvelopeSealer
from codeproof.security.residency import ResidencyPolicy

if TYPE_CHECKING:
    from codeproof.config import Settings

__all__ = ["RetentionPolicy", "SweepResult", "erase_subject", "erase_tenant",
           "sweep_retention"]


def _parse(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


@dataclass(frozen=True, slots=True, kw_only=True)
class RetentionPolicy:
    """Retention period in days per region."""

    retention_days: Mapping[str, int]

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy:
        """Policy of ``security.retention_days``."""
        return cls(retention_days={k.upper(): v for k, v in
                                   settings.security.retention_days.items()})

    def days_for(self, region: str) -> int:
        """Retention of ``region``; ``ConfigError`` when the region has none."""
        days = self.retention_days.get(region.upper())
        if days is None:
            raise ConfigError(
                f"no retention period for region {region!r}; set security.retention_days",
                region=region, available=sorted(self.retention_days))
        return days

    def expires_at(self, region: str, created: str) -> datetime:
        """When data created at ``created`` (ISO UTC) in ``region`` expires."""
        return _parse(created) + timedelta(days=self.days_for(region))

    def is_expired(self, region: str, created: str, *, now: datetime | None = None) -> bool:
        """True when the retention period of ``region`` has passed."""
        return (now or datetime.now(UTC)) >= self.expires_at(region, created)


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepResult:
    """What a retention sweep destroyed (or would, in a dry run)."""

    dry_run: bool
    erased: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)

    @property
    def count(self) -> int:
        """Number of subjects erased (or due)."""
        return sum(len(v) for v in self.erased.values())


def erase_subject(*, sealer: EnvelopeSealer, tenant: str, subject: str,
                  principal: Principal, audit: Any, reason: str = "request") -> bool:
    """Crypto-shred ``subject`` of ``tenant``; True when a live key was destroyed.

    Authorizes ``admin.erase`` first (refusals are audited), then records
    ``subject.erased`` whether or not a key existed, so the request is on file.
    """
    authorize(principal, "admin.erase", tenant=tenant, audit=audit, subject=subject)
    destroyed = sealer.destroy_subject_key(tenant, subject)
    emit(audit, SubjectErased(tenant=tenant, actor=principal.user, subject=subject,
                              reason=reason, keys_destroyed=int(destroyed)))
    return destroyed


def erase_tenant(*, sealer: EnvelopeSealer, tenant: str, principal: Principal,
                 audit: Any) -> int:
    """Off-board ``tenant``: destroy every data key it has (tenant-wide key included).

    Needs ``admin.erase`` on that tenant; records one ``subject.erased`` with
    subject ``""`` and reason ``tenant`` carrying the count. Returns the count.
    """
    authorize(principal, "admin.erase", tenant=tenant, audit=audit)
    count = sealer.destroy_tenant_keys(tenant)
    emit(audit, SubjectErased(tenant=tenant, actor=principal.user, subject="",
                              reason="tenant", keys_destroyed=count))
    return count


def sweep_retention(*, sealer: EnvelopeSealer, retention: RetentionPolicy,
                    residency: ResidencyPolicy, principal: Principal, audit: Any,
                    now: datetime | None = None, dry_run: bool = False) -> SweepResult:
    """Destroy subject keys past their region's retention, for ``principal.tenant``.

    ``system`` principals sweep their own tenant like anyone else: a sweep is
    always tenant-scoped, so one tenant's operator cannot shred another's data.
    """
    tenant = principal.tenant
    authorize(principal, "admin.erase", tenant=tenant, audit=audit)
    region = residency.region_of(tenant)
    days = retention.days_for(region)
    moment = now or datetime.now(UTC)
    due: list[tuple[str, str]] = []
    for record in sealer.keystore.records(tenant=tenant):
        if record.wrapped is None or record.subject == "":
            continue
        if retention.is_expired(region, record.created, now=moment):
            due.append((record.tenant, record.subject))
    if not dry_run:
        for key_tenant, subject in due:
            if sealer.destroy_subject_key(key_tenant, subject):
                emit(audit, SubjectErased(tenant=key_tenant, actor=principal.user,
                                          subject=subject, reason="retention",
                                          keys_destroyed=1))
    emit(audit, RetentionSwept(tenant=tenant, actor=principal.user, region=region,
                               retention_days=days, erased=len(due), dry_run=dry_run))
    return SweepResult(dry_run=dry_run, erased={region: tuple(due)})
