"""The ``coding.assign.v1`` stage: notes + NLP layer -> ranked candidates + code set.

For each note the :class:`Coder` analyses the de-identified model view
(``encounter.model_text``), proposes codes from titles/inclusion terms and
learned phrases, scores them with the trained ranker, calibrates the scores,
applies the guideline steps (:mod:`codeproof.coding.guidelines`) and emits
:class:`~codeproof.model.CodeAssignment` objects whose evidence quotes are cut
from the *original* note text at the same offsets.

Assertions come from the NLP layer's mentions when a mention overlaps a hit,
otherwise from the coder's own sentence-scoped cue scan, so the stage works
with or without ``nlp.*`` stages in front of it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from codeproof.coding.artifact import Artifact, default_model_path, load_artifact
from codeproof.coding.candidates import FEATURES, Candidate, CodeInfoLite, Hit, analyze, generate
from codeproof.coding.dense import StaticEmbedder
from codeproof.coding.guidelines import Proposal, apply_guidelines
from codeproof.coding.lexicon import Lexicon
from codeproof.coding.text import Context, context_of
from codeproof.coding.train import MAX_N, SystemModel
from codeproof.errors import ModelArtifactError
from codeproof.model import (
    CodeAssignment,
    CodeCandidate,
    Encounter,
    Evidence,
    Explanation,
    Mention,
    Note,
)

if TYPE_CHECKING:
    from codeproof.runtime import Runtime

__all__ = ["AssignStage", "Coder", "build_assign_stage"]

logger = logging.getLogger(__name__)

_CONTEXT_FEATURES = tuple(FEATURES.index(n) for n in ("neg", "unc", "hist", "fam", "hypo"))
_AFFIRMED = FEATURES.index("affirmed_hits")
_FALLBACK_VERSION = "unlearned-0"


@dataclasses.dataclass(frozen=True, slots=True)
class _Scored:
    system: str
    candidate: Candidate
    raw: float
    p: float
    present: float


class Coder:
    """Scores and assigns codes for encounters with a loaded artifact."""

    def __init__(self, artifact: Artifact | None, *, threshold: float | None = None,
                 max_codes: int = 40, min_confidence: float = 0.10,
                 seventh_character: bool = True, symptom_policy: str = "integral",
                 fallback: SystemModel | None = None, header_codes: str = "review",
                 convention: str = "ocg", dense: StaticEmbedder | None = None) -> None:
        self.artifact = artifact
        self.systems: Mapping[str, SystemModel] = (
            artifact.systems if artifact is not None
            else ({"ICD-10-CM": fallback} if fallback is not None else {}))
        self.version = artifact.version if artifact is not None else _FALLBACK_VERSION
        self.threshold_override = threshold
        self.max_codes = max_codes
        self.min_confidence = min_confidence
        self.seventh_character = seventh_character
        self.symptom_policy = symptom_policy
        self.header_codes = header_codes
        self.convention = convention
        self.dense = dense

    @classmethod
    def load(cls, path: Path | None = None, *, threshold: float | None = None,
             max_codes: int = 40, min_confidence: float = 0.10,
             seventh_character: bool = True, symptom_policy: str = "integral",
             header_codes: str = "review", convention: str = "ocg",
             cache_dir: Path | None = None) -> Coder:
        """Load the artifact at ``path`` (default: the committed one).

        When it is absent, fall back to the unlearned title matcher, whose
        confidences are deliberately low (never auto-finalized). ``cache_dir`` is the
        reference directory holding the static MiniLM table of the dense features
        (default: the configured one); without the ``dense`` extra those features are
        missing values and the coder says so once.
        """
        where = path if path is not None else default_model_path()
        try:
            artifact: Artifact | None = load_artifact(where)
        except ModelArtifactError as exc:
            if path is not None:
                raise
            logger.warning("coding model unavailable (%s); using the unlearned matcher",
                           exc.code)
            artifact = None
        fallback = None if artifact is not None else _fallback_model()
        dense = None
        if artifact is not None and artifact.manifest.get("dense"):
            dense = _load_dense(cache_dir)
        return cls(artifact, threshold=threshold, max_codes=max_codes,
                   min_confidence=min_confidence, seventh_character=seventh_character,
                   symptom_policy=symptom_policy, fallback=fallback,
                   header_codes=header_codes, convention=convention, dense=dense)

    def threshold(self, system: str) -> float:
        """The emission threshold of ``system`` (setting override, else the trained one)."""
        if self.threshold_override is not None:
            return self.threshold_override
        return self.systems[system].threshold

    # --- scoring ---------------------------------------------------------------------

    def score_note(self, encounter: Encounter, note: Note) -> list[_Scored]:
        """Candidates of one note with raw, calibrated and as-if-affirmed scores."""
        text = encounter.model_text(note.id)
        spans = [(s.start, s.end) for s in encounter.sentences if s.note_id == note.id]
        doc = analyze(text, max_n=MAX_N, sentences=sorted(spans) or None)
        mentions = [m for m in encounter.mentions if m.note_id == note.id]
        sections = [s for s in encounter.sections if s.note_id == note.id]

        def ctx(si: int, start: int, end: int) -> Context:
            for mention in mentions:
                if mention.start < end and start < mention.end:
                    a = mention.assertion
                    return Context(negated=a.negated, uncertain=a.uncertain,
                                   historical=a.historical, family=a.family,
                                   hypothetical=a.hypothetical or a.conditional)
            s, e = doc.sentences[si]
            return context_of(text, s, e, start, end)

        def weight(offset: int) -> float:
            for section in sections:
                if section.start <= offset < section.end:
                    return section.weight
            return 1.0

        out: list[_Scored] = []
        for system, model in self.systems.items():
            cands = generate(doc, index=model.index, lexicon=model.lexicon, info=model.info,
                             prior=model.prior, prior_cat=model.prior_cat,
                             n_train=model.n_train, context=ctx,
                             section_weight=weight if sections else None,
                             note_id=note.id, dense=self.dense)
            if not cands:
                continue
            x = np.asarray([c.features for c in cands], dtype=np.float64)
            present = x.copy()
            present[:, list(_CONTEXT_FEATURES)] = 0.0
            present[:, _AFFIRMED] = np.asarray([len(c.hits) for c in cands])
            raw, p, p_present = self._predict(model, x, present)
            out.extend(_Scored(system, c, float(r), float(q), float(qp))
                       for c, r, q, qp in zip(cands, raw, p, p_present, strict=True))
        return out

    @staticmethod
    def _predict(model: SystemModel, x: np.ndarray, present: np.ndarray  # type: ignore[type-arg]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # type: ignore[type-arg]
        if model.ensemble is None:  # unlearned: a capped function of the match quality
            t = x[:, FEATURES.index("t_stems")]
            compact = x[:, FEATURES.index("t_compact")]
            raw = np.minimum(t, 4.0) - np.maximum(compact - 1.0, 0.0)

            def squash(r: np.ndarray, xs: np.ndarray) -> np.ndarray:  # type: ignore[type-arg]
                neg = xs[:, FEATURES.index("neg")]
                out: np.ndarray = np.clip(0.15 + 0.08 * r, 0.0, 0.5) * (1.0 - neg)  # type: ignore[type-arg]
                return out

            return raw, squash(raw, x), squash(raw, present)
        raw = model.ensemble.raw(x)
        p = model.calibrator(1.0 / (1.0 + np.exp(-raw)))
        p_present = p.copy()
        changed = np.any(present != x, axis=1)
        if changed.any():
            p_present[changed] = model.calibrator(
                model.ensemble.predict_proba(present[changed]))
        return raw, p, p_present

    # --- assignment ------------------------------------------------------------------

    def code(self, encounter: Encounter) -> Encounter:
        """Return ``encounter`` with ``candidates`` and ``codes`` assigned."""
        merged: dict[tuple[str, str], _Scored] = {}
        hits: dict[tuple[str, str], list[Hit]] = {}
        for note in encounter.notes:
            for scored in self.score_note(encounter, note):
                key = (scored.system, scored.candidate.code)
                hits.setdefault(key, []).extend(scored.candidate.hits)
                if key not in merged or scored.p > merged[key].p:
                    merged[key] = scored
        ranked = sorted(merged.values(), key=lambda s: (-s.p, s.candidate.code))
        proposals = [Proposal(system=s.system, code=s.candidate.code, confidence=s.p,
                              present_confidence=max(s.present, s.p), score=s.raw,
                              hits=tuple(hits[(s.system, s.candidate.code)]))
                     for s in ranked]
        codes: list[CodeAssignment] = []
        texts = {note.id: encounter.model_text(note.id) for note in encounter.notes}
        for system, model in self.systems.items():
            chosen = apply_guidelines(
                [p for p in proposals if p.system == system], setting=encounter.setting,
                threshold=self.threshold(system), info=model.info,
                text_of=lambda h: _sentence_text(texts[h.note_id], h),
                before_of=lambda h: _sentence_text(texts[h.note_id], h, before=True),
                seventh_character=self.seventh_character,
                symptom_policy=self.symptom_policy, header_codes=self.header_codes,
                convention=self.convention,
                attributes_of=lambda h: _attributes(encounter.mentions, h))
            codes.extend(self._assignment(encounter, p, model.info) for p in chosen)
        if len(codes) > self.max_codes:  # keep the most confident, then sequence
            keep = sorted(codes, key=lambda c: -c.confidence)[: self.max_codes]
            codes = [c for c in codes if c in keep]
        codes = _sequence(codes)
        candidates = tuple(self._candidate(encounter, s, hits[(s.system, s.candidate.code)])
                           for s in ranked if s.p >= self.min_confidence)
        out = dataclasses.replace(encounter, candidates=candidates, codes=tuple(codes))
        return out.with_versions(coding_model=self.version)

    def _evidence(self, encounter: Encounter, hits: Sequence[Hit]) -> tuple[Evidence, ...]:
        ordered = sorted(hits, key=lambda h: (h.context.negated, h.context.family,
                                              h.source == "lexicon", -h.strength,
                                              h.start - h.end, h.start))
        out: list[Evidence] = []
        for hit in ordered:
            if any(e.note_id == hit.note_id and e.start < hit.end and hit.start < e.end
                   for e in out):
                continue  # one span per place in the note
            note = encounter.note(hit.note_id)
            out.append(Evidence(note_id=hit.note_id, start=hit.start, end=hit.end,
                                quote=note.text[hit.start:hit.end]))
            if len(out) == 3:
                break
        return tuple(out)

    def _assignment(self, encounter: Encounter, p: Proposal,
                    info: Mapping[str, CodeInfoLite]) -> CodeAssignment:
        evidence = self._evidence(encounter, p.hits)
        meta = info.get(p.code)
        description = meta.title if meta else p.code
        rationale = _rationale(p, encounter.mentions, evidence)
        return CodeAssignment(
            system=p.system, code=p.code, description=description,  # type: ignore[arg-type]
            confidence=round(float(p.confidence), 4), evidence=evidence,
            rationale=rationale, mention_ids=_mention_ids(encounter.mentions, evidence),
            guideline_refs=p.guideline_refs,
            explanation=Explanation(
                producer=f"coding.assign.v1:{self.version}", score=round(p.score, 4),
                calibrated=round(float(p.confidence), 4),
                detail="; ".join(p.notes) or "ranked and calibrated",
                evidence=evidence))

    def _candidate(self, encounter: Encounter, s: _Scored, hits: Sequence[Hit]
                   ) -> CodeCandidate:
        model = self.systems[s.system]
        meta = model.info.get(s.candidate.code)
        evidence = self._evidence(encounter, hits)
        sources = tuple(sorted({"dictionary" if h.source != "lexicon" else "lexicon"
                                for h in hits}))
        return CodeCandidate(
            system=s.system, code=s.candidate.code,  # type: ignore[arg-type]
            description=meta.title if meta else s.candidate.code,
            score=round(s.raw, 4), confidence=round(s.p, 4),
            mention_ids=_mention_ids(encounter.mentions, evidence), evidence=evidence,
            sources=sources,
            features=tuple(zip(FEATURES, (round(v, 4) for v in s.candidate.features),
                               strict=True)),
            explanation=Explanation(producer=f"coding.assign.v1:{self.version}",
                                    score=round(s.raw, 4), calibrated=round(s.p, 4),
                                    evidence=evidence))


def _sentence_text(text: str, hit: Hit, *, before: bool = False) -> str:
    start = max(text.rfind("\n", 0, hit.start), text.rfind(". ", 0, hit.start)) + 1
    if before:
        return text[start:hit.start]
    stop_candidates = [i for i in (text.find("\n", hit.end), text.find(". ", hit.end))
                       if i >= 0]
    stop = min(stop_candidates) if stop_candidates else len(text)
    return text[start:stop]


def _attributes(mentions: Sequence[Mention], hit: Hit) -> tuple[str | None, str | None]:
    """(laterality, episode) of the NLP mentions overlapping ``hit``."""
    side: str | None = None
    episode: str | None = None
    for m in mentions:
        if m.note_id == hit.note_id and m.start < hit.end and hit.start < m.end:
            side = side or m.attributes.laterality
            episode = episode or m.attributes.episode
    return side, episode


def _mention_ids(mentions: Sequence[Mention], evidence: Sequence[Evidence]
                 ) -> tuple[str, ...]:
    return tuple(sorted({m.id for m in mentions for e in evidence
                         if m.note_id == e.note_id and m.start < e.end and e.start < m.end}))


def _rationale(p: Proposal, mentions: Sequence[Mention],
               evidence: Sequence[Evidence]) -> str:
    sources = []
    if any(h.source == "title" for h in p.hits):
        sources.append("matches the official code title")
    elif any(h.source == "inclusion" for h in p.hits):
        sources.append("matches an inclusion term of the code")
    lexical = [h for h in p.hits if h.source == "lexicon"]
    if lexical:
        best = max(lexical, key=lambda h: h.strength)
        sources.append(f"uses a phrase seen with this code in {best.co} of {best.df} "
                       "coded training notes")
    where = f"{len(evidence)} documented span{'s' if len(evidence) != 1 else ''}"
    text = f"Supported by {where}; the wording " + " and ".join(sources or ["matches"]) + "."
    if p.notes:
        text += " " + "; ".join(p.notes).capitalize() + "."
    return text + f" Calibrated confidence {p.confidence:.2f}."


def _sequence(codes: list[CodeAssignment]) -> list[CodeAssignment]:
    cm = [c for c in codes if c.system == "ICD-10-CM"]
    other = [c for c in codes if c.system != "ICD-10-CM"]
    out = []
    for i, code in enumerate(cm + sorted(other, key=lambda c: -c.confidence), start=1):
        out.append(dataclasses.replace(code, sequence=i))
    return out


def _load_dense(cache_dir: Path | None) -> StaticEmbedder | None:
    from codeproof.coding.dense import load_static_embedder
    from codeproof.config import load_settings
    from codeproof.errors import BackendUnavailable

    try:
        return load_static_embedder(cache_dir if cache_dir is not None
                                    else load_settings().reference_path)
    except BackendUnavailable as exc:
        logger.warning("coding: dense features unavailable (%s); ranking without them",
                       exc.code)
        return None


def _fallback_model() -> SystemModel:
    from codeproof.coding.lexicon import TitleIndex
    from codeproof.coding.ranking import Calibrator
    from codeproof.coding.reference import cm_reference

    info, terms = cm_reference()
    return SystemModel(system="ICD-10-CM", info=info, index=TitleIndex(terms),
                       lexicon=Lexicon({}, max_n=MAX_N), prior={}, prior_cat={}, n_train=0,
                       ensemble=None, calibrator=Calibrator.identity(), threshold=0.3)


class AssignStage:
    """``coding.assign.v1``: rank, calibrate and assign ICD-10-CM/PCS codes."""

    name: ClassVar[str] = "coding.assign.v1"
    requires: ClassVar[frozenset[str]] = frozenset({"notes", "mentions", "sections",
                                                    "sentences"})
    assigns: ClassVar[frozenset[str]] = frozenset({"candidates", "codes"})

    def __init__(self, coder: Coder) -> None:
        self.coder = coder

    def __call__(self, encounter: Encounter, /) -> Encounter:
        """Assign candidates and codes."""
        return self.coder.code(encounter)


def build_assign_stage(runtime: Runtime) -> AssignStage:
    """Registry factory: one shared :class:`Coder` per runtime."""
    settings = runtime.settings.coding

    def make(_: Runtime) -> Coder:
        return Coder.load(settings.model_path, threshold=getattr(settings, "threshold", None),
                          max_codes=settings.max_codes, min_confidence=settings.min_confidence,
                          seventh_character=getattr(settings, "seventh_character", True),
                          symptom_policy=getattr(settings, "symptom_policy", "integral"),
                          header_codes=getattr(settings, "header_codes", "review"),
                          convention=getattr(settings, "convention", "ocg"),
                          cache_dir=runtime.settings.reference_path)

    return AssignStage(runtime.resource("coding.coder", make))
