"""Security/audit bench: audit append and verify rates, envelope cost, plaintext scan.

Prints:
- audit append rate on SQLite (WAL): one transaction per event vs ``batch()``;
- ``verify()`` rate over the whole chain (events/s) with checkpoints every 100;
- on PostgreSQL (loopback, when reachable): append rate through the advisory lock;
- seal/open cost per note (AES-256-GCM envelope, cached data key), on the CodiEsp dev
  notes when ../shared is present (synthetic notes otherwise);
- a scan of the SQLite file holding the sealed CodiEsp notes for 24-character
  plaintext fragments of every note (must be 0).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DEV_TEXT = SHARED / "data" / "codiesp-en" / "dev" / "text"


def _audit_rates(tmp: Path) -> None:
    from sqlalchemy import create_engine, event

    from codeproof.audit.checkpoints import Ed25519Signer
    from codeproof.audit.log import AuditLog

    engine = create_engine(f"sqlite:///{tmp / 'audit.db'}")

    def wal(dbapi_conn, _rec):  # type: ignore[no-untyped-def]
        dbapi_conn.cursor().execute("PRAGMA journal_mode=WAL")

    event.listen(engine, "connect", wal)
    log = AuditLog(engine, signer=Ed25519Signer.generate(), checkpoint_every=100,
                   head_path=tmp / "head.sig")
    log.create_schema()
    n_single = 200
    t0 = time.perf_counter()
    for i in range(n_single):
        log.record("stage.completed", tenant="t", actor="system", subject=f"e{i}",
                   properties={"stage": "nlp.context.v1", "input_digest": "a" * 64,
                               "output_digest": "b" * 64, "duration_ms": 1.5})
    single = time.perf_counter() - t0
    n_batch = 20_000
    t0 = time.perf_counter()
    with log.batch() as sink:
        for i in range(n_batch):
            sink.record("stage.completed", tenant="t", actor="system", subject=f"e{i}",
                        properties={"stage": "nlp.context.v1", "input_digest": "a" * 64,
                                    "output_digest": "b" * 64, "duration_ms": 1.5})
    batch = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = log.verify()
    verify = time.perf_counter() - t0
    print(f"audit sqlite append, one transaction each: {n_single / single:,.0f} events/s "
          f"({single / n_single * 1000:.2f} ms/event)")
    print(f"audit sqlite append, batch(): {n_batch / batch:,.0f} events/s "
          f"({batch / n_batch * 1000:.3f} ms/event)")
    print(f"audit verify: {report.checked:,} events, {report.checkpoints} checkpoints in "
          f"{verify:.2f} s = {report.checked / verify:,.0f} events/s; ok={report.ok}")


def _pg_rate() -> None:
    url = os.environ.get("CODEPROOF_TEST_PG_ADMIN_URL",
                         "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    try:
        import uuid

        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        from codeproof.audit.log import AuditLog

        admin = create_engine(url, isolation_level="AUTOCOMMIT",
                              connect_args={"connect_timeout": 3})
        db = f"cp_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{db}"'))
    except Exception as exc:  # noqa: BLE001 - report and continue
        print(f"skipped: PostgreSQL append rate ({type(exc).__name__})")
        return
    engine = create_engine(make_url(url).set(database=db))
    try:
        log = AuditLog(engine, checkpoint_every=0)
        log.create_schema()
        n = 300
        t0 = time.perf_counter()
        for i in range(n):
            log.record("stage.completed", tenant="t", actor="s", subject=str(i),
                       properties={"i": i})
        took = time.perf_counter() - t0
        print(f"audit postgres append, one transaction each: {n / took:,.0f} events/s; "
              f"verify ok={log.verify().ok}")
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()


def _notes() -> tuple[list[bytes], str]:
    if DEV_TEXT.is_dir():
        return [p.read_bytes() for p in sorted(DEV_TEXT.glob("*.txt"))], "CodiEsp dev"
    print("skipped: ../shared/data/codiesp-en/dev is absent; sealing synthetic notes")
    return [(f"Synthetic note {i}: " + "patient denies chest pain. " * 80).encode()
            for i in range(250)], "synthetic"


def _sealing(tmp: Path) -> None:
    from sqlalchemy import (
        Column,
        Integer,
        LargeBinary,
        MetaData,
        Table,
        create_engine,
        event,
        insert,
    )

    from codeproof.security.crypto import EnvelopeSealer, SqlKeyStore
    from codeproof.security.keys import LocalFileKeyProvider

    notes, label = _notes()
    engine = create_engine(f"sqlite:///{tmp / 'store.db'}")

    def pragmas(dbapi_conn, _rec):  # type: ignore[no-untyped-def]
        cursor = dbapi_conn.cursor()  # as the store's engine: WAL, synchronous=NORMAL
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")

    event.listen(engine, "connect", pragmas)
    store = SqlKeyStore(engine)
    store.create_schema()
    sealer = EnvelopeSealer(LocalFileKeyProvider(tmp / "keys" / "master.key"), keystore=store)
    t0 = time.perf_counter()
    sealed = [sealer.seal(tenant="t", subject=f"enc-{i}", data=n) for i, n in enumerate(notes)]
    first = time.perf_counter() - t0  # includes creating + wrapping one key per note
    timings = []
    for _ in range(3):
        t0 = time.perf_counter()
        for i, note in enumerate(notes):
            sealer.open(tenant="t", subject=f"enc-{i}",
                        blob=sealer.seal(tenant="t", subject=f"enc-{i}", data=note))
        timings.append((time.perf_counter() - t0) / len(notes))
    size = statistics.mean(len(n) for n in notes)
    print(f"seal+open ({label}, {len(notes)} notes, mean {size:,.0f} bytes): "
          f"{statistics.median(timings) * 1e6:.1f} µs/note with a cached data key; "
          f"first seal incl. new data key (WAL, synchronous=NORMAL): "
          f"{first / len(notes) * 1e3:.2f} ms/note")
    blobs = Table("blobs", MetaData(), Column("id", Integer, primary_key=True),
                  Column("data", LargeBinary))
    blobs.create(engine)
    with engine.begin() as conn:
        for blob in sealed:
            conn.execute(insert(blobs).values(data=blob))
    engine.dispose()
    raw = b"".join(p.read_bytes() for p in tmp.glob("store.db*"))
    fragments = 0
    hits = 0
    for note in notes:
        text = note.strip()
        for start in range(0, max(1, len(text) - 24), max(1, len(text) // 5)):
            fragment = text[start:start + 24]
            if len(fragment) == 24:
                fragments += 1
                hits += fragment in raw
    print(f"plaintext scan of the sealed store ({len(raw):,} bytes): {hits} of {fragments} "
          "note fragments found (must be 0)")


def main() -> int:
    sys.path.insert(0, str(ROOT / "src"))
    with tempfile.TemporaryDirectory(prefix="codeproof-sec-") as name:
        tmp = Path(name)
        _audit_rates(tmp)
        _pg_rate()
        _sealing(tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
