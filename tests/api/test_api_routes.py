"""Every route: happy path, bad input, wrong role, wrong tenant (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from codeproof.errors import BackendError

NOTE = ("Patient with type 2 diabetes and hypertension. Chest x-ray shows pneumonia. "
        "Possible sepsis. No fever.")


def envelope_ok(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["ok"] is False and body["status"] == status
    assert set(body) >= {"ok", "error", "errors", "status", "code"}
    if code is not None:
        assert body["code"] == code, body
    return body


def fhir_docref(text: str) -> bytes:
    return json.dumps({
        "resourceType": "DocumentReference", "status": "current",
        "content": [{"attachment": {"contentType": "text/plain",
                                    "data": base64.b64encode(text.encode()).decode()}}],
    }).encode()


# -- health, spec, auth ---------------------------------------------------------------

def test_health_ready_openapi(api: Any) -> None:
    assert api.client.get("/healthz").json()["status"] == "ok"
    api.app.state.cp.warm.wait(timeout=10)  # the fake pipeline is ready at once
    ready = api.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["schema"] == "ok"
    assert ready.json()["checks"]["pipeline"] == "ready"
    spec = api.client.get("/openapi.json").json()
    assert "/v1/encounters" in spec["paths"] and "ErrorEnvelope" in spec["components"]["schemas"]


@pytest.mark.parametrize(("headers", "reason"), [
    ({}, "missing"),
    ({"Authorization": "Bearer cp_not-a-real-token"}, "unknown"),
    ({"Authorization": "Basic abc"}, "wrong scheme"),
    ({"Authorization": "Bearer a.b.c"}, "jwt without an OIDC authenticator"),
])
def test_authentication_required(api: Any, headers: dict[str, str], reason: str) -> None:
    body = envelope_ok(api.client.get("/v1/encounters", headers=headers), 401, "CP-SEC-006")
    assert body["error"] == "AuthenticationFailed", reason


def test_me(api: Any) -> None:
    assert api.client.get("/v1/me", headers=api.h("cdi")).json()["role"] == "cdi"


# -- submit -----------------------------------------------------------------------------

def test_submit_text_and_fhir(api: Any) -> None:
    response = api.client.post("/v1/encounters", content=NOTE.encode(),
                               headers=api.h("integration", **{"Content-Type": "text/plain"}),
                               params={"encounter_id": "enc-1", "setting": "inpatient"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["encounter_id"] == "enc-1" and body["status"] == "coded"
    assert body["routing"] == {"auto_finalize": 2, "coder_review": 1, "cdi_query": 1}
    response = api.client.post("/v1/encounters", content=fhir_docref("Heart failure."),
                               headers=api.h("coder", **{"Content-Type":
                                                         "application/fhir+json"}))
    assert response.status_code == 201 and response.json()["codes"] == 1


@pytest.mark.parametrize(("body", "content_type", "params", "status", "code"), [
    (b"", "text/plain", {}, 422, "CP-ING-004"),                       # empty
    (b"   \n ", "text/plain", {}, 422, "CP-ING-004"),                 # borderline: blank
    (b"{not json", "application/json", {}, 422, "CP-ING-003"),        # malformed JSON
    (b'{"resourceType": "Patient"}', "application/fhir+json", {}, 415, "CP-ING-002"),
    (b"note", "text/plain", {"encounter_id": "../etc"}, 422, "CP-API-002"),
    (b"note", "text/plain", {"setting": "icu"}, 422, "CP-API-002"),
    (b"\xff\xfe", "text/plain", {}, 422, "CP-ING-003"),               # not UTF-8
])
def test_submit_bad_input(api: Any, body: bytes, content_type: str, params: dict[str, str],
                          status: int, code: str) -> None:
    response = api.client.post("/v1/encounters", content=body, params=params,
                               headers=api.h("integration", **{"Content-Type": content_type}))
    envelope_ok(response, status, code)


def test_submit_too_large(api_factory: Any) -> None:
    from codeproof.config import load_settings

    api = api_factory()
    settings = api.app.state.cp.runtime.settings
    small = load_settings(environ={}, home=str(settings.home),
                          service={"max_body_bytes": 64})
    api.app.state.cp.runtime.settings = small
    response = api.client.post("/v1/encounters", content=b"x" * 65,
                               headers=api.h("integration", **{"Content-Type": "text/plain"}))
    envelope_ok(response, 413, "CP-API-005")


@pytest.mark.parametrize("role", ["auditor", "cdi", "admin"])
def test_submit_wrong_role(api: Any, role: str) -> None:
    response = api.client.post("/v1/encounters", content=NOTE.encode(),
                               headers=api.h(role, **{"Content-Type": "text/plain"}))
    envelope_ok(response, 403, "CP-SEC-002")


def test_submit_async_idempotent_and_worker(api: Any) -> None:
    from codeproof.jobs import Worker

    headers = api.h("integration", **{"Content-Type": "text/plain", "Idempotency-Key": "k-1"})
    first = api.client.post("/v1/encounters", params={"async": "true"}, content=NOTE.encode(),
                            headers=headers)
    assert first.status_code == 202, first.text
    job = first.json()
    assert job["status"] == "queued" and job["created"] is True
    again = api.client.post("/v1/encounters", params={"async": "true"},
                            content=NOTE.encode(), headers=headers)
    assert again.json()["job_id"] == job["job_id"] and again.json()["created"] is False
    clash = api.client.post("/v1/encounters", params={"async": "true"},
                            content=b"Heart failure.", headers=headers)
    envelope_ok(clash, 409, "CP-STO-004")
    # the other tenant may reuse the same key: keys are per tenant
    other = api.client.post("/v1/encounters", params={"async": "true"}, content=b"Cough.",
                            headers=api.h("other:integration", **{"Idempotency-Key": "k-1"}))
    assert other.status_code == 202 and other.json()["job_id"] != job["job_id"]
    worker = Worker(api.app.state.cp.service)
    assert worker.process_one() == "done" and worker.process_one() == "done"
    assert worker.process_one() is None
    state = api.client.get(f"/v1/jobs/{job['job_id']}", headers=api.h("integration")).json()
    assert state["job"]["status"] == "done" and state["job"]["attempts"] == 1
    package = api.client.get(f"/v1/encounters/{job['encounter_id']}/package",
                             headers=api.h("integration")).json()
    assert package["encounter_id"] == job["encounter_id"]
    envelope_ok(api.client.get(f"/v1/jobs/{job['job_id']}",
                               headers=api.h("other:integration")), 404, "CP-STO-002")
    envelope_ok(api.client.get("/v1/jobs/not-a-uuid!", headers=api.h("integration")),
                422, "CP-API-002")


# -- read the package --------------------------------------------------------------------

@pytest.mark.parametrize(("accept", "role", "status", "kind"), [
    ("application/json", "integration", 200, "application/json"),
    ("*/*", "coder", 200, "application/json"),
    ("text/html,application/xhtml+xml", "coder", 200, "text/html"),
    ("application/fhir+json", "auditor", 200, "application/fhir+json"),
    ("text/html", "integration", 403, None),      # HTML shows note text: phi.view needed
    ("image/png", "coder", 406, None),
])
def test_package_renderings(api: Any, accept: str, role: str, status: int,
                            kind: str | None) -> None:
    eid = api.submit(NOTE)
    response = api.client.get(f"/v1/encounters/{eid}/package",
                              headers=api.h(role, Accept=accept))
    assert response.status_code == status, response.text
    if kind is not None:
        assert response.headers["content-type"].startswith(kind)
    if kind == "text/html":
        assert "pneumonia" in response.text
    if kind == "application/json":
        assert response.json()["codes"][0]["evidence"][0]["quote"]


def test_package_pdf(api_factory: Any) -> None:
    api = api_factory()  # rendering does not depend on the backend: SQLite only
    eid = api.submit(NOTE)
    response = api.client.get(f"/v1/encounters/{eid}/package",
                              headers=api.h("coder", Accept="application/pdf"))
    from importlib.util import find_spec

    if find_spec("codeproof.export.pdf") is None:
        envelope_ok(response, 406, "CP-API-006")
    else:
        assert response.status_code in (200, 406)


def test_package_wrong_tenant_and_missing(api: Any) -> None:
    eid = api.submit(NOTE)
    for path in ("", "/package", "/notes", "/decisions", "/history"):
        envelope_ok(api.client.get(f"/v1/encounters/{eid}{path}",
                                   headers=api.h("other:coder")), 404, "CP-STO-002")
    envelope_ok(api.client.get("/v1/encounters/nope/package", headers=api.h("coder")),
                404, "CP-STO-002")
    envelope_ok(api.client.get("/v1/encounters/bad%20id/package", headers=api.h("coder")),
                422, "CP-API-002")


def test_notes_and_history(api: Any) -> None:
    eid = api.submit(NOTE)
    notes = api.client.get(f"/v1/encounters/{eid}/notes", headers=api.h("cdi")).json()
    assert notes["notes"][0]["text"] == NOTE
    envelope_ok(api.client.get(f"/v1/encounters/{eid}/notes", headers=api.h("integration")),
                403, "CP-SEC-002")
    history = api.client.get(f"/v1/encounters/{eid}/history", headers=api.h("coder")).json()
    if api.app.state.cp.audit is not None:
        names = {e["name"] for e in history["audit_events"]}
        assert "encounter.saved" in names and "phi.viewed" in names


def test_search(api: Any) -> None:
    api.submit("Pneumonia.", encounter_id="alpha-1")
    api.submit("Hypertension.", encounter_id="beta-2")
    found = api.client.get("/v1/encounters", params={"code": "J18"}, headers=api.h("coder"))
    assert [e["id"] for e in found.json()["encounters"]] == ["alpha-1"]
    found = api.client.get("/v1/encounters", params={"q": "beta"}, headers=api.h("admin"))
    assert [e["id"] for e in found.json()["encounters"]] == ["beta-2"]
    assert api.client.get("/v1/encounters", headers=api.h("other:coder")).json()[
        "encounters"] == []
    envelope_ok(api.client.get("/v1/encounters", params={"limit": 0}, headers=api.h("coder")),
                422, "CP-API-002")
    envelope_ok(api.client.get("/v1/encounters", params={"status": "weird"},
                               headers=api.h("coder")), 422, "CP-API-002")
    detail = api.client.get("/v1/encounters/alpha-1", headers=api.h("coder")).json()
    assert detail["codes"][0]["code"] == "J18.9" and detail["attestation"] is None


# -- review ------------------------------------------------------------------------------

def decide(api: Any, eid: str, role: str = "coder", **body: Any) -> Any:
    payload = {"system": "ICD-10-CM", "code": "J18.9", "action": "accept",
               "reason": "documentation_supports", **body}
    return api.client.post(f"/v1/encounters/{eid}/decisions", json=payload,
                           headers=api.h(role))


def test_reasons(api: Any) -> None:
    body = api.client.get("/v1/reasons", headers=api.h("coder")).json()
    assert {"id": "other", "label": "Other (comment required)"} in body["reasons"]
    envelope_ok(api.client.get("/v1/reasons"), 401)


@pytest.mark.parametrize(("body", "status", "code"), [
    ({}, 201, None),
    ({"action": "modify", "new_code": "J18.1", "reason": "more_specific_code"}, 201, None),
    ({"action": "reject", "reason": "other", "comment": "dup"}, 201, None),
    ({"action": "reject", "reason": "other"}, 422, "CP-STO-003"),
    ({"action": "modify", "reason": "more_specific_code"}, 422, "CP-STO-003"),
    ({"reason": "because"}, 422, "CP-STO-003"),
    ({"action": "approve"}, 422, "CP-API-002"),
    ({"extra": 1}, 422, "CP-API-002"),
    ({"code": "Z99.9"}, 404, "CP-STO-002"),
])
def test_decisions(api: Any, body: dict[str, Any], status: int, code: str | None) -> None:
    eid = api.submit(NOTE)
    response = decide(api, eid, **body)
    if code is None:
        assert response.status_code == status, response.text
        listed = api.client.get(f"/v1/encounters/{eid}/decisions", headers=api.h("auditor"))
        assert len(listed.json()["decisions"]) == 1
    else:
        envelope_ok(response, status, code)


@pytest.mark.parametrize(("role", "status", "code"), [
    ("auditor", 403, "CP-SEC-002"), ("cdi", 403, "CP-SEC-002"),
    ("integration", 403, "CP-SEC-002"), ("other:coder", 404, "CP-STO-002"),
])
def test_decisions_wrong_role_or_tenant(api: Any, role: str, status: int, code: str) -> None:
    eid = api.submit(NOTE)
    envelope_ok(decide(api, eid, role=role), status, code)


def test_attestation_flow(api: Any) -> None:
    eid = api.submit(NOTE)
    url = f"/v1/encounters/{eid}/attestation"
    envelope_ok(api.client.post(url, json={"statement": "I attest"}, headers=api.h("coder")),
                409, "CP-STO-004")
    assert decide(api, eid).status_code == 201
    assert decide(api, eid, code="A41.9", action="reject",
                  reason="uncertain_diagnosis").status_code == 201
    envelope_ok(api.client.post(url, json={"statement": ""}, headers=api.h("coder")),
                422, "CP-API-002")
    envelope_ok(api.client.post(url, json={"statement": "x"}, headers=api.h("auditor")),
                403, "CP-SEC-002")
    envelope_ok(api.client.post(url, json={"statement": "x"}, headers=api.h("other:coder")),
                404, "CP-STO-002")
    done = api.client.post(url, json={"statement": "I attest"}, headers=api.h("coder"))
    assert done.status_code == 201 and done.json()["attestation"]["user"] == "coder@default"
    envelope_ok(decide(api, eid), 409, "CP-STO-004")
    meta = api.client.get(f"/v1/encounters/{eid}", headers=api.h("coder")).json()
    assert meta["encounter"]["status"] == "finalized" and meta["attestation"]


@pytest.mark.parametrize(("queue", "role", "status"), [
    ("coder", "coder", 200), ("cdi", "cdi", 200), ("audit", "auditor", 200),
    ("coder", "auditor", 403), ("cdi", "coder", 403), ("audit", "coder", 403),
    ("nope", "coder", 422),
])
def test_queues(api: Any, queue: str, role: str, status: int) -> None:
    api.submit(NOTE)
    api.submit("Type 2 diabetes and hypertension and cough.", encounter_id="auto-1")
    response = api.client.get(f"/v1/queues/{queue}", headers=api.h(role))
    assert response.status_code == status, response.text
    if status == 200:
        assert response.json()["items"], "queue should not be empty"
        other = api.client.get(f"/v1/queues/{queue}", headers=api.h(f"other:{role}"))
        assert other.json()["items"] == []


def test_cdi_queries(api: Any) -> None:
    eid = api.submit(NOTE)
    listed = api.client.get("/v1/cdi/queries", params={"encounter_id": eid},
                            headers=api.h("cdi")).json()["queries"]
    assert len(listed) == 1 and listed[0]["status"] == "draft"
    qid = listed[0]["id"]
    patched = api.client.patch(f"/v1/cdi/queries/{qid}", json={"text": "Edited?",
                                                               "status": "sent"},
                               headers=api.h("cdi"))
    assert patched.status_code == 200 and patched.json()["query"]["status"] == "sent"
    envelope_ok(api.client.patch(f"/v1/cdi/queries/{qid}", json={"status": "lost"},
                                 headers=api.h("cdi")), 422, "CP-API-002")
    envelope_ok(api.client.patch(f"/v1/cdi/queries/{qid}", json={},
                                 headers=api.h("cdi")), 422, "CP-STO-003")
    envelope_ok(api.client.patch(f"/v1/cdi/queries/{qid}", json={"status": "sent"},
                                 headers=api.h("coder")), 403, "CP-SEC-002")
    envelope_ok(api.client.patch(f"/v1/cdi/queries/{qid}", json={"status": "sent"},
                                 headers=api.h("other:cdi")), 404, "CP-STO-002")
    assert api.client.get("/v1/cdi/queries", headers=api.h("other:cdi")).json()[
        "queries"] == []


def test_analytics(api: Any) -> None:
    eid = api.submit(NOTE)
    decide(api, eid, action="reject", reason="not_documented")
    body = api.client.get("/v1/analytics", headers=api.h("auditor")).json()["analytics"]
    assert body["override_rate"] == 1.0 and body["automation_rate"] == 0.5
    envelope_ok(api.client.get("/v1/analytics", headers=api.h("coder")), 403, "CP-SEC-002")
    other = api.client.get("/v1/analytics", headers=api.h("other:auditor")).json()
    assert other["analytics"]["codes"] == 0


def test_audit_routes(api: Any) -> None:
    if api.app.state.cp.audit is None:
        envelope_ok(api.client.get("/v1/audit/verify", headers=api.h("auditor")), 503)
        return
    eid = api.submit(NOTE)
    decide(api, eid)
    verify = api.client.get("/v1/audit/verify", headers=api.h("auditor")).json()
    assert verify["chain_ok"] is True
    events = api.client.get("/v1/audit/events", params={"subject": eid},
                            headers=api.h("auditor")).json()["events"]
    assert "code.decision" in {e["name"] for e in events}
    assert api.client.get("/v1/audit/events", params={"subject": eid},
                          headers=api.h("other:auditor")).json()["events"] == []
    bundle = api.client.get("/v1/audit/export", headers=api.h("auditor"))
    assert bundle.status_code == 200 and bundle.json()["format"].startswith("codeproof.audit")
    for path in ("/verify", "/events", "/export"):
        envelope_ok(api.client.get(f"/v1/audit{path}", headers=api.h("coder")), 403,
                    "CP-SEC-002")
    envelope_ok(api.client.get("/v1/audit/events", params={"limit": 0},
                               headers=api.h("auditor")), 422, "CP-API-002")


# -- errors never leak -----------------------------------------------------------------

def test_unknown_route_and_method(api: Any) -> None:
    envelope_ok(api.client.get("/v1/nothing-here"), 404, "CP-API-003")
    envelope_ok(api.client.delete("/v1/encounters", headers=api.h("coder")), 405,
                "CP-API-004")


@pytest.mark.parametrize("failure", [RuntimeError, BackendError])
def test_5xx_never_echoes_internals(api_factory: Any, failure: type[Exception]) -> None:
    secret = "Jane Roe DOB 1950-01-01 pneumonia"

    def broken(runtime: Any, encounter: Any, *, principal: Any) -> Any:
        raise failure(f"boom: {secret}")

    api = api_factory(code=broken)
    with api.client:
        response = api.client.post("/v1/encounters", content=secret.encode(),
                                   headers=api.h("coder", **{"Content-Type": "text/plain"}))
    assert response.status_code >= 500
    assert secret not in response.text and "boom" not in response.text
    assert "Traceback" not in response.text
    assert response.json()["ok"] is False
