"""Keyed pseudonyms of patients: the subject under which their data keys live.

GDPR erasure destroys a *person's* data keys (crypto-shredding), so every
encounter of that person must be sealed under the same subject. The subject is
``subj-`` + HMAC-SHA256(pseudonym key, tenant NUL identifier) truncated to 128
bits: stable per tenant, not reversible without the key, and never the
identifier itself (MRNs are guessable, so a plain hash would not do). The key is
a 32-byte file under ``<home>/keys/pseudonym.key`` created with mode 0600.
Ingest computes the subject at the boundary and keeps nothing else of the
identifier.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

from codeproof.errors import KeyError_

__all__ = ["Pseudonymizer"]


class Pseudonymizer:
    """Maps (tenant, patient identifier) to a stable keyed pseudonym."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise KeyError_("pseudonym key must be at least 32 bytes")
        self._key = key

    def subject(self, tenant: str, identifier: str) -> str:
        """The pseudonymous subject id of ``identifier`` within ``tenant``."""
        mac = hmac.new(self._key, f"{tenant}\x00{identifier}".encode(), hashlib.sha256)
        return "subj-" + mac.hexdigest()[:32]

    @classmethod
    def from_file(cls, path: Path) -> Pseudonymizer:
        """Load the key file, creating it (0600) on first use; refuse loose permissions."""
        path = Path(path)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_bytes(32))
            try:
                os.link(tmp, path)  # first writer wins; others read its key
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise KeyError_(f"key file {path.name} is readable by group/others (mode {mode:o})",
                            path=str(path))
        return cls(path.read_bytes())
