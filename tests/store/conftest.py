"""Store fixtures: every store test runs on memory, SQLite file and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from codeproof.config import load_settings
from codeproof.runtime import Runtime
from codeproof.security.base import NullSealer
from codeproof.store import open_store
from codeproof.store.sql import SqlStore
from codeproof.store.testing import create_database, drop_database, postgres_unavailable


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    reason = postgres_unavailable()
    if reason is not None:
        pytest.skip(reason)
    url = create_database("cp_store")
    yield url
    drop_database(url)


def make_runtime(tmp_path: Path, backend: str, url: str | None = None,
                 **injected: object) -> Runtime:
    settings = load_settings(environ={}, home=str(tmp_path / "home"),
                             backends={"storage": backend, "database_url": url})
    injected.setdefault("sealer", NullSealer())
    injected.setdefault("audit", None)
    return Runtime(settings, **injected)


@pytest.fixture
def runtime_factory() -> object:
    return make_runtime


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "memory":
        runtime = make_runtime(tmp_path, "storage.memory.v1")
    elif request.param == "sqlite":
        runtime = make_runtime(tmp_path, "storage.sqlite.v1")
    else:
        url = request.getfixturevalue("pg_url")
        runtime = make_runtime(tmp_path, "storage.postgres.v1", url)
    store = open_store(runtime)
    assert isinstance(store, SqlStore)
    if request.param == "postgres":  # a shared database: start each test empty
        from sqlalchemy import delete

        from codeproof.store import tables as t
        with store.engine.begin() as conn:
            for table in reversed(t.metadata.sorted_tables):
                conn.execute(delete(table))
    yield store
    store.close()
