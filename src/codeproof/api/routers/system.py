"""Health, readiness and identity."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from codeproof import __version__
from codeproof.api.deps import AppContext, context, principal
from codeproof.api.schemas import Health
from codeproof.security.base import Principal
from codeproof.store.migrate import current_revision, head_revision

__all__ = ["router"]

router = APIRouter(tags=["system"])
Ctx = Annotated[AppContext, Depends(context)]


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """Liveness: the process answers."""
    return Health(status="ok", version=__version__)


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
def readyz(ctx: Ctx) -> Any:
    """Readiness: the database answers, its schema is at head, the pipeline is loaded."""
    checks: dict[str, Any] = {"store": ctx.store.name,
                              "pipeline": "ready" if ctx.warm.is_set() else "loading"}
    try:
        with ctx.store.engine.connect() as conn:
            conn.execute(text("select 1"))
        checks["database"] = "ok"
        revision = current_revision(ctx.store.engine)
        checks["schema"] = "ok" if revision == head_revision() else f"at {revision}"
        checks["jobs"] = ctx.service.queue.counts()
    except SQLAlchemyError as exc:
        checks["database"] = f"unavailable ({type(exc).__name__})"
    ready = (checks.get("database") == "ok" and checks.get("schema") == "ok"
             and checks["pipeline"] == "ready")
    body = Health(status="ready" if ready else "not_ready", version=__version__,
                  checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get("/v1/me")
def me(who: Annotated[Principal, Depends(principal)]) -> dict[str, Any]:
    """Who the token belongs to."""
    return {"ok": True, "user": who.user, "role": who.role, "tenant": who.tenant}
