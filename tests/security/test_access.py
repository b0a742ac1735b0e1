"""Roles -> actions, tenant scoping, audit of refusals and PHI views."""

from __future__ import annotations

import pytest

from codeproof.audit.log import AuditLog
from codeproof.errors import AccessDenied, TenantMismatch
from codeproof.security.access import ACTIONS, ROLE_ACTIONS, allowed, authorize
from codeproof.security.base import ROLES, Principal

pytestmark = pytest.mark.issue(7)


@pytest.mark.parametrize(
    ("role", "action", "ok"),
    [
        ("coder", "encounter.submit", True),
        ("coder", "phi.view", True),
        ("coder", "review.attest", True),
        ("coder", "audit.export", False),
        ("coder", "admin.keys", False),
        ("cdi", "cdi.query", True),
        ("cdi", "review.decide", False),  # CDI queries physicians; coders decide codes
        ("auditor", "audit.export", True),
        ("auditor", "review.decide", False),
        ("admin", "admin.keys", True),
        ("admin", "token.create", True),
        ("admin", "phi.view", False),  # least privilege: admins do not read notes
        ("integration", "encounter.submit", True),
        ("integration", "phi.view", False),
        ("system", "admin.erase", True),
        ("coder", "not.an.action", False),
        ("superuser", "encounter.read", False),  # unknown role
    ],
)
def test_role_table(role: str, action: str, ok: bool) -> None:
    assert allowed(role, action) is ok
    principal = Principal(user="u1", role=role, tenant="t1")  # type: ignore[arg-type]
    if ok:
        authorize(principal, action, tenant="t1")
    else:
        with pytest.raises(AccessDenied):
            authorize(principal, action, tenant="t1")


def test_table_covers_every_role_and_only_known_actions() -> None:
    assert set(ROLE_ACTIONS) == set(ROLES)
    for actions in ROLE_ACTIONS.values():
        assert actions <= set(ACTIONS)
    assert ROLE_ACTIONS["system"] == frozenset(ACTIONS)


@pytest.mark.parametrize("role", ROLES)
def test_no_role_crosses_tenants(role: str, audit_log: AuditLog) -> None:
    principal = Principal(user="u1", role=role, tenant="t1")  # type: ignore[arg-type]
    with pytest.raises(TenantMismatch) as info:
        authorize(principal, "encounter.read", tenant="t2", audit=audit_log, subject="enc-9")
    assert info.value.code == "CP-SEC-003"
    (event,) = audit_log.iter_events()
    assert event.name == "access.denied"
    assert event.tenant == "t1" and event.subject == "enc-9"
    assert event.properties["reason"] == "tenant"
    assert event.properties["target_tenant"] == "t2"


def test_denied_role_is_audited(audit_log: AuditLog) -> None:
    with pytest.raises(AccessDenied):
        authorize(Principal(user="i1", role="integration", tenant="t1"), "phi.view",
                  tenant="t1", audit=audit_log, subject="enc-1")
    (event,) = audit_log.iter_events()
    assert (event.name, event.actor, event.properties["code"]) == \
        ("access.denied", "i1", "CP-SEC-002")


def test_each_phi_view_is_an_audit_event(audit_log: AuditLog) -> None:
    coder = Principal(user="c7", role="coder", tenant="t1")
    for _ in range(2):
        authorize(coder, "phi.view", tenant="t1", audit=audit_log, subject="enc-1",
                  purpose="review", resource="note")
    authorize(coder, "package.read", tenant="t1", audit=audit_log, subject="enc-1")
    events = list(audit_log.iter_events())
    assert [e.name for e in events] == ["phi.viewed", "phi.viewed"]  # reads are not PHI
    assert events[0].properties == {"role": "coder", "purpose": "review", "resource": "note"}
    assert audit_log.verify().ok
