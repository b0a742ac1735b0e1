"""Shared helpers of the ingest boundary (no I/O beyond what callers pass in)."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

from codeproof.errors import EmptyNote, MalformedInput

__all__ = ["decode_text", "now_iso", "require_text", "safe_id", "sha256_bytes"]

_ID_RE = re.compile(r"[^A-Za-z0-9._-]+")


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of raw input bytes."""
    return hashlib.sha256(data).hexdigest()


def now_iso() -> str:
    """Current UTC time, ISO-8601 with seconds."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def safe_id(value: str, *, fallback: str) -> str:
    """A filesystem- and URL-safe identifier derived from ``value``."""
    cleaned = _ID_RE.sub("_", value).strip("._")
    return cleaned[:128] or fallback


def decode_text(data: bytes, *, name: str) -> str:
    """Decode UTF-8 exactly (no newline or BOM normalisation: offsets index this text)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedInput(
            f"{name}: not valid UTF-8 (byte {exc.start})", input=name, byte=exc.start
        ) from exc


def require_text(text: str, *, name: str) -> str:
    """Raise :class:`EmptyNote` when ``text`` holds no clinical text."""
    if not text.strip():
        raise EmptyNote(f"{name}: the note is empty", input=name)
    return text
