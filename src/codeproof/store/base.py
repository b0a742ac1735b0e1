"""The storage contract: what the CLI, the API, the jobs and the audit log rely on.

A :class:`Store` keeps, per tenant:

- **encounters**: metadata in clear (ids, digests, setting, routing summary) and the
  notes and the package *sealed* through a :class:`~codeproof.security.base.Sealer`
  (AES-256-GCM envelope under the tenant's key when the security module is present);
- **codes**: one row per code of the package (system, code, confidence, routing,
  review status) so that queues, search and analytics never open a sealed blob;
- **decisions**: every human accept / modify / reject with a mandatory reason from
  :data:`REASONS` and the model/rule versions the decision judged (the feedback loop
  that ``codeproof calibrate`` refits from);
- **attestations** and **CDI queries** (drafted physician queries, editable, with
  a status history).

Every method takes the acting :class:`~codeproof.security.base.Principal`; every
query is scoped to ``principal.tenant``. An object of another tenant is reported as
:class:`~codeproof.errors.NotFound` (never "exists but forbidden": that would leak
its existence). Writes are single transactions: no partial writes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.engine import Engine

from codeproof.model import Encounter
from codeproof.security.base import Principal

__all__ = [
    "ACTIONS",
    "CDI_STATUSES",
    "REASONS",
    "Action",
    "Analytics",
    "AttestationRecord",
    "CdiQuery",
    "CodeRow",
    "DecisionRecord",
    "EncounterMeta",
    "QueueItem",
    "Store",
]

Action = Literal["accept", "modify", "reject"]
ACTIONS: tuple[Action, ...] = ("accept", "modify", "reject")

#: The standard list of reasons a coder must pick from (code -> label).
REASONS: dict[str, str] = {
    "documentation_supports": "Documentation supports the code as assigned",
    "more_specific_code": "A more specific code is documented",
    "less_specific_code": "Documentation supports only a less specific code",
    "wrong_code": "Wrong code for the documented condition",
    "not_documented": "Condition not documented for this encounter",
    "negated_or_ruled_out": "Condition negated or ruled out in the note",
    "historical_condition": "Historical / resolved condition, not current",
    "uncertain_diagnosis": "Uncertain diagnosis (outpatient: code symptoms)",
    "guideline_conflict": "Conflicts with an official coding guideline or edit",
    "sequencing": "Sequencing / principal diagnosis change",
    "duplicate": "Duplicate of another code",
    "payer_policy": "Payer-specific policy",
    "other": "Other (comment required)",
}

CDI_STATUSES: tuple[str, ...] = ("draft", "sent", "answered", "closed", "withdrawn")

ReviewStatus = Literal["pending", "accepted", "modified", "rejected", "auto_finalized"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EncounterMeta:
    """What the store knows about an encounter without opening sealed blobs."""

    id: str
    tenant: str
    status: str  # "in_review" | "finalized" | "auto_finalized" | "cdi_pending"
    setting: str
    specialty: str
    source_format: str
    source_sha256: str
    received_at: str
    created_at: str
    updated_at: str
    created_by: str
    code_count: int
    routing: dict[str, int]  # routing -> number of codes
    min_confidence: float
    priority: float
    versions: dict[str, str]
    drg_weight: float | None = None
    attested_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe view."""
        return {
            "id": self.id, "tenant": self.tenant, "status": self.status,
            "setting": self.setting, "specialty": self.specialty,
            "source_format": self.source_format, "source_sha256": self.source_sha256,
            "received_at": self.received_at, "created_at": self.created_at,
            "updated_at": self.updated_at, "created_by": self.created_by,
            "code_count": self.code_count, "routing": dict(self.routing),
            "min_confidence": self.min_confidence, "priority": self.priority,
            "versions": dict(self.versions), "drg_weight": self.drg_weight,
            "attested_by": self.attested_by,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeRow:
    """One code of an encounter with its review state."""

    encounter_id: str
    system: str
    code: str
    description: str
    confidence: float
    routing: str
    sampled_for_audit: bool
    status: str  # ReviewStatus
    final_code: str | None
    sequence: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe view."""
        return {
            "encounter_id": self.encounter_id, "system": self.system, "code": self.code,
            "description": self.description, "confidence": self.confidence,
            "routing": self.routing, "sampled_for_audit": self.sampled_for_audit,
            "status": self.status, "final_code": self.final_code, "sequence": self.sequence,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class DecisionRecord:
    """A coder's decision about one code."""

    id: int
    encounter_id: str
    system: str
    code: str
    action: str
    new_code: str | None
    reason: str
    comment: str
    user: str
    role: str
    confidence: float
    routing: str
    versions: dict[str, str]
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe view."""
        return {
            "id": self.id, "encounter_id": self.encounter_id, "system": self.system,
            "code": self.code, "action": self.action, "new_code": self.new_code,
            "reason": self.reason, "comment": self.comment, "user": self.user,
            "role": self.role, "confidence": self.confidence, "routing": self.routing,
            "versions": dict(self.versions), "created_at": self.created_at,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class AttestationRecord:
    """A coder's attestation that finalizes an encounter."""

    encounter_id: str
    user: str
    role: str
    statement: str
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe view."""
        return {"encounter_id": self.encounter_id, "user": self.user, "role": self.role,
                "statement": self.statement, "created_at": self.created_at}


@dataclass(frozen=True, slots=True, kw_only=True)
class CdiQuery:
    """A physician query drafted for CDI (text sealed at rest)."""

    id: int
    encounter_id: str
    system: str
    code: str
    text: str
    status: str
    updated_by: str
    updated_at: str
    history: tuple[dict[str, str], ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe view."""
        return {"id": self.id, "encounter_id": self.encounter_id, "system": self.system,
                "code": self.code, "text": self.text, "status": self.status,
                "updated_by": self.updated_by, "updated_at": self.updated_at,
                "history": list(self.history)}


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueItem:
    """An entry of a review queue (one encounter)."""

    encounter: EncounterMeta
    pending: int  # codes still waiting for a decision
    lowest_confidence: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe view."""
        return {**self.encounter.to_dict(), "pending": self.pending,
                "lowest_confidence": self.lowest_confidence}


@dataclass(frozen=True, slots=True, kw_only=True)
class Analytics:
    """Feedback-loop numbers for the analytics page."""

    encounters: int
    codes: int
    auto_finalized_codes: int
    automation_rate: float  # auto-finalized codes / all codes
    decided: int
    override_rate: float  # (modify + reject) / decided
    agreement: float  # accept / decided
    overrides_by_code: tuple[tuple[str, int, int], ...]  # (code, overrides, decided)
    overrides_by_reason: tuple[tuple[str, int], ...]
    cmi_trend: tuple[tuple[str, float, int, float], ...]  # (day, cmi, n, support)
    upcoding_alert: bool
    upcoding_detail: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe view."""
        return {
            "encounters": self.encounters, "codes": self.codes,
            "auto_finalized_codes": self.auto_finalized_codes,
            "automation_rate": self.automation_rate, "decided": self.decided,
            "override_rate": self.override_rate, "agreement": self.agreement,
            "overrides_by_code": [
                {"code": c, "overrides": o, "decided": d} for c, o, d in self.overrides_by_code
            ],
            "overrides_by_reason": [{"reason": r, "count": n}
                                    for r, n in self.overrides_by_reason],
            "cmi_trend": [{"day": d, "cmi": c, "encounters": n, "evidence_support": s}
                          for d, c, n, s in self.cmi_trend],
            "upcoding_alert": self.upcoding_alert, "upcoding_detail": self.upcoding_detail,
        }


class Store(ABC):
    """Tenant-scoped persistence of encounters, packages and review decisions."""

    name: str = "storage.base"

    @property
    @abstractmethod
    def engine(self) -> Engine:
        """The SQLAlchemy engine (the audit log lives in the same database)."""

    @abstractmethod
    def save_encounter(self, encounter: Encounter, package: dict[str, Any], *,
                       principal: Principal) -> None:
        """Store (or replace) an encounter's notes and package, sealed, in one transaction."""

    @abstractmethod
    def get_package(self, encounter_id: str, *, principal: Principal) -> dict[str, Any]:
        """The package of an encounter (raises ``NotFound``)."""

    @abstractmethod
    def get_notes(self, encounter_id: str, *, principal: Principal) -> list[dict[str, Any]]:
        """The notes (``id``, ``text``, ``kind``, ``date``) of an encounter."""

    @abstractmethod
    def get_encounter_meta(self, encounter_id: str, *, principal: Principal) -> EncounterMeta:
        """Clear-text metadata of an encounter (raises ``NotFound``)."""

    @abstractmethod
    def list_encounters(self, *, principal: Principal, status: str | None = None,
                        code: str | None = None, query: str | None = None,
                        limit: int = 50, offset: int = 0) -> list[EncounterMeta]:
        """Search encounters of the principal's tenant, newest first."""

    @abstractmethod
    def get_codes(self, encounter_id: str, *, principal: Principal) -> list[CodeRow]:
        """The codes of an encounter with their review status."""

    @abstractmethod
    def record_decision(self, encounter_id: str, *, principal: Principal, system: str,
                        code: str, action: Action, reason: str, new_code: str | None = None,
                        comment: str = "") -> DecisionRecord:
        """Record accept / modify / reject of one code (reason from :data:`REASONS`)."""

    @abstractmethod
    def list_decisions(self, *, principal: Principal, encounter_id: str | None = None,
                       limit: int = 1000) -> list[DecisionRecord]:
        """Decisions of the tenant (optionally of one encounter), oldest first."""

    @abstractmethod
    def attest(self, encounter_id: str, *, principal: Principal,
               statement: str) -> AttestationRecord:
        """Finalize an encounter: every code needs a decision first."""

    @abstractmethod
    def get_attestation(self, encounter_id: str, *,
                        principal: Principal) -> AttestationRecord | None:
        """The attestation of an encounter, if any."""

    @abstractmethod
    def history(self, encounter_id: str, *, principal: Principal) -> list[dict[str, Any]]:
        """The review trail (decisions, CDI edits, attestation) of one encounter."""

    @abstractmethod
    def review_queue(self, queue: str, *, principal: Principal,
                     limit: int = 50) -> list[QueueItem]:
        """``coder`` | ``cdi`` | ``audit`` queue, highest priority / lowest confidence first."""

    @abstractmethod
    def list_cdi_queries(self, *, principal: Principal,
                         encounter_id: str | None = None) -> list[CdiQuery]:
        """Drafted physician queries of the tenant."""

    @abstractmethod
    def update_cdi_query(self, query_id: int, *, principal: Principal,
                         text: str | None = None, status: str | None = None) -> CdiQuery:
        """Edit the text and/or move the status of a query (history is kept)."""

    @abstractmethod
    def analytics(self, *, principal: Principal) -> Analytics:
        """Automation, overrides, agreement and the case-mix index trend."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""
