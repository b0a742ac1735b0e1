"""codeproof.store: tenant-scoped persistence (SQLite embedded, PostgreSQL, memory).

``open_store(runtime)`` returns the :class:`Store` named by
``settings.backends.storage`` (built once per Runtime).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codeproof.store.base import (
    ACTIONS,
    CDI_STATUSES,
    REASONS,
    Analytics,
    AttestationRecord,
    CdiQuery,
    CodeRow,
    DecisionRecord,
    EncounterMeta,
    QueueItem,
    Store,
)

if TYPE_CHECKING:
    from codeproof.runtime import Runtime

__all__ = [
    "ACTIONS",
    "CDI_STATUSES",
    "REASONS",
    "Analytics",
    "AttestationRecord",
    "CdiQuery",
    "CodeRow",
    "DecisionRecord",
    "EncounterMeta",
    "QueueItem",
    "Store",
    "open_store",
]


def open_store(runtime: Runtime) -> Store:
    """The store configured for ``runtime`` (``backends.storage``), built once."""
    store: Store = runtime.backend("storage")
    return store
