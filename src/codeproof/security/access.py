"""Access control: roles -> allowed actions (data), tenant scoping, PHI-view auditing.

:func:`authorize` is the one gate. The store, the API and the CLI call it with
the acting :class:`~codeproof.security.base.Principal`, so that neither
surface can bypass it: a role without the action gets ``AccessDenied``
(CP-SEC-002); a principal of another tenant gets ``TenantMismatch``
(CP-SEC-003) whatever its role. No role is cross-tenant. Every refusal and
every granted ``phi.view`` is an audit event when an audit sink is given.

The table :data:`ROLE_ACTIONS` is data: least privilege, deny by default.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from codeproof.audit.events import AccessRefused, PhiViewed, emit
from codeproof.errors import AccessDenied, TenantMismatch
from codeproof.security.base import ROLES, Principal, Role

__all__ = ["ACTIONS", "ROLE_ACTIONS", "allowed", "authorize", "ensure_tenant"]

#: action -> what it permits (documented in docs/security.md).
ACTIONS: Mapping[str, str] = MappingProxyType({
    "encounter.submit": "submit notes/encounters for coding",
    "encounter.read": "read an encounter's metadata and codes (no note text)",
    "package.read": "read a justification package (codes, evidence offsets)",
    "package.export": "export packages (JSON/HTML/FHIR) out of the system",
    "phi.view": "view note text, evidence quotes or the re-identification vault",
    "review.decide": "accept / edit / reject a code in the review queue",
    "review.attest": "attest a finalized coding (coder's signature)",
    "cdi.query": "raise or answer a clinical-documentation query",
    "audit.read": "read audit events",
    "audit.verify": "verify the audit chain",
    "audit.export": "export a signed audit bundle",
    "admin.keys": "rotate keys, inspect key status",
    "admin.erase": "erase a subject (crypto-shredding) or sweep retention",
    "admin.tenants": "configure tenants, regions, users",
    "rules.manage": "install or change rule packs",
    "token.create": "issue API tokens",
})

_READ = frozenset({"encounter.read", "package.read"})

#: role -> allowed actions. ``system`` is the local batch pipeline/CLI operator.
ROLE_ACTIONS: Mapping[Role, frozenset[str]] = MappingProxyType({
    "coder": _READ | {"encounter.submit", "phi.view", "review.decide", "review.attest"},
    "cdi": _READ | {"phi.view", "cdi.query"},
    "auditor": _READ | {"phi.view", "package.export", "audit.read", "audit.verify",
                        "audit.export"},
    "admin": frozenset({"encounter.read", "audit.read", "audit.verify", "admin.keys",
                        "admin.erase", "admin.tenants", "rules.manage", "token.create"}),
    "integration": frozenset({"encounter.submit", "encounter.read", "package.read",
                              "package.export"}),
    "system": frozenset(ACTIONS),
})


def allowed(role: str, action: str) -> bool:
    """True when ``role`` may perform ``action`` (unknown roles/actions: False)."""
    return role in ROLE_ACTIONS and action in ROLE_ACTIONS[role]  # type: ignore[index]


def ensure_tenant(principal: Principal, tenant: str, *, action: str = "read",
                  audit: Any | None = None, subject: str = "") -> None:
    """Raise ``TenantMismatch`` (and audit it) when ``principal`` is not of ``tenant``."""
    if principal.tenant != tenant:
        if audit is not None:
            emit(audit, AccessRefused(tenant=principal.tenant, actor=principal.user,
                                      subject=subject, role=principal.role, action=action,
                                      target_tenant=tenant, reason="tenant",
                                      code=TenantMismatch.code))
        raise TenantMismatch(
            f"{principal.role} of tenant {principal.tenant!r} may not act on tenant "
            f"{tenant!r}", action=action, tenant=tenant,
        )


def authorize(principal: Principal, action: str, *, tenant: str, audit: Any | None = None,
              subject: str = "", purpose: str = "", resource: str = "") -> None:
    """Allow ``principal`` to do ``action`` on ``tenant``'s data, or raise.

    Tenant scope is checked first (``TenantMismatch``), then the role
    (``AccessDenied``). With ``audit`` (any ``AuditSink``), refusals are recorded as
    ``access.denied`` and a granted ``phi.view`` as ``phi.viewed`` (who, which
    subject, purpose) *before* returning, so a PHI view cannot go unrecorded.
    """
    ensure_tenant(principal, tenant, action=action, audit=audit, subject=subject)
    if principal.role not in ROLES or action not in ACTIONS or \
            not allowed(principal.role, action):
        reason = "unknown_action" if action not in ACTIONS else "role"
        if audit is not None:
            emit(audit, AccessRefused(tenant=tenant, actor=principal.user, subject=subject,
                                      role=principal.role, action=action,
                                      target_tenant=tenant, reason=reason,
                                      code=AccessDenied.code))
        raise AccessDenied(f"role {principal.role!r} may not {action!r}",
                           action=action, role=principal.role)
    if action == "phi.view" and audit is not None:
        emit(audit, PhiViewed(tenant=tenant, actor=principal.user, subject=subject,
                              role=principal.role, purpose=purpose, resource=resource))
