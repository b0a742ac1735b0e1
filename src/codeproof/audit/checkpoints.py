"""Ed25519-signed checkpoints and the signed head file.

A checkpoint signs ``(seq, hash)`` of the chain head: once signed, no row at or
below ``seq`` can change, disappear or be re-ordered without verification
failing, and the chain cannot be *truncated* below ``seq`` either, because the
checkpoint names an event that must exist. The writer stores a checkpoint row
every ``checkpoint_every`` events, and mirrors the newest checkpoint to a
signed head file outside the database (``<home>/audit/head.sig``), so that an
attacker who deletes both tail events *and* checkpoint rows is still caught.

The signing key is an Ed25519 private key in ``<home>/keys/audit_signing.key``
(PEM, mode 0600); its public half is written next to it (``.pub``) for
verifiers and regulators. ``key_id`` is the first 16 hex digits of
SHA-256(raw public key).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from codeproof.audit.events import canonical_json
from codeproof.errors import AuditError

__all__ = [
    "Checkpoint",
    "Ed25519Signer",
    "checkpoint_payload",
    "key_id_of",
    "load_trusted_keys",
    "read_head",
    "replace_signing_key",
    "verify_checkpoint",
    "write_head",
]

_FORMAT = "codeproof.audit.checkpoint/v1"


def key_id_of(public_key: bytes) -> str:
    """Short stable id of a raw Ed25519 public key."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def checkpoint_payload(*, seq: int, hash: str, created: str, key_id: str) -> bytes:
    """The exact bytes a checkpoint signature covers."""
    return canonical_json(
        {"format": _FORMAT, "seq": seq, "hash": hash, "created": created, "key_id": key_id}
    ).encode("utf-8")


@dataclass(frozen=True, slots=True, kw_only=True)
class Checkpoint:
    """A signed anchor of the chain at ``seq`` whose event hash is ``hash``."""

    seq: int
    hash: str
    created: str
    key_id: str
    signature: str  # hex

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {"seq": self.seq, "hash": self.hash, "created": self.created,
                "key_id": self.key_id, "signature": self.signature}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Checkpoint:
        """Inverse of :meth:`to_dict` (raises AuditError on a malformed dict)."""
        try:
            return cls(seq=int(data["seq"]), hash=str(data["hash"]),
                       created=str(data["created"]), key_id=str(data["key_id"]),
                       signature=str(data["signature"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise AuditError(f"malformed checkpoint: {type(exc).__name__}") from exc


class Ed25519Signer:
    """Signs checkpoints and export bundles with one Ed25519 key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self.public_key_bytes = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.key_id = key_id_of(self.public_key_bytes)

    @classmethod
    def generate(cls) -> Ed25519Signer:
        """A fresh in-memory key (tests)."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load_or_create(cls, path: Path) -> Ed25519Signer:
        """Load the PEM key at ``path``, creating it (0600, dir 0700) when absent."""
        if path.exists():
            try:
                key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            except (ValueError, TypeError, OSError) as exc:
                raise AuditError(f"cannot load audit signing key {path.name}",
                                 path=str(path)) from exc
            if not isinstance(key, Ed25519PrivateKey):
                raise AuditError(f"audit signing key {path.name} is not Ed25519",
                                 path=str(path))
            return cls(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)  # atomic create-if-absent: another process may have won
        except FileExistsError:
            return cls.load_or_create(path)
        finally:
            tmp.unlink()
        signer = cls(key)
        path.with_suffix(".pub").write_text(
            base64.b64encode(signer.public_key_bytes).decode("ascii") + "\n", encoding="ascii"
        )
        return signer

    def sign(self, data: bytes) -> bytes:
        """Return the 64-byte signature of ``data``."""
        return self._private_key.sign(data)

    def checkpoint(self, *, seq: int, hash: str, created: str) -> Checkpoint:
        """Sign ``(seq, hash)`` into a :class:`Checkpoint`."""
        payload = checkpoint_payload(seq=seq, hash=hash, created=created, key_id=self.key_id)
        return Checkpoint(seq=seq, hash=hash, created=created, key_id=self.key_id,
                          signature=self.sign(payload).hex())


def load_trusted_keys(directory: Path) -> dict[str, bytes]:
    """Public keys of retired signing keys (``<key_id>.pub``, base64 raw) in ``directory``."""
    keys: dict[str, bytes] = {}
    if not directory.is_dir():
        return keys
    for path in sorted(directory.glob("*.pub")):
        try:
            raw = base64.b64decode(path.read_text(encoding="ascii").strip(), validate=True)
        except (OSError, ValueError) as exc:
            raise AuditError(f"unreadable trusted audit key {path.name}") from exc
        if len(raw) != 32 or key_id_of(raw) != path.stem:
            raise AuditError(f"trusted audit key {path.name} does not match its name")
        keys[path.stem] = raw
    return keys


def replace_signing_key(path: Path, trusted_dir: Path) -> tuple[Ed25519Signer, Ed25519Signer]:
    """Retire the key at ``path`` (its public half goes to ``trusted_dir``), make a new one.

    Returns ``(old, new)``. The old private key is overwritten; checkpoints it
    signed keep verifying through the trusted public key.
    """
    old = Ed25519Signer.load_or_create(path)
    trusted_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    (trusted_dir / f"{old.key_id}.pub").write_text(
        base64.b64encode(old.public_key_bytes).decode("ascii") + "\n", encoding="ascii")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    tmp = path.with_suffix(".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    new = Ed25519Signer(key)
    path.with_suffix(".pub").write_text(
        base64.b64encode(new.public_key_bytes).decode("ascii") + "\n", encoding="ascii")
    return old, new


def verify_signature(public_key: bytes, data: bytes, signature: bytes) -> bool:
    """True when ``signature`` is a valid Ed25519 signature of ``data``."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_checkpoint(checkpoint: Checkpoint, public_keys: dict[str, bytes]) -> bool:
    """True when the checkpoint is signed by one of ``public_keys`` (key_id -> raw key)."""
    key = public_keys.get(checkpoint.key_id)
    if key is None:
        return False
    try:
        signature = bytes.fromhex(checkpoint.signature)
    except ValueError:
        return False
    payload = checkpoint_payload(seq=checkpoint.seq, hash=checkpoint.hash,
                                 created=checkpoint.created, key_id=checkpoint.key_id)
    return verify_signature(key, payload, signature)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def read_head(path: Path) -> Checkpoint | None:
    """The checkpoint in the head file, or None when there is no head file."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AuditError(f"unreadable audit head file {path.name}", path=str(path)) from exc
    if not isinstance(data, dict):
        raise AuditError(f"malformed audit head file {path.name}", path=str(path))
    return Checkpoint.from_dict(data)


def write_head(path: Path, checkpoint: Checkpoint) -> bool:
    """Atomically replace the head file when ``checkpoint`` is newer; return True if written.

    Several processes may race; a file lock plus the ``seq`` comparison keeps the
    newest anchor (an older one never overwrites a newer one).
    """
    with _locked(path):
        current = read_head(path) if path.exists() else None
        if current is not None and current.seq >= checkpoint.seq:
            return False
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(canonical_json(checkpoint.to_dict()) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        return True
