"""``vectorstore.memory.v1``: an embedded store, exact numpy search or hnswlib HNSW.

Exact search is used below ``hnsw_threshold`` vectors (guideline and policy
corpora are small: exact is faster and has perfect recall there); above it an
hnswlib index is built lazily when hnswlib is installed. Collections can be
saved to / loaded from one ``.npz`` file per collection.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from codeproof.backends.vectorstore.base import VectorHit, VectorStore
from codeproof.errors import BackendError

__all__ = ["MemoryVectorStore", "create_memory_store"]


def _normalise(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out: npt.NDArray[np.float32] = (matrix / norms).astype(np.float32)
    return out


class _Collection:
    __slots__ = ("ids", "matrix", "hnsw", "position")

    def __init__(self, dim: int) -> None:
        self.ids: list[str] = []
        self.position: dict[str, int] = {}
        self.matrix: npt.NDArray[np.float32] = np.zeros((0, dim), dtype=np.float32)
        self.hnsw: Any = None


class MemoryVectorStore(VectorStore):
    """In-process vectors; deterministic; optional HNSW for large collections."""

    name: ClassVar[str] = "vectorstore.memory.v1"

    def __init__(self, *, hnsw_threshold: int = 20_000) -> None:
        self.hnsw_threshold = hnsw_threshold
        self._collections: dict[str, _Collection] = {}

    def add(self, collection: str, ids: Sequence[str],
            vectors: npt.NDArray[np.float32]) -> None:
        """Add or replace rows; ids must be unique within the call."""
        matrix = _normalise(vectors)
        if len(ids) != matrix.shape[0]:
            raise BackendError(f"{len(ids)} ids for {matrix.shape[0]} vectors",
                               backend=self.name)
        coll = self._collections.get(collection)
        if coll is None:
            coll = self._collections[collection] = _Collection(matrix.shape[1])
        if coll.matrix.shape[1] != matrix.shape[1]:
            raise BackendError(f"dimension {matrix.shape[1]} != {coll.matrix.shape[1]} in "
                               f"collection {collection!r}", backend=self.name)
        new_rows: list[int] = []
        for row, item_id in enumerate(ids):
            if item_id in coll.position:
                coll.matrix[coll.position[item_id]] = matrix[row]
            else:
                coll.position[item_id] = len(coll.ids) + len(new_rows)
                new_rows.append(row)
        if new_rows:
            coll.ids.extend(ids[r] for r in new_rows)
            coll.matrix = np.vstack([coll.matrix, matrix[new_rows]])
        coll.hnsw = None  # rebuilt lazily

    def count(self, collection: str) -> int:
        """Number of vectors in ``collection``."""
        coll = self._collections.get(collection)
        return 0 if coll is None else len(coll.ids)

    def search(self, collection: str, vector: npt.NDArray[np.float32], *,
               k: int = 10) -> list[VectorHit]:
        """Nearest ids by cosine, best first (ties broken by insertion order)."""
        coll = self._collections.get(collection)
        if coll is None or not coll.ids:
            return []
        query = _normalise(vector)[0]
        k = min(k, len(coll.ids))
        if len(coll.ids) >= self.hnsw_threshold and importlib.util.find_spec("hnswlib"):
            return self._search_hnsw(coll, query, k)
        scores = coll.matrix @ query
        order = np.argsort(-scores, kind="stable")[:k]
        return [VectorHit(coll.ids[i], float(scores[i])) for i in order]

    def _search_hnsw(self, coll: _Collection, query: npt.NDArray[np.float32],
                     k: int) -> list[VectorHit]:
        import hnswlib

        if coll.hnsw is None:
            index = hnswlib.Index(space="ip", dim=coll.matrix.shape[1])
            index.init_index(max_elements=len(coll.ids), ef_construction=200, M=16,
                             random_seed=0)
            index.add_items(coll.matrix, np.arange(len(coll.ids)))
            index.set_ef(max(64, k * 2))
            coll.hnsw = index
        labels, distances = coll.hnsw.knn_query(query, k=k)
        return [VectorHit(coll.ids[int(i)], float(1.0 - d))
                for i, d in zip(labels[0], distances[0], strict=True)]

    def save(self, collection: str, path: Path) -> None:
        """Write ``collection`` to ``path`` (``.npz`` with ids and matrix)."""
        coll = self._collections.get(collection)
        if coll is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            np.savez(fh, ids=np.array(coll.ids, dtype=object), matrix=coll.matrix)

    def load(self, collection: str, path: Path) -> None:
        """Replace ``collection`` with the content of ``path``."""
        with np.load(path, allow_pickle=True) as data:
            ids = [str(x) for x in data["ids"]]
            matrix = np.asarray(data["matrix"], dtype=np.float32)
        self._collections.pop(collection, None)
        if ids:
            self.add(collection, ids, matrix)


def create_memory_store(runtime: Any) -> MemoryVectorStore:
    """Registry factory."""
    return MemoryVectorStore()
