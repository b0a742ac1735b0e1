"""The re-identification vault: a reversible mapping, sealed, for authorized roles only.

After de-identification, the mapping *replacement -> original* of one note (or
patient) is serialised to JSON, sealed with the tenant's envelope encryption
(:class:`~codeproof.security.base.Sealer`, AES-256-GCM in production) bound to
``(tenant, subject)``, and stored. Nothing else keeps the mapping. Reading it
back is a PHI view: :func:`codeproof.security.access.authorize` checks tenant
scope and the ``phi.view`` permission and records the view in the audit log.
Destroying the subject's data key (crypto-shredding) makes the entry unreadable.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from codeproof.deid.engine import DeidResult
from codeproof.errors import AccessDenied, DeidError, NotFound
from codeproof.security.base import Principal, Sealer

__all__ = ["DirectoryVaultStore", "MemoryVaultStore", "ReidVault", "VaultEntry", "VaultStore"]

#: Roles that may re-identify (in addition to the ``phi.view`` permission check).
REIDENTIFY_ROLES: frozenset[str] = frozenset({"cdi", "auditor"})


@dataclass(frozen=True, slots=True, kw_only=True)
class VaultEntry:
    """One replacement: original span ``[start, end)``, its type and what replaced it."""

    start: int
    end: int
    type: str
    original: str
    replacement: str


class VaultStore(Protocol):
    """Where sealed vault blobs live (keyed by tenant and a digest of the subject)."""

    def put(self, tenant: str, key: str, blob: bytes) -> None:
        """Store ``blob``."""
        ...

    def get(self, tenant: str, key: str) -> bytes | None:
        """Return the blob or ``None``."""
        ...


class MemoryVaultStore:
    """In-memory store (tests, single-process batch runs)."""

    def __init__(self) -> None:
        self._blobs: dict[tuple[str, str], bytes] = {}

    def put(self, tenant: str, key: str, blob: bytes) -> None:
        """Store ``blob``."""
        self._blobs[(tenant, key)] = blob

    def get(self, tenant: str, key: str) -> bytes | None:
        """Return the blob or ``None``."""
        return self._blobs.get((tenant, key))

    def raw(self) -> Iterable[bytes]:
        """Every stored blob (for tests that scan for plaintext)."""
        return self._blobs.values()


class DirectoryVaultStore:
    """One file per entry under ``root/<tenant>/<digest>.sealed`` (no PHI in names)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, tenant: str, key: str) -> Path:
        return self.root / hashlib.sha256(tenant.encode()).hexdigest()[:16] / f"{key}.sealed"

    def put(self, tenant: str, key: str, blob: bytes) -> None:
        """Write ``blob`` atomically."""
        path = self._path(tenant, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(blob)
        tmp.replace(path)

    def get(self, tenant: str, key: str) -> bytes | None:
        """Read the blob or ``None``."""
        path = self._path(tenant, key)
        return path.read_bytes() if path.exists() else None


class ReidVault:
    """Seal and (for authorized principals) open re-identification mappings."""

    def __init__(self, *, sealer: Sealer, store: VaultStore | None = None,
                 audit: Any | None = None) -> None:
        self.sealer = sealer
        self.store: VaultStore = store if store is not None else MemoryVaultStore()
        self.audit = audit

    @staticmethod
    def _key(subject: str) -> str:
        return hashlib.sha256(subject.encode("utf-8")).hexdigest()

    def put(self, *, tenant: str, subject: str, original_text: str,
            result: DeidResult) -> int:
        """Seal the mapping of ``result`` (a de-identification of ``original_text``)."""
        spans = {(s.start, s.end): s.type for s in result.spans}
        entries = [
            {"start": start, "end": end, "type": spans.get((start, end), ""),
             "original": original_text[start:end], "replacement": replacement}
            for start, end, replacement in result.replacements
        ]
        data = json.dumps({"v": 1, "entries": entries}, ensure_ascii=False).encode("utf-8")
        self.store.put(tenant, self._key(subject),
                       self.sealer.seal(tenant=tenant, subject=subject, data=data))
        return len(entries)

    def get(self, principal: Principal, *, tenant: str, subject: str,
            purpose: str = "reidentify") -> tuple[VaultEntry, ...]:
        """Open the mapping; only authorized roles of the same tenant may."""
        from codeproof.security.access import authorize

        if principal.tenant == tenant and principal.role not in REIDENTIFY_ROLES:
            raise AccessDenied(f"role {principal.role!r} may not re-identify notes",
                               role=principal.role, action="deid.reidentify")
        # tenant scope (TenantMismatch), the phi.view permission, and the audit record
        authorize(principal, "phi.view", tenant=tenant, audit=self.audit, subject=subject,
                  purpose=purpose)
        blob = self.store.get(tenant, self._key(subject))
        if blob is None:
            raise NotFound("no re-identification entry for this subject", tenant=tenant)
        try:
            payload = json.loads(self.sealer.open(tenant=tenant, subject=subject, blob=blob))
        except (ValueError, UnicodeDecodeError) as exc:
            raise DeidError("vault entry is corrupt", tenant=tenant) from exc
        return tuple(VaultEntry(**item) for item in payload["entries"])

    def reidentify(self, principal: Principal, *, tenant: str, subject: str,
                   deidentified_text: str) -> str:
        """Rebuild the original text from the de-identified text and the sealed mapping."""
        entries = sorted(self.get(principal, tenant=tenant, subject=subject),
                         key=lambda e: e.start)
        out: list[str] = []
        cursor = 0  # in the de-identified text
        shift = 0  # new offset - old offset so far
        for entry in entries:
            new_start = entry.start + shift
            out.append(deidentified_text[cursor:new_start])
            out.append(entry.original)
            cursor = new_start + len(entry.replacement)
            shift += len(entry.replacement) - (entry.end - entry.start)
        out.append(deidentified_text[cursor:])
        return "".join(out)
