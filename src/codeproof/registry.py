"""A small generic registry of named, versioned factories.

One :class:`Registry` per kind (``stages``, ``llm``, ``vectorstore``,
``storage``, ``deid_operators``, ``rule_packs``, ``retrievers``,
``key_providers``, ``writers``). Names are versioned (``"llm.fake.v1"``) because
the name is what the audit log records. Built-ins are registered only in
:mod:`codeproof.registrations`; third parties use entry points in the group
``codeproof.<kind>``. Unknown names raise :class:`UnknownRegistryName` listing
the valid ones.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from codeproof.errors import ConfigError, UnknownRegistryName

__all__ = ["Registry"]

T = TypeVar("T")


class _Lazy:
    __slots__ = ("target",)

    def __init__(self, target: str) -> None:
        self.target = target

    def load(self) -> Any:
        module_name, _, attr = self.target.partition(":")
        return getattr(import_module(module_name), attr)


class Registry(Generic[T]):
    """Maps versioned names to factories of ``T``."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._entry_points_loaded = False

    def register(self, name: str, item: T | None = None) -> Callable[[T], T] | T:
        """Register ``item`` under ``name``; usable as a decorator when ``item`` is None."""
        if "." not in name or not name.rsplit(".", 1)[1].startswith("v"):
            raise ConfigError(
                f"registry name {name!r} must be versioned like 'kind.name.v1'",
                kind=self.kind,
            )

        def _add(obj: T) -> T:
            if name in self._items and self._items[name] is not obj:
                raise ConfigError(f"{self.kind} {name!r} is already registered", name=name)
            self._items[name] = obj
            return obj

        if item is None:
            return _add
        return _add(item)

    def register_lazy(self, name: str, target: str) -> None:
        """Register ``"package.module:attribute"`` to be imported on first :meth:`get`.

        Keeps heavy optional dependencies (spaCy, presidio, torch) out of start-up.
        """
        self.register(name, _Lazy(target))  # type: ignore[arg-type]

    def get(self, name: str) -> T:
        """Return the item registered under ``name``."""
        if name not in self._items:
            self._load_entry_points()
        try:
            item = self._items[name]
            if isinstance(item, _Lazy):
                item = self._items[name] = item.load()
            return item
        except KeyError:
            raise UnknownRegistryName(
                f"no {self.kind} named {name!r}; available: {', '.join(self.names())}",
                kind=self.kind,
                name=name,
                available=self.names(),
            ) from None

    def names(self) -> list[str]:
        """Sorted registered names."""
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for ep in entry_points(group=f"codeproof.{self.kind}"):
            if ep.name not in self._items:
                self._items[ep.name] = ep.load()
