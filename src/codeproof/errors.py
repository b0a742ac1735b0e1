"""The one exception tree of codeproof.

Every error codeproof raises subclasses :class:`CodeproofError` and carries a
stable ``code`` (``CP-<AREA>-<NNN>``). Codes never change meaning once
released; they are documented in ``docs/reference/errors.md`` (a test checks
that every code is documented). Messages never contain note text or patient
identifiers: they name ids, offsets, file names and codes only.

::

    CodeproofError                       CP-000
    ├── ConfigError                      CP-CFG-001
    │   └── UnknownRegistryName          CP-CFG-002
    ├── IngestError                      CP-ING-001
    │   ├── UnsupportedFormat            CP-ING-002
    │   ├── MalformedInput               CP-ING-003
    │   └── EmptyNote                    CP-ING-004
    ├── ReferenceDataError               CP-REF-001
    │   ├── ReferenceDataMissing         CP-REF-002
    │   └── UnknownCode                  CP-REF-003
    ├── DeidError                        CP-DEID-001
    │   ├── ResidualPhiDetected          CP-DEID-002
    │   └── DeidInputRejected            CP-DEID-003
    ├── NlpError                         CP-NLP-001
    │   ├── NlpResourceError             CP-NLP-002
    │   ├── InvalidAssertLine            CP-NLP-003
    │   ├── MissingAssertField           CP-NLP-004
    │   └── TargetNotFound               CP-NLP-005
    ├── PipelineError                    CP-PIPE-001
    │   ├── MissingRequirement           CP-PIPE-002
    │   └── StageFailed                  CP-PIPE-003
    ├── CodingError                      CP-COD-001
    │   └── ModelArtifactError           CP-COD-002
    ├── RuleDataError                    CP-RULE-001
    │   ├── UnknownPayer                 CP-RULE-002
    │   ├── ExpiredPack                  CP-RULE-003
    │   ├── MalformedPack                CP-RULE-004
    │   └── MalformedDrgWeights          CP-RULE-005
    ├── JustificationError               CP-JUS-001
    │   ├── UngroundedClaim              CP-JUS-002
    │   └── KnowledgeBaseError           CP-JUS-003
    ├── BackendError                     CP-BE-001
    │   ├── BackendUnavailable           CP-BE-002
    │   └── BackendTimeout               CP-BE-003
    ├── StorageError                     CP-STO-001
    │   ├── NotFound                     CP-STO-002
    │   ├── InvalidDecision              CP-STO-003
    │   └── Conflict                     CP-STO-004
    ├── SecurityError                    CP-SEC-001
    │   ├── AccessDenied                 CP-SEC-002
    │   ├── TenantMismatch               CP-SEC-003
    │   ├── RegionViolation              CP-SEC-004
    │   ├── KeyError_                    CP-SEC-005
    │   ├── AuthenticationFailed         CP-SEC-006
    │   └── SealedBlobInvalid            CP-SEC-007
    ├── AuditError                       CP-AUD-001
    │   └── AuditChainBroken             CP-AUD-002
    ├── ApiError                         CP-API-001
    │   ├── RequestInvalid               CP-API-002
    │   ├── RouteNotFound                CP-API-003
    │   ├── MethodNotAllowed             CP-API-004
    │   ├── PayloadTooLarge              CP-API-005
    │   └── NotAcceptable                CP-API-006
    └── JobError                         CP-JOB-001
        └── LeaseLost                    CP-JOB-002
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AccessDenied",
    "AuditChainBroken",
    "AuditError",
    "AuthenticationFailed",
    "BackendError",
    "BackendTimeout",
    "BackendUnavailable",
    "CodeproofError",
    "CodingError",
    "ConfigError",
    "Conflict",
    "DeidError",
    "DeidInputRejected",
    "EmptyNote",
    "ExpiredPack",
    "IngestError",
    "InvalidDecision",
    "JustificationError",
    "KnowledgeBaseError",
    "KeyError_",
    "MalformedInput",
    "MalformedDrgWeights",
    "MalformedPack",
    "MissingRequirement",
    "ModelArtifactError",
    "InvalidAssertLine",
    "MissingAssertField",
    "NlpError",
    "NlpResourceError",
    "NotFound",
    "PipelineError",
    "ReferenceDataError",
    "ReferenceDataMissing",
    "RegionViolation",
    "ResidualPhiDetected",
    "RuleDataError",
    "SealedBlobInvalid",
    "SecurityError",
    "StageFailed",
    "StorageError",
    "TargetNotFound",
    "TenantMismatch",
    "UngroundedClaim",
    "UnknownCode",
    "UnknownPayer",
    "UnknownRegistryName",
    "UnsupportedFormat",
    "ApiError",
    "JobError",
    "LeaseLost",
    "MethodNotAllowed",
    "NotAcceptable",
    "PayloadTooLarge",
    "RequestInvalid",
    "RouteNotFound",
    "all_error_classes",
]


class CodeproofError(Exception):
    """Base of every error codeproof raises; ``code`` is stable and documented."""

    code: ClassVar[str] = "CP-000"
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        #: Structured, PHI-free context (ids, codes, offsets) for logs and API errors.
        self.context = context

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-safe error envelope body for this error."""
        return {
            "code": self.code,
            "error": type(self).__name__,
            "message": self.message,
            "context": {k: v for k, v in self.context.items() if _json_safe(v)},
        }


def _json_safe(value: Any) -> bool:
    return isinstance(value, str | int | float | bool | type(None) | list | tuple)


class ConfigError(CodeproofError):
    """The configuration is invalid."""

    code = "CP-CFG-001"
    http_status = 500


class UnknownRegistryName(ConfigError):
    """A registry name was asked for that is not registered; lists what is."""

    code = "CP-CFG-002"


class IngestError(CodeproofError):
    """An input could not be turned into an Encounter."""

    code = "CP-ING-001"
    http_status = 422


class UnsupportedFormat(IngestError):
    """The input format is not one codeproof reads."""

    code = "CP-ING-002"
    http_status = 415


class MalformedInput(IngestError):
    """The input claims a format but does not follow it (bad JSON, bad FHIR...)."""

    code = "CP-ING-003"


class EmptyNote(IngestError):
    """The input holds no clinical text to code."""

    code = "CP-ING-004"


class ReferenceDataError(CodeproofError):
    """Reference data (code sets, maps, models) is absent or unusable."""

    code = "CP-REF-001"


class ReferenceDataMissing(ReferenceDataError):
    """Reference data has not been built; run ``codeproof terminology build``."""

    code = "CP-REF-002"


class UnknownCode(ReferenceDataError):
    """A code is not in the code set of the requested system and version."""

    code = "CP-REF-003"
    http_status = 404


class DeidError(CodeproofError):
    """De-identification failed."""

    code = "CP-DEID-001"


class ResidualPhiDetected(DeidError):
    """PHI was still found after de-identification; the text is not released."""

    code = "CP-DEID-002"


class DeidInputRejected(DeidError):
    """An input to de-identify cannot be read as UTF-8 text."""

    code = "CP-DEID-003"
    http_status = 422


class NlpError(CodeproofError):
    """The language layer could not process a text."""

    code = "CP-NLP-001"
    http_status = 422


class NlpResourceError(NlpError):
    """A language resource file (rules, sections, lexicon) is missing or malformed."""

    code = "CP-NLP-002"
    http_status = 500


class InvalidAssertLine(NlpError):
    """An ``assert`` input line is not a JSON object."""

    code = "CP-NLP-003"


class MissingAssertField(NlpError):
    """An ``assert`` input line lacks ``text`` or ``target`` (or they are not strings)."""

    code = "CP-NLP-004"


class TargetNotFound(NlpError):
    """The target phrase does not occur in the text (case-insensitive)."""

    code = "CP-NLP-005"


class PipelineError(CodeproofError):
    """The pipeline is misconfigured or a stage failed."""

    code = "CP-PIPE-001"


class MissingRequirement(PipelineError):
    """A stage requires a field that no earlier stage assigns."""

    code = "CP-PIPE-002"


class StageFailed(PipelineError):
    """A stage raised an unexpected error; the cause is chained."""

    code = "CP-PIPE-003"


class CodingError(CodeproofError):
    """Code assignment failed."""

    code = "CP-COD-001"


class ModelArtifactError(CodingError):
    """A model artifact is missing, corrupt or of the wrong version."""

    code = "CP-COD-002"


class RuleDataError(CodeproofError):
    """A rule pack or rule table is invalid."""

    code = "CP-RULE-001"
    http_status = 422


class UnknownPayer(RuleDataError):
    """No rule pack exists for the named payer."""

    code = "CP-RULE-002"


class ExpiredPack(RuleDataError):
    """The rule pack is not in effect on the date of service."""

    code = "CP-RULE-003"


class MalformedPack(RuleDataError):
    """A rule pack file does not follow the pack format."""

    code = "CP-RULE-004"


class MalformedDrgWeights(RuleDataError):
    """The MS-DRG relative weights file (``rules.drg_weights_file``) is unreadable or malformed."""

    code = "CP-RULE-005"


class JustificationError(CodeproofError):
    """A justification could not be written."""

    code = "CP-JUS-001"


class UngroundedClaim(JustificationError):
    """A drafted statement cites a quote, code or source that is not grounded."""

    code = "CP-JUS-002"


class KnowledgeBaseError(JustificationError):
    """The justification knowledge base is corrupt or a document cannot be added."""

    code = "CP-JUS-003"


class BackendError(CodeproofError):
    """A pluggable backend (LLM, vector store, storage, key store) failed."""

    code = "CP-BE-001"
    http_status = 502


class BackendUnavailable(BackendError):
    """The backend is not installed, configured or reachable."""

    code = "CP-BE-002"
    http_status = 503


class BackendTimeout(BackendError):
    """The backend did not answer in time."""

    code = "CP-BE-003"
    http_status = 504


class StorageError(CodeproofError):
    """The store failed to read or write."""

    code = "CP-STO-001"


class NotFound(StorageError):
    """The requested object does not exist (or is not visible to the caller)."""

    code = "CP-STO-002"
    http_status = 404


class InvalidDecision(StorageError):
    """A review decision is malformed (unknown action or reason, missing new code)."""

    code = "CP-STO-003"
    http_status = 422


class Conflict(StorageError):
    """The object is in a state that forbids the change (finalized, key reused)."""

    code = "CP-STO-004"
    http_status = 409


class SecurityError(CodeproofError):
    """A security control refused the operation."""

    code = "CP-SEC-001"
    http_status = 403


class AccessDenied(SecurityError):
    """The caller's role does not allow the operation."""

    code = "CP-SEC-002"
    http_status = 403


class TenantMismatch(SecurityError):
    """The caller's tenant does not own the object."""

    code = "CP-SEC-003"
    http_status = 403


class RegionViolation(SecurityError):
    """A write or model call would move data across regions."""

    code = "CP-SEC-004"
    http_status = 403


class KeyError_(SecurityError):  # noqa: N801 - avoids shadowing the builtin KeyError
    """A data key is missing, destroyed (crypto-shredded) or cannot be unwrapped."""

    code = "CP-SEC-005"
    http_status = 410


class AuthenticationFailed(SecurityError):
    """The bearer token is missing, malformed, expired or revoked."""

    code = "CP-SEC-006"
    http_status = 401


class SealedBlobInvalid(SecurityError):
    """A sealed blob is malformed, of an unknown format version, or fails authentication
    (tampered, or opened under another tenant/subject)."""

    code = "CP-SEC-007"
    http_status = 422


class AuditError(CodeproofError):
    """The audit log could not be written or read."""

    code = "CP-AUD-001"


class AuditChainBroken(AuditError):
    """The audit chain does not verify; ``context['event']`` names the first bad event."""

    code = "CP-AUD-002"


class ApiError(CodeproofError):
    """The HTTP request cannot be served as sent."""

    code = "CP-API-001"
    http_status = 400


class RequestInvalid(ApiError):
    """The request's parameters or body do not follow the API schema."""

    code = "CP-API-002"
    http_status = 422


class RouteNotFound(ApiError):
    """No API route at this path."""

    code = "CP-API-003"
    http_status = 404


class MethodNotAllowed(ApiError):
    """The route exists but not with this HTTP method."""

    code = "CP-API-004"
    http_status = 405


class PayloadTooLarge(ApiError):
    """The request body is larger than ``service.max_body_bytes``."""

    code = "CP-API-005"
    http_status = 413


class NotAcceptable(ApiError):
    """No rendering of the resource matches the ``Accept`` header."""

    code = "CP-API-006"
    http_status = 406


class JobError(CodeproofError):
    """An asynchronous coding job failed."""

    code = "CP-JOB-001"


class LeaseLost(JobError):
    """A worker lost the lease of its job on every attempt (killed or too slow)."""

    code = "CP-JOB-002"


def all_error_classes() -> list[type[CodeproofError]]:
    """Return every error class in the tree, base first."""
    seen: list[type[CodeproofError]] = []
    stack: list[type[CodeproofError]] = [CodeproofError]
    while stack:
        cls = stack.pop(0)
        seen.append(cls)
        stack.extend(cls.__subclasses__())
    return seen
