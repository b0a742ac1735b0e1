"""``create_app(runtime)``: the FastAPI application (REST API + workbench UI).

Collaborators are injected so that tests and benches run without NLP models:
``parse`` and ``code`` replace :func:`codeproof.ingest.parse_bytes` and
:func:`codeproof.run.code_encounter` (see :mod:`codeproof.api.fake`);
``authenticators`` adds an :class:`~codeproof.api.auth.OidcAuthenticator` next to
the API tokens.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from codeproof import __version__
from codeproof.api.auth import Authenticator, ChainAuthenticator, TokenAuthenticator
from codeproof.api.deps import AppContext
from codeproof.api.errors import ENVELOPE_SCHEMA, CatchAllMiddleware, install_error_handlers
from codeproof.api.routers import audit, encounters, review, system
from codeproof.jobs.service import Code, CodingService, Parse, Worker
from codeproof.runtime import Runtime
from codeproof.store import open_store
from codeproof.store.sql import SqlStore

__all__ = ["app_from_environment", "create_app", "pipeline_functions"]

logger = logging.getLogger(__name__)


def create_app(runtime: Runtime | None = None, *, parse: Parse | None = None,
               code: Code | None = None, persists: bool | None = None,
               authenticators: Sequence[Authenticator] = (),
               embedded_worker: bool | None = None) -> FastAPI:
    """Build the app over ``runtime`` (default: settings from the environment)."""
    runtime = runtime if runtime is not None else Runtime()
    store = runtime.resource("store", open_store)
    if not isinstance(store, SqlStore):  # pragma: no cover - every backend is SQL today
        raise TypeError("the service needs a SQL store")
    service = CodingService(runtime, store=store, parse=parse, code=code, persists=persists)
    authenticator = ChainAuthenticator([TokenAuthenticator(store.engine), *authenticators])
    ctx = AppContext(runtime=runtime, store=store, service=service,
                     authenticator=authenticator, audit=store.audit)
    run_worker = (runtime.settings.service.embedded_worker if embedded_worker is None
                  else embedded_worker)

    def warm_up() -> None:
        # the real pipeline loads its models on first use: do it now, not on a request
        service.warm_up()
        ctx.warm.set()
        logger.info("coding pipeline ready")

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        threading.Thread(target=warm_up, name="pipeline-warm-up", daemon=True).start()
        stop = None
        if run_worker:
            worker = Worker(service, poll_seconds=runtime.settings.service.job_poll_seconds)
            _thread, stop = worker.start_thread()
        yield
        if stop is not None:
            stop.set()

    app = FastAPI(
        title="codeproof",
        version=__version__,
        description="Audit-ready medical coding: submit encounters, fetch justification "
                    "packages, review codes, verify the audit trail.",
        lifespan=lifespan,
    )
    app.state.cp = ctx
    install_error_handlers(app)
    for router in (system.router, encounters.router, review.router, audit.router):
        app.include_router(router)
    from codeproof.web.routes import install_web

    install_web(app)
    _publish_envelope(app)
    app.add_middleware(CatchAllMiddleware)
    return app


def pipeline_functions(name: str) -> dict[str, Any]:
    """``create_app`` keyword arguments for ``service.pipeline`` (``real`` | ``fake``)."""
    if name == "fake":
        from codeproof.api.fake import fake_code, fake_parse

        return {"parse": fake_parse, "code": fake_code, "persists": False}
    return {}


def app_from_environment() -> FastAPI:
    """Factory for ``uvicorn --factory`` / ``serve --workers N``: settings from the env."""
    runtime = Runtime()
    return create_app(runtime, **pipeline_functions(runtime.settings.service.pipeline))


def _publish_envelope(app: FastAPI) -> None:
    """Document the error envelope on every operation of the OpenAPI spec."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = original()
        spec.setdefault("components", {}).setdefault("schemas", {})["ErrorEnvelope"] = \
            ENVELOPE_SCHEMA
        ref = {"content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}}
        for path in spec.get("paths", {}).values():
            for operation in path.values():
                responses = operation.setdefault("responses", {})
                for status, label in (("401", "not authenticated"), ("403", "forbidden"),
                                      ("404", "not found"), ("422", "invalid request")):
                    responses.setdefault(status, {"description": label, **ref})
                responses["422"] = {"description": "invalid request", **ref}
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
