"""Vector stores: a tiny ABC (:class:`VectorStore`) with an embedded default.

``vectorstore.memory.v1`` (numpy exact search, hnswlib HNSW above a size
threshold when installed; saved to ``.npz``) and ``vectorstore.pgvector.v1``
(PostgreSQL with the pgvector extension, the production backend).
"""

from codeproof.backends.vectorstore.base import VectorHit, VectorStore

__all__ = ["VectorHit", "VectorStore"]
