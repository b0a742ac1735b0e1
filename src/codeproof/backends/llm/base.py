"""The LLM backend contract and the PHI / residency gate every model call passes.

A backend implements one method, :meth:`LLMBackend.complete`. Code that sends
note-derived text to a model calls :meth:`LLMBackend.complete_for` instead,
which first runs :func:`check_model_call`:

- the endpoint must be allowed for the tenant's region, decided by the security
  layer's :func:`codeproof.security.residency.allowed_endpoint`
  (``security.region_endpoints[region]`` lists allowed base URLs, compared by
  scheme, host, port and path, not by string prefix; loopback is local). An
  in-process model, endpoint ``inproc://...``, never leaves the machine and is
  always region-local; a remote endpoint is refused when its region lists none;
- the encounter must be de-identified (``encounter.deidentified``) unless the
  endpoint is marked covered (``justify.covered_endpoint``: a BAA/DPA exists for
  that region). Callers then build prompts from ``encounter.model_text(note_id)``.

Refusals raise :class:`~codeproof.errors.RegionViolation`; they never carry note
text, only the encounter id, region and endpoint.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from codeproof.errors import RegionViolation
from codeproof.model import Encounter

__all__ = ["INPROC_PREFIX", "LLMBackend", "ModelPolicy", "check_model_call"]

logger = logging.getLogger(__name__)

#: Endpoint prefix of models that run inside this process (no data leaves it).
INPROC_PREFIX = "inproc://"


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelPolicy:
    """Where model calls may go: allowed endpoint prefixes per region, covered flag."""

    region_endpoints: dict[str, tuple[str, ...]] = field(default_factory=dict)
    covered_endpoint: bool = False

    @classmethod
    def from_settings(cls, settings: object) -> ModelPolicy:
        """Build the policy from :class:`codeproof.config.Settings`."""
        security = getattr(settings, "security", None)
        justify = getattr(settings, "justify", None)
        endpoints = getattr(security, "region_endpoints", {}) or {}
        return cls(
            region_endpoints={k: tuple(v) for k, v in endpoints.items()},
            covered_endpoint=bool(getattr(justify, "covered_endpoint", False)),
        )


def check_model_call(encounter: Encounter, *, endpoint: str, policy: ModelPolicy) -> None:
    """Raise :class:`RegionViolation` unless ``encounter`` may be sent to ``endpoint``."""
    region = encounter.region
    if not endpoint.startswith(INPROC_PREFIX):
        from codeproof.security.residency import allowed_endpoint

        if not allowed_endpoint(region, endpoint, endpoints=policy.region_endpoints):
            logger.warning("model call refused: endpoint not allowed for region %s "
                           "(encounter %s)", region, encounter.id)
            raise RegionViolation(
                f"model endpoint {endpoint!r} is not allowed for region {region!r}; "
                "list it in security.region_endpoints",
                encounter=encounter.id, region=region, endpoint=endpoint,
            )
    if not encounter.deidentified and not policy.covered_endpoint:
        logger.warning("model call refused: encounter %s is not de-identified", encounter.id)
        raise RegionViolation(
            f"encounter {encounter.id} is not de-identified and the model endpoint is not "
            "covered (justify.covered_endpoint); run de-identification first",
            encounter=encounter.id, region=region, endpoint=endpoint,
        )


class LLMBackend(ABC):
    """A text-completion model. Subclasses set ``name`` and implement :meth:`complete`."""

    name: ClassVar[str] = "llm.abstract.v1"

    def __init__(self, *, policy: ModelPolicy | None = None) -> None:
        self.policy = policy if policy is not None else ModelPolicy()

    @property
    def endpoint(self) -> str:
        """Where prompts go (URL, or ``inproc://...`` for an in-process model)."""
        return f"{INPROC_PREFIX}{self.name}"

    @property
    def model_id(self) -> str:
        """The model identity recorded in packages (``name:model``)."""
        return self.name

    @abstractmethod
    def complete(self, prompt: str, *, max_tokens: int = 256, temperature: float = 0.0,
                 stop: Sequence[str] = ()) -> str:
        """Return the model's continuation of ``prompt``."""

    def complete_for(self, encounter: Encounter, prompt: str, *, max_tokens: int = 256,
                     temperature: float = 0.0, stop: Sequence[str] = ()) -> str:
        """Check the PHI/residency policy for ``encounter``, then :meth:`complete`."""
        check_model_call(encounter, endpoint=self.endpoint, policy=self.policy)
        return self.complete(prompt, max_tokens=max_tokens, temperature=temperature, stop=stop)
