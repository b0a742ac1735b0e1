"""Workbench pages: rendering per role, escaping, evidence segments, CSRF on the cookie."""

from __future__ import annotations

import re
from typing import Any

import pytest

from codeproof.web.render import Segment, evidence_spans, segments

NOTE = ("Patient with type 2 diabetes and hypertension. Chest x-ray shows pneumonia. "
        "Possible sepsis. No fever.")


@pytest.mark.parametrize(("text", "spans", "expected"), [
    ("abcdef", [(1, 3, "A")], [("a", ()), ("bc", ("A",)), ("def", ())]),
    ("abcdef", [(1, 4, "A"), (2, 6, "B")],                       # overlap
     [("a", ()), ("b", ("A",)), ("cd", ("A", "B")), ("ef", ("B",))]),
    ("abc", [(2, 99, "A"), (5, 7, "B"), (-3, 1, "C")],            # clipped / out of range
     [("a", ("C",)), ("b", ()), ("c", ("A",))]),
    ("abc", [], [("abc", ())]),                                   # nothing to mark
])
def test_segments(text: str, spans: list[tuple[int, int, str]],
                  expected: list[tuple[str, tuple[str, ...]]]) -> None:
    result = segments(text, spans)
    assert [(s.text, s.codes) for s in result] == expected
    assert "".join(s.text for s in result) == text


def test_segments_scale_to_a_long_note() -> None:
    text = "pneumonia and fever. " * 3000  # ~63k characters, ~20 pages
    spans = [(i * 21, i * 21 + 9, f"C{i % 7}") for i in range(3000)]
    result = segments(text, spans)
    assert sum(isinstance(s, Segment) for s in result) == 6000
    assert "".join(s.text for s in result) == text


def test_evidence_spans_filters_by_note() -> None:
    package = {"codes": [{"system": "ICD-10-CM", "code": "I10", "evidence": [
        {"note_id": "n1", "start": 0, "end": 3}, {"note_id": "n2", "start": 1, "end": 2}]}]}
    assert evidence_spans(package, "n1") == [(0, 3, "ICD-10-CM:I10")]


def test_login_redirects_and_session(web: Any) -> None:
    anonymous = web.client.get("/ui/queue/coder", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/ui/login"
    assert "Paste the API token" in web.client.get("/ui/login").text
    bad = web.client.post("/ui/session", json={"token": "cp_wrong-token"})
    assert bad.status_code == 401 and bad.json()["code"] == "CP-SEC-006"
    session = web.client.post("/ui/session", json={"token": web.tokens["coder"]})
    cookie = session.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    client = web.login("coder")
    home = client.get("/ui/", follow_redirects=False)
    assert home.headers["location"] == "/ui/queue/coder"


@pytest.mark.parametrize(("role", "path", "status", "marker"), [
    ("coder", "/ui/queue/coder", 200, "enc-1"),
    ("coder", "/ui/encounters/enc-1", 200, 'data-key="ICD-10-CM:J18.9"'),
    ("auditor", "/ui/encounters/enc-1", 200, "Audit trail"),
    ("cdi", "/ui/cdi", 200, "Please clarify whether sepsis"),
    ("auditor", "/ui/audit", 200, "Verify audit chain"),
    ("admin", "/ui/analytics", 200, "Automation rate"),
    ("integration", "/ui/search?code=J18", 200, "enc-1"),
    ("auditor", "/ui/queue/coder", 403, "CP-SEC-002"),     # wrong role
    ("integration", "/ui/encounters/enc-1", 403, "CP-SEC-002"),  # no PHI view
    ("coder", "/ui/analytics", 403, "CP-SEC-002"),
    ("other:coder", "/ui/encounters/enc-1", 404, "CP-STO-002"),  # wrong tenant
    ("coder", "/ui/encounters/nope", 404, "CP-STO-002"),
])
def test_pages(web: Any, role: str, path: str, status: int, marker: str) -> None:
    web.submit(NOTE, "enc-1")
    response = web.login(role).get(path)
    assert response.status_code == status, response.text[:500]
    assert marker in response.text
    assert response.headers["content-type"].startswith("text/html")


def test_review_screen_marks_evidence_and_controls(web: Any) -> None:
    web.submit(NOTE, "enc-1")
    page = web.login("coder").get("/ui/encounters/enc-1").text
    marks = re.findall(r'<mark data-codes="([^"]+)"[^>]*>([^<]+)</mark>', page)
    assert ("ICD-10-CM:J18.9", "pneumonia") in marks
    assert page.count('class="decide"') == 2  # only the two codes held for review
    assert "disabled" in page.split('id="attest-button"')[1][:40]
    auditor = web.login("auditor").get("/ui/encounters/enc-1").text
    assert 'class="decide"' not in auditor and "Attest and finalize" not in auditor


def test_note_text_is_escaped(web: Any) -> None:
    web.submit("<script>alert(1)</script> pneumonia", "xss")
    page = web.login("coder").get("/ui/encounters/xss").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_cookie_writes_need_csrf_header(web: Any) -> None:
    web.submit(NOTE, "enc-1")
    client = web.login("coder")
    body = {"system": "ICD-10-CM", "code": "J18.9", "action": "accept",
            "reason": "documentation_supports"}
    refused = client.post("/v1/encounters/enc-1/decisions", json=body)
    assert refused.status_code == 401 and refused.json()["code"] == "CP-SEC-006"
    accepted = client.post("/v1/encounters/enc-1/decisions", json=body,
                           headers={"X-Codeproof-CSRF": "1"})
    assert accepted.status_code == 201


def test_logout(web: Any) -> None:
    client = web.login("coder")
    client.get("/ui/logout")
    assert client.get("/ui/queue/coder", follow_redirects=False).status_code == 303


def test_long_note_lists_a_capped_evidence_summary(web: Any) -> None:
    from codeproof.api.fake import fake_parse
    from codeproof.security.base import Principal

    text = "Chest x-ray shows pneumonia. " * 2000  # ~58k characters, ~20 pages
    web.submit(text, "long")
    store, system = web.app.state.cp.store, Principal.system()
    package = store.get_package("long", principal=system)
    starts = [i for i in range(len(text)) if text.startswith("pneumonia", i)]
    package["codes"][0]["evidence"] = [
        {"note_id": "n1", "start": s, "end": s + 9, "quote": "pneumonia"} for s in starts]
    store.save_encounter(fake_parse(text.encode(), name="long.txt"), package,
                         principal=system)  # re-coded with evidence at every mention
    page = web.login("coder").get("/ui/encounters/long").text
    assert page.count("<mark ") == 2000
    assert page.count('class="quote"') == 12 and "+ 1988 more span(s)" in page
