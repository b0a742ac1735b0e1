"""Stages and the pipeline that runs them over one immutable Encounter.

A stage is a small callable with a versioned ``name`` and the Encounter fields
it ``requires`` and ``assigns``. :meth:`Pipeline.validate` checks the order
before anything runs (spaCy's ``analyze_pipes``); :meth:`Pipeline.run` calls
each stage, records a :class:`~codeproof.model.StageRecord` and, when an audit
sink is given, appends a ``stage.completed`` event. Ingest is not a stage: it is
the boundary that makes the first Encounter, which has ``notes`` and the
demographic fields.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

from codeproof.errors import CodeproofError, MissingRequirement, StageFailed
from codeproof.model import Encounter, StageRecord

__all__ = ["INGEST_FIELDS", "AuditSink", "Pipeline", "Stage"]

logger = logging.getLogger(__name__)

#: Fields the ingest boundary fills before the first stage runs.
INGEST_FIELDS = frozenset(
    {"id", "source", "notes", "tenant", "region", "setting", "demographics",
     "specialty", "date_of_service", "payer", "procedures_billed"}
)


@runtime_checkable
class Stage(Protocol):
    """A named, versioned transformation of an Encounter."""

    name: ClassVar[str]
    requires: ClassVar[frozenset[str]]
    assigns: ClassVar[frozenset[str]]

    def __call__(self, encounter: Encounter, /) -> Encounter:
        """Return a new Encounter with the ``assigns`` fields set."""
        ...


class AuditSink(Protocol):
    """Anything that can record a pipeline event (the audit log implements it)."""

    def record(self, name: str, *, tenant: str, actor: str, subject: str,
               properties: dict[str, Any]) -> Any:
        """Append one event."""
        ...


class Pipeline:
    """An ordered list of stages, validated once."""

    def __init__(self, stages: Sequence[Stage]) -> None:
        self.stages = tuple(stages)
        self.validate()

    @property
    def names(self) -> list[str]:
        """The versioned names of the stages, in order."""
        return [stage.name for stage in self.stages]

    def validate(self) -> None:
        """Raise :class:`MissingRequirement` if a stage needs an unassigned field."""
        available = set(INGEST_FIELDS)
        known = {f.name for f in dataclasses.fields(Encounter)}
        for stage in self.stages:
            unknown = (stage.requires | stage.assigns) - known
            if unknown:
                raise MissingRequirement(
                    f"stage {stage.name} names unknown Encounter fields: {sorted(unknown)}",
                    stage=stage.name,
                )
            missing = stage.requires - available
            if missing:
                raise MissingRequirement(
                    f"stage {stage.name} requires {sorted(missing)}, which no earlier "
                    "stage assigns",
                    stage=stage.name,
                    missing=sorted(missing),
                )
            available |= stage.assigns

    def run(self, encounter: Encounter, *, audit: AuditSink | None = None,
            actor: str = "system",
            on_stage: Callable[[StageRecord], None] | None = None) -> Encounter:
        """Run every stage in order; wrap unexpected failures in :class:`StageFailed`."""
        memo: dict[int, tuple[object, str]] = {}  # field reprs shared across stage digests
        after = encounter.digest(memo)
        for stage in self.stages:
            before = after  # the previous stage's output digest is this one's input
            t0 = time.perf_counter()
            try:
                encounter = stage(encounter)
            except CodeproofError:
                raise
            except Exception as exc:  # wrap third-party failures with a stable code
                logger.exception("stage %s failed on encounter %s", stage.name, encounter.id)
                raise StageFailed(
                    f"stage {stage.name} failed on encounter {encounter.id}: "
                    f"{type(exc).__name__}",
                    stage=stage.name,
                    encounter=encounter.id,
                ) from exc
            after = encounter.digest(memo)
            record = StageRecord(
                stage=stage.name,
                input_digest=before,
                output_digest=after,
                duration_ms=round((time.perf_counter() - t0) * 1000, 3),
            )
            encounter = dataclasses.replace(encounter, stages=(*encounter.stages, record))
            if on_stage is not None:
                on_stage(record)
            if audit is not None:
                audit.record(
                    "stage.completed",
                    tenant=encounter.tenant,
                    actor=actor,
                    subject=encounter.id,
                    properties=dataclasses.asdict(record),
                )
        return encounter
