"""``llm.fake.v1``: a deterministic, scripted model that ships in the library.

Responses are chosen by the first script key found in the prompt (insertion
order), else the default; every prompt is kept in :attr:`FakeLLM.calls` so tests
can assert what a model would have seen (for example that no PHI was sent).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from codeproof.backends.llm.base import LLMBackend, ModelPolicy

__all__ = ["FakeLLM", "create_fake_llm"]


class FakeLLM(LLMBackend):
    """Returns scripted responses; never touches the network."""

    name: ClassVar[str] = "llm.fake.v1"

    def __init__(self, *, script: Mapping[str, str] | None = None, default: str = "{}",
                 policy: ModelPolicy | None = None) -> None:
        super().__init__(policy=policy)
        self.script = dict(script or {})
        self.default = default
        self.calls: list[str] = []

    def complete(self, prompt: str, *, max_tokens: int = 256, temperature: float = 0.0,
                 stop: Sequence[str] = ()) -> str:
        """Return the scripted response for ``prompt`` (cut at the first stop string)."""
        self.calls.append(prompt)
        response = self.default
        for key, value in self.script.items():
            if key in prompt:
                response = value
                break
        for token in stop:
            if token and token in response:
                response = response[: response.index(token)]
        return response


def create_fake_llm(runtime: Any) -> FakeLLM:
    """Registry factory: a fake model with the runtime's model policy."""
    return FakeLLM(policy=ModelPolicy.from_settings(runtime.settings))
