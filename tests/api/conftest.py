"""API fixtures: one app per backend (SQLite file, PostgreSQL), fake pipeline, tokens."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from codeproof.api import create_app
from codeproof.api.auth import create_token
from codeproof.api.fake import fake_code, fake_parse
from codeproof.config import load_settings
from codeproof.runtime import Runtime
from codeproof.store import tables as t
from codeproof.store.testing import create_database, drop_database, postgres_unavailable

ROLES = ("coder", "cdi", "auditor", "admin", "integration")


@dataclass
class PgEnv:
    url: str
    home: Path
    injected: dict[str, Any]


@pytest.fixture(scope="session")
def pg_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgEnv]:
    """One database per session; the audit chain, its signing key (same home) and the
    key provider persist across tests, the service tables are emptied before each."""
    reason = postgres_unavailable()
    if reason is not None:
        pytest.skip(reason)
    url = create_database("cp_api")
    yield PgEnv(url=url, home=tmp_path_factory.mktemp("pg-home"), injected=_key_provider())
    drop_database(url)


@dataclass
class Api:
    client: TestClient
    app: Any
    tokens: dict[str, str]  # role -> token (tenant "default"); "other:<role>" for tenant other

    def h(self, role: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}", **extra}

    def submit(self, text: str, role: str = "integration", **params: Any) -> str:
        response = self.client.post("/v1/encounters", content=text.encode(),
                                    headers=self.h(role, **{"Content-Type": "text/plain"}),
                                    params=params)
        assert response.status_code == 201, response.text
        return str(response.json()["encounter_id"])


def _key_provider() -> dict[str, Any]:
    if find_spec("codeproof.security.keys") is None:
        return {}
    from codeproof.security.keys import MemoryKeyProvider

    return {"key_providers": MemoryKeyProvider()}


def build_runtime(home: Path, backend: str, url: str | None,
                  injected: dict[str, Any] | None = None) -> Runtime:
    settings = load_settings(environ={}, home=str(home),
                             backends={"storage": backend, "database_url": url})
    return Runtime(settings, **(injected if injected is not None else _key_provider()))


def make_api(home: Path, backend: str, url: str | None,
             injected: dict[str, Any] | None = None, **app_kwargs: Any) -> Api:
    runtime = build_runtime(home, backend, url, injected)
    kwargs: dict[str, Any] = {"parse": fake_parse, "code": fake_code, "persists": False,
                              "embedded_worker": False}
    kwargs.update(app_kwargs)
    app = create_app(runtime, **kwargs)
    engine = app.state.cp.store.engine
    if backend == "storage.postgres.v1":  # shared database: empty the service tables
        with engine.begin() as conn:
            for table in reversed(t.metadata.sorted_tables):
                conn.execute(delete(table))
    tokens = {role: create_token(engine, role=role, tenant="default")[1] for role in ROLES}
    tokens.update({f"other:{role}": create_token(engine, role=role, tenant="other")[1]
                   for role in ROLES})
    return Api(client=TestClient(app, raise_server_exceptions=False), app=app, tokens=tokens)


@pytest.fixture(scope="session",
                params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def api_app(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One app per backend for the session (building one costs migrations + keys)."""
    if request.param == "sqlite":
        built = make_api(tmp_path_factory.mktemp("api-home"), "storage.sqlite.v1", None)
    else:
        env = request.getfixturevalue("pg_env")
        built = make_api(env.home, "storage.postgres.v1", env.url, env.injected)
    with built.client:
        yield built
    built.app.state.cp.store.close()


@pytest.fixture
def api(api_app: Api) -> Api:
    """The session app with its service tables emptied (tokens and audit chain kept)."""
    with api_app.app.state.cp.store.engine.begin() as conn:
        for table in reversed(t.metadata.sorted_tables):
            if table is not t.api_tokens:
                conn.execute(delete(table))
    return api_app


@pytest.fixture
def api_factory(tmp_path: Path) -> Any:
    def _make(**kwargs: Any) -> Api:
        return make_api(tmp_path / "home2", "storage.sqlite.v1", None, **kwargs)
    return _make
