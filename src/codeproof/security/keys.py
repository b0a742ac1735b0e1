"""Key providers: the key-encryption keys (KEKs) that wrap every data key.

A provider never sees data; it wraps and unwraps the 32-byte data keys of
:class:`codeproof.security.crypto.EnvelopeSealer`, binding each wrap to an
*encryption context* (tenant, subject) so a wrapped key moved to another row
does not unwrap. Three providers are registered (``key_providers`` registry):

``keys.local_file.v1`` (default)
    A key ring in ``<home>/keys/master.key`` (or ``security.key_file``): JSON
    with the active KEK id and every KEK version (base64), created with mode
    0600 in a 0700 directory; refused when group/other can read it.
``keys.memory.v1``
    The same ring in memory (tests, demos).
``keys.kms.v1``
    A cloud KMS behind the tiny :class:`KmsClient` interface
    (``encrypt``/``decrypt`` with an encryption context, as AWS KMS, GCP KMS
    and Azure Key Vault offer). :class:`Boto3KmsClient` adapts AWS KMS when
    ``boto3`` is installed; otherwise building it raises ``BackendUnavailable``.

Rotation (``rotate``) makes a new KEK active; old versions stay to unwrap
until every data key was re-wrapped (``codeproof keys rotate`` does both).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from codeproof.errors import BackendError, BackendUnavailable, ConfigError, KeyError_

if TYPE_CHECKING:
    from codeproof.runtime import Runtime

__all__ = [
    "Boto3KmsClient",
    "KeyProvider",
    "KmsClient",
    "KmsKeyProvider",
    "LocalFileKeyProvider",
    "MemoryKeyProvider",
    "WrappedKey",
    "kms_provider",
    "local_file_provider",
    "memory_provider",
]

_RING_FORMAT = "codeproof.keyring/v1"


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A data key encrypted under the KEK ``kek_id``."""

    kek_id: str
    ciphertext: bytes


def _context_aad(context: Mapping[str, str]) -> bytes:
    return json.dumps(dict(context), sort_keys=True, separators=(",", ":")).encode("utf-8")


def _new_kek_id() -> str:
    return f"kek-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"


class KeyProvider(ABC):
    """Wraps/unwraps data keys under a key-encryption key; can rotate that KEK."""

    name: ClassVar[str]

    @abstractmethod
    def wrap(self, key: bytes, *, context: Mapping[str, str]) -> WrappedKey:
        """Encrypt the data key ``key`` under the active KEK, bound to ``context``."""

    @abstractmethod
    def unwrap(self, wrapped: WrappedKey, *, context: Mapping[str, str]) -> bytes:
        """Decrypt a wrapped data key; ``KeyError_`` when it cannot be unwrapped."""

    @property
    @abstractmethod
    def active_kek_id(self) -> str:
        """Id of the KEK that new wraps use."""

    @abstractmethod
    def rotate(self) -> str:
        """Make a new KEK active and return its id (old ones still unwrap)."""


class _AesRing(KeyProvider):
    """KEKs held by us: AES-256-GCM key wrap with the context as AAD."""

    def __init__(self, keys: dict[str, bytes], active: str) -> None:
        if active not in keys or any(len(k) != 32 for k in keys.values()):
            raise KeyError_("key ring is inconsistent (active KEK missing or not 256-bit)")
        self._keys = keys
        self._active = active

    @property
    def active_kek_id(self) -> str:
        return self._active

    @property
    def kek_ids(self) -> tuple[str, ...]:
        """Every KEK version in the ring."""
        return tuple(self._keys)

    def wrap(self, key: bytes, *, context: Mapping[str, str]) -> WrappedKey:
        nonce = os.urandom(12)
        sealed = AESGCM(self._keys[self._active]).encrypt(nonce, key, _context_aad(context))
        return WrappedKey(self._active, nonce + sealed)

    def unwrap(self, wrapped: WrappedKey, *, context: Mapping[str, str]) -> bytes:
        kek = self._keys.get(wrapped.kek_id)
        if kek is None:
            raise KeyError_(f"KEK {wrapped.kek_id} is not in the key ring",
                            kek_id=wrapped.kek_id)
        try:
            return AESGCM(kek).decrypt(wrapped.ciphertext[:12], wrapped.ciphertext[12:],
                                       _context_aad(context))
        except InvalidTag:
            raise KeyError_("data key does not unwrap under its KEK and context",
                            kek_id=wrapped.kek_id) from None

    def rotate(self) -> str:
        kek_id = _new_kek_id()
        self._keys[kek_id] = AESGCM.generate_key(bit_length=256)
        self._active = kek_id
        self._saved()
        return kek_id

    def retire(self, kek_id: str) -> None:
        """Remove an old KEK (only after every data key was re-wrapped)."""
        if kek_id == self._active:
            raise KeyError_("cannot retire the active KEK", kek_id=kek_id)
        self._keys.pop(kek_id, None)
        self._saved()

    def _saved(self) -> None:
        """Persist the ring (no-op in memory)."""


class MemoryKeyProvider(_AesRing):
    """An in-memory key ring (tests and demos; keys vanish with the process)."""

    name = "keys.memory.v1"

    def __init__(self) -> None:
        kek_id = _new_kek_id()
        super().__init__({kek_id: AESGCM.generate_key(bit_length=256)}, kek_id)


class LocalFileKeyProvider(_AesRing):
    """A key ring in a local file with mode 0600 (the default provider).

    Safe for several processes: the first one creates the file atomically
    (write a temp file, then ``link`` it into place, which fails if another
    process won), and a process that meets a KEK id it does not know re-reads
    the file once (another process rotated).
    """

    name = "keys.local_file.v1"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            kek_id = _new_kek_id()
            super().__init__({kek_id: AESGCM.generate_key(bit_length=256)}, kek_id)
            if self._publish():
                return
        super().__init__(*self._load())

    def _load(self) -> tuple[dict[str, bytes], str]:
        mode = stat.S_IMODE(self.path.stat().st_mode)
        if mode & 0o077:
            raise KeyError_(
                f"key file {self.path.name} is readable by group/others "
                f"(mode {mode:o}); chmod 600 it", path=str(self.path),
            )
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            keys = {str(k): base64.b64decode(v) for k, v in data["keys"].items()}
            active = str(data["active"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise KeyError_(f"key file {self.path.name} is unreadable or malformed",
                            path=str(self.path)) from exc
        return keys, active

    def _body(self) -> str:
        return json.dumps({
            "format": _RING_FORMAT,
            "active": self._active,
            "keys": {k: base64.b64encode(v).decode("ascii") for k, v in self._keys.items()},
        }, indent=1)

    def _temp(self) -> Path:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(self._body())
            handle.flush()
            os.fsync(handle.fileno())
        return tmp

    def _publish(self) -> bool:
        """Create the file if nobody else did; False when another process won."""
        tmp = self._temp()
        try:
            os.link(tmp, self.path)
            return True
        except FileExistsError:
            return False
        finally:
            tmp.unlink()

    def _saved(self) -> None:
        os.replace(self._temp(), self.path)

    def unwrap(self, wrapped: WrappedKey, *, context: Mapping[str, str]) -> bytes:
        """As the ring's unwrap; re-reads the file once for a KEK id it does not know."""
        if wrapped.kek_id not in self._keys:
            self._keys, self._active = self._load()
        return super().unwrap(wrapped, context=context)


class KmsClient(Protocol):
    """The two calls a cloud KMS must offer (AWS KMS Encrypt/Decrypt shape)."""

    def encrypt(self, key_id: str, plaintext: bytes, context: Mapping[str, str]) -> bytes:
        """Encrypt ``plaintext`` under the KMS key ``key_id`` with an encryption context."""
        ...

    def decrypt(self, key_id: str, ciphertext: bytes, context: Mapping[str, str]) -> bytes:
        """Decrypt a ciphertext produced by :meth:`encrypt` with the same context."""
        ...


class KmsKeyProvider(KeyProvider):
    """KEKs held by a cloud KMS; this process never sees them.

    Rotation of KMS key material is done in the KMS (automatic yearly rotation
    keeps old versions decryptable under the same key id); :meth:`rotate`
    switches to ``next_key_id`` when one is configured, which re-wrapping then
    moves every data key to.
    """

    name = "keys.kms.v1"

    def __init__(self, client: KmsClient, key_id: str, *, next_key_id: str | None = None) -> None:
        self.client = client
        self._key_id = key_id
        self._next = next_key_id

    @property
    def active_kek_id(self) -> str:
        return self._key_id

    def wrap(self, key: bytes, *, context: Mapping[str, str]) -> WrappedKey:
        try:
            return WrappedKey(self._key_id, self.client.encrypt(self._key_id, key, context))
        except BackendError:
            raise
        except Exception as exc:  # wrap any SDK failure with a stable code
            raise BackendError(f"KMS encrypt failed: {type(exc).__name__}") from exc

    def unwrap(self, wrapped: WrappedKey, *, context: Mapping[str, str]) -> bytes:
        try:
            return self.client.decrypt(wrapped.kek_id, wrapped.ciphertext, context)
        except BackendError:
            raise
        except Exception as exc:
            raise KeyError_(f"KMS could not unwrap the data key: {type(exc).__name__}",
                            kek_id=wrapped.kek_id) from exc

    def rotate(self) -> str:
        if self._next:
            self._key_id, self._next = self._next, None
        return self._key_id


class Boto3KmsClient:
    """AWS KMS through boto3 (optional dependency; not installed by default)."""

    def __init__(self, *, region: str | None = None) -> None:
        try:
            import boto3
        except ImportError as exc:
            raise BackendUnavailable(
                "keys.kms.v1 needs boto3 (pip install boto3) and AWS credentials"
            ) from exc
        self._kms: Any = boto3.client("kms", region_name=region)

    def encrypt(self, key_id: str, plaintext: bytes, context: Mapping[str, str]) -> bytes:
        """KMS Encrypt."""
        out = self._kms.encrypt(KeyId=key_id, Plaintext=plaintext,
                                EncryptionContext=dict(context))
        return bytes(out["CiphertextBlob"])

    def decrypt(self, key_id: str, ciphertext: bytes, context: Mapping[str, str]) -> bytes:
        """KMS Decrypt."""
        out = self._kms.decrypt(KeyId=key_id, CiphertextBlob=ciphertext,
                                EncryptionContext=dict(context))
        return bytes(out["Plaintext"])


# -- registry factories (take a Runtime) ------------------------------------------
def local_file_provider(runtime: Runtime) -> LocalFileKeyProvider:
    """``keys.local_file.v1``: ``security.key_file`` or ``<home>/keys/master.key``."""
    settings = runtime.settings
    path = settings.security.key_file or Path(settings.home) / "keys" / "master.key"
    return LocalFileKeyProvider(path)


def memory_provider(runtime: Runtime) -> MemoryKeyProvider:
    """``keys.memory.v1``: an in-memory ring."""
    return MemoryKeyProvider()


def kms_provider(runtime: Runtime) -> KmsKeyProvider:
    """``keys.kms.v1``: AWS KMS via boto3 with ``security.kms_key_id``.

    Inject another :class:`KmsClient` with ``Runtime(settings, kms_client=...)``.
    """
    security = runtime.settings.security
    if not security.kms_key_id:
        raise ConfigError("keys.kms.v1 needs security.kms_key_id")
    client = runtime.resource("kms_client",
                              lambda rt: Boto3KmsClient(region=security.kms_region))
    return KmsKeyProvider(client, security.kms_key_id)
