"""Audit events: frozen dataclasses with a ``name``, a UTC ``created`` and ``properties()``.

Two kinds of object live here:

- :class:`AuditEvent` is a *stored* row of the log (sequence number, hashes).
- :class:`Event` subclasses are the typed events the library emits
  (``phi.viewed``, ``access.denied``, ``key.destroyed`` ...). Emit one with
  :meth:`codeproof.audit.log.AuditLog.emit`; any code may also call
  ``record(name, tenant=, actor=, subject=, properties=)`` directly.

Properties are PHI-free by contract: ids, codes, digests, offsets, counts.
:func:`check_properties` enforces the parts of that contract a machine can
check (JSON types, no text-bearing keys, short single-line strings).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from codeproof.errors import AuditError

__all__ = [
    "GENESIS_HASH",
    "AccessRefused",
    "AuditEvent",
    "AuditExported",
    "Event",
    "KeyCreated",
    "KeyRotated",
    "PhiViewed",
    "RegionRefused",
    "RetentionSwept",
    "SubjectErased",
    "canonical_json",
    "check_properties",
    "emit",
    "utc_now",
]

#: ``prev_hash`` of the first event.
GENESIS_HASH = "0" * 64

#: Keys that would carry note text or direct identifiers; refused in properties.
FORBIDDEN_KEYS = frozenset(
    {"text", "note", "note_text", "quote", "snippet", "patient_name", "name_of_patient",
     "dob", "birth_date", "birthdate", "mrn", "ssn", "phone", "email", "address"}
)
#: Longest string value allowed in properties (ids, codes, digests, urls fit).
MAX_STRING = 256


def utc_now() -> str:
    """Current UTC time as ISO-8601 with microseconds and a ``Z`` suffix."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def canonical_json(value: Any) -> str:
    """Deterministic JSON (sorted keys, no spaces, UTF-8): what the chain hashes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def check_properties(properties: dict[str, Any]) -> dict[str, Any]:
    """Return ``properties`` if it is JSON-safe and PHI-free by shape; raise otherwise.

    Raises :class:`~codeproof.errors.AuditError` naming the offending key (never
    the value).
    """
    _check_value(properties, path="properties")
    return properties


def _check_value(value: Any, *, path: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise AuditError(f"audit property keys must be strings at {path}", path=path)
            if key.lower() in FORBIDDEN_KEYS:
                raise AuditError(
                    f"audit property {path}.{key} would carry PHI; record ids or digests",
                    path=f"{path}.{key}",
                )
            _check_value(item, path=f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_value(item, path=f"{path}[{index}]")
    elif isinstance(value, str):
        if len(value) > MAX_STRING or "\n" in value:
            raise AuditError(
                f"audit property {path} is too long or multi-line for an id/code/digest",
                path=path, length=len(value),
            )
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise AuditError(f"audit property {path} is not a finite number", path=path)
    elif not isinstance(value, bool | int | type(None)):
        raise AuditError(
            f"audit property {path} has type {type(value).__name__}; use JSON types",
            path=path,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEvent:
    """One stored, hash-chained row of the audit log."""

    seq: int
    event_id: str
    name: str
    created: str
    tenant: str
    actor: str
    subject: str
    properties: dict[str, Any]
    prev_hash: str
    hash: str

    def content(self) -> dict[str, Any]:
        """The hashed content of the row (everything but the two hashes)."""
        return {
            "seq": self.seq,
            "event_id": self.event_id,
            "name": self.name,
            "created": self.created,
            "tenant": self.tenant,
            "actor": self.actor,
            "subject": self.subject,
            "properties": self.properties,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of the whole row."""
        return {**self.content(), "prev_hash": self.prev_hash, "hash": self.hash}


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of typed events; subclasses set ``name`` and add PHI-free fields."""

    name: ClassVar[str] = "event"
    tenant: str
    actor: str
    subject: str = ""
    created: str = field(default_factory=utc_now)

    def properties(self) -> dict[str, Any]:
        """PHI-free properties: every field except the envelope ones."""
        envelope = {"tenant", "actor", "subject", "created"}
        out: dict[str, Any] = {}
        for item in dataclasses.fields(self):
            if item.name not in envelope:
                value = getattr(self, item.name)
                out[item.name] = list(value) if isinstance(value, tuple) else value
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class PhiViewed(Event):
    """A person looked at PHI (a note, the de-id vault, a package with quotes)."""

    name: ClassVar[str] = "phi.viewed"
    role: str
    purpose: str = ""
    resource: str = ""  # e.g. "note", "package", "vault"


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessRefused(Event):
    """An authorization check refused an action (role or tenant)."""

    name: ClassVar[str] = "access.denied"
    role: str
    action: str
    target_tenant: str
    reason: str  # "role" | "tenant" | "unknown_action"
    code: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RegionRefused(Event):
    """A write or model call would have crossed regions and was refused."""

    name: ClassVar[str] = "region.refused"
    operation: str
    tenant_region: str
    target_region: str
    target: str = ""  # endpoint host or store name; never a URL with credentials


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyCreated(Event):
    """A data key was created for (tenant, subject)."""

    name: ClassVar[str] = "key.created"
    kek_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyRotated(Event):
    """The key-encryption key was rotated and data keys were re-wrapped."""

    name: ClassVar[str] = "key.rotated"
    provider: str
    old_kek_id: str
    new_kek_id: str
    rewrapped: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SubjectErased(Event):
    """A subject's data key was destroyed (crypto-shredding); its blobs are unreadable."""

    name: ClassVar[str] = "subject.erased"
    reason: str  # "request" (GDPR art. 17) | "retention" | "tenant" (off-boarding)
    keys_destroyed: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RetentionSwept(Event):
    """A retention sweep ran; ``erased`` keys were past their region's period."""

    name: ClassVar[str] = "retention.swept"
    region: str
    retention_days: int
    erased: int
    dry_run: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditExported(Event):
    """A signed audit bundle was written."""

    name: ClassVar[str] = "audit.exported"
    events: int
    first_seq: int
    last_seq: int
    bundle_sha256: str
    scope_tenant: str = ""


def emit(sink: Any, event: Event) -> Any:
    """Record a typed event on any ``AuditSink`` (an object with ``record(...)``)."""
    return sink.record(event.name, tenant=event.tenant, actor=event.actor,
                       subject=event.subject, properties=event.properties())
