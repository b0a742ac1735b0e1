"""The only place built-in registry entries are registered.

Each registry maps a versioned name to a *factory*. Stage factories take a
:class:`codeproof.runtime.Runtime` and return a :class:`codeproof.pipeline.Stage`;
backend factories take a Runtime and return the backend. Entries are lazy
(``"module:attribute"``) so that importing codeproof stays fast and optional
dependencies load only when a configuration names them.
``tests/test_registry_contents.py`` snapshots these names.
"""

from __future__ import annotations

from typing import Any

from codeproof.registry import Registry

__all__ = ["REGISTRIES", "get_registry"]

#: kind -> (name -> "module:factory")
_BUILTINS: dict[str, dict[str, str]] = {
    "stages": {
        # name                          module:factory(runtime) -> Stage
    },
    "storage": {
        "storage.memory.v1": "codeproof.store.factories:memory_store",
        "storage.postgres.v1": "codeproof.store.factories:postgres_store",
        "storage.sqlite.v1": "codeproof.store.factories:sqlite_store",
    },
    "llm": {},
    "vectorstore": {},
    "key_providers": {
        "keys.kms.v1": "codeproof.security.keys:kms_provider",
        "keys.local_file.v1": "codeproof.security.keys:local_file_provider",
        "keys.memory.v1": "codeproof.security.keys:memory_provider",
    },
    "deid_operators": {},
    "writers": {},
    "verifiers": {},
    "queues": {},
    "rule_packs": {},
    "retrievers": {},
}


def _build() -> dict[str, Registry[Any]]:
    registries: dict[str, Registry[Any]] = {}
    for kind, entries in _BUILTINS.items():
        registry: Registry[Any] = Registry(kind)
        for name, target in entries.items():
            registry.register_lazy(name, target)
        registries[kind] = registry
    return registries


REGISTRIES: dict[str, Registry[Any]] = _build()


def get_registry(kind: str) -> Registry[Any]:
    """Return the registry of ``kind`` (``stages``, ``llm``, ``storage``, ...)."""
    return REGISTRIES[kind]
