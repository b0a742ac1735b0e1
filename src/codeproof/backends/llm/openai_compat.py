"""``llm.openai_compat.v1``: any OpenAI-compatible endpoint over HTTP (httpx).

Azure OpenAI, vLLM, Ollama and ``llama_cpp.server`` all speak the
``/v1/chat/completions`` protocol. We use :mod:`httpx` directly (a dependency of
the service extra already) instead of the ``openai`` SDK: one POST, explicit
timeouts, errors wrapped into :class:`BackendError` subclasses, and no
environment-variable magic. The API key is read from the environment variable
named by ``justify.openai_api_key_env``; it is never logged.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any, ClassVar

from codeproof.backends.llm.base import LLMBackend, ModelPolicy
from codeproof.errors import BackendError, BackendTimeout, BackendUnavailable, ConfigError

__all__ = ["OpenAICompatLLM", "create_openai_llm"]

logger = logging.getLogger(__name__)


class OpenAICompatLLM(LLMBackend):
    """Chat completions against ``base_url`` (e.g. ``http://127.0.0.1:8000/v1``)."""

    name: ClassVar[str] = "llm.openai_compat.v1"

    def __init__(self, *, base_url: str, model: str, api_key: str | None = None,
                 timeout_s: float = 60.0, policy: ModelPolicy | None = None) -> None:
        super().__init__(policy=policy)
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._api_key = api_key
        self.timeout_s = timeout_s

    @property
    def endpoint(self) -> str:
        """The base URL prompts are posted to."""
        return self.base_url

    @property
    def model_id(self) -> str:
        """``llm.openai_compat.v1:<model>``."""
        return f"{self.name}:{self.model}"

    def complete(self, prompt: str, *, max_tokens: int = 256, temperature: float = 0.0,
                 stop: Sequence[str] = ()) -> str:
        """POST one chat completion and return the assistant message text."""
        try:
            import httpx
        except ImportError as exc:  # pragma: no cover - httpx ships with the service extra
            raise BackendUnavailable("httpx is not installed; pip install 'codeproof[llm]'",
                                     backend=self.name) from exc
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        if stop:
            body["stop"] = list(stop)
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        url = f"{self.base_url}/chat/completions"
        try:
            response = httpx.post(url, json=body, headers=headers, timeout=self.timeout_s)
        except httpx.TimeoutException as exc:
            raise BackendTimeout(f"model endpoint {self.base_url} timed out",
                                 backend=self.name) from exc
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"model endpoint {self.base_url} unreachable: "
                                     f"{type(exc).__name__}", backend=self.name) from exc
        if response.status_code != 200:
            raise BackendError(f"model endpoint answered HTTP {response.status_code}",
                               backend=self.name, status=response.status_code)
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise BackendError("model endpoint returned an unexpected body",
                               backend=self.name) from exc
        return str(content or "")


def create_openai_llm(runtime: Any) -> OpenAICompatLLM:
    """Registry factory: endpoint, model and key variable from ``[justify]``."""
    justify = runtime.settings.justify
    if not justify.openai_base_url or not justify.openai_model:
        raise ConfigError("llm.openai_compat.v1 needs justify.openai_base_url and "
                          "justify.openai_model")
    return OpenAICompatLLM(
        base_url=justify.openai_base_url,
        model=justify.openai_model,
        api_key=os.environ.get(justify.openai_api_key_env) or None,
        timeout_s=justify.llm_timeout_s,
        policy=ModelPolicy.from_settings(runtime.settings),
    )
