"""Job fixtures: a queue + service on SQLite and PostgreSQL with the fake pipeline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete

from codeproof.api.fake import fake_code, fake_parse
from codeproof.config import load_settings
from codeproof.jobs import CodingService, DatabaseQueue
from codeproof.runtime import Runtime
from codeproof.security.base import NullSealer
from codeproof.store import open_store, tables as t
from codeproof.store.testing import create_database, drop_database, postgres_unavailable


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    reason = postgres_unavailable()
    if reason is not None:
        pytest.skip(reason)
    url = create_database("cp_jobs")
    yield url
    drop_database(url)


def build(home: Path, backend: str, url: str | None, *, code: Any = fake_code,
          lease: float = 60.0, max_attempts: int = 3) -> CodingService:
    settings = load_settings(environ={}, home=str(home),
                             backends={"storage": backend, "database_url": url},
                             security={"encrypt_at_rest": False})
    runtime = Runtime(settings, sealer=NullSealer(), audit=None)
    store = open_store(runtime)
    queue = DatabaseQueue(store.engine, sealer=NullSealer(), lease_seconds=lease,
                          max_attempts=max_attempts, backoff_seconds=0.0)
    return CodingService(runtime, store=store, queue=queue, parse=fake_parse, code=code,
                         persists=False)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str | None]:
    if request.param == "sqlite":
        return "storage.sqlite.v1", None
    url = request.getfixturevalue("pg_url")
    settings = load_settings(environ={}, home=str(tmp_path / "clean"),
                             backends={"storage": "storage.postgres.v1", "database_url": url},
                             security={"encrypt_at_rest": False})
    store = open_store(Runtime(settings, sealer=NullSealer(), audit=None))
    with store.engine.begin() as conn:
        for table in reversed(t.metadata.sorted_tables):
            conn.execute(delete(table))
    store.close()
    return "storage.postgres.v1", url


@pytest.fixture
def service_factory(backend: tuple[str, str | None], tmp_path: Path) -> Any:
    made: list[CodingService] = []

    def _make(**kwargs: Any) -> CodingService:
        service = build(tmp_path / "home", backend[0], backend[1], **kwargs)
        made.append(service)
        return service

    yield _make
    for service in made:
        service.store.close()
