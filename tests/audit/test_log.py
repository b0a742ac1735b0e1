"""The hash-chained audit log: append, PHI guard, concurrency and the tamper suite."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, create_engine, text

from codeproof.audit.checkpoints import Checkpoint, Ed25519Signer, read_head, write_head
from codeproof.audit.events import GENESIS_HASH, PhiViewed, canonical_json
from codeproof.audit.log import AuditLog, content_digest, row_hash
from codeproof.errors import AuditChainBroken, AuditError
from codeproof.model import Encounter, Note, SourceRef
from codeproof.pipeline import Pipeline

pytestmark = pytest.mark.issue(7)


def _fill(log: AuditLog, count: int, *, tenant: str = "t1") -> None:
    with log.batch() as sink:
        for i in range(count):
            sink.record("stage.completed", tenant=tenant, actor="system",
                        subject=f"enc-{i}", properties={"i": i, "digest": "ab" * 32})


# -- appending --------------------------------------------------------------------------
def test_record_links_rows_and_verifies(sqlite_log: AuditLog) -> None:
    first = sqlite_log.record("encounter.coded", tenant="t1", actor="u1", subject="e1",
                              properties={"codes": ["E11.9"], "n": 1})
    second = sqlite_log.emit(PhiViewed(tenant="t1", actor="u2", subject="e1", role="coder",
                                       purpose="review", resource="note"))
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    assert first.hash == row_hash(GENESIS_HASH, content_digest(first.content()))
    assert second.properties == {"role": "coder", "purpose": "review", "resource": "note"}
    report = sqlite_log.verify()
    assert report.ok and report.checked == 2 and report.last_hash == second.hash
    assert [e.name for e in sqlite_log.iter_events(subject="e1")] == \
        ["encounter.coded", "phi.viewed"]


def test_checkpoints_every_n_and_head_file(sqlite_log: AuditLog) -> None:
    _fill(sqlite_log, 25)
    assert [c.seq for c in sqlite_log.checkpoints()] == [10, 20]
    assert sqlite_log.head_path is not None
    head = read_head(sqlite_log.head_path)
    assert head is not None and head.seq == 20
    report = sqlite_log.verify()
    assert report.ok and report.anchored_seq == 20
    assert any("5 newest events" in w for w in report.warnings)
    manual = sqlite_log.checkpoint()
    assert manual is not None and manual.seq == 25
    again = sqlite_log.checkpoint()  # idempotent at the same head
    assert again == manual
    assert sqlite_log.verify().anchored_seq == 25


def test_batch_rolls_back_on_error(sqlite_log: AuditLog) -> None:
    _fill(sqlite_log, 3)
    with pytest.raises(RuntimeError), sqlite_log.batch() as sink:
        sink.record("stage.completed", tenant="t1", actor="s", subject="x", properties={})
        raise RuntimeError("boom")
    assert sqlite_log.head()[0] == 3
    assert sqlite_log.verify().ok


@pytest.mark.parametrize(
    ("properties", "ok"),
    [
        ({"codes": ["E11.9", "I10"], "start": 10, "end": 20, "p": 0.93}, True),  # positive
        ({"digest": "f" * 64, "nested": {"ids": [1, 2]}, "flag": None}, True),
        ({"note_id": "n1", "url_host": "api.example.eu"}, True),
        ({"reason": "x" * 256}, True),  # borderline: longest allowed string
        ({"reason": "x" * 257}, False),  # borderline: one over
        ({"text": "Pt John Smith seen today"}, False),  # negative: note text key
        ({"evidence": [{"quote": "chest pain"}]}, False),  # nested quote
        ({"MRN": "12345678"}, False),  # identifier key, any case
        ({"summary": "line one\nline two"}, False),  # multi-line text
        ({"when": object()}, False),  # not JSON
        ({"score": float("nan")}, False),
    ],
)
def test_properties_must_be_phi_free(sqlite_log: AuditLog, properties: dict[str, Any],
                                     ok: bool) -> None:
    if ok:
        assert sqlite_log.record("x.y", tenant="t", actor="a", subject="s",
                                 properties=properties).seq == 1
    else:
        with pytest.raises(AuditError):
            sqlite_log.record("x.y", tenant="t", actor="a", subject="s",
                              properties=properties)
        assert sqlite_log.head()[0] == 0


@pytest.mark.parametrize("name", ["Stage Completed", "stage", "stage..x", "STAGE.done"])
def test_event_names_are_dotted_lower_case(sqlite_log: AuditLog, name: str) -> None:
    with pytest.raises(AuditError):
        sqlite_log.record(name, tenant="t", actor="a", subject="s", properties={})


def test_pipeline_run_appends_stage_events(sqlite_log: AuditLog) -> None:
    class Touch:
        name = "test.touch.v1"
        requires = frozenset({"notes"})
        assigns = frozenset({"specialty"})

        def __call__(self, encounter: Encounter, /) -> Encounter:
            return dataclasses.replace(encounter, specialty="cardiology")

    encounter = Encounter(id="enc-1", tenant="t9",
                          source=SourceRef(format="text", sha256="0" * 64,
                                           received_at="2026-01-01T00:00:00Z"),
                          notes=(Note(id="n1", text="synthetic"),))
    with sqlite_log.batch() as sink:
        Pipeline([Touch()]).run(encounter, audit=sink)
    events = list(sqlite_log.iter_events(tenant="t9"))
    assert [(e.name, e.subject, e.properties["stage"]) for e in events] == \
        [("stage.completed", "enc-1", "test.touch.v1")]
    assert sqlite_log.verify().ok


_WRITER = """
import sys
from sqlalchemy import create_engine, event
from codeproof.audit.log import AuditLog
engine = create_engine(sys.argv[1])
# no fsync in the test: the lock, not durability, is under test
event.listen(engine, "connect", lambda c, _r: c.execute("PRAGMA synchronous=OFF"))
log = AuditLog(engine, checkpoint_every=0)
import pathlib, time
ready, go = pathlib.Path(sys.argv[4]), pathlib.Path(sys.argv[5])
ready.touch()
while not go.exists():  # start together, so the appends really interleave
    time.sleep(0.01)
for i in range(int(sys.argv[2])):
    log.record("load.test", tenant="t", actor=sys.argv[3], subject=str(i), properties={"i": i})
"""


def test_concurrent_processes_never_fork_the_chain(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    log = AuditLog(create_engine(url))
    log.create_schema()
    go = tmp_path / "go"
    ready = [tmp_path / f"ready{n}" for n in range(3)]
    # 150 appends each: enough that three writers started together always interleave
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, url, "150", f"w{n}",
                               str(ready[n]), str(go)]) for n in range(3)]
    deadline = time.monotonic() + 60
    while not all(r.exists() for r in ready) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
    report = log.verify()
    assert report.ok and report.checked == 450
    actors = [e.actor for e in log.iter_events()]
    assert set(actors) == {"w0", "w1", "w2"}
    switches = sum(a != b for a, b in zip(actors, actors[1:], strict=False))
    assert switches > 2  # the writers did interleave


# -- the tamper suite ---------------------------------------------------------------------
Tamper = Callable[[Connection, "Env"], None]


@dataclasses.dataclass
class Env:
    """A filled log (35 events, checkpoints at 10/20/30) and an engine that can tamper."""

    log: AuditLog
    admin: Engine
    dialect: str


def _rehash_from(conn: Connection, start: int, *, change: dict[str, str]) -> None:
    """What a clever attacker does: edit row ``start`` and recompute every later hash."""
    rows = conn.execute(text("SELECT * FROM audit_events WHERE seq >= :s ORDER BY seq"),
                        {"s": start}).mappings().all()
    prev = conn.execute(text("SELECT hash FROM audit_events WHERE seq = :s"),
                        {"s": start - 1}).scalar() or GENESIS_HASH
    for row in rows:
        values = dict(row)
        if row["seq"] == start:
            values.update(change)
        content = {k: values[k] for k in ("seq", "event_id", "name", "created", "tenant",
                                          "actor", "subject")}
        content["properties"] = json.loads(values["properties"])
        new_hash = row_hash(prev, content_digest(content))
        conn.execute(text("UPDATE audit_events SET subject = :subj, prev_hash = :p, "
                          "hash = :h WHERE seq = :s"),
                     {"subj": values["subject"], "p": prev, "h": new_hash, "s": row["seq"]})
        prev = new_hash


def _edit_properties(conn: Connection, env: Env) -> None:
    conn.execute(text("UPDATE audit_events SET properties = :p WHERE seq = 12"),
                 {"p": canonical_json({"i": 999, "digest": "ab" * 32})})


def _edit_subject(conn: Connection, env: Env) -> None:
    conn.execute(text("UPDATE audit_events SET subject = 'enc-x' WHERE seq = 5"))


def _rewrite_one_row(conn: Connection, env: Env) -> None:
    row = conn.execute(text("SELECT * FROM audit_events WHERE seq = 12")).mappings().one()
    content = {k: row[k] for k in ("seq", "event_id", "name", "created", "tenant", "actor")}
    content.update(subject="enc-x", properties=json.loads(row["properties"]))
    conn.execute(text("UPDATE audit_events SET subject = 'enc-x', hash = :h WHERE seq = 12"),
                 {"h": row_hash(row["prev_hash"], content_digest(content))})


def _delete_middle(conn: Connection, env: Env) -> None:
    conn.execute(text("DELETE FROM audit_events WHERE seq = 12"))


def _delete_first(conn: Connection, env: Env) -> None:
    conn.execute(text("DELETE FROM audit_events WHERE seq = 1"))


def _reorder(conn: Connection, env: Env) -> None:
    conn.execute(text("UPDATE audit_events SET seq = -1 WHERE seq = 12"))
    conn.execute(text("UPDATE audit_events SET seq = 12 WHERE seq = 13"))
    conn.execute(text("UPDATE audit_events SET seq = 13 WHERE seq = -1"))


def _insert_middle(conn: Connection, env: Env) -> None:
    conn.execute(text("UPDATE audit_events SET seq = seq + 1000 WHERE seq >= 12"))
    conn.execute(text("UPDATE audit_events SET seq = seq - 999 WHERE seq >= 1000"))
    prev = conn.execute(text("SELECT hash FROM audit_events WHERE seq = 11")).scalar()
    content = {"seq": 12, "event_id": "f" * 32, "name": "review.decided",
               "created": "2026-01-01T00:00:00.000000Z", "tenant": "t1", "actor": "mallory",
               "subject": "enc-x", "properties": {}}
    conn.execute(text(
        "INSERT INTO audit_events (seq, event_id, name, created, tenant, actor, subject, "
        "properties, prev_hash, hash) VALUES (12, :id, 'review.decided', :c, 't1', "
        "'mallory', 'enc-x', '{}', :p, :h)"),
        {"id": "f" * 32, "c": content["created"], "p": prev,
         "h": row_hash(str(prev), content_digest(content))})


def _append_bad_hash(conn: Connection, env: Env) -> None:
    prev = conn.execute(text("SELECT hash FROM audit_events WHERE seq = 35")).scalar()
    conn.execute(text(
        "INSERT INTO audit_events (seq, event_id, name, created, tenant, actor, subject, "
        "properties, prev_hash, hash) VALUES (36, :id, 'x.y', 'c', 't1', 'm', 's', '{}', "
        ":p, :h)"), {"id": "e" * 32, "p": prev, "h": "0" * 64})


def _truncate_below_checkpoint(conn: Connection, env: Env) -> None:
    conn.execute(text("DELETE FROM audit_events WHERE seq > 25"))


def _truncate_with_checkpoints(conn: Connection, env: Env) -> None:
    conn.execute(text("DELETE FROM audit_events WHERE seq > 25"))
    conn.execute(text("DELETE FROM audit_checkpoints WHERE seq > 25"))


def _forged_checkpoint(conn: Connection, env: Env) -> None:
    forged = Ed25519Signer.generate().checkpoint(seq=20, hash="1" * 64, created="c")
    conn.execute(text("UPDATE audit_checkpoints SET hash = :h, signature = :s "
                      "WHERE seq = 20"), {"h": forged.hash, "s": forged.signature})


def _checkpoint_hash_edited(conn: Connection, env: Env) -> None:
    conn.execute(text("UPDATE audit_checkpoints SET hash = :h WHERE seq = 20"),
                 {"h": "2" * 64})


def _extra_checkpoint_other_key(conn: Connection, env: Env) -> None:
    head = conn.execute(text("SELECT hash FROM audit_events WHERE seq = 35")).scalar()
    forged = Ed25519Signer.generate().checkpoint(seq=35, hash=str(head), created="c")
    conn.execute(text("INSERT INTO audit_checkpoints (seq, hash, created, key_id, signature) "
                      "VALUES (35, :h, 'c', :k, :s)"),
                 {"h": forged.hash, "k": forged.key_id, "s": forged.signature})


def _rewrite_tail(conn: Connection, env: Env) -> None:
    _rehash_from(conn, 22, change={"subject": "enc-x"})


def _rewrite_unanchored_tail(conn: Connection, env: Env) -> None:
    _rehash_from(conn, 33, change={"subject": "enc-x"})


def _forged_head_file(conn: Connection, env: Env) -> None:
    assert env.log.head_path is not None
    env.log.head_path.unlink()
    write_head(env.log.head_path, Checkpoint(seq=40, hash="3" * 64, created="c",
                                             key_id=env.log.signer.key_id,  # type: ignore[union-attr]
                                             signature="00" * 64))


def _nothing(conn: Connection, env: Env) -> None:
    return None


#: (case, tamper, first bad seq or None when the chain must still verify)
TAMPER_CASES: list[tuple[str, Tamper, int | None]] = [
    ("untouched", _nothing, None),
    ("edit-properties", _edit_properties, 12),
    ("edit-subject", _edit_subject, 5),
    ("rewrite-one-row-and-its-hash", _rewrite_one_row, 12),
    ("delete-middle", _delete_middle, 13),
    ("delete-first", _delete_first, 2),
    ("reorder", _reorder, 12),
    ("insert-middle", _insert_middle, 12),
    ("append-bad-hash", _append_bad_hash, 36),
    ("truncate-below-checkpoint", _truncate_below_checkpoint, 26),
    ("truncate-with-checkpoint-rows", _truncate_with_checkpoints, 26),
    ("forged-checkpoint", _forged_checkpoint, 20),
    ("checkpoint-hash-edited", _checkpoint_hash_edited, 20),
    ("checkpoint-from-unknown-key", _extra_checkpoint_other_key, 35),
    ("rewrite-tail-rehashed", _rewrite_tail, 21),
    ("forged-head-file", _forged_head_file, 40),
]


@pytest.fixture(params=["sqlite", "postgres"])
def env(request: pytest.FixtureRequest, tmp_path: Path, signer: Ed25519Signer) -> Iterator[Env]:
    """The same filled log on SQLite and (when reachable) PostgreSQL."""
    head = tmp_path / "audit" / "head.sig"
    if request.param == "sqlite":
        engine = request.getfixturevalue("fast_engine")(f"sqlite:///{tmp_path / 'audit.db'}")
        log = AuditLog(engine, signer=signer, checkpoint_every=10, head_path=head)
        log.create_schema()
        admin = engine
    else:
        pg = request.getfixturevalue("pg_database")
        pg.reset()
        log = AuditLog(pg.app, signer=signer, checkpoint_every=10, head_path=head)
        admin = pg.owner
    _fill(log, 35)
    yield Env(log=log, admin=admin, dialect=request.param)


@pytest.mark.parametrize(("case", "tamper", "first_bad"), TAMPER_CASES,
                         ids=[c[0] for c in TAMPER_CASES])
def test_tamper_is_detected(env: Env, case: str, tamper: Tamper, first_bad: int | None) -> None:
    assert env.log.verify().ok
    with env.admin.begin() as conn:
        if env.dialect == "postgres":  # a superuser bypassing the append-only triggers
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        tamper(conn, env)
    report = env.log.verify()
    if first_bad is None:
        assert report.ok, report
        return
    assert not report.ok, f"{case} went undetected"
    assert report.first_bad_seq == first_bad, report
    assert report.reason
    with pytest.raises(AuditChainBroken) as info:
        report.raise_for_status()
    assert info.value.context["seq"] == first_bad


def test_first_bad_event_is_named(sqlite_log: AuditLog) -> None:
    _fill(sqlite_log, 15)
    target = next(e for e in sqlite_log.iter_events() if e.seq == 7)
    with sqlite_log.engine.begin() as conn:
        _edit_subject_at(conn, 7)
    report = sqlite_log.verify()
    assert report.first_bad_event_id == target.event_id


def _edit_subject_at(conn: Connection, seq: int) -> None:
    conn.execute(text("UPDATE audit_events SET subject = 'x' WHERE seq = :s"), {"s": seq})


def test_residual_risk_unanchored_tail(sqlite_log: AuditLog) -> None:
    """Documented limit: the tail after the newest signed anchor can be cut or rewritten.

    verify() still holds, but it *says* how many newest events are unanchored; an
    explicit ``checkpoint()`` closes the window.
    """
    _fill(sqlite_log, 35)
    with sqlite_log.engine.begin() as conn:
        _rewrite_unanchored_tail(conn, None)  # type: ignore[arg-type]
        conn.execute(text("DELETE FROM audit_events WHERE seq > 34"))
    report = sqlite_log.verify()
    assert report.ok and report.anchored_seq == 30
    assert any("4 newest events" in w for w in report.warnings)


def test_each_database_has_its_own_head_file(tmp_path: Path) -> None:
    from codeproof.audit.log import open_audit_log
    from codeproof.config import load_settings

    settings = load_settings(environ={}, home=str(tmp_path / "home"))
    default = open_audit_log(settings)
    other = open_audit_log(settings, engine=create_engine(f"sqlite:///{tmp_path / 'eu.db'}"))
    assert default.head_path is not None and default.head_path.name == "head.sig"
    assert other.head_path is not None and other.head_path.name.startswith("head-")
    for log in (default, other):
        log.record("x.y", tenant="t", actor="a", subject="s", properties={})
        log.checkpoint()
    assert default.verify().ok and other.verify().ok


def test_random_tampering_is_always_detected(tmp_path: Path, signer: Ed25519Signer) -> None:
    """Seeded fuzz: 40 random edits/deletes/swaps/inserts anywhere in an anchored chain."""
    import random
    import shutil

    source = tmp_path / "source.db"
    log = AuditLog(create_engine(f"sqlite:///{source}"), signer=signer, checkpoint_every=10)
    log.create_schema()
    _fill(log, 40)
    log.checkpoint()
    log.engine.dispose()
    rng = random.Random(7)
    columns = ["event_id", "name", "created", "tenant", "actor", "subject", "properties",
               "prev_hash", "hash"]
    for round_ in range(40):
        copy = tmp_path / f"copy{round_}.db"
        shutil.copy(source, copy)
        engine = create_engine(f"sqlite:///{copy}")
        target = AuditLog(engine, signer=signer, checkpoint_every=10)
        seq = rng.randint(1, 40)
        op = rng.choice(["edit", "delete", "swap", "duplicate"])
        with engine.begin() as conn:
            if op == "edit":
                column = rng.choice(columns)
                value = '{"i":-1}' if column == "properties" else "f" * 32
                conn.execute(text(f"UPDATE audit_events SET {column} = :v WHERE seq = :s"),
                             {"v": value, "s": seq})
            elif op == "delete":
                conn.execute(text("DELETE FROM audit_events WHERE seq = :s"), {"s": seq})
            elif op == "swap":
                other = seq % 40 + 1
                conn.execute(text("UPDATE audit_events SET seq = -1 WHERE seq = :s"), {"s": seq})
                conn.execute(text("UPDATE audit_events SET seq = :s WHERE seq = :o"),
                             {"s": seq, "o": other})
                conn.execute(text("UPDATE audit_events SET seq = :o WHERE seq = -1"),
                             {"o": other})
            else:  # copy another row's content over this one (a replay)
                other = seq % 40 + 1
                row = conn.execute(text("SELECT * FROM audit_events WHERE seq = :o"),
                                   {"o": other}).mappings().one()
                conn.execute(text("UPDATE audit_events SET name = :n, subject = :su, "
                                  "properties = :p, prev_hash = :ph, hash = :h "
                                  "WHERE seq = :s"),
                             {"n": row["name"], "su": row["subject"], "p": row["properties"],
                              "ph": row["prev_hash"], "h": row["hash"], "s": seq})
        report = target.verify()
        engine.dispose()
        assert not report.ok, (round_, op, seq)
        assert report.first_bad_seq is not None and report.first_bad_seq <= max(seq, 2) + 1
