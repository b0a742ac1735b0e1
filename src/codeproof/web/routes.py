"""The workbench: server-rendered pages over the same store calls as the API.

Pages read through the store (so role, tenant and PHI-view auditing apply exactly
as in the API) and act through the JSON API from a little vanilla JavaScript
(``static/app.js``) with the session cookie and the CSRF header. Nothing here
decides anything the API does not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field

from codeproof import __version__
from codeproof.api.deps import COOKIE, AppContext, context
from codeproof.api.routers.encounters import EncounterId
from codeproof.errors import AuthenticationFailed, CodeproofError
from codeproof.security.access import allowed
from codeproof.security.base import Principal
from codeproof.store.base import CDI_STATUSES, REASONS
from codeproof.store.policy import OPERATIONS
from codeproof.web.render import code_key, evidence_spans, segments

__all__ = ["install_web", "render_error"]

_HERE = Path(__file__).parent
_templates = Jinja2Templates(directory=str(_HERE / "templates"))
router = APIRouter(prefix="/ui", include_in_schema=False)
Ctx = Annotated[AppContext, Depends(context)]

_HOME = {"coder": "/ui/queue/coder", "cdi": "/ui/cdi", "auditor": "/ui/audit",
         "admin": "/ui/analytics", "integration": "/ui/search", "system": "/ui/queue/coder"}


def _may(principal: Principal, operation: str) -> bool:
    """Whether to *show* a control; the API call behind it is authorized again."""
    return bool(allowed(principal.role, OPERATIONS[operation]))


def _viewer(request: Request) -> Principal | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    return context(request).authenticator.authenticate(token)


def _page(request: Request, template: str, who: Principal, **values: Any) -> HTMLResponse:
    return _templates.TemplateResponse(request, template, {
        "who": who, "version": __version__, "may": lambda op: _may(who, op), **values})


def render_error(request: Request, exc: CodeproofError) -> Response:
    """HTML error page for ``/ui`` (login redirect on 401)."""
    if exc.http_status == 401:
        return RedirectResponse("/ui/login", status_code=303)
    message = exc.message if exc.http_status < 500 else "the server could not complete this"
    return _templates.TemplateResponse(request, "error.html", {
        "who": None, "version": __version__, "code": exc.code, "status": exc.http_status,
        "message": message}, status_code=exc.http_status)


class _Login(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=8, max_length=4096)


@router.get("/login")
def login_page(request: Request) -> HTMLResponse:
    """Paste an API token (or, behind an OIDC proxy, arrive with one)."""
    return _templates.TemplateResponse(request, "login.html",
                                       {"who": None, "version": __version__})


@router.post("/session")
def create_session(body: _Login, ctx: Ctx) -> JSONResponse:
    """Check the token and keep it in an HttpOnly, SameSite=Strict cookie."""
    who = ctx.authenticator.authenticate(body.token)
    response = JSONResponse({"ok": True, "role": who.role, "home": _HOME[who.role]})
    response.set_cookie(COOKIE, body.token, httponly=True, samesite="strict",
                        secure=ctx.runtime.settings.service.cookie_secure,
                        max_age=12 * 3600, path="/")
    return response


@router.get("/logout")
def logout() -> RedirectResponse:
    """Forget the session cookie."""
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("")
@router.get("/")
def home(request: Request) -> RedirectResponse:
    """Each role lands on its own work list."""
    who = _viewer(request)
    return RedirectResponse(_HOME[who.role] if who else "/ui/login", status_code=303)


def _who(request: Request) -> Principal:
    who = _viewer(request)
    if who is None:
        raise AuthenticationFailed("login required")
    return who


Who = Annotated[Principal, Depends(_who)]


@router.get("/queue/{queue}")
def queue_page(queue: str, request: Request, ctx: Ctx, who: Who) -> HTMLResponse:
    """A review queue, highest priority and lowest confidence first."""
    items = ctx.store.review_queue(queue, principal=who, limit=200)
    return _page(request, "queue.html", who, queue=queue, items=items)


@router.get("/search")
def search_page(request: Request, ctx: Ctx, who: Who, q: str = "", code: str = "",
                status: str = "") -> HTMLResponse:
    """Find encounters by id, code or status."""
    rows = ctx.store.list_encounters(principal=who, query=q[:128] or None,
                                     code=code[:32] or None, status=status[:32] or None,
                                     limit=200)
    return _page(request, "search.html", who, rows=rows, q=q, code=code, status=status)


@router.get("/encounters/{encounter_id}")
def encounter_page(encounter_id: EncounterId, request: Request, ctx: Ctx,
                   who: Who) -> HTMLResponse:
    """The review screen: the note with evidence, codes, citations, decisions, attestation."""
    meta = ctx.store.get_encounter_meta(encounter_id, principal=who)
    package = ctx.store.get_package(encounter_id, principal=who)
    notes = ctx.store.get_notes(encounter_id, principal=who)
    rows = {code_key(c.system, c.code): c for c in ctx.store.get_codes(encounter_id,
                                                                         principal=who)}
    codes = []
    for entry in package.get("codes", []):
        key = code_key(str(entry.get("system")), str(entry.get("code")))
        codes.append({"key": key, "entry": entry, "row": rows.get(key)})
    rendered = [{"id": n["id"], "kind": n.get("kind", "note"),
                 "segments": segments(n["text"], evidence_spans(package, n["id"]))}
                for n in notes]
    findings = {f.get("rule_id"): f for f in package.get("findings", [])
                if isinstance(f, dict)}
    queries = (ctx.store.list_cdi_queries(principal=who, encounter_id=encounter_id)
               if _may(who, "cdi.read") else [])
    return _page(request, "encounter.html", who, meta=meta, package=package, codes=codes,
                 notes=rendered, findings=findings, reasons=REASONS, queries=queries,
                 cdi_statuses=CDI_STATUSES,
                 attestation=ctx.store.get_attestation(encounter_id, principal=who),
                 pending=sum(1 for c in codes if c["row"] and c["row"].status == "pending"))


@router.get("/cdi")
def cdi_page(request: Request, ctx: Ctx, who: Who) -> HTMLResponse:
    """CDI work list: encounters with documentation gaps and their drafted queries."""
    items = ctx.store.review_queue("cdi", principal=who, limit=200)
    queries = ctx.store.list_cdi_queries(principal=who)
    return _page(request, "cdi.html", who, items=items, queries=queries,
                 cdi_statuses=CDI_STATUSES)


@router.get("/audit")
def audit_page(request: Request, ctx: Ctx, who: Who) -> HTMLResponse:
    """Auditor: the sample of auto-finalized encounters, and the chain status."""
    items = ctx.store.review_queue("audit", principal=who, limit=200)
    return _page(request, "audit.html", who, items=items)


@router.get("/analytics")
def analytics_page(request: Request, ctx: Ctx, who: Who) -> HTMLResponse:
    """Automation, overrides, agreement, CMI trend with the upcoding watch."""
    stats = ctx.store.analytics(principal=who)
    peak = max((c for _, c, _, _ in stats.cmi_trend), default=1.0) or 1.0
    return _page(request, "analytics.html", who, stats=stats, peak=peak,
                 reasons=REASONS)


def install_web(app: FastAPI) -> None:
    """Mount the workbench pages and static files on ``app``."""
    app.mount("/ui/static", StaticFiles(directory=str(_HERE / "static")), name="ui-static")
    app.include_router(router)
    app.state.html_error = render_error
