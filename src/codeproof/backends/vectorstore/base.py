"""The vector store contract: add normalised vectors by id, search by cosine."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt

__all__ = ["VectorHit", "VectorStore"]


@dataclass(frozen=True, slots=True)
class VectorHit:
    """One search result: the stored id and its cosine similarity."""

    id: str
    score: float


class VectorStore(ABC):
    """Cosine-similarity search over (id, vector) pairs within named collections."""

    name: ClassVar[str] = "vectorstore.abstract.v1"

    @abstractmethod
    def add(self, collection: str, ids: Sequence[str],
            vectors: npt.NDArray[np.float32]) -> None:
        """Add (or replace) ``vectors`` (one row per id) in ``collection``."""

    @abstractmethod
    def search(self, collection: str, vector: npt.NDArray[np.float32], *,
               k: int = 10) -> list[VectorHit]:
        """Return the ``k`` nearest ids by cosine similarity, best first."""

    def count(self, collection: str) -> int:
        """Number of vectors in ``collection`` (0 when absent)."""
        return 0
