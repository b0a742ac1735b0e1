"""Load bench of the coding service on PostgreSQL (issue 8).

50 concurrent clients submit CodiEsp notes (``?async=true``, one idempotency key
each) for 60 s against ``codeproof serve`` backed by a throw-away PostgreSQL
database, while two ``codeproof worker`` processes drain the queue. At a third
of the run one worker is SIGKILLed mid-job and a replacement started. After the
run the queue is drained and the bench checks: every accepted submission has a
``done`` job, exactly one stored encounter per submission (no loss, no
duplicate), no failed job. It prints throughput and latency percentiles.

``--pipeline fake`` (default) measures the service (HTTP, auth, sealing, queue,
PostgreSQL, audit chain) with the keyword coder; ``--pipeline real`` runs the
configured NLP/coding stages in the workers (needs the reference data built).

Run from the repository root: ``.venv/bin/python bench/load.py [--seconds 60]``.
Prints ``skipped: ...`` and exits 0 when ../shared or PostgreSQL is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTES = ROOT.parent / "shared" / "data" / "codiesp-en" / "dev" / "text"
CLI = [sys.executable, "-m", "codeproof"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2, help="coding worker processes")
    parser.add_argument("--server-processes", type=int, default=2)
    parser.add_argument("--pipeline", choices=["fake", "real"], default="fake")
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    args = parser.parse_args()

    if not NOTES.is_dir():
        print(f"skipped: {NOTES} not found (../shared absent)")
        return 0
    sys.path.insert(0, str(ROOT / "src"))
    from codeproof.store.testing import create_database, drop_database, postgres_unavailable

    reason = postgres_unavailable()
    if reason is not None:
        print(f"skipped: {reason}")
        return 0
    import httpx
    from sqlalchemy import create_engine, func, select

    from codeproof.store import tables as t

    notes = [p.read_bytes() for p in sorted(NOTES.glob("*.txt"))]
    url = create_database("cp_load")
    home = Path(tempfile.mkdtemp(prefix="cp-load-"))
    env = {**os.environ, "CODEPROOF_HOME": str(home),
           "CODEPROOF_BACKENDS__STORAGE": "storage.postgres.v1",
           "CODEPROOF_BACKENDS__DATABASE_URL": url,
           "CODEPROOF_SERVICE__JOB_LEASE_SECONDS": "5",
           "CODEPROOF_SERVICE__JOB_POLL_SECONDS": "0.05",
           "PYTHONPATH": str(ROOT / "src")}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        subprocess.run([*CLI, "db", "upgrade"], env=env, check=True, capture_output=True)
        token = subprocess.run(
            [*CLI, "token", "create", "--role", "integration", "--tenant", "default"],
            env=env, check=True, capture_output=True, text=True).stdout.strip()
        port = _free_port()
        server = subprocess.Popen(
            [*CLI, "serve", "--port", str(port), "--no-worker", "--pipeline", args.pipeline,
             "--workers", str(args.server_processes)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(server)

        def start_worker(name: str) -> subprocess.Popen[bytes]:
            proc = subprocess.Popen([*CLI, "worker", "--name", name, "--pipeline",
                                     args.pipeline], env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            procs.append(proc)
            return proc

        workers = [start_worker(f"w{i}") for i in range(args.workers)]
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + (60 if args.pipeline == "fake" else 600)
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                err = server.stderr.read().decode()[-2000:] if server.stderr else ""
                print(f"skipped: server did not become ready: {err}")
                return 0
            time.sleep(0.2)

        latencies: list[float] = []
        accepted: dict[str, str] = {}  # idempotency key -> job id
        errors: list[str] = []
        lock = threading.Lock()
        stop = threading.Event()

        def client(seed: int) -> None:
            rng = random.Random(seed)
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/plain"}
            with httpx.Client(base_url=base, timeout=30) as http:
                while not stop.is_set():
                    key = uuid.uuid4().hex
                    started = time.perf_counter()
                    try:
                        response = http.post("/v1/encounters", params={"async": "true"},
                                             content=rng.choice(notes),
                                             headers={**headers, "Idempotency-Key": key})
                    except httpx.HTTPError as exc:
                        with lock:
                            errors.append(type(exc).__name__)
                        continue
                    elapsed = time.perf_counter() - started
                    with lock:
                        if response.status_code == 202:
                            latencies.append(elapsed)
                            accepted[key] = response.json()["job_id"]
                        else:
                            errors.append(str(response.status_code))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        t0 = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(args.seconds / 3)
        engine = create_engine(url)
        held = None  # kill w0 only while it holds a job: a real mid-job kill
        kill_deadline = time.monotonic() + 30
        with engine.connect() as conn:
            while held is None and time.monotonic() < kill_deadline:
                held = conn.execute(select(t.jobs.c.id).where(
                    t.jobs.c.worker == "w0", t.jobs.c.status == "running")).scalar()
                conn.commit()
                if held is None:
                    time.sleep(0.01)
        killed_at = time.monotonic() - t0
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait()
        start_worker("replacement")
        time.sleep(max(0.0, args.seconds - killed_at))
        stop.set()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - t0

        drain_start = time.monotonic()
        with engine.connect() as conn:
            while time.monotonic() - drain_start < args.drain_timeout:
                open_jobs = conn.execute(select(func.count()).select_from(t.jobs).where(
                    t.jobs.c.status.in_(["queued", "running"]))).scalar_one()
                if not open_jobs:
                    break
                conn.commit()
                time.sleep(0.5)
            drained = time.monotonic() - drain_start
            counts = dict(conn.execute(select(t.jobs.c.status, func.count())
                                       .group_by(t.jobs.c.status)).all())
            redelivered = conn.execute(select(func.count()).select_from(t.jobs).where(
                t.jobs.c.attempts > 1)).scalar_one()
            stored = conn.execute(select(func.count()).select_from(t.encounters)).scalar_one()
            first, last = conn.execute(select(func.min(t.jobs.c.created_at),
                                              func.max(t.jobs.c.updated_at))).one()
            killed_job = None if held is None else conn.execute(
                select(t.jobs.c.status, t.jobs.c.attempts, t.jobs.c.worker)
                .where(t.jobs.c.id == held)).one()
        engine.dispose()
        done = int(counts.get("done", 0))
        lost = len(accepted) - done
        duplicates = int(stored) - done
        report = {
            "pipeline": args.pipeline, "clients": args.clients, "seconds": round(elapsed, 1),
            "workers": args.workers, "submitted": len(accepted), "errors": len(errors),
            "error_kinds": sorted(set(errors))[:5],
            "submit_throughput_rps": round(len(accepted) / elapsed, 1),
            "submit_latency_ms": {"p50": round(1000 * _percentile(latencies, 0.50), 1),
                                  "p95": round(1000 * _percentile(latencies, 0.95), 1),
                                  "p99": round(1000 * _percentile(latencies, 0.99), 1)},
            "jobs": {str(k): int(v) for k, v in counts.items()},
            "coding_throughput_jobs_per_s": round(done / (elapsed + drained), 2),
            "drain_seconds_after_load": round(drained, 1),
            "worker_killed_at_s": round(killed_at, 1),
            "killed_worker_held_job": None if killed_job is None else {
                "status": killed_job.status, "attempts": int(killed_job.attempts),
                "finished_by": killed_job.worker},
            "redelivered_jobs": int(redelivered), "lost_jobs": lost,
            "duplicate_results": duplicates, "stored_encounters": int(stored),
            "first_job": first, "last_job": last,
        }
        print(json.dumps(report, indent=2))
        ok = (not errors and lost == 0 and duplicates == 0 and not counts.get("failed")
              and killed_job is not None and killed_job.status == "done"
              and killed_job.attempts >= 2)
        print("load bench: " + ("OK zero errors, zero lost jobs, zero duplicates" if ok
                                else "FAILED (see report)"))
        return 0 if ok else 1
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        drop_database(url)


if __name__ == "__main__":
    sys.exit(main())
