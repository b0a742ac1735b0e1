"""Envelope encryption, key providers, rotation, crypto-shredding, no plaintext at rest."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, LargeBinary, MetaData, String, Table, insert

from codeproof.audit.log import AuditLog
from codeproof.config import load_settings
from codeproof.errors import (
    BackendError,
    BackendUnavailable,
    ConfigError,
    KeyError_,
    SealedBlobInvalid,
    SecurityError,
)
from codeproof.registrations import get_registry
from codeproof.runtime import Runtime
from codeproof.security.base import NullSealer, Principal
from codeproof.security.crypto import (
    BLOB_MAGIC,
    EnvelopeSealer,
    MemoryKeyStore,
    rotate_keys,
    sealer_from_settings,
)
from codeproof.security.keys import (
    Boto3KmsClient,
    KmsKeyProvider,
    LocalFileKeyProvider,
    MemoryKeyProvider,
)
from codeproof.security.retention import erase_subject

pytestmark = pytest.mark.issue(7)

#: strings of the synthetic note that must never appear in a database file
PHI_MARKERS = [b"Zebulon", b"Quartermaine", b"ZQ-00424242", b"02/29/1904", b"010-4242",
               b"example.invalid", b"Nowhere Lane", b"metformin"]


def test_round_trip_and_format(sealer: EnvelopeSealer, note_bytes: bytes) -> None:
    blob = sealer.seal(tenant="t1", subject="p1", data=note_bytes)
    assert blob[:3] == BLOB_MAGIC and blob[3] == 1
    assert note_bytes not in blob
    assert sealer.open(tenant="t1", subject="p1", blob=blob) == note_bytes
    assert sealer.seal(tenant="t1", subject="p1", data=note_bytes) != blob  # fresh nonce
    assert sealer.name == "sealer.envelope.v1"


@pytest.mark.parametrize(
    ("tenant", "subject", "mutate", "error"),
    [
        ("t1", "p1", None, None),  # positive
        ("t1", "", None, None),  # borderline: tenant-wide key
        ("t2", "p1", None, SealedBlobInvalid),  # other tenant -> AAD mismatch... or no key
        ("t1", "p2", None, SealedBlobInvalid),  # other subject
        ("t1", "p1", lambda b: b[:-1] + bytes([b[-1] ^ 1]), SealedBlobInvalid),  # tag
        ("t1", "p1", lambda b: b[:20] + bytes([b[20] ^ 1]) + b[21:], SealedBlobInvalid),
        ("t1", "p1", lambda b: b"XYZ" + b[3:], SealedBlobInvalid),  # magic
        ("t1", "p1", lambda b: b[:3] + b"\x09" + b[4:], SealedBlobInvalid),  # version
        ("t1", "p1", lambda b: b[:10], SealedBlobInvalid),  # truncated
    ],
)
def test_blob_is_bound_to_tenant_and_subject(sealer: EnvelopeSealer, tenant: str,
                                             subject: str, mutate, error) -> None:  # type: ignore[no-untyped-def]
    source_subject = subject if error is None else "p1"
    blob = sealer.seal(tenant="t1", subject=source_subject, data=b"payload")
    # make sure the other (tenant, subject) has a key, so the failure is authentication
    sealer.seal(tenant=tenant, subject=subject, data=b"other")
    if mutate is not None:
        blob = mutate(blob)
    if error is None:
        assert sealer.open(tenant=tenant, subject=subject, blob=blob) == b"payload"
    else:
        with pytest.raises(error):
            sealer.open(tenant=tenant, subject=subject, blob=blob)


def test_open_without_any_key_is_key_error(sealer: EnvelopeSealer) -> None:
    blob = sealer.seal(tenant="t1", subject="p1", data=b"x")
    with pytest.raises(KeyError_):
        sealer.open(tenant="t1", subject="never-sealed", blob=blob)


@pytest.mark.parametrize("bad", ["a\x00b", "x" * 201])
def test_ids_are_checked(sealer: EnvelopeSealer, bad: str) -> None:
    with pytest.raises(SecurityError):
        sealer.seal(tenant=bad, subject="p", data=b"x")


def test_crypto_shredding_keeps_chain(sealer: EnvelopeSealer, audit_log: AuditLog) -> None:
    kept = sealer.seal(tenant="t1", subject="p-keep", data=b"keep")
    gone = sealer.seal(tenant="t1", subject="p-gone", data=b"gone")
    audit_log.record("encounter.stored", tenant="t1", actor="system", subject="p-gone",
                     properties={"sha256": "0" * 64})
    assert erase_subject(sealer=sealer, tenant="t1", subject="p-gone",
                         principal=Principal.system("t1"), audit=audit_log)
    with pytest.raises(KeyError_) as info:
        sealer.open(tenant="t1", subject="p-gone", blob=gone)
    assert info.value.code == "CP-SEC-005"
    with pytest.raises(KeyError_):  # erasure is final: no new key for that subject
        sealer.seal(tenant="t1", subject="p-gone", data=b"again")
    assert sealer.open(tenant="t1", subject="p-keep", blob=kept) == b"keep"
    assert not erase_subject(sealer=sealer, tenant="t1", subject="p-gone",
                             principal=Principal.system("t1"), audit=audit_log)
    report = audit_log.verify()
    assert report.ok and report.checked == 3
    erased = list(audit_log.iter_events(name="subject.erased"))
    assert [e.properties["keys_destroyed"] for e in erased] == [1, 0]


def test_destroy_is_seen_by_another_sealer_instance(audit_log: AuditLog) -> None:
    """Two processes share the key table; the other one's cache expires (ttl)."""
    from codeproof.security.crypto import SqlKeyStore

    provider = MemoryKeyProvider()
    one = EnvelopeSealer(provider, keystore=SqlKeyStore(audit_log.engine))
    two = EnvelopeSealer(provider, keystore=SqlKeyStore(audit_log.engine), cache_ttl=0)
    blob = one.seal(tenant="t", subject="s", data=b"d")
    assert two.open(tenant="t", subject="s", blob=blob) == b"d"
    one.destroy_subject_key("t", "s")
    with pytest.raises(KeyError_):
        two.open(tenant="t", subject="s", blob=blob)


def test_tenant_offboarding(sealer: EnvelopeSealer) -> None:
    for subject in ("", "a", "b"):
        sealer.seal(tenant="gone", subject=subject, data=b"x")
    sealer.seal(tenant="stays", subject="a", data=b"x")
    assert sealer.destroy_tenant_keys("gone") == 3
    assert not sealer.has_key("gone", "a") and sealer.has_key("stays", "a")


def test_rotation_rewraps_and_old_blobs_open(tmp_path: Path, audit_log: AuditLog) -> None:
    from codeproof.security.crypto import SqlKeyStore

    provider = LocalFileKeyProvider(tmp_path / "keys" / "master.key")
    sealer = EnvelopeSealer(provider, keystore=SqlKeyStore(audit_log.engine))
    blobs = {s: sealer.seal(tenant="t", subject=s, data=s.encode()) for s in ("a", "b", "c")}
    sealer.destroy_subject_key("t", "c")
    old, new, count = rotate_keys(sealer, principal=Principal.system("t"), audit=audit_log)
    assert old != new and count == 2
    assert {r.kek_id for r in sealer.keystore.records() if r.wrapped} == {new}
    reloaded = EnvelopeSealer(LocalFileKeyProvider(tmp_path / "keys" / "master.key"),
                              keystore=SqlKeyStore(audit_log.engine))
    assert reloaded.key_provider.active_kek_id == new
    provider.retire(old)  # every key was re-wrapped: the old KEK can go
    fresh = EnvelopeSealer(LocalFileKeyProvider(tmp_path / "keys" / "master.key"),
                           keystore=SqlKeyStore(audit_log.engine))
    assert fresh.open(tenant="t", subject="a", blob=blobs["a"]) == b"a"
    rotated = list(audit_log.iter_events(name="key.rotated"))
    assert rotated[0].properties["rewrapped"] == 2


def test_rotation_needs_admin_keys(sealer: EnvelopeSealer, audit_log: AuditLog) -> None:
    from codeproof.errors import AccessDenied

    with pytest.raises(AccessDenied):
        rotate_keys(sealer, principal=Principal(user="c1", role="coder", tenant="t"),
                    audit=audit_log)
    assert [e.name for e in audit_log.iter_events()] == ["access.denied"]


def test_local_key_file_permissions(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "master.key"
    provider = LocalFileKeyProvider(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert LocalFileKeyProvider(path).active_kek_id == provider.active_kek_id
    os.chmod(path, 0o644)
    with pytest.raises(KeyError_, match="chmod 600"):
        LocalFileKeyProvider(path)
    os.chmod(path, 0o600)
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(KeyError_):
        LocalFileKeyProvider(path)


def test_wrapped_key_bound_to_context() -> None:
    provider = MemoryKeyProvider()
    wrapped = provider.wrap(b"k" * 32, context={"tenant": "a", "subject": "s"})
    assert provider.unwrap(wrapped, context={"tenant": "a", "subject": "s"}) == b"k" * 32
    with pytest.raises(KeyError_):
        provider.unwrap(wrapped, context={"tenant": "b", "subject": "s"})


class FakeKms:
    """A KMS double: 'encrypts' by XOR with a per-key pad and checks the context."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def encrypt(self, key_id: str, plaintext: bytes, context: Mapping[str, str]) -> bytes:
        self.calls.append("encrypt")
        tag = repr(sorted(context.items())).encode()
        return tag + b"\x00" + bytes(b ^ 0x5A for b in plaintext)

    def decrypt(self, key_id: str, ciphertext: bytes, context: Mapping[str, str]) -> bytes:
        self.calls.append("decrypt")
        tag, _, body = ciphertext.partition(b"\x00")  # the ASCII tag holds no NUL
        if tag != repr(sorted(context.items())).encode():  # wrong encryption context
            raise RuntimeError("InvalidCiphertextException")
        return bytes(b ^ 0x5A for b in body)


def test_kms_provider_with_pluggable_client() -> None:
    kms = FakeKms()
    sealer = EnvelopeSealer(KmsKeyProvider(kms, "arn:aws:kms:eu-west-1:1:key/abc",
                                           next_key_id="arn:aws:kms:eu-west-1:1:key/def"),
                            keystore=MemoryKeyStore(), cache_ttl=0)
    blob = sealer.seal(tenant="t", subject="s", data=b"secret")
    assert sealer.open(tenant="t", subject="s", blob=blob) == b"secret"
    assert kms.calls == ["encrypt", "decrypt"]
    old, new, count = sealer.rotate()
    assert new.endswith("/def") and count == 1
    assert sealer.open(tenant="t", subject="s", blob=blob) == b"secret"


def test_kms_failures_are_wrapped() -> None:
    class Down:
        def encrypt(self, *args: object) -> bytes:
            raise TimeoutError("no route")

        def decrypt(self, *args: object) -> bytes:
            raise TimeoutError("no route")

    sealer = EnvelopeSealer(KmsKeyProvider(Down(), "k"), keystore=MemoryKeyStore())
    with pytest.raises(BackendError):
        sealer.seal(tenant="t", subject="s", data=b"x")


def test_boto3_client_unavailable_without_boto3() -> None:
    try:  # boto3 is not a dependency: the KMS client must say so clearly
        import boto3  # noqa: F401
    except ImportError:
        with pytest.raises(BackendUnavailable):
            Boto3KmsClient()
    else:  # pragma: no cover - only where boto3 is installed
        pytest.skip("boto3 is installed here")


@pytest.mark.parametrize(
    ("name", "overrides", "error"),
    [
        ("keys.memory.v1", {}, None),
        ("keys.local_file.v1", {}, None),
        ("keys.kms.v1", {}, ConfigError),  # no kms_key_id configured
    ],
)
def test_registry_factories(tmp_path: Path, name: str, overrides: dict[str, object],
                            error: type[Exception] | None) -> None:
    settings = load_settings(environ={}, home=str(tmp_path / "home"), **overrides)
    factory = get_registry("key_providers").get(name)
    if error is not None:
        with pytest.raises(error):
            factory(Runtime(settings))
        return
    provider = factory(Runtime(settings))
    assert provider.name == name
    if name == "keys.local_file.v1":
        assert (tmp_path / "home" / "keys" / "master.key").exists()


def test_kms_factory_uses_injected_client(tmp_path: Path) -> None:
    settings = load_settings(environ={}, home=str(tmp_path / "h"),
                             security={"kms_key_id": "alias/codeproof"})
    provider = get_registry("key_providers").get("keys.kms.v1")(
        Runtime(settings, kms_client=FakeKms()))
    assert provider.active_kek_id == "alias/codeproof"


def test_sealer_from_settings(tmp_path: Path) -> None:
    on = load_settings(environ={}, home=str(tmp_path / "a"))
    assert isinstance(sealer_from_settings(on), EnvelopeSealer)
    off = load_settings(environ={}, home=str(tmp_path / "b"),
                        security={"encrypt_at_rest": False})
    assert isinstance(sealer_from_settings(off), NullSealer)


def test_no_plaintext_phi_in_database_file(tmp_path: Path, note_bytes: bytes) -> None:
    """Store sealed notes + keys + audit events in one SQLite file; scan its bytes."""
    from sqlalchemy import create_engine

    from codeproof.security.crypto import SqlKeyStore

    db = tmp_path / "store.db"
    engine = create_engine(f"sqlite:///{db}")
    log = AuditLog(engine, checkpoint_every=0)
    log.create_schema()
    blobs = Table("blobs", MetaData(), Column("id", Integer, primary_key=True),
                  Column("tenant", String), Column("subject", String),
                  Column("data", LargeBinary))
    blobs.create(engine)
    sealer = EnvelopeSealer(LocalFileKeyProvider(tmp_path / "keys" / "master.key"),
                            keystore=SqlKeyStore(engine))
    # seal first (it may write a data key), then store in one transaction
    sealed = [sealer.seal(tenant="t1", subject=f"p{i}", data=note_bytes) for i in range(20)]
    with engine.begin() as conn:
        for i, blob in enumerate(sealed):
            conn.execute(insert(blobs).values(tenant="t1", subject=f"p{i}", data=blob))
    for i in range(20):
        log.record("encounter.stored", tenant="t1", actor="system", subject=f"p{i}",
                   properties={"bytes": len(note_bytes)})
    erase_subject(sealer=sealer, tenant="t1", subject="p3", principal=Principal.system("t1"),
                  audit=log)
    engine.dispose()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("store.db*"))
    assert len(raw) > 10_000
    found = [m.decode() for m in PHI_MARKERS if m in raw]
    assert found == []
    # the scan itself works: a plaintext copy would be found
    assert all(m in note_bytes for m in PHI_MARKERS)


def test_key_creation_is_audited(audit_log: AuditLog) -> None:
    from codeproof.security.crypto import SqlKeyStore

    built: list[int] = []

    def factory() -> AuditLog:
        built.append(1)
        return audit_log

    sealer = EnvelopeSealer(MemoryKeyProvider(), keystore=SqlKeyStore(audit_log.engine),
                            audit_factory=factory)
    for _ in range(3):
        sealer.seal(tenant="t", subject="s1", data=b"x")
    sealer.seal(tenant="t", subject="s2", data=b"x")
    events = list(audit_log.iter_events(name="key.created"))
    assert [e.subject for e in events] == ["s1", "s2"]
    assert events[0].properties == {"kek_id": sealer.key_provider.active_kek_id}
    assert built == [1]  # the audit log is opened once, on first use


def test_runtime_sealer_shares_the_store_audit_log(tmp_path: Path) -> None:
    from codeproof.security.crypto import sealer_from_runtime

    runtime = Runtime(load_settings(environ={}, home=str(tmp_path / "h")))
    sealer = sealer_from_runtime(runtime)
    assert sealer_from_runtime(runtime) is sealer
    sealer.seal(tenant="default", subject="enc-1", data=b"x")
    log = runtime.resource("audit", lambda rt: None)
    assert [e.name for e in log.iter_events()] == ["key.created"]
    assert log.verify().ok


def test_local_ring_is_shared_between_processes(tmp_path: Path, audit_log: AuditLog) -> None:
    """Instances created at once agree on one ring; a rotation by one is seen by the other."""
    from concurrent.futures import ThreadPoolExecutor

    from codeproof.security.crypto import SqlKeyStore

    path = tmp_path / "keys" / "master.key"
    with ThreadPoolExecutor(max_workers=4) as pool:
        rings = list(pool.map(lambda _: LocalFileKeyProvider(path), range(4)))
    assert len({r.active_kek_id for r in rings}) == 1
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp files
    one = EnvelopeSealer(rings[0], keystore=SqlKeyStore(audit_log.engine), cache_ttl=0)
    two = EnvelopeSealer(rings[1], keystore=SqlKeyStore(audit_log.engine), cache_ttl=0)
    blob = one.seal(tenant="t", subject="s", data=b"d")
    one.rotate()  # re-wraps under a KEK that ``two`` has never seen
    assert two.open(tenant="t", subject="s", blob=blob) == b"d"


def test_signing_key_created_once_under_races(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from codeproof.audit.checkpoints import Ed25519Signer

    path = tmp_path / "keys" / "audit_signing.key"
    with ThreadPoolExecutor(max_workers=4) as pool:
        signers = list(pool.map(lambda _: Ed25519Signer.load_or_create(path), range(4)))
    assert len({s.key_id for s in signers}) == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_destroyed_key_bytes_leave_the_database_file(tmp_path: Path, journal: str) -> None:
    from sqlalchemy import create_engine, event

    from codeproof.security.crypto import SqlKeyStore

    db = tmp_path / "keys.db"
    engine = create_engine(f"sqlite:///{db}")

    def pragmas(dbapi_conn, _rec):  # type: ignore[no-untyped-def]
        dbapi_conn.execute(f"PRAGMA journal_mode={journal}")

    event.listen(engine, "connect", pragmas)
    store = SqlKeyStore(engine)
    store.create_schema()
    sealer = EnvelopeSealer(MemoryKeyProvider(), keystore=store)
    for i in range(5):
        sealer.seal(tenant="t", subject=f"s{i}", data=b"x")
    record = store.get("t", "s2")
    assert record is not None and record.wrapped is not None

    def on_disk() -> bytes:
        return b"".join(p.read_bytes() for p in tmp_path.glob("keys.db*"))

    assert record.wrapped in on_disk()
    assert sealer.destroy_subject_key("t", "s2")
    assert record.wrapped not in on_disk()
    kept = store.get("t", "s3")
    assert kept is not None and kept.wrapped in on_disk()
    engine.dispose()
