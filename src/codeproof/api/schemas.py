"""Pydantic request and response models of the API (the boundary)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AttestationIn",
    "CdiQueryPatch",
    "DecisionIn",
    "Health",
    "Ok",
    "SubmitOut",
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DecisionIn(_In):
    """A coder's decision about one code."""

    system: str = Field(min_length=1, max_length=16)
    code: str = Field(min_length=1, max_length=32)
    action: Literal["accept", "modify", "reject"]
    reason: str = Field(min_length=1, max_length=64,
                        description="one of GET /v1/reasons")
    new_code: str | None = Field(default=None, max_length=32,
                                 description="required when action is modify")
    comment: str = Field(default="", max_length=2000)


class AttestationIn(_In):
    """The coder's attestation that finalizes an encounter."""

    statement: str = Field(min_length=1, max_length=2000)


class CdiQueryPatch(_In):
    """Edit a drafted physician query and/or move its status."""

    text: str | None = Field(default=None, min_length=1, max_length=10_000)
    status: Literal["draft", "sent", "answered", "closed", "withdrawn"] | None = None


class Ok(BaseModel):
    """A successful response wrapper."""

    ok: Literal[True] = True


class SubmitOut(Ok):
    """What ``POST /v1/encounters`` returns."""

    encounter_id: str
    status: Literal["coded", "queued", "running", "done", "failed"]
    job_id: str | None = None
    created: bool = True
    codes: int = 0
    routing: dict[str, int] = Field(default_factory=dict)


class Health(Ok):
    """Liveness / readiness."""

    status: str
    version: str
    checks: dict[str, Any] = Field(default_factory=dict)
