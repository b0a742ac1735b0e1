"""``/v1/audit``: verify the chain, list events, export a signed bundle."""

from __future__ import annotations

import json
import tempfile
from importlib import import_module
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from codeproof.api.deps import AppContext, context, principal
from codeproof.errors import BackendUnavailable
from codeproof.security.base import Principal
from codeproof.store.policy import authorize

__all__ = ["router"]

router = APIRouter(prefix="/v1/audit", tags=["audit"])
Ctx = Annotated[AppContext, Depends(context)]
Who = Annotated[Principal, Depends(principal)]


def _log(ctx: AppContext) -> Any:
    if ctx.audit is None:
        raise BackendUnavailable("the audit log is not installed")
    return ctx.audit


@router.get("/verify")
def verify(ctx: Ctx, who: Who) -> dict[str, Any]:
    """Verify the whole hash chain and its signed checkpoints."""
    authorize(who, "audit.verify", audit=ctx.audit)
    report = _log(ctx).verify()
    return {"ok": True, "chain_ok": report.ok, "report": report.to_dict()}


@router.get("/events")
def events(ctx: Ctx, who: Who,
           subject: Annotated[str | None, Query(max_length=128)] = None,
           name: Annotated[str | None, Query(max_length=64)] = None,
           since_seq: Annotated[int, Query(ge=0)] = 0,
           limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> dict[str, Any]:
    """The tenant's audit events (ids, names, actors, properties; never note text)."""
    authorize(who, "audit.read", audit=ctx.audit)
    rows = _log(ctx).iter_events(tenant=who.tenant, subject=subject, name=name,
                                 since_seq=since_seq, limit=limit)
    return {"ok": True, "events": [e.to_dict() for e in rows]}


@router.get("/export", responses={200: {"content": {"application/json": {}},
                                        "description": "signed audit bundle"}})
def export(ctx: Ctx, who: Who) -> Response:
    """A signed bundle of the chain; other tenants' rows are replaced by their digests."""
    authorize(who, "audit.export", audit=ctx.audit)
    log = _log(ctx)
    exporter = import_module("codeproof.audit.export")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bundle.json"
        summary = exporter.export_bundle(log, out, tenant=who.tenant, actor=who.user)
        body = out.read_bytes()
    return Response(body, media_type="application/json", headers={
        "Content-Disposition": "attachment; filename=audit-bundle.json",
        "X-Codeproof-Bundle-Sha256": str(summary["sha256"]),
        "X-Codeproof-Summary": json.dumps({"events": summary["events"],
                                           "redacted": summary["redacted"]}),
    })
