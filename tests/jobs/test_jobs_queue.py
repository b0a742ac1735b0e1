"""The durable queue: idempotency, leases, fencing, retries, a killed worker, concurrency."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from codeproof.api.fake import fake_code
from codeproof.errors import BackendUnavailable, Conflict, NotFound
from codeproof.jobs import Worker
from codeproof.security.base import Principal
from codeproof.store import tables as t

INTEGRATION = Principal(user="int", role="integration", tenant="default")
OTHER = Principal(user="int2", role="integration", tenant="other")
NOTE = b"Pneumonia and hypertension."


def submit(service: Any, payload: bytes = NOTE, key: str | None = None,
           principal: Principal = INTEGRATION) -> Any:
    return service.submit(payload, principal=principal, content_type="text/plain",
                          idempotency_key=key, asynchronous=True)


def encounters(service: Any) -> int:
    with service.store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(t.encounters)).scalar_one())


@pytest.mark.parametrize(("second_payload", "second_principal", "outcome"), [
    (NOTE, INTEGRATION, "replay"),            # same key, same bytes: the same job
    (b"Cough.", INTEGRATION, "conflict"),     # same key, other bytes: refused
    (b"Cough.", OTHER, "new"),                # keys are per tenant
])
def test_idempotent_submission(service_factory: Any, second_payload: bytes,
                               second_principal: Principal, outcome: str) -> None:
    service = service_factory()
    first = submit(service, key="key-1")
    assert first.created and first.job.status == "queued"
    if outcome == "conflict":
        with pytest.raises(Conflict):
            submit(service, second_payload, "key-1", second_principal)
        return
    second = submit(service, second_payload, "key-1", second_principal)
    assert (second.job.id == first.job.id) is (outcome == "replay")
    assert second.created is (outcome == "new")


def test_job_visibility_is_tenant_scoped(service_factory: Any) -> None:
    service = service_factory()
    job = submit(service).job
    with pytest.raises(NotFound):
        service.queue.get(job.id, principal=OTHER)


def test_claim_complete_once(service_factory: Any) -> None:
    service = service_factory()
    result = submit(service)
    worker = Worker(service, name="w1")
    assert worker.process_one() == "done"
    assert worker.process_one() is None
    job = service.queue.get(result.job.id, principal=INTEGRATION)
    assert job.status == "done" and job.attempts == 1
    meta = service.store.get_encounter_meta(result.encounter_id, principal=INTEGRATION)
    assert meta.code_count == 2


def test_expired_lease_is_redelivered_and_fenced(service_factory: Any) -> None:
    service = service_factory(lease=0.2)
    result = submit(service)
    stale = service.queue.claim("slow-worker")
    assert stale is not None and stale.attempt == 1
    assert service.queue.claim("other") is None  # leased: invisible to others
    time.sleep(0.3)
    fresh = service.queue.claim("fast-worker")
    assert fresh is not None and fresh.attempt == 2 and fresh.id == stale.id
    assert service.queue.heartbeat(stale) is False
    assert service.run_job(fresh) == "done"
    # the slow worker finishes late: its result is the same upsert, its completion refused
    assert service.run_job(stale) == "lost"
    assert encounters(service) == 1
    job = service.queue.get(result.job.id, principal=INTEGRATION)
    assert job.status == "done" and job.attempts == 2


def test_retry_then_success(service_factory: Any) -> None:
    calls = {"n": 0}

    def flaky(runtime: Any, encounter: Any, *, principal: Any) -> Any:
        calls["n"] += 1
        if calls["n"] < 3:
            raise BackendUnavailable("model server down")
        return fake_code(runtime, encounter, principal=principal)

    service = service_factory(code=flaky, max_attempts=3)
    result = submit(service)
    worker = Worker(service)
    assert [worker.process_one() for _ in range(3)] == ["queued", "queued", "done"]
    job = service.queue.get(result.job.id, principal=INTEGRATION)
    assert job.status == "done" and job.attempts == 3 and job.error_code is None


@pytest.mark.parametrize(("payload", "code"), [
    (b"   ", "CP-ING-004"),                 # empty note: not retryable
    (b'{"resourceType": "Patient"}', "CP-ING-002"),
])
def test_bad_input_fails_without_retry(service_factory: Any, payload: bytes,
                                       code: str) -> None:
    service = service_factory()
    result = submit(service, payload)
    assert Worker(service).process_one() == "failed"
    job = service.queue.get(result.job.id, principal=INTEGRATION)
    assert job.status == "failed" and job.attempts == 1 and job.error_code == code


def test_retries_exhausted(service_factory: Any) -> None:
    def down(runtime: Any, encounter: Any, *, principal: Any) -> Any:
        raise BackendUnavailable("still down")

    service = service_factory(code=down, max_attempts=2)
    result = submit(service)
    worker = Worker(service)
    assert [worker.process_one() for _ in range(2)] == ["queued", "failed"]
    job = service.queue.get(result.job.id, principal=INTEGRATION)
    assert job.error_code == "CP-BE-002" and job.attempts == 2


def test_poison_job_after_lost_leases(service_factory: Any) -> None:
    service = service_factory(lease=0.05, max_attempts=2)
    result = submit(service)
    assert service.queue.claim("a") is not None
    time.sleep(0.1)
    assert service.queue.claim("b") is not None
    time.sleep(0.1)
    assert service.queue.claim("c") is None
    job = service.queue.get(result.job.id, principal=INTEGRATION)
    assert job.status == "failed" and job.error_code == "CP-JOB-002"


def test_concurrent_workers_never_share_a_job(service_factory: Any) -> None:
    service = service_factory()
    ids = {submit(service, f"Pneumonia case {i}.".encode()).job.id for i in range(24)}
    claimed: list[str] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        while (job := service.queue.claim(name)) is not None:
            with lock:
                claimed.append(job.id)
            service.queue.complete(job)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(claimed) == sorted(ids)  # every job exactly once
    assert service.queue.counts() == {"done": 24}


_CHILD = r"""
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[4])
from conftest import build
from codeproof.jobs import Worker

def slow(runtime, encounter, *, principal):
    print("claimed", flush=True)
    time.sleep(120)

service = build(Path(sys.argv[1]), sys.argv[2], sys.argv[3] or None, code=slow, lease=1.0)
Worker(service, name="doomed").process_one()
"""


def test_killed_worker_loses_nothing(service_factory: Any, backend: tuple[str, str | None],
                                     tmp_path: Any) -> None:
    service = service_factory(lease=1.0)
    result = submit(service)
    with subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(tmp_path / "home"), backend[0],
             backend[1] or "", os.path.dirname(__file__)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None and child.stderr is not None
        line = child.stdout.readline()
        if line.strip() != "claimed":
            child.kill()
            pytest.fail(f"worker did not start: {child.stderr.read()[-2000:]}")
        os.kill(child.pid, signal.SIGKILL)  # killed mid-job, holding the lease
        child.wait(timeout=30)
    job = service.queue.get(result.job.id, principal=INTEGRATION)
    assert job.status == "running" and job.attempts == 1
    deadline = time.monotonic() + 10
    worker = Worker(service, name="survivor")
    while worker.process_one() != "done":
        assert time.monotonic() < deadline, "job was never re-delivered"
        time.sleep(0.2)
    job = service.queue.get(result.job.id, principal=INTEGRATION)
    assert job.status == "done" and job.attempts == 2
    assert encounters(service) == 1  # nothing lost, nothing duplicated


def test_payload_wiped_when_done(service_factory: Any) -> None:
    service = service_factory()
    result = submit(service)
    with service.store.engine.connect() as conn:
        before = conn.execute(select(t.jobs.c.payload_blob)).scalar_one()
    assert bytes(before) == NOTE  # NullSealer in this suite: the raw bytes
    assert Worker(service).process_one() == "done"
    with service.store.engine.connect() as conn:
        after = conn.execute(select(t.jobs.c.payload_blob)).scalar_one()
    assert bytes(after) == b""
    again = submit(service, key=None)
    assert again.job.id != result.job.id  # no key: a new job, as asked
