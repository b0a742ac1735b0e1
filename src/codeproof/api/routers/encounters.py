"""``/v1/encounters``: submit, search, fetch the package in every rendering."""

from __future__ import annotations

from importlib import import_module
from importlib.util import find_spec
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from codeproof.api.deps import AppContext, context, principal
from codeproof.api.schemas import SubmitOut
from codeproof.errors import EmptyNote, NotAcceptable, PayloadTooLarge
from codeproof.security.base import Principal
from codeproof.store.policy import authorize

__all__ = ["ID_PATTERN", "router"]

router = APIRouter(prefix="/v1/encounters", tags=["encounters"])

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
EncounterId = Annotated[str, Path(pattern=ID_PATTERN, description="encounter id")]
Ctx = Annotated[AppContext, Depends(context)]
Who = Annotated[Principal, Depends(principal)]

_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/plain": {"schema": {"type": "string"}},
            "application/fhir+json": {"schema": {"type": "object"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}


async def _body(request: Request, ctx: AppContext) -> bytes:
    limit = ctx.runtime.settings.service.max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body larger than {limit} bytes", limit=limit)
    data = b""
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise PayloadTooLarge(f"body larger than {limit} bytes", limit=limit)
    if not data.strip():
        raise EmptyNote("the request body is empty")
    return data


@router.post("", status_code=201, response_model=SubmitOut, openapi_extra=_BODY,
             responses={202: {"model": SubmitOut, "description": "queued as a job"}})
async def submit_encounter(
    request: Request, ctx: Ctx, who: Who,
    run_async: Annotated[bool, Query(alias="async", description="queue a job")] = False,
    setting: Annotated[Literal["inpatient", "outpatient"] | None, Query()] = None,
    encounter_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    idempotency_key: Annotated[str | None, Header(max_length=128,
                                                  pattern=r"^[\x21-\x7e]+$")] = None,
) -> Any:
    """Submit a note (text) or FHIR R4 JSON; code now, or queue a job with ``async=true``."""
    authorize(who, "encounter.write")
    data = await _body(request, ctx)
    content_type = request.headers.get("content-type")
    result = await run_in_threadpool(
        ctx.service.submit, data, principal=who, content_type=content_type,
        encounter_id=encounter_id, idempotency_key=idempotency_key, setting=setting,
        asynchronous=run_async)
    if result.job is not None:
        body = SubmitOut(encounter_id=result.encounter_id, status=result.job.status,
                         job_id=result.job.id, created=result.created)
        return JSONResponse(body.model_dump(), status_code=202,
                            headers={"Location": f"/v1/jobs/{result.job.id}"})
    return SubmitOut(encounter_id=result.encounter_id, status="coded", codes=result.codes,
                     routing=result.routing)


@router.get("")
def search_encounters(
    ctx: Ctx, who: Who,
    status: Annotated[Literal["in_review", "auto_finalized", "finalized"] | None,
                      Query()] = None,
    code: Annotated[str | None, Query(max_length=32)] = None,
    q: Annotated[str | None, Query(max_length=128, description="id contains")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    """Search the tenant's encounters by status, code prefix or id."""
    rows = ctx.store.list_encounters(principal=who, status=status, code=code, query=q,
                                     limit=limit, offset=offset)
    return {"ok": True, "encounters": [m.to_dict() for m in rows]}


@router.get("/{encounter_id}")
def get_encounter(encounter_id: EncounterId, ctx: Ctx, who: Who) -> dict[str, Any]:
    """Metadata, codes with review status, and the attestation."""
    meta = ctx.store.get_encounter_meta(encounter_id, principal=who)
    codes = ctx.store.get_codes(encounter_id, principal=who)
    attestation = ctx.store.get_attestation(encounter_id, principal=who)
    return {"ok": True, "encounter": meta.to_dict(), "codes": [c.to_dict() for c in codes],
            "attestation": attestation.to_dict() if attestation else None}


def _accept(request: Request) -> str:
    accept = request.headers.get("accept", "application/json").lower()
    for kind in ("text/html", "application/pdf", "application/fhir+json",
                 "application/json", "*/*"):
        if kind in accept:
            return kind
    raise NotAcceptable("Accept one of application/json, text/html, application/pdf, "
                        "application/fhir+json")


@router.get("/{encounter_id}/package", responses={
    200: {"content": {"application/json": {}, "text/html": {}, "application/pdf": {},
                      "application/fhir+json": {}},
          "description": "the package (JSON by default; HTML/PDF/FHIR by Accept)"}})
def get_package(encounter_id: EncounterId, request: Request, ctx: Ctx, who: Who) -> Response:
    """The justification package; ``Accept`` picks JSON, HTML, PDF or a FHIR Bundle."""
    kind = _accept(request)
    package = ctx.store.get_package(encounter_id, principal=who)
    if kind in ("application/json", "*/*"):
        return JSONResponse(package)
    if kind == "application/fhir+json":
        fhir = import_module("codeproof.export.fhir")
        return JSONResponse(fhir.package_to_fhir(package),
                            media_type="application/fhir+json")
    notes = {n["id"]: n["text"] for n in ctx.store.get_notes(encounter_id, principal=who)}
    if kind == "text/html":
        html = import_module("codeproof.export.html")
        return HTMLResponse(html.render_html(package, notes))
    pdf = import_module("codeproof.export.pdf") if find_spec("codeproof.export.pdf") else None
    if pdf is None or not pdf.is_available():
        raise NotAcceptable("PDF rendering is not installed (pip install codeproof[pdf])")
    return Response(pdf.render_pdf(package, notes=notes), media_type="application/pdf")


@router.get("/{encounter_id}/notes")
def get_notes(encounter_id: EncounterId, ctx: Ctx, who: Who) -> dict[str, Any]:
    """The note texts (a PHI view: recorded in the audit log)."""
    return {"ok": True, "notes": ctx.store.get_notes(encounter_id, principal=who)}


@router.get("/{encounter_id}/history")
def get_history(encounter_id: EncounterId, ctx: Ctx, who: Who) -> dict[str, Any]:
    """Review trail and the encounter's audit events (names, actors, times; no PHI)."""
    ctx.store.get_encounter_meta(encounter_id, principal=who)
    events: list[dict[str, Any]] = []
    if ctx.audit is not None:
        events = [{"seq": e.seq, "name": e.name, "created": e.created, "actor": e.actor,
                   "properties": e.properties}
                  for e in ctx.audit.iter_events(tenant=who.tenant, subject=encounter_id)]
    return {"ok": True, "review": ctx.store.history(encounter_id, principal=who),
            "audit_events": events}
