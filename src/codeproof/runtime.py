"""The Runtime: settings plus the shared, lazily built collaborators.

Nothing here is global: a CLI command, an API app or a test builds one
``Runtime(settings)`` and passes it to the stage and backend factories. Shared
heavy objects (terminology, NLP models, the store) are built once on first use
and can be injected instead (tests pass fakes).
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from codeproof.config import Settings, load_settings
from codeproof.pipeline import Pipeline
from codeproof.registrations import get_registry

if TYPE_CHECKING:
    from codeproof.coding.codesets import Terminology

__all__ = ["Runtime"]


class Runtime:
    """Settings + lazily built shared collaborators (injectable for tests)."""

    def __init__(self, settings: Settings | None = None, **injected: Any) -> None:
        self.settings = settings if settings is not None else load_settings()
        self._injected = injected
        self._cache: dict[str, Any] = {}

    def resource(self, key: str, factory: Any) -> Any:
        """Return the shared object ``key``, building it with ``factory(self)`` once."""
        if key in self._injected:
            return self._injected[key]
        if key not in self._cache:
            self._cache[key] = factory(self)
        return self._cache[key]

    @cached_property
    def terminology(self) -> Terminology:
        """The compiled ICD-10-CM/PCS store (auto-built on first use when missing)."""
        from codeproof.coding.codesets import load_terminology

        if "terminology" in self._injected:
            return self._injected["terminology"]  # type: ignore[no-any-return]
        return load_terminology(self.settings.reference_path, build_if_missing=True)

    def backend(self, kind: str, name: str | None = None) -> Any:
        """Build (once) the backend of ``kind`` named ``name`` (defaults from settings)."""
        if kind in self._injected:
            return self._injected[kind]
        defaults = {
            "storage": self.settings.backends.storage,
            "llm": self.settings.backends.llm,
            "vectorstore": self.settings.backends.vectorstore,
            "key_providers": self.settings.backends.key_provider,
            "queues": self.settings.backends.queue,
        }
        chosen = name or defaults[kind]
        return self.resource(f"{kind}:{chosen}", get_registry(kind).get(chosen))

    def pipeline(self, stages: tuple[str, ...] | None = None) -> Pipeline:
        """Build the pipeline from the configured (or given) stage names."""
        registry = get_registry("stages")
        names = stages if stages is not None else self.settings.pipeline.stages
        return Pipeline([registry.get(name)(self) for name in names])
