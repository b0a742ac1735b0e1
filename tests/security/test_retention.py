"""Retention per region and crypto-shredding sweeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from codeproof.audit.log import AuditLog
from codeproof.errors import AccessDenied, ConfigError, KeyError_, TenantMismatch
from codeproof.security.base import Principal
from codeproof.security.crypto import EnvelopeSealer
from codeproof.security.residency import ResidencyPolicy
from codeproof.security.retention import RetentionPolicy, erase_subject, sweep_retention

pytestmark = pytest.mark.issue(7)

RETENTION = RetentionPolicy(retention_days={"US": 7 * 365, "EU": 10 * 365})
RESIDENCY = ResidencyPolicy(tenant_regions={"acme": "US", "bergen": "EU"})


@pytest.mark.parametrize(
    ("region", "age_days", "expired"),
    [("US", 7 * 365 - 1, False), ("US", 7 * 365, True), ("EU", 7 * 365, False),
     ("EU", 10 * 365 + 1, True), ("us", 1, False)],
)
def test_is_expired(region: str, age_days: int, expired: bool) -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    created = (now - timedelta(days=age_days)).isoformat().replace("+00:00", "Z")
    assert RETENTION.is_expired(region, created, now=now) is expired


def test_unknown_region_has_no_retention() -> None:
    with pytest.raises(ConfigError):
        RETENTION.days_for("APAC")


def test_sweep_destroys_only_expired_subjects_of_own_tenant(
        sealer: EnvelopeSealer, audit_log: AuditLog) -> None:
    blobs = {}
    for tenant in ("acme", "bergen"):
        for subject in ("", "p1", "p2"):
            blobs[(tenant, subject)] = sealer.seal(tenant=tenant, subject=subject, data=b"x")
    eight_years = datetime.now(UTC) + timedelta(days=8 * 365)
    dry = sweep_retention(sealer=sealer, retention=RETENTION, residency=RESIDENCY,
                          principal=Principal.system("acme"), audit=audit_log,
                          now=eight_years, dry_run=True)
    assert dry.count == 2 and sealer.has_key("acme", "p1")
    done = sweep_retention(sealer=sealer, retention=RETENTION, residency=RESIDENCY,
                           principal=Principal.system("acme"), audit=audit_log,
                           now=eight_years)
    assert done.erased == {"US": (("acme", "p1"), ("acme", "p2"))}
    with pytest.raises(KeyError_):
        sealer.open(tenant="acme", subject="p1", blob=blobs[("acme", "p1")])
    assert sealer.has_key("acme", "")  # tenant-wide key is not swept by age
    # EU: 10 years, so bergen's data survives the same sweep date
    eu = sweep_retention(sealer=sealer, retention=RETENTION, residency=RESIDENCY,
                         principal=Principal.system("bergen"), audit=audit_log,
                         now=eight_years)
    assert eu.count == 0 and sealer.has_key("bergen", "p1")
    names = [e.name for e in audit_log.iter_events()]
    assert names == ["retention.swept", "subject.erased", "subject.erased",
                     "retention.swept", "retention.swept"]
    assert audit_log.verify().ok


@pytest.mark.parametrize(
    ("principal", "error"),
    [
        (Principal(user="a1", role="admin", tenant="acme"), None),
        (Principal(user="c1", role="coder", tenant="acme"), AccessDenied),
        (Principal(user="a2", role="admin", tenant="bergen"), TenantMismatch),
    ],
)
def test_erasure_needs_admin_of_the_tenant(sealer: EnvelopeSealer, audit_log: AuditLog,
                                           principal: Principal,
                                           error: type[Exception] | None) -> None:
    sealer.seal(tenant="acme", subject="p1", data=b"x")
    if error is None:
        assert erase_subject(sealer=sealer, tenant="acme", subject="p1",
                             principal=principal, audit=audit_log)
        assert not sealer.has_key("acme", "p1")
        return
    with pytest.raises(error):
        erase_subject(sealer=sealer, tenant="acme", subject="p1", principal=principal,
                      audit=audit_log)
    assert sealer.has_key("acme", "p1")
    assert [e.name for e in audit_log.iter_events()] == ["access.denied"]
