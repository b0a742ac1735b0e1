"""Dense features: static MiniLM vectors (a small random table stands in for the real one)."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pytest

from codeproof.coding.candidates import FEATURES, CodeInfoLite, analyze, generate
from codeproof.coding.dense import STOP_TOKENS, StaticEmbedder
from codeproof.coding.lexicon import Term, TitleIndex, term_stems
from codeproof.justify.embed import minilm_tokenizer

pytestmark = pytest.mark.issue(4)


@pytest.fixture(scope="module")
def embedder() -> StaticEmbedder:
    tokenizer, vocab = minilm_tokenizer()
    table = np.random.default_rng(0).normal(size=(len(vocab), 16)).astype(np.float16)
    return StaticEmbedder(table, tokenizer, vocab, model_id="test", cache_size=4)


def test_vectors_are_normalised_means_without_stop_tokens(embedder: StaticEmbedder) -> None:
    vec = embedder.vector("Pneumonia of the lung")
    assert vec is not None and math.isclose(float(np.linalg.norm(vec)), 1.0, rel_tol=1e-5)
    # stop tokens do not move the vector: "of the" is ICD boilerplate
    other = embedder.vector("pneumonia lung")
    assert other is not None and float(vec @ other) == pytest.approx(1.0, abs=1e-5)
    assert embedder.vector(" ".join(STOP_TOKENS[:5])) is None
    assert embedder.similarity("of the", "pneumonia") == 0.0


def test_similarity_is_symmetric_and_bounded(embedder: StaticEmbedder) -> None:
    a, b = "acute kidney failure", "renal insufficiency"
    assert embedder.similarity(a, b) == pytest.approx(embedder.similarity(b, a))
    assert -1.0 <= embedder.similarity(a, b) <= 1.0
    assert embedder.similarity(a, a) == pytest.approx(1.0, abs=1e-5)


def test_cache_is_bounded(embedder: StaticEmbedder) -> None:
    for word in ("one", "two", "three", "four", "five", "six"):
        embedder.vector(word)
    assert len(embedder._cache) <= 4


def test_generate_fills_dense_features_only_with_an_embedder(embedder: StaticEmbedder
                                                             ) -> None:
    info = {"J18.9": CodeInfoLite("Pneumonia, unspecified organism", True)}
    index = TitleIndex([Term("J18.9", term_stems(info["J18.9"].title), True)])
    doc = analyze("The radiograph showed pneumonia, organism unknown.")
    kwargs = {"index": index, "lexicon": None, "info": info, "prior": {}, "prior_cat": {},
              "n_train": 1}
    with_dense = dict(zip(FEATURES, generate(doc, dense=embedder, **kwargs)[0].features,
                          strict=True))
    without = dict(zip(FEATURES, generate(doc, **kwargs)[0].features, strict=True))
    assert -1.0 <= with_dense["dense_span"] <= 1.0
    assert -1.0 <= with_dense["dense_sent"] <= 1.0
    assert math.isnan(without["dense_span"]) and math.isnan(without["dense_sent"])


def test_coder_without_the_model_package_ranks_without_dense(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from codeproof.coding import assign
    from codeproof.coding.artifact import default_model_path
    from codeproof.coding.evaluate import encounter_from_text
    from codeproof.justify import embed

    if not (default_model_path() / "manifest.json").exists():
        pytest.skip("no committed coding model")
    monkeypatch.setattr(embed, "embedder_available", lambda: False)
    with caplog.at_level(logging.WARNING, logger="codeproof.coding.assign"):
        coder = assign.Coder.load()
    assert coder.dense is None
    assert any("dense features unavailable" in r.getMessage() for r in caplog.records)
    out = coder.code(encounter_from_text("n1", "Chest radiograph showed pneumonia."))
    assert out.candidates  # still ranked, with the dense features missing


def test_static_table_is_built_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from codeproof.coding import dense

    calls: list[int] = []

    def build() -> dict[str, object]:
        calls.append(1)
        return {"table": np.zeros((1, 4), np.float16), "model_id": "t"}

    monkeypatch.setattr(dense, "_build_table", build)
    assert dense.ensure_static_table(tmp_path) is True
    assert dense.ensure_static_table(tmp_path) is True
    assert len(calls) == 1
    assert dense.load_static_embedder(tmp_path).table.shape == (1, 4)
    assert len(calls) == 1
