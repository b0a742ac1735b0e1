"""LLM backends: one tiny ABC (:class:`LLMBackend`) and its implementations.

``llm.fake.v1`` (scripted, deterministic, in the library), ``llm.openai_compat.v1``
(any OpenAI-compatible HTTP endpoint) and ``llm.llamacpp.v1`` (a local GGUF model
in process, optional extra ``llamacpp``). Every call that carries note text goes
through :meth:`LLMBackend.complete_for`, which enforces the PHI and residency
policy before anything leaves the process.
"""

from codeproof.backends.llm.base import LLMBackend, ModelPolicy, check_model_call

__all__ = ["LLMBackend", "ModelPolicy", "check_model_call"]
