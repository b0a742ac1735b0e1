"""The one JSON error envelope and the handlers that produce it.

Every error response is ``{"ok": false, "error", "errors", "status", "code",
"message"}``. A 5xx never echoes internals: unexpected exceptions become
``CP-000 internal error`` with a request id that appears in the server log next
to the exception *type* (never its message, which could hold note text).
Validation errors drop the offending input values for the same reason.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from codeproof.errors import (
    ApiError,
    CodeproofError,
    MethodNotAllowed,
    NotAcceptable,
    RequestInvalid,
    RouteNotFound,
)

__all__ = ["ENVELOPE_SCHEMA", "CatchAllMiddleware", "envelope", "install_error_handlers"]

logger = logging.getLogger(__name__)

#: JSON Schema of the error envelope (published in the OpenAPI components).
ENVELOPE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["ok", "error", "errors", "status", "code"],
    "properties": {
        "ok": {"type": "boolean", "const": False},
        "error": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
        "status": {"type": "integer"},
        "code": {"type": "string"},
        "message": {"type": "string"},
    },
}


def envelope(*, status: int, code: str, error: str, message: str,
             errors: list[dict[str, Any]] | None = None,
             headers: dict[str, str] | None = None) -> JSONResponse:
    """Build an error response in the envelope shape."""
    return JSONResponse(
        {"ok": False, "error": error, "errors": errors or [], "status": status,
         "code": code, "message": message},
        status_code=status, headers=headers)


def _from_error(exc: CodeproofError) -> JSONResponse:
    body = exc.to_dict()
    status = exc.http_status
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status >= 500:  # messages of server-side errors stay in the log
        return envelope(status=status, code=exc.code, error=type(exc).__name__,
                        message="the server could not complete the request", headers=headers)
    return envelope(status=status, code=exc.code, error=type(exc).__name__,
                    message=exc.message, errors=[body["context"]] if body["context"] else [],
                    headers=headers)


_HTTP_ERRORS: dict[int, type[ApiError]] = {404: RouteNotFound, 405: MethodNotAllowed,
                                           406: NotAcceptable, 422: RequestInvalid}


def install_error_handlers(app: FastAPI) -> None:
    """Route every error through the envelope."""

    async def on_codeproof(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, CodeproofError):  # registered for this type only
            raise exc
        if exc.http_status >= 500:
            logger.warning("request failed: %s (%s)", exc.code, type(exc).__name__)
        html_error = getattr(request.app.state, "html_error", None)
        if html_error is not None and request.url.path.startswith("/ui/") \
                and request.method == "GET":
            response: Response = html_error(request, exc)
            return response
        return _from_error(exc)

    async def on_validation(_request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, RequestValidationError):  # registered for this type only
            raise exc
        errors = [{"loc": [str(p) for p in err.get("loc", ())], "msg": str(err.get("msg")),
                   "type": str(err.get("type"))} for err in exc.errors()]
        return envelope(status=422, code=RequestInvalid.code, error="RequestInvalid",
                        message="the request does not follow the API schema", errors=errors)

    async def on_http(_request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, StarletteHTTPException):  # registered for this type only
            raise exc
        cls = _HTTP_ERRORS.get(exc.status_code, ApiError)
        message = {404: "no such route", 405: "method not allowed"}.get(
            exc.status_code, str(exc.detail) if exc.status_code < 500 else "server error")
        return envelope(status=exc.status_code, code=cls.code, error=cls.__name__,
                        message=message, headers=dict(exc.headers or {}))

    app.add_exception_handler(CodeproofError, on_codeproof)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)


class CatchAllMiddleware:
    """Outermost ASGI layer: an unexpected exception becomes a bare CP-000 envelope."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def _send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, _send)
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            request_id = uuid.uuid4().hex[:12]
            logger.error("unhandled %s on %s %s (request %s)", type(exc).__name__,
                         scope.get("method"), scope.get("path"), request_id)
            if started:
                raise
            response = envelope(status=500, code=CodeproofError.code, error="InternalError",
                                message=f"internal error (request {request_id})")
            await response(scope, receive, send)
