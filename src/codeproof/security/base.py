"""Security contracts shared by the store, the API and the CLI.

- :class:`Principal`: who is acting (role, tenant, user id). Roles: ``coder``,
  ``cdi``, ``auditor``, ``admin``, ``integration``; ``system`` is the role of
  the pipeline itself (batch CLI runs on the local machine).
- :class:`Sealer`: envelope encryption of blobs (notes, packages, vault) under a
  per-tenant / per-subject data key. ``open`` raises ``KeyError_`` when the
  subject's key was destroyed (crypto-shredding).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = ["ROLES", "NullSealer", "Principal", "Role", "Sealer"]

Role = Literal["coder", "cdi", "auditor", "admin", "integration", "system"]
ROLES: tuple[Role, ...] = ("coder", "cdi", "auditor", "admin", "integration", "system")


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """An authenticated actor; ``tenant`` scopes everything it may see."""

    user: str
    role: Role
    tenant: str

    @classmethod
    def system(cls, tenant: str = "default") -> Principal:
        """The local batch pipeline acting for ``tenant``."""
        return cls(user="system", role="system", tenant=tenant)


class Sealer(Protocol):
    """Envelope encryption of blobs bound to (tenant, subject)."""

    name: str

    def seal(self, *, tenant: str, subject: str, data: bytes) -> bytes:
        """Encrypt ``data``; the result carries the wrapped-key reference."""
        ...

    def open(self, *, tenant: str, subject: str, blob: bytes) -> bytes:
        """Decrypt ``blob``; raises ``KeyError_`` when the key was destroyed."""
        ...


class NullSealer:
    """No encryption (tests of unrelated parts only; never the default)."""

    name = "sealer.null.v1"

    def seal(self, *, tenant: str, subject: str, data: bytes) -> bytes:
        """Return ``data`` unchanged."""
        return data

    def open(self, *, tenant: str, subject: str, blob: bytes) -> bytes:
        """Return ``blob`` unchanged."""
        return blob
