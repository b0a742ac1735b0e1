"""Review: decisions, attestation, queues, CDI queries, jobs and analytics."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query

from codeproof.api.deps import AppContext, context, principal
from codeproof.api.routers.encounters import EncounterId
from codeproof.api.schemas import AttestationIn, CdiQueryPatch, DecisionIn
from codeproof.security.base import Principal
from codeproof.store.base import CDI_STATUSES, REASONS

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["review"])
Ctx = Annotated[AppContext, Depends(context)]
Who = Annotated[Principal, Depends(principal)]


@router.get("/reasons")
def list_reasons(_who: Who) -> dict[str, Any]:
    """The standard list of decision reasons and CDI query statuses."""
    return {"ok": True, "reasons": [{"id": k, "label": v} for k, v in REASONS.items()],
            "actions": ["accept", "modify", "reject"], "cdi_statuses": list(CDI_STATUSES)}


@router.get("/encounters/{encounter_id}/decisions")
def list_decisions(encounter_id: EncounterId, ctx: Ctx, who: Who) -> dict[str, Any]:
    """Every decision recorded on the encounter, oldest first."""
    ctx.store.get_encounter_meta(encounter_id, principal=who)
    rows = ctx.store.list_decisions(principal=who, encounter_id=encounter_id)
    return {"ok": True, "decisions": [d.to_dict() for d in rows]}


@router.post("/encounters/{encounter_id}/decisions", status_code=201)
def record_decision(encounter_id: EncounterId, body: DecisionIn, ctx: Ctx,
                    who: Who) -> dict[str, Any]:
    """Accept, modify or reject one code, with a reason from ``GET /v1/reasons``."""
    record = ctx.store.record_decision(
        encounter_id, principal=who, system=body.system, code=body.code,
        action=body.action, reason=body.reason, new_code=body.new_code, comment=body.comment)
    return {"ok": True, "decision": record.to_dict()}


@router.post("/encounters/{encounter_id}/attestation", status_code=201)
def attest(encounter_id: EncounterId, body: AttestationIn, ctx: Ctx,
           who: Who) -> dict[str, Any]:
    """Attest and finalize (every code held for review needs a decision first)."""
    record = ctx.store.attest(encounter_id, principal=who, statement=body.statement)
    return {"ok": True, "attestation": record.to_dict()}


@router.get("/queues/{queue}")
def review_queue(queue: Literal["coder", "cdi", "audit"], ctx: Ctx, who: Who,
                 limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
    """A review queue: highest priority and lowest confidence first."""
    items = ctx.store.review_queue(queue, principal=who, limit=limit)
    return {"ok": True, "queue": queue, "items": [i.to_dict() for i in items]}


@router.get("/cdi/queries")
def list_cdi_queries(ctx: Ctx, who: Who,
                     encounter_id: Annotated[str | None, Query(max_length=128)] = None,
                     ) -> dict[str, Any]:
    """Drafted physician queries (text is PHI: the view is audited)."""
    rows = ctx.store.list_cdi_queries(principal=who, encounter_id=encounter_id)
    return {"ok": True, "queries": [q.to_dict() for q in rows]}


@router.patch("/cdi/queries/{query_id}")
def update_cdi_query(query_id: Annotated[int, Path(ge=1, le=2**31 - 1)], body: CdiQueryPatch,
                     ctx: Ctx, who: Who) -> dict[str, Any]:
    """Edit a query's text and/or move its status; the history is kept."""
    query = ctx.store.update_cdi_query(query_id, principal=who, text=body.text,
                                       status=body.status)
    return {"ok": True, "query": query.to_dict()}


@router.get("/jobs/{job_id}")
def get_job(job_id: Annotated[str, Path(max_length=36, pattern=r"^[0-9a-f-]{1,36}$")],
            ctx: Ctx, who: Who) -> dict[str, Any]:
    """State of an asynchronous coding job."""
    return {"ok": True, "job": ctx.service.queue.get(job_id, principal=who).to_dict()}


@router.get("/analytics")
def analytics(ctx: Ctx, who: Who) -> dict[str, Any]:
    """Automation rate, overrides by code and reason, agreement, CMI trend, upcoding watch."""
    return {"ok": True, "analytics": ctx.store.analytics(principal=who).to_dict()}
