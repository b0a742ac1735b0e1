"""Headless Chromium (Debian's, driven by Playwright): review, decide, attest, audit trail."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("CODEPROOF_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
NOTE = ("Patient with type 2 diabetes and hypertension. Chest x-ray shows pneumonia. "
        "Possible sepsis. No fever.")

pytestmark = [pytest.mark.browser, pytest.mark.issue(8)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(web: Any) -> Iterator[str]:
    uvicorn = pytest.importorskip("uvicorn")
    port = _free_port()
    config = uvicorn.Config(web.app, host="127.0.0.1", port=port, log_level="warning",
                            access_log=False)
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"Debian chromium not installed at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"])
        yield browser
        browser.close()


def test_review_accept_modify_attest_and_audit(web: Any, server: str, browser: Any) -> None:
    web.submit(NOTE, "enc-browser")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server}/ui/login")
    page.fill("#token", web.tokens["coder"])
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{server}/ui/queue/coder")
    assert page.locator("tr[data-href='/ui/encounters/enc-browser']").count() == 1
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server}/ui/encounters/enc-browser")

    # evidence is clickable: the code's button lights its span in the note
    page.click("[data-show-evidence='ICD-10-CM:J18.9']")
    assert page.locator("mark.on").first.inner_text() == "pneumonia"

    # a decision without a reason is refused in the page (the API would refuse it too)
    pneumonia = page.locator(".code-card[data-key='ICD-10-CM:J18.9']")
    pneumonia.locator("button[data-action=accept]").click()
    assert "reason" in pneumonia.locator(".error").inner_text().lower()

    pneumonia.locator("select[name=reason]").select_option("documentation_supports")
    pneumonia.locator("button[data-action=accept]").click()
    page.wait_for_selector(".code-card[data-key='ICD-10-CM:J18.9'][data-status=accepted]")

    sepsis = page.locator(".code-card[data-key='ICD-10-CM:A41.9']")
    sepsis.locator("select[name=reason]").select_option("uncertain_diagnosis")
    sepsis.locator("input[name=new_code]").fill("R65.10")
    sepsis.locator("input[name=comment]").fill("sepsis only suspected; SIRS documented")
    sepsis.locator("button[data-action=modify]").click()
    page.wait_for_selector(".code-card[data-key='ICD-10-CM:A41.9'][data-status=modified]")
    assert "R65.10" in sepsis.locator("[data-role=status]").inner_text()

    page.check("#attest-form input[name=confirm]")
    assert page.is_enabled("#attest-button")
    page.click("#attest-button")
    page.wait_for_selector("#attested")
    assert page.locator("#encounter-status").inner_text() == "finalized"

    page.wait_for_selector("#history li[data-event='encounter.attested']")
    events = page.locator("#history li").all_inner_texts()
    assert sum("code.decision" in e for e in events) == 2
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "review-screen.png"), full_page=True)
    assert (ARTIFACTS / "review-screen.png").stat().st_size > 10_000

    # the server agrees with what the page shows
    decisions = web.client.get("/v1/encounters/enc-browser/decisions",
                               headers={"Authorization": f"Bearer {web.tokens['auditor']}"})
    actions = sorted((d["code"], d["action"], d["new_code"])
                     for d in decisions.json()["decisions"])
    assert actions == [("A41.9", "modify", "R65.10"), ("J18.9", "accept", None)]
