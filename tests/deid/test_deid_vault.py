"""The re-identification vault: encrypted at rest, readable only by authorized roles."""

from __future__ import annotations

import pytest

from codeproof.deid.engine import deidentify_text
from codeproof.deid.vault import DirectoryVaultStore, MemoryVaultStore, ReidVault
from codeproof.errors import AccessDenied, KeyError_, NotFound, TenantMismatch
from codeproof.security.base import Principal
from codeproof.security.crypto import EnvelopeSealer
from codeproof.security.keys import MemoryKeyProvider

TEXT = "Dr. Okonkwo saw the patient on 3/14/2021; daughter Priscilla called."


@pytest.fixture()
def sealer() -> EnvelopeSealer:
    return EnvelopeSealer(MemoryKeyProvider())


@pytest.fixture()
def deidentified(engine):
    return deidentify_text(TEXT, engine=engine, operator="surrogate", patient_key="p-1")


def test_round_trip_for_authorized_role(sealer, deidentified) -> None:
    store = MemoryVaultStore()
    vault = ReidVault(sealer=sealer, store=store)
    count = vault.put(tenant="acme", subject="note-1", original_text=TEXT, result=deidentified)
    assert count == len(deidentified.replacements) >= 3
    for blob in store.raw():  # encrypted at rest: no original identifier in the blob
        assert b"Okonkwo" not in blob and b"Priscilla" not in blob and b"3/14" not in blob
    cdi = Principal(user="u1", role="cdi", tenant="acme")
    assert vault.reidentify(cdi, tenant="acme", subject="note-1",
                            deidentified_text=deidentified.text) == TEXT
    entries = vault.get(Principal(user="a", role="auditor", tenant="acme"), tenant="acme",
                        subject="note-1")
    assert {e.original for e in entries} >= {"Okonkwo", "Priscilla"}


@pytest.mark.parametrize(
    ("principal", "error"),
    [
        (Principal(user="c", role="coder", tenant="acme"), AccessDenied),
        (Principal(user="i", role="integration", tenant="acme"), AccessDenied),
        (Principal(user="k", role="admin", tenant="acme"), AccessDenied),
        (Principal(user="x", role="auditor", tenant="other"), TenantMismatch),
    ],
)
def test_unauthorized_principals_are_refused(sealer, deidentified, principal, error) -> None:
    vault = ReidVault(sealer=sealer)
    vault.put(tenant="acme", subject="note-1", original_text=TEXT, result=deidentified)
    with pytest.raises(error):
        vault.get(principal, tenant="acme", subject="note-1")


def test_missing_entry_and_crypto_shredding(sealer, deidentified, tmp_path) -> None:
    vault = ReidVault(sealer=sealer, store=DirectoryVaultStore(tmp_path))
    admin = Principal(user="a", role="auditor", tenant="acme")
    with pytest.raises(NotFound):
        vault.get(admin, tenant="acme", subject="nope")
    vault.put(tenant="acme", subject="note-1", original_text=TEXT, result=deidentified)
    files = list(tmp_path.rglob("*.sealed"))
    assert len(files) == 1 and "note-1" not in str(files[0])
    sealer.destroy_subject_key("acme", "note-1")
    with pytest.raises(KeyError_):
        vault.get(admin, tenant="acme", subject="note-1")
