"""Web fixtures: an app over SQLite with the fake pipeline and per-role tokens."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from codeproof.api import create_app
from codeproof.api.auth import create_token
from codeproof.api.fake import fake_code, fake_parse
from codeproof.config import load_settings
from codeproof.runtime import Runtime

ROLES = ("coder", "cdi", "auditor", "admin", "integration")


@dataclass
class Web:
    app: Any
    client: TestClient
    tokens: dict[str, str]

    def login(self, role: str) -> TestClient:
        client = TestClient(self.app, raise_server_exceptions=False)
        response = client.post("/ui/session", json={"token": self.tokens[role]})
        assert response.status_code == 200, response.text
        return client

    def submit(self, text: str, encounter_id: str) -> None:
        response = self.client.post(
            "/v1/encounters", content=text.encode(), params={"encounter_id": encounter_id},
            headers={"Authorization": f"Bearer {self.tokens['integration']}",
                     "Content-Type": "text/plain"})
        assert response.status_code == 201, response.text


def make_web(home: Path) -> Web:
    settings = load_settings(environ={}, home=str(home))
    injected: dict[str, Any] = {}
    if find_spec("codeproof.security.keys") is not None:
        from codeproof.security.keys import MemoryKeyProvider

        injected["key_providers"] = MemoryKeyProvider()
    app = create_app(Runtime(settings, **injected), parse=fake_parse, code=fake_code,
                     persists=False, embedded_worker=False)
    engine = app.state.cp.store.engine
    tokens = {role: create_token(engine, role=role, tenant="default")[1] for role in ROLES}
    tokens["other:coder"] = create_token(engine, role="coder", tenant="other")[1]
    return Web(app=app, client=TestClient(app, raise_server_exceptions=False), tokens=tokens)


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    built = make_web(tmp_path / "home")
    yield built
    built.app.state.cp.store.close()
