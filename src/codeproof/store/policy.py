"""Who may do what: the store's operations mapped onto the library's one gate.

The security module's :func:`codeproof.security.access.authorize` is the single
authority (roles -> actions, tenant scoping, audit of refusals and PHI views); the
store and the API call it through :func:`authorize` with the *library* action
names of :data:`OPERATIONS`. When that module is not installed (a partial
checkout) the same action names are checked against :data:`FALLBACK_ROLE_ACTIONS`,
which mirrors it (least privilege, deny by default).
"""

from __future__ import annotations

from importlib import import_module
from importlib.util import find_spec
from typing import Any

from codeproof.errors import AccessDenied, TenantMismatch
from codeproof.security.base import Principal

__all__ = ["FALLBACK_ROLE_ACTIONS", "OPERATIONS", "authorize"]

#: service operation -> library action (``codeproof.security.access.ACTIONS``).
OPERATIONS: dict[str, str] = {
    "encounter.write": "encounter.submit",
    "encounter.read": "encounter.read",
    "package.read": "package.read",
    "notes.read": "phi.view",
    "package.export": "package.export",
    "decision.write": "review.decide",
    "encounter.attest": "review.attest",
    "queue.coder": "review.decide",
    "queue.cdi": "cdi.query",
    "queue.audit": "audit.read",
    "cdi.read": "phi.view",
    "cdi.write": "cdi.query",
    "analytics.read": "audit.read",
    "audit.read": "audit.read",
    "audit.verify": "audit.verify",
    "audit.export": "audit.export",
    "job.read": "encounter.read",
    "calibration.fit": "rules.manage",
    "token.create": "token.create",
}

_READ = frozenset({"encounter.read", "package.read"})
FALLBACK_ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "coder": _READ | {"encounter.submit", "phi.view", "review.decide", "review.attest"},
    "cdi": _READ | {"phi.view", "cdi.query"},
    "auditor": _READ | {"phi.view", "package.export", "audit.read", "audit.verify",
                        "audit.export"},
    "admin": frozenset({"encounter.read", "audit.read", "audit.verify", "rules.manage",
                        "token.create"}),
    "integration": frozenset({"encounter.submit", "encounter.read", "package.read",
                              "package.export"}),
    "system": frozenset(set(OPERATIONS.values())),
}


def _library_authorize() -> Any:
    if find_spec("codeproof.security.access") is None:
        return None
    return getattr(import_module("codeproof.security.access"), "authorize", None)


def authorize(principal: Principal, operation: str, *, tenant: str | None = None,
              audit: Any | None = None, subject: str = "", resource: str = "") -> None:
    """Raise ``AccessDenied`` / ``TenantMismatch`` unless ``principal`` may do ``operation``.

    ``tenant`` defaults to the principal's own (every query is then scoped to it).
    """
    action = OPERATIONS.get(operation, operation)
    target = tenant if tenant is not None else principal.tenant
    library = _library_authorize()
    if library is not None:
        library(principal, action, tenant=target, audit=audit, subject=subject,
                resource=resource, purpose=operation)
        return
    if target != principal.tenant:
        raise TenantMismatch(f"tenant {principal.tenant!r} may not act on another tenant",
                             tenant=target, action=action)
    if action not in FALLBACK_ROLE_ACTIONS.get(principal.role, frozenset()):
        raise AccessDenied(f"role {principal.role!r} may not {action!r}",
                           role=principal.role, action=action)
