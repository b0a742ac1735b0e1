"""Who may do what: the store's operations mapped onto the library's one gate.

The security module's :func:`codeproof.security.access.authorize` is the single
authority (roles -> actions, tenant scoping, audit of refusals and PHI views); the
store and the API call it through :func:`authorize` with the *library* action
names of :data:`OPERATIONS`. There is deliberately no second role table here: one
table (``security.access.ROLE_ACTIONS``) cannot drift from another.
"""

from __future__ import annotations

from typing import Any

from codeproof.security.access import authorize as library_authorize
from codeproof.security.base import Principal

__all__ = ["OPERATIONS", "authorize"]

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


def authorize(principal: Principal, operation: str, *, tenant: str | None = None,
              audit: Any | None = None, subject: str = "", resource: str = "") -> None:
    """Raise ``AccessDenied`` / ``TenantMismatch`` unless ``principal`` may do ``operation``.

    ``tenant`` defaults to the principal's own (every query is then scoped to it).
    """
    action = OPERATIONS.get(operation, operation)
    target = tenant if tenant is not None else principal.tenant
    library_authorize(principal, action, tenant=target, audit=audit, subject=subject,
                      resource=resource, purpose=operation)
