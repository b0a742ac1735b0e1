"""Signed audit bundles for a regulator, and their offline verification.

A bundle is one JSON file (``codeproof.audit-bundle/v1``)::

    {"format", "created", "scope": {"tenant", "first_seq", "last_seq"},
     "events": [row, ...], "checkpoints": [...], "verify": {...},
     "key_id", "public_key" (base64 raw Ed25519), "trusted_keys" (retired
     signing keys, so checkpoints signed before a rotation verify), "signature" (hex)}

``events`` is the *whole* chain from seq 1 so that it verifies from the
genesis hash. With a tenant scope, other tenants' rows are replaced by
``{"seq", "redacted": true, "content_digest", "prev_hash", "hash"}``: the
chain still verifies (a row's hash covers its content only through its
digest) yet no other tenant's ids leave the system. ``signature`` is Ed25519
over the canonical JSON of the bundle without ``signature``.

:func:`verify_bundle` needs nothing but the file (and, to be meaningful, the
``key_id`` the recipient obtained out of band, e.g. the published
``audit_signing.pub``): a bundle re-signed with another key is flagged.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeproof.audit.checkpoints import (
    Checkpoint,
    key_id_of,
    verify_checkpoint,
    verify_signature,
)
from codeproof.audit.events import GENESIS_HASH, AuditExported, canonical_json, utc_now
from codeproof.audit.log import AuditLog, content_digest, row_hash
from codeproof.errors import AuditError

__all__ = ["BUNDLE_FORMAT", "BundleReport", "export_bundle", "verify_bundle"]

BUNDLE_FORMAT = "codeproof.audit-bundle/v1"


@dataclass(frozen=True, slots=True, kw_only=True)
class BundleReport:
    """Outcome of :func:`verify_bundle`."""

    ok: bool
    events: int
    redacted: int
    key_id: str
    reason: str = ""
    first_bad_seq: int | None = None


def export_bundle(log: AuditLog, out: Path, *, tenant: str | None = None,
                  actor: str = "system", require_valid: bool = True) -> dict[str, Any]:
    """Write a signed bundle of ``log`` to ``out``; returns a PHI-free summary.

    Refuses (``AuditChainBroken``) to export a chain that does not verify unless
    ``require_valid`` is false, in which case the report inside says why.
    Records an ``audit.exported`` event after writing.
    """
    signer = log.signer
    if signer is None:
        raise AuditError("no audit signing key configured; cannot sign a bundle")
    report = log.verify()
    if require_valid:
        report.raise_for_status()
    events: list[dict[str, Any]] = []
    redacted = 0
    for event in log.iter_events(until_seq=report.last_seq if report.ok else None):
        if tenant is None or event.tenant == tenant:
            events.append(event.to_dict())
        else:
            redacted += 1
            events.append({"seq": event.seq, "redacted": True,
                           "content_digest": content_digest(event.content()),
                           "prev_hash": event.prev_hash, "hash": event.hash})
    checkpoints = [c.to_dict() for c in log.checkpoints() if c.seq <= report.last_seq]
    bundle: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "created": utc_now(),
        "scope": {"tenant": tenant, "first_seq": events[0]["seq"] if events else 0,
                  "last_seq": events[-1]["seq"] if events else 0},
        "events": events,
        "checkpoints": checkpoints,
        "verify": report.to_dict(),
        "key_id": signer.key_id,
        "public_key": base64.b64encode(signer.public_key_bytes).decode("ascii"),
        "trusted_keys": {k: base64.b64encode(v).decode("ascii")
                         for k, v in sorted(log.trusted_keys.items())},
    }
    bundle["signature"] = signer.sign(canonical_json(bundle).encode("utf-8")).hex()
    body = canonical_json(bundle).encode("utf-8")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(body)
    digest = hashlib.sha256(body).hexdigest()
    log.emit(AuditExported(
        tenant=tenant or "*", actor=actor, events=len(events) - redacted,
        first_seq=bundle["scope"]["first_seq"], last_seq=bundle["scope"]["last_seq"],
        bundle_sha256=digest, scope_tenant=tenant or ""))
    return {"path": str(out), "events": len(events), "redacted": redacted,
            "sha256": digest, "key_id": signer.key_id, "chain_ok": report.ok}


def verify_bundle(path: Path, *, expected_key_id: str | None = None) -> BundleReport:
    """Check a bundle's signature, chain and checkpoints offline."""
    try:
        bundle = json.loads(Path(path).read_bytes())
        signature = bytes.fromhex(bundle.pop("signature"))
        public_key = base64.b64decode(bundle["public_key"])
        key_id = str(bundle["key_id"])
        events = list(bundle["events"])
        checkpoints = [Checkpoint.from_dict(c) for c in bundle["checkpoints"]]
        trusted = {str(k): base64.b64decode(v)
                   for k, v in dict(bundle.get("trusted_keys") or {}).items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise AuditError(f"unreadable audit bundle {Path(path).name}") from exc

    def bad(reason: str, seq: int | None = None) -> BundleReport:
        return BundleReport(ok=False, events=len(events),
                            redacted=sum(1 for e in events if e.get("redacted")),
                            key_id=key_id, reason=reason, first_bad_seq=seq)

    if bundle.get("format") != BUNDLE_FORMAT:
        return bad(f"unknown bundle format {bundle.get('format')!r}")
    if key_id_of(public_key) != key_id:
        return bad("key_id does not match the embedded public key")
    if expected_key_id is not None and key_id != expected_key_id:
        return bad(f"bundle signed by key {key_id}, expected {expected_key_id}")
    if not verify_signature(public_key, canonical_json(bundle).encode("utf-8"), signature):
        return bad("bundle signature is invalid (bundle modified after signing)")
    prev, expected = GENESIS_HASH, 1
    hashes: dict[int, str] = {}
    try:
        for row in events:
            seq = int(row["seq"])
            if seq != expected:
                return bad(f"events seq {expected}..{seq - 1} are missing", seq)
            if row.get("redacted"):
                digest = str(row["content_digest"])
            else:
                content = {k: row[k] for k in ("seq", "event_id", "name", "created", "tenant",
                                                "actor", "subject", "properties")}
                digest = content_digest(content)
            if row["prev_hash"] != prev or row_hash(prev, digest) != row["hash"]:
                return bad("row does not match the chain", seq)
            prev, expected = str(row["hash"]), seq + 1
            hashes[seq] = prev
    except (KeyError, TypeError, ValueError):
        return bad("malformed event row", expected)
    for checkpoint in checkpoints:
        if not verify_checkpoint(checkpoint, {**trusted, key_id: public_key}):
            return bad(f"checkpoint at seq {checkpoint.seq} has an invalid signature",
                       checkpoint.seq)
        if hashes.get(checkpoint.seq) != checkpoint.hash:
            return bad(f"checkpoint at seq {checkpoint.seq} does not match the chain",
                       checkpoint.seq)
    return BundleReport(ok=True, events=len(events),
                        redacted=sum(1 for e in events if e.get("redacted")), key_id=key_id)
