"""Request-scoped dependencies: the app context and the authenticated principal.

A request authenticates with ``Authorization: Bearer <token>`` or, in the
workbench, with the ``cp_token`` cookie set by ``/ui/login``. Cookie-authenticated
requests that change state must carry ``X-Codeproof-CSRF: 1`` (a custom header a
cross-site form cannot send), so the cookie cannot be ridden by another site.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from codeproof.api.auth import Authenticator
from codeproof.errors import AuthenticationFailed
from codeproof.jobs.service import CodingService
from codeproof.runtime import Runtime
from codeproof.security.base import Principal
from codeproof.store.sql import SqlStore

__all__ = ["COOKIE", "CSRF_HEADER", "AppContext", "context", "principal"]

COOKIE = "cp_token"
CSRF_HEADER = "x-codeproof-csrf"
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(slots=True, kw_only=True)
class AppContext:
    """Everything a route needs, built once by :func:`codeproof.api.app.create_app`."""

    runtime: Runtime
    store: SqlStore
    service: CodingService
    authenticator: Authenticator
    audit: Any  # the audit log (``None`` when codeproof.audit is not installed)
    warm: threading.Event = field(default_factory=threading.Event)  # pipeline loaded


def context(request: Request) -> AppContext:
    """The app's :class:`AppContext`."""
    ctx: AppContext = request.app.state.cp
    return ctx


def token_of(request: Request) -> tuple[str | None, bool]:
    """``(token, from_cookie)`` of a request."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise AuthenticationFailed("use 'Authorization: Bearer <token>'")
        return value.strip(), False
    cookie = request.cookies.get(COOKIE)
    return (cookie, True) if cookie else (None, False)


def principal(request: Request) -> Principal:
    """Authenticate the request (401 ``CP-SEC-006`` when it cannot be)."""
    token, from_cookie = token_of(request)
    if token is None:
        raise AuthenticationFailed("authentication required")
    if from_cookie and request.method not in _SAFE and \
            request.headers.get(CSRF_HEADER) != "1":
        raise AuthenticationFailed("cookie-authenticated writes need the CSRF header")
    return context(request).authenticator.authenticate(token)
