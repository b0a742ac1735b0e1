"""Who may do what: the store's role table, deferring to the security module.

:func:`authorize` first checks the service's own role table (:data:`POLICY`);
when the security engineer's ``codeproof.security.access.authorize`` is
installed it is called too, so that library-wide rules (tenant scoping,
residency) apply to every store call. Both must allow the action.
"""

from __future__ import annotations

from importlib import import_module
from importlib.util import find_spec
from typing import Any

from codeproof.errors import AccessDenied, TenantMismatch
from codeproof.security.base import Principal

__all__ = ["POLICY", "authorize"]

_ALL = frozenset({"coder", "cdi", "auditor", "admin", "integration", "system"})

#: action -> roles allowed to perform it.
POLICY: dict[str, frozenset[str]] = {
    "encounter.write": frozenset({"coder", "admin", "integration", "system"}),
    "encounter.read": _ALL,
    "package.read": _ALL,
    "decision.write": frozenset({"coder", "admin"}),
    "encounter.attest": frozenset({"coder", "admin"}),
    "queue.coder": frozenset({"coder", "admin"}),
    "queue.cdi": frozenset({"cdi", "admin"}),
    "queue.audit": frozenset({"auditor", "admin"}),
    "cdi.read": frozenset({"cdi", "coder", "auditor", "admin"}),
    "cdi.write": frozenset({"cdi", "admin"}),
    "analytics.read": frozenset({"auditor", "admin"}),
    "audit.read": frozenset({"auditor", "admin"}),
    "job.read": frozenset({"coder", "admin", "integration", "system"}),
    "calibration.fit": frozenset({"admin", "system"}),
    "token.create": frozenset({"admin", "system"}),
}


def _library_authorize() -> Any:
    if find_spec("codeproof.security.access") is None:
        return None
    return getattr(import_module("codeproof.security.access"), "authorize", None)


def authorize(principal: Principal, action: str, *, tenant: str | None = None) -> None:
    """Raise ``AccessDenied`` / ``TenantMismatch`` unless ``principal`` may do ``action``."""
    allowed = POLICY.get(action)
    if allowed is None or principal.role not in allowed:
        raise AccessDenied(f"role {principal.role!r} may not {action}",
                           role=principal.role, action=action)
    if tenant is not None and tenant != principal.tenant:
        raise TenantMismatch(f"tenant {principal.tenant!r} may not act on another tenant",
                             tenant=principal.tenant, action=action)
    library = _library_authorize()
    if library is not None:
        library(principal, action, tenant=tenant if tenant is not None else principal.tenant)
