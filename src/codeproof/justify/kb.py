"""The justification knowledge base: citable records and hybrid retrieval.

Four kinds of record, each citable by a stable ``citation`` string:

- ``guideline``: ICD-10-CM Official Guidelines passages with their section
  numbers (``resources/guidelines_icd10cm_fy2026.json``; citation
  ``"ICD-10-CM OCG I.C.4.a"``), with the code prefixes they apply to and the
  assertion/setting triggers (historical, uncertain, inpatient...) that make
  them relevant;
- ``policy``: passages of payer policy documents added with
  ``codeproof kb add-policy FILE --payer NAME`` (text, HTML or PDF), incremental;
- ``case``: past coded encounters and coder decisions (codes and descriptions,
  never note text), added with ``codeproof kb add-cases``;
- ``code``: code-level tabular knowledge (titles, inclusion terms, notes) from
  the terminology store, in a separate BM25 index (74k codes: dense is not worth
  four minutes of embedding for titles the lexical index already matches).

Retrieval is hybrid: BM25 (:mod:`bm25s`) and dense cosine (MiniLM int8 ONNX in a
:class:`~codeproof.backends.vectorstore.VectorStore`), fused by reciprocal rank.
Dense is gated: without its packages (or with ``justify.kb_dense = "off"``) the
knowledge base is BM25-only. Every index records its corpus version.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from codeproof.backends.vectorstore.base import VectorStore
from codeproof.backends.vectorstore.memory import MemoryVectorStore
from codeproof.errors import KnowledgeBaseError

__all__ = [
    "CodeIndex",
    "Embedder",
    "KBHit",
    "KBRecord",
    "KnowledgeBase",
    "add_cases",
    "add_policy",
    "build_kb",
    "kb_dir",
    "load_guidelines",
    "load_kb",
    "tokenize",
]

logger = logging.getLogger(__name__)

RecordKind = Literal["guideline", "policy", "case", "code"]
SETTINGS_TRIGGERS = frozenset({"inpatient", "outpatient"})
_COLLECTION = "kb"
_RRF_K = 60
_STOP = frozenset(
    "a an and are as at be by for from has have in is it its of on or that the this to was "
    "were with without patient patients code codes coded coding icd 10 cm".split()
)
_TOKEN = re.compile(r"[a-z]\d[0-9a-z](?:\.[0-9a-z]{1,4})?|[a-z0-9]+")


def _bm25s() -> Any:
    """Import bm25s, undoing its import-time ``setLevel(DEBUG)`` on its own logger.

    bm25s forces its logger to DEBUG, which bypasses the application's log level and
    prints index-building chatter on every CLI run; NOTSET restores normal inheritance.
    """
    import bm25s

    bm25s_logger = logging.getLogger("bm25s")
    if bm25s_logger.level == logging.DEBUG:
        bm25s_logger.setLevel(logging.NOTSET)
    return bm25s


def tokenize(text: str) -> list[str]:
    """Lower-case word/code tokens without stop words; light plural stripping."""
    tokens = []
    for token in _TOKEN.findall(text.lower()):
        if token in _STOP:
            continue
        if len(token) > 4 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
            token = token[:-1]
        tokens.append(token)
    return tokens


class Embedder(Protocol):
    """Anything that turns texts into L2-normalised rows (see :mod:`.embed`)."""

    model_id: str

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> npt.NDArray[np.float32]:
        """One row per text."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class KBRecord:
    """One citable passage of the knowledge base."""

    id: str
    kind: RecordKind
    title: str
    text: str
    citation: str
    source: str
    version: str
    keywords: str = ""
    applies_to: tuple[str, ...] = ()
    triggers: tuple[str, ...] = ()
    payer: str = ""
    system: str = ""  # code system a guideline belongs to ("" = ICD-10-CM)

    @property
    def index_text(self) -> str:
        """What the retrievers index: title, text and keywords."""
        return f"{self.title}. {self.text} {self.keywords}".strip()

    @property
    def digest(self) -> str:
        """Digest of the indexed content (corpus versions are built from these)."""
        return hashlib.sha256(f"{self.id}\x00{self.index_text}".encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KBRecord:
        """Inverse of :meth:`to_dict` (tuples restored)."""
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - fields
        if unknown:
            raise KnowledgeBaseError(f"unknown knowledge-base record keys {sorted(unknown)}")
        values = dict(data)
        for key in ("applies_to", "triggers"):
            values[key] = tuple(values.get(key, ()))
        return cls(**values)


@dataclass(frozen=True, slots=True, kw_only=True)
class KBHit:
    """A retrieved record with its fused score and why it was retrieved."""

    record: KBRecord
    score: float
    via: tuple[str, ...] = ()  # "bm25", "dense", "prefix:E11", "trigger:historical"


#: Built-in guideline files and the id prefix of their records.
GUIDELINE_FILES = (("resources/guidelines_icd10cm_fy2026.json", "ocg"),
                   ("resources/guidelines_icd10pcs_fy2026.json", "pcs"))


def load_guidelines() -> tuple[KBRecord, ...]:
    """The built-in ICD-10-CM and ICD-10-PCS Official Guidelines records."""
    allowed = {"id", "title", "text", "keywords", "applies_to", "triggers"}
    records = []
    for name, prefix in GUIDELINE_FILES:
        data = json.loads(files("codeproof.justify").joinpath(name).read_text(encoding="utf-8"))
        short, version = data["source_short"], data["version"]
        for item in data["records"]:
            if set(item) - allowed:
                raise KnowledgeBaseError(f"guideline {item.get('id')} has unknown keys "
                                         f"{sorted(set(item) - allowed)}")
            records.append(KBRecord(
                id=f"{prefix}:{item['id']}", kind="guideline", title=item["title"],
                text=item["text"], citation=f"{short} {item['id']}", source=data["source"],
                version=version, keywords=item.get("keywords", ""),
                applies_to=tuple(item.get("applies_to", ())),
                triggers=tuple(item.get("triggers", ())),
                system=data.get("system", "ICD-10-CM"),
            ))
    return tuple(records)


def code_matches(code: str, pattern: str) -> bool:
    """True when ``code`` starts with ``pattern`` (``?`` matches any one character)."""
    return len(code) >= len(pattern) and all(p in ("?", c) for p, c in zip(pattern, code,
                                                                             strict=False))


def corpus_version(records: Iterable[KBRecord]) -> str:
    """``kb-<12 hex>`` over the sorted record digests."""
    digest = hashlib.sha256()
    for item in sorted(r.digest for r in records):
        digest.update(item.encode())
    return f"kb-{digest.hexdigest()[:12]}"


class CodeIndex:
    """BM25 over code-level tabular text (code, title, inclusion terms, notes)."""

    def __init__(self, ids: Sequence[str], texts: Sequence[str], *, version: str) -> None:
        bm25s = _bm25s()

        self.ids = list(ids)
        self.texts = list(texts)
        self.version = version
        self._bm25 = bm25s.BM25()
        self._bm25.index([tokenize(t) or ["_"] for t in self.texts], show_progress=False)

    @classmethod
    def from_terminology(cls, terminology: Any) -> CodeIndex:
        """Index every billable ICD-10-CM code of ``terminology``."""
        ids, texts = [], []
        for info in terminology.codes("ICD-10-CM", billable_only=True):
            parts = [info.code, info.title, *getattr(info, "inclusion_terms", ())]
            ids.append(info.code)
            texts.append(" ; ".join(str(p) for p in parts))
        versions = getattr(terminology, "versions", {}) or {}
        version = ",".join(f"{k}={v}" for k, v in sorted(versions.items())) or "unknown"
        return cls(ids, texts, version=version)

    def search(self, query: str, *, k: int = 10) -> list[tuple[str, str, float]]:
        """``(code, text, score)`` best first."""
        tokens = tokenize(query)
        if not tokens or not self.ids:
            return []
        k = min(k, len(self.ids))
        docs, scores = self._bm25.retrieve([tokens], k=k, show_progress=False)
        return [(self.ids[int(d)], self.texts[int(d)], float(s))
                for d, s in zip(docs[0], scores[0], strict=True) if s > 0]

    def save(self, path: Path) -> None:
        """Write ids/texts/version (the BM25 matrix is rebuilt on load: ~seconds)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"version": self.version, "ids": self.ids, "texts": self.texts}
        path.write_text(json.dumps(payload), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> CodeIndex:
        """Inverse of :meth:`save`."""
        payload = json.loads(path.read_text(encoding="utf-8"))
        return cls(payload["ids"], payload["texts"], version=payload["version"])


class KnowledgeBase:
    """Records + BM25 + optional dense vectors; deterministic for a given corpus."""

    def __init__(self, records: Sequence[KBRecord], *, embedder: Embedder | None = None,
                 store: VectorStore | None = None, vectors_ready: bool = False,
                 codes: CodeIndex | None = None) -> None:
        bm25s = _bm25s()

        ids = [r.id for r in records]
        if len(set(ids)) != len(ids):
            raise KnowledgeBaseError("duplicate knowledge-base record ids")
        self.records = tuple(records)
        self._by_id = {r.id: r for r in self.records}
        self._position = {r.id: i for i, r in enumerate(self.records)}
        self._by_citation = {r.citation: r for r in self.records}
        self._codes = codes
        self.codes_path: Path | None = None
        self.corpus_version = corpus_version(self.records)
        self._bm25 = bm25s.BM25()
        self._bm25.index([tokenize(r.index_text) or ["_"] for r in self.records],
                         show_progress=False)
        self.embedder = embedder
        self._query_cache: dict[str, npt.NDArray[np.float32]] = {}
        self._for_code_cache: dict[tuple[str, str, frozenset[str], int],
                                   tuple[KBHit, ...]] = {}
        #: per guideline, in record order: (record, its setting triggers, its code
        #: patterns split into plain prefixes and ``?`` patterns) for :meth:`_for_code`
        self._guidelines = tuple(
            (r, frozenset(r.triggers) & SETTINGS_TRIGGERS,
             tuple(p for p in r.applies_to if "?" not in p),
             tuple(p for p in r.applies_to if "?" in p))
            for r in self.records if r.kind == "guideline")
        self.store = store if store is not None or embedder is None else MemoryVectorStore()
        if self.embedder is not None and self.store is not None and not vectors_ready:
            vectors = self.embedder.embed([r.index_text for r in self.records])
            self.store.add(_COLLECTION, ids, vectors)

    @property
    def codes(self) -> CodeIndex | None:
        """The code-level tabular index (loaded lazily from ``codes_path``)."""
        if self._codes is None and self.codes_path is not None:
            self._codes = CodeIndex.load(self.codes_path)
        return self._codes

    @property
    def dense(self) -> bool:
        """True when dense retrieval takes part."""
        return self.embedder is not None and self.store is not None

    def get(self, key: str) -> KBRecord | None:
        """Record by id (``ocg:I.C.4.a``) or citation (``ICD-10-CM OCG I.C.4.a``)."""
        return self._by_id.get(key) or self._by_citation.get(key)

    def has_citation(self, citation: str) -> bool:
        """True when ``citation`` names a record of this corpus."""
        return citation in self._by_citation

    def search(self, query: str, *, k: int = 5,
               kinds: Iterable[str] | None = None) -> list[KBHit]:
        """Hybrid search: reciprocal-rank fusion of BM25 and dense rankings."""
        wanted = set(kinds) if kinds is not None else None
        allowed = [i for i, r in enumerate(self.records) if wanted is None or r.kind in wanted]
        if not allowed:
            return []
        fused: dict[int, float] = {}
        via: dict[int, list[str]] = {}
        depth = max(k * 4, 20)
        tokens = tokenize(query)
        if tokens:
            scores = np.asarray(self._bm25.get_scores(tokens))
            ranked = sorted((i for i in allowed if scores[i] > 0),
                            key=lambda i: (-scores[i], i))[:depth]
            for rank, i in enumerate(ranked):
                fused[i] = fused.get(i, 0.0) + 1.0 / (_RRF_K + rank + 1)
                via.setdefault(i, []).append("bm25")
        if self.embedder is not None and self.store is not None and query.strip():
            vector = self._query_vector(query)
            allowed_set = set(allowed)
            hits = self.store.search(_COLLECTION, vector, k=len(self.records))
            # a shared store (pgvector) may hold ids of an older corpus: ignore them
            ranked_dense = [self._position[h.id] for h in hits if h.id in self._position]
            ranked_dense = [i for i in ranked_dense if i in allowed_set][:depth]
            for rank, i in enumerate(ranked_dense):
                fused[i] = fused.get(i, 0.0) + 1.0 / (_RRF_K + rank + 1)
                via.setdefault(i, []).append("dense")
        order = sorted(fused, key=lambda i: (-fused[i], i))[:k]
        return [KBHit(record=self.records[i], score=round(fused[i], 6), via=tuple(via[i]))
                for i in order]

    def _query_vector(self, query: str) -> npt.NDArray[np.float32]:
        cached = self._query_cache.get(query)
        if cached is None:
            if self.embedder is None:
                raise KnowledgeBaseError("no embedder configured")
            cached = self.embedder.embed([query])[0]
            if len(self._query_cache) >= 4096:
                self._query_cache.clear()
            self._query_cache[query] = cached
        return cached

    def for_code(self, code: str, *, description: str = "", flags: Iterable[str] = (),
                 k: int = 3, system: str = "ICD-10-CM") -> list[KBHit]:
        """Guidance for one code: trigger matches, then code-prefix matches, then search.

        ``flags`` are assertion and setting words of the coded mention
        (``historical``, ``uncertain``, ``family``, ``inpatient``, ``principal``...).
        A record restricted to a setting applies only in that setting, and a record
        with code prefixes (chapter-specific guidance) only to codes under them: the
        search fill can only add general guidance, never another chapter's rules.
        """
        key = (f"{system}:{code}", description, frozenset(flags), k)
        cached = self._for_code_cache.get(key)
        if cached is not None:
            return list(cached)
        hits = self._for_code(code, description=description, flags=key[2], k=k,
                              system=system)
        if len(self._for_code_cache) >= 8192:
            self._for_code_cache.clear()
        self._for_code_cache[key] = tuple(hits)
        return hits

    def _for_code(self, code: str, *, description: str, flags: frozenset[str],
                  k: int, system: str) -> list[KBHit]:
        flag_set = set(flags)
        setting = flag_set & SETTINGS_TRIGGERS
        picked: dict[str, KBHit] = {}

        def setting_ok(record: KBRecord) -> bool:
            restricted = set(record.triggers) & SETTINGS_TRIGGERS
            return not restricted or bool(restricted & setting)

        def code_ok(record: KBRecord) -> bool:
            # guidance of one code system never applies to another; a chapter-specific
            # passage (with code patterns) applies only to the codes under them
            if (record.system or "ICD-10-CM") != system:
                return False
            return not record.applies_to or any(code_matches(code, p)
                                                for p in record.applies_to)

        # setting_ok and code_ok over the guidelines, with their parts precomputed
        # (a pattern without "?" matches exactly the codes that start with it)
        guidelines = [r for r, restricted, plain, wild in self._guidelines
                      if (not restricted or restricted & setting)
                      and (r.system or "ICD-10-CM") == system
                      and (not r.applies_to or code.startswith(plain)
                           or any(code_matches(code, p) for p in wild))]
        for record in guidelines:
            assertion = set(record.triggers) - SETTINGS_TRIGGERS
            matched = sorted(assertion & flag_set)
            if matched:
                picked[record.id] = KBHit(record=record, score=3.0,
                                          via=tuple(f"trigger:{m}" for m in matched))
        prefix_hits = []
        for record in guidelines:
            matched = [p for p in record.applies_to if code_matches(code, p)]
            best = max(matched, key=lambda p: len(p.replace("?", "")), default="")
            if best and record.id not in picked:
                prefix_hits.append((len(best.replace("?", "")), best, record))
        prefix_hits.sort(key=lambda item: (-item[0], item[2].id))
        for length, pattern, record in prefix_hits:
            picked[record.id] = KBHit(record=record, score=2.0 + length / 10,
                                      via=(f"prefix:{pattern}",))
        ranked = sorted(picked.values(), key=lambda h: -h.score)
        if len(ranked) < k and description:
            for hit in self.search(description, k=k * 4, kinds=("guideline",)):
                if (hit.record.id not in picked and setting_ok(hit.record)
                        and code_ok(hit.record) and len(ranked) < k):
                    ranked.append(hit)
        return ranked[:k]


# --------------------------------------------------------------------------- storage


def kb_dir(settings: Any) -> Path:
    """``justify.kb_dir`` or ``<home>/kb``."""
    configured = settings.justify.kb_dir
    return Path(configured) if configured is not None else Path(settings.home) / "kb"


def _make_embedder(settings: Any) -> Embedder | None:
    from codeproof.justify.embed import MiniLMEmbedder, embedder_available

    mode = settings.justify.kb_dense
    if mode == "off":
        return None
    if mode == "auto" and not embedder_available():
        logger.info("dense retrieval unavailable; knowledge base is BM25-only")
        return None
    return MiniLMEmbedder()


def _make_store(settings: Any) -> VectorStore:
    from codeproof.registrations import get_registry

    name = settings.backends.vectorstore
    factory = get_registry("vectorstore").get(name)

    class _Shim:  # the factories take a Runtime; only .settings is used
        def __init__(self, s: Any) -> None:
            self.settings = s

    store: VectorStore = factory(_Shim(settings))
    return store


def _read_records(directory: Path) -> list[KBRecord]:
    path = directory / "records.jsonl"
    if not path.exists():
        return []
    records = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                records.append(KBRecord.from_dict(json.loads(line)))
            except (ValueError, TypeError) as exc:
                raise KnowledgeBaseError(f"records.jsonl line {line_no} is invalid",
                                         line=line_no) from exc
    return records


def _write(directory: Path, records: Sequence[KBRecord], *, embedder: Embedder | None,
           store: VectorStore | None, codes: CodeIndex | None,
           new_ids: set[str] | None) -> dict[str, Any]:
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "records.jsonl").open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record.to_dict(), sort_keys=True) + "\n")
    version = corpus_version(records)
    dense_id = None
    if embedder is not None and store is not None:
        dense_id = embedder.model_id
        vec_path = directory / "vectors.npz"
        if isinstance(store, MemoryVectorStore) and vec_path.exists() and new_ids is not None:
            store.load(_COLLECTION, vec_path)  # incremental: embed only the new records
        todo = [r for r in records if new_ids is None or r.id in new_ids
                or store.count(_COLLECTION) == 0]
        if todo:
            store.add(_COLLECTION, [r.id for r in todo],
                      embedder.embed([r.index_text for r in todo]))
        if isinstance(store, MemoryVectorStore):
            store.save(_COLLECTION, vec_path)
        logger.info("embedded %d knowledge-base records", len(todo))
    if codes is not None:
        codes.save(directory / "codes.json")
    old = _read_manifest(directory)
    payers: dict[str, list[str]] = {}
    for record in records:
        if record.kind == "policy":
            doc = record.id.split("#", 1)[0].split(":", 2)[2]
            payers.setdefault(record.payer, [])
            if doc not in payers[record.payer]:
                payers[record.payer].append(doc)
    manifest = {
        "schema": "codeproof.kb/v1",
        "corpus_version": version,
        "records": len(records),
        "kinds": {kind: sum(1 for r in records if r.kind == kind)
                  for kind in ("guideline", "policy", "case")},
        "guidelines_version": next((r.version for r in records if r.kind == "guideline"), None),
        "policies": payers,
        "dense_model": dense_id,
        "dense_corpus_version": version if dense_id else None,
        "vectorstore": getattr(store, "name", None) if dense_id else None,
        "codes_version": codes.version if codes is not None else old.get("codes_version"),
        "codes": len(codes.ids) if codes is not None else old.get("codes", 0),
        "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True),
                                             encoding="utf-8")
    return manifest


def _read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / "manifest.json"
    if not path.exists():
        return {}
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise KnowledgeBaseError("knowledge-base manifest.json is corrupt") from exc
    return data


def build_kb(settings: Any, *, terminology: Any = None) -> dict[str, Any]:
    """(Re)build the knowledge base: guidelines refreshed, policies/cases kept, all embedded.

    When ``terminology`` is given, the code-level index is rebuilt from it.
    """
    directory = kb_dir(settings)
    kept = [r for r in _read_records(directory) if r.kind in {"policy", "case"}]
    records = [*load_guidelines(), *kept]
    embedder = _make_embedder(settings)
    store = _make_store(settings) if embedder is not None else None
    codes = CodeIndex.from_terminology(terminology) if terminology is not None else None
    if (directory / "vectors.npz").exists():
        (directory / "vectors.npz").unlink()
    return _write(directory, records, embedder=embedder, store=store, codes=codes,
                  new_ids=None)


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:60] or "document"


def add_policy(settings: Any, path: Path, *, payer: str,
               title: str | None = None) -> tuple[dict[str, Any], int]:
    """Add (or replace) one payer policy document; only its passages are embedded."""
    from codeproof.justify.documents import extract_text, split_passages

    if not payer.strip():
        raise KnowledgeBaseError("a payer name is required")
    text = extract_text(path)
    passages = split_passages(text)
    if not passages:
        raise KnowledgeBaseError(f"policy file {path.name} holds no text", file=path.name)
    directory = kb_dir(settings)
    existing = _read_records(directory) or list(load_guidelines())
    payer_slug, doc = _slug(payer), _slug(path.stem)
    prefix = f"policy:{payer_slug}:{doc}#"
    kept = [r for r in existing if not r.id.startswith(prefix)]
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    new = [
        KBRecord(id=f"{prefix}{n}", kind="policy", title=title or path.stem, text=passage,
                 citation=f"{payer} policy {doc} \u00a7{n}", source=path.name,
                 version=digest, payer=payer)
        for n, passage in enumerate(passages, 1)
    ]
    records = [*kept, *new]
    embedder = _make_embedder(settings)
    store = _make_store(settings) if embedder is not None else None
    replaced = len(existing) - len(kept)
    new_ids = {r.id for r in new} if replaced == 0 else None  # a replacement re-embeds
    if replaced and (directory / "vectors.npz").exists():
        (directory / "vectors.npz").unlink()
    manifest = _write(directory, records, embedder=embedder, store=store, codes=None,
                      new_ids=new_ids)
    logger.info("policy %s for payer %s: %d passages", doc, payer_slug, len(new))
    return manifest, len(new)


def add_cases(settings: Any, packages: Iterable[Mapping[str, Any]]) -> tuple[dict[str, Any], int]:
    """Add past coded encounters (package dicts) as ``case`` records, without note text.

    A case record holds the encounter's codes, descriptions and routing/decision
    per code, so that similar cases can be found by what was coded together.
    """
    directory = kb_dir(settings)
    existing = _read_records(directory) or list(load_guidelines())
    by_id = {r.id: r for r in existing}
    added: list[KBRecord] = []
    for package in packages:
        encounter_id = str(package.get("encounter_id") or package.get("id") or "")
        codes = package.get("codes") or []
        if not encounter_id or not codes:
            continue
        lines = []
        for item in codes:
            decision = item.get("decision") or item.get("routing") or ""
            lines.append(f"{item.get('system', '')} {item.get('code', '')} "
                         f"{item.get('description', '')} [{decision}]".strip())
        record = KBRecord(
            id=f"case:{_slug(encounter_id)}", kind="case",
            title=f"Coded case {encounter_id}", text="; ".join(lines),
            citation=f"case {encounter_id}", source="codeproof package",
            version=str(package.get("schema") or "1"),
        )
        by_id[record.id] = record
        added.append(record)
    records = list(by_id.values())
    embedder = _make_embedder(settings)
    store = _make_store(settings) if embedder is not None else None
    manifest = _write(directory, records, embedder=embedder, store=store, codes=None,
                      new_ids=None)
    return manifest, len(added)


def load_kb(settings: Any, *, dense: bool | None = None) -> KnowledgeBase:
    """Load the built knowledge base, or the built-in guidelines when none was built."""
    directory = kb_dir(settings)
    manifest = _read_manifest(directory)
    records = _read_records(directory) or list(load_guidelines())
    if dense is None:
        # without a built index, "auto" stays BM25-only: embedding the corpus at every
        # start would cost seconds per process; ``kb build`` stores the vectors once
        mode = settings.justify.kb_dense
        dense = mode == "on" or (mode == "auto" and bool(manifest.get("dense_model")))
    want_dense = dense
    embedder = _make_embedder(settings) if want_dense else None
    store: VectorStore | None = None
    ready = False
    if embedder is not None:
        store = _make_store(settings)
        vec_path = directory / "vectors.npz"
        if (isinstance(store, MemoryVectorStore) and vec_path.exists()
                and manifest.get("dense_corpus_version") == corpus_version(records)):
            store.load(_COLLECTION, vec_path)
            ready = True
        elif not isinstance(store, MemoryVectorStore):
            ready = store.count(_COLLECTION) >= len(records)
    kb = KnowledgeBase(records, embedder=embedder, store=store, vectors_ready=ready)
    if (directory / "codes.json").exists():
        kb.codes_path = directory / "codes.json"  # loaded on first use (74k codes: seconds)
    return kb
