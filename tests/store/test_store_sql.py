"""The SQL store on memory, SQLite and PostgreSQL: same contract, same tests."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from codeproof.api.fake import fake_code, fake_parse
from codeproof.errors import AccessDenied, Conflict, InvalidDecision, NotFound
from codeproof.model import Encounter
from codeproof.security.base import Principal
from codeproof.store import open_store, tables as t
from codeproof.store.migrate import current_revision, head_revision
from codeproof.store.sql import SqlStore, _upcoding_watch

SYSTEM = Principal.system()
CODER = Principal(user="cora", role="coder", tenant="default")
CDI = Principal(user="cid", role="cdi", tenant="default")
AUDITOR = Principal(user="aud", role="auditor", tenant="default")
OTHER = Principal(user="mallory", role="coder", tenant="other")

NOTE = ("Patient with type 2 diabetes and hypertension. Chest x-ray shows pneumonia. "
        "Possible sepsis. No fever.")


def coded(text: str = NOTE, name: str = "enc1.txt") -> tuple[Encounter, dict[str, Any]]:
    encounter = fake_parse(text.encode(), content_type="text/plain", name=name)
    result = fake_code(None, encounter, principal=SYSTEM)
    return result.encounter, result.package


def test_schema_is_at_head(store: SqlStore) -> None:
    assert current_revision(store.engine) == head_revision() == "0002"


def test_roundtrip_package_notes_meta(store: SqlStore) -> None:
    encounter, package = coded()
    store.save_encounter(encounter, package, principal=SYSTEM)
    assert store.get_package("enc1", principal=CODER) == package
    assert store.get_notes("enc1", principal=CODER)[0]["text"] == NOTE
    meta = store.get_encounter_meta("enc1", principal=CODER)
    assert meta.status == "in_review"
    assert meta.routing == {"auto_finalize": 2, "coder_review": 1, "cdi_query": 1}
    assert meta.code_count == 4 and meta.versions["pipeline"] == "fake.v1"
    codes = {c.code: c for c in store.get_codes("enc1", principal=CODER)}
    assert codes["E11.9"].status == "auto_finalized" and codes["J18.9"].status == "pending"
    assert "R50.9" not in codes  # "No fever." is negated by the fake coder


def test_all_auto_is_auto_finalized(store: SqlStore) -> None:
    encounter, package = coded("Type 2 diabetes, stable.", "auto.txt")
    store.save_encounter(encounter, package, principal=SYSTEM)
    assert store.get_encounter_meta("auto", principal=CODER).status == "auto_finalized"


def test_resave_replaces_codes_and_keeps_created(store: SqlStore) -> None:
    encounter, package = coded()
    store.save_encounter(encounter, package, principal=SYSTEM)
    first = store.get_encounter_meta("enc1", principal=CODER)
    encounter2, package2 = coded("Hypertension only.", "enc1.txt")
    store.save_encounter(encounter2, package2, principal=SYSTEM)
    meta = store.get_encounter_meta("enc1", principal=CODER)
    assert meta.created_at == first.created_at and meta.code_count == 1
    assert [c.code for c in store.get_codes("enc1", principal=CODER)] == ["I10"]


def test_tenant_isolation(store: SqlStore) -> None:
    encounter, package = coded()
    store.save_encounter(encounter, package, principal=SYSTEM)
    with pytest.raises(NotFound):
        store.get_package("enc1", principal=OTHER)
    with pytest.raises(NotFound):
        store.record_decision("enc1", principal=OTHER, system="ICD-10-CM", code="J18.9",
                              action="accept", reason="documentation_supports")
    assert store.list_encounters(principal=OTHER) == []
    assert store.review_queue("coder", principal=OTHER) == []
    # a tenant may not write into another tenant
    foreign = dataclasses.replace(encounter, tenant="other")
    with pytest.raises(Exception) as info:
        store.save_encounter(foreign, package, principal=SYSTEM)
    assert info.value.__class__.__name__ == "TenantMismatch"


@pytest.mark.parametrize(("principal", "call"), [
    (AUDITOR, "decide"), (CDI, "decide"), (CDI, "attest"), (CODER, "analytics"),
    (CODER, "cdi_write"), (AUDITOR, "queue_coder"),
])
def test_roles_are_enforced(store: SqlStore, principal: Principal, call: str) -> None:
    encounter, package = coded()
    store.save_encounter(encounter, package, principal=SYSTEM)
    calls = {
        "decide": lambda: store.record_decision(
            "enc1", principal=principal, system="ICD-10-CM", code="J18.9",
            action="accept", reason="documentation_supports"),
        "attest": lambda: store.attest("enc1", principal=principal, statement="ok"),
        "analytics": lambda: store.analytics(principal=principal),
        "cdi_write": lambda: store.update_cdi_query(1, principal=principal, status="sent"),
        "queue_coder": lambda: store.review_queue("coder", principal=principal),
    }
    with pytest.raises(AccessDenied):
        calls[call]()


@pytest.mark.parametrize(("action", "reason", "new_code", "comment", "error"), [
    ("accept", "documentation_supports", None, "", None),            # positive
    ("modify", "more_specific_code", "j18.1", "", None),             # positive, normalized
    ("reject", "other", None, "dup of chart 2", None),               # borderline: other+comment
    ("reject", "other", None, "   ", InvalidDecision),               # other needs a comment
    ("modify", "more_specific_code", "", "", InvalidDecision),       # modify needs new code
    ("accept", "because", None, "", InvalidDecision),                # unknown reason
    ("approve", "documentation_supports", None, "", InvalidDecision),  # unknown action
])
def test_decision_validation(store: SqlStore, action: str, reason: str,
                             new_code: str | None, comment: str,
                             error: type[Exception] | None) -> None:
    encounter, package = coded()
    store.save_encounter(encounter, package, principal=SYSTEM)

    def decide() -> Any:
        return store.record_decision("enc1", principal=CODER, system="ICD-10-CM",
                                     code="J18.9", action=action,  # type: ignore[arg-type]
                                     reason=reason, new_code=new_code, comment=comment)
    if error is not None:
        with pytest.raises(error):
            decide()
        assert store.list_decisions(principal=CODER) == []
        return
    record = decide()
    assert record.versions["pipeline"] == "fake.v1" and record.confidence == 0.78
    code = {c.code: c for c in store.get_codes("enc1", principal=CODER)}["J18.9"]
    assert code.status == {"accept": "accepted", "modify": "modified",
                           "reject": "rejected"}[action]
    assert code.final_code == ("J18.1" if action == "modify" else None)
    assert [d.id for d in store.list_decisions(principal=CODER)] == [record.id]


def test_unknown_code_is_not_found(store: SqlStore) -> None:
    encounter, package = coded()
    store.save_encounter(encounter, package, principal=SYSTEM)
    with pytest.raises(NotFound):
        store.record_decision("enc1", principal=CODER, system="ICD-10-CM", code="Z99.9",
                              action="accept", reason="documentation_supports")


def test_attestation_needs_all_decisions_then_freezes(store: SqlStore) -> None:
    encounter, package = coded()
    store.save_encounter(encounter, package, principal=SYSTEM)
    with pytest.raises(Conflict):
        store.attest("enc1", principal=CODER, statement="I attest")
    for code in ("J18.9", "A41.9"):
        store.record_decision("enc1", principal=CODER, system="ICD-10-CM", code=code,
                              action="accept", reason="documentation_supports")
    with pytest.raises(InvalidDecision):
        store.attest("enc1", principal=CODER, statement=" ")
    record = store.attest("enc1", principal=CODER, statement="I attest")
    assert record.user == "cora"
    meta = store.get_encounter_meta("enc1", principal=CODER)
    assert meta.status == "finalized" and meta.attested_by == "cora"
    with pytest.raises(Conflict):
        store.record_decision("enc1", principal=CODER, system="ICD-10-CM", code="J18.9",
                              action="reject", reason="not_documented")
    with pytest.raises(Conflict):
        store.attest("enc1", principal=CODER, statement="again")
    events = [e["event"] for e in store.history("enc1", principal=CODER)]
    assert events.count("code.decision") == 2 and events[-1] == "encounter.attested"


def test_queues_order_and_membership(store: SqlStore) -> None:
    for name, text in [("low", "Possible sepsis and heart failure."),
                       ("mid", "Heart failure."),
                       ("auto", "Type 2 diabetes and hypertension and cough.")]:
        encounter, package = coded(text, f"{name}.txt")
        store.save_encounter(encounter, package, principal=SYSTEM)
    coder_queue = [q.encounter.id for q in store.review_queue("coder", principal=CODER)]
    assert coder_queue == ["low", "mid"]
    cdi_queue = [q.encounter.id for q in store.review_queue("cdi", principal=CDI)]
    assert cdi_queue == ["low"]
    audit_queue = store.review_queue("audit", principal=AUDITOR)
    assert all(q.encounter.status == "auto_finalized" for q in audit_queue)
    with pytest.raises(InvalidDecision):
        store.review_queue("nope", principal=CODER)


def test_cdi_query_edit_and_track(store: SqlStore) -> None:
    encounter, package = coded()
    store.save_encounter(encounter, package, principal=SYSTEM)
    [query] = store.list_cdi_queries(principal=CDI)
    assert query.code == "A41.9" and query.status == "draft" and "sepsis" in query.text
    edited = store.update_cdi_query(query.id, principal=CDI, text="Edited query?")
    sent = store.update_cdi_query(query.id, principal=CDI, status="sent")
    assert edited.text == "Edited query?" and sent.status == "sent"
    assert [h["edited"] for h in sent.history] == ["drafted", "text", "status"]
    with pytest.raises(InvalidDecision):
        store.update_cdi_query(query.id, principal=CDI, status="lost")
    with pytest.raises(NotFound):
        store.update_cdi_query(query.id + 100, principal=CDI, status="sent")


def test_search(store: SqlStore) -> None:
    for name, text in [("alpha-1", "Pneumonia."), ("beta-2", "Hypertension.")]:
        encounter, package = coded(text, f"{name}.txt")
        store.save_encounter(encounter, package, principal=SYSTEM)
    assert [m.id for m in store.list_encounters(principal=CODER, code="J18")] == ["alpha-1"]
    assert [m.id for m in store.list_encounters(principal=CODER, query="beta")] == ["beta-2"]
    assert [m.id for m in store.list_encounters(principal=CODER, query="%")] == []
    assert len(store.list_encounters(principal=CODER, limit=1)) == 1


def test_analytics(store: SqlStore) -> None:
    encounter, package = coded()
    store.save_encounter(encounter, package, principal=SYSTEM)
    store.record_decision("enc1", principal=CODER, system="ICD-10-CM", code="J18.9",
                          action="accept", reason="documentation_supports")
    store.record_decision("enc1", principal=CODER, system="ICD-10-CM", code="A41.9",
                          action="reject", reason="uncertain_diagnosis")
    stats = store.analytics(principal=AUDITOR)
    assert stats.codes == 4 and stats.automation_rate == 0.5
    assert stats.override_rate == 0.5 and stats.agreement == 0.5
    assert stats.overrides_by_reason == (("uncertain_diagnosis", 1),)
    assert stats.overrides_by_code[0] == ("A41.9", 1, 1)
    assert len(stats.cmi_trend) == 1 and not stats.upcoding_alert


@pytest.mark.parametrize(("trend", "alert"), [
    ([("d1", 1.0, 10, 0.9), ("d2", 1.2, 10, 0.8)], True),    # CMI up, support down
    ([("d1", 1.0, 10, 0.8), ("d2", 1.2, 10, 0.95)], False),  # explained by documentation
    ([("d1", 1.0, 10, 0.9), ("d2", 1.04, 10, 0.9)], False),  # borderline: +4% only
    ([("d1", 1.0, 10, 0.9)], False),                          # one day: no trend
])
def test_upcoding_watch(trend: list[tuple[str, float, int, float]], alert: bool) -> None:
    assert _upcoding_watch(trend)[0] is alert


class _FailingSealer:
    name = "sealer.failing.test"

    def __init__(self) -> None:
        self.calls = 0

    def seal(self, *, tenant: str, subject: str, data: bytes) -> bytes:
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("key provider down")
        return data[::-1]

    def open(self, *, tenant: str, subject: str, blob: bytes) -> bytes:
        return blob[::-1]


def test_no_partial_write_and_sealed_at_rest(tmp_path: Path, runtime_factory: Any) -> None:
    sealer = _FailingSealer()
    store = open_store(runtime_factory(tmp_path, "storage.sqlite.v1", sealer=sealer))
    encounter, package = coded()
    with pytest.raises(RuntimeError):
        store.save_encounter(encounter, package, principal=SYSTEM)
    with pytest.raises(NotFound):
        store.get_encounter_meta("enc1", principal=CODER)
    store.save_encounter(encounter, package, principal=SYSTEM)
    with store.engine.connect() as conn:
        row = conn.execute(select(t.encounters)).one()
    assert b"diabetes" not in row.notes_blob and b"diabetes" not in row.package_blob
    assert row.sealer == "sealer.failing.test"
    store.close()
    raw = (tmp_path / "home" / "codeproof.db").read_bytes()
    assert b"Chest x-ray shows pneumonia" not in raw


def test_real_sealer_and_audit_log(tmp_path: Path, runtime_factory: Any) -> None:
    crypto = pytest.importorskip("codeproof.security.crypto")
    keys = pytest.importorskip("codeproof.security.keys")
    pytest.importorskip("codeproof.audit.log")
    runtime = runtime_factory(tmp_path, "storage.sqlite.v1", sealer=None,
                              key_providers=keys.MemoryKeyProvider())
    del runtime._injected["sealer"], runtime._injected["audit"]
    store = open_store(runtime)
    assert isinstance(store.sealer, crypto.EnvelopeSealer) and store.audit is not None
    encounter, package = coded()
    store.save_encounter(encounter, package, principal=SYSTEM)
    assert store.get_notes("enc1", principal=CODER)[0]["text"] == NOTE
    store.record_decision("enc1", principal=CODER, system="ICD-10-CM", code="J18.9",
                          action="accept", reason="documentation_supports")
    with pytest.raises(AccessDenied):
        store.get_notes("enc1", principal=Principal(user="i", role="integration",
                                                    tenant="default"))
    names = [e.name for e in store.audit.iter_events(subject="enc1")]
    assert {"encounter.saved", "code.decision", "access.denied"} <= set(names)
    assert store.audit.verify().ok
    store.close()
    assert b"Chest x-ray shows pneumonia" not in (tmp_path / "home" / "codeproof.db").read_bytes()


def test_blobs_are_sealed_under_the_patient_subject(store: SqlStore) -> None:
    import dataclasses

    encounter, package = coded(name="subj1.txt")
    encounter = dataclasses.replace(encounter, subject="subj-0123456789abcdef")
    store.save_encounter(encounter, package, principal=SYSTEM)
    sealer = store.sealer
    with store.engine.connect() as conn:
        from sqlalchemy import select

        from codeproof.store import tables as t

        row = conn.execute(select(t.encounters).where(t.encounters.c.id == encounter.id)).one()
    assert row.subject == "subj-0123456789abcdef"
    opened = sealer.open(tenant=row.tenant, subject=row.subject, blob=bytes(row.package_blob))
    assert b"codeproof.package/v1" in opened
    assert store.get_package(encounter.id, principal=SYSTEM)["encounter_id"] == encounter.id
