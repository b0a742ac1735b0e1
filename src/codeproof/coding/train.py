"""``codeproof train``: the reproducible recipe of the coding model artifact.

For each code system (ICD-10-CM diagnoses, ICD-10-PCS procedures):

1. Split the training notes into ``folds`` folds (by sorted note id).
2. For each fold, learn the phrase lexicon and code priors on the *other*
   folds, generate candidates for the fold's notes and compute their features.
   Every training row is therefore out-of-fold: the ranker learns how much to
   trust a learned phrase on notes the phrase was not learned from.
3. Fit the gradient-boosted ranker on all rows; fit the isotonic calibrator on
   second-level cross-validated scores (grouped by note), so the calibration
   data was never seen by the model that scored it.
4. Choose the emission threshold on those held-out, calibrated scores: the best
   MAP among thresholds whose micro-F1 is within ``F1_SHARE`` of the best micro-F1
   (gold codes never proposed count as misses).
5. Learn the final lexicon and priors on all training notes.

Nothing here looks at the dev split.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from codeproof.coding.candidates import (
    FEATURES,
    CodeInfoLite,
    DocAnalysis,
    analyze,
    generate,
)
from codeproof.coding.corpus import CorpusDoc
from codeproof.coding.dense import StaticEmbedder
from codeproof.coding.lexicon import Lexicon, TitleIndex, term_stems
from codeproof.coding.ranking import Calibrator, TreeEnsemble

__all__ = ["F1_SHARE", "GBM_PARAMS", "GBM_PARAMS_BY_SYSTEM", "LEXICON_PARAMS", "SystemModel",
           "TrainReport", "title_stem_map", "train_system"]

logger = logging.getLogger(__name__)

MAX_N = 4
LEXICON_PARAMS: dict[str, Any] = {
    "min_co": 2, "min_p": 0.05, "max_df_ratio": 0.25, "aligned_max_df": 6,
    "max_per_phrase": 12,
}
#: Ranker parameters per code system, chosen on 5-fold train CV only. ICD-10-CM
#: (4,117 positive rows): 500 iterations x 31 leaves (OOF MAP over all candidates
#: 0.521 -> 0.525, mean of F1 and MAP at the threshold 0.507 -> 0.510 against 200 x 15).
#: ICD-10-PCS (951 positives) keeps 200 x 15: the larger model lost 0.011 OOF MAP there.
GBM_PARAMS: dict[str, Any] = {
    "max_iter": 500, "learning_rate": 0.04, "max_leaf_nodes": 31, "min_samples_leaf": 30,
    "l2_regularization": 2.0, "early_stopping": False, "random_state": 0,
}
GBM_PARAMS_BY_SYSTEM: dict[str, dict[str, Any]] = {
    "ICD-10-CM": GBM_PARAMS,
    "ICD-10-PCS": {
        "max_iter": 200, "learning_rate": 0.06, "max_leaf_nodes": 15, "min_samples_leaf": 20,
        "l2_regularization": 1.0, "early_stopping": False, "random_state": 0,
    },
}
#: The emission threshold maximizes MAP among thresholds whose micro-F1 is at least this
#: share of the best micro-F1 (see :func:`_choose_threshold`).
F1_SHARE = 0.90


@dataclass(frozen=True)
class SystemModel:
    """Everything needed to code one system."""

    system: str
    info: Mapping[str, CodeInfoLite]
    index: TitleIndex | None
    lexicon: Lexicon
    prior: Mapping[str, int]
    prior_cat: Mapping[str, int]
    n_train: int
    ensemble: TreeEnsemble | None
    calibrator: Calibrator
    threshold: float


@dataclass(frozen=True)
class TrainReport:
    """Held-out (cross-validated) numbers of a training run, for the manifest."""

    system: str
    docs: int
    rows: int
    positives: int
    gold: int
    candidate_recall: float
    oof_precision: float
    oof_recall: float
    oof_f1: float
    oof_map: float
    threshold: float
    ece: float
    seconds: float


def title_stem_map(info: Mapping[str, CodeInfoLite]) -> dict[str, frozenset[str]]:
    """Stems of each code's title plus its ancestors' titles (for phrase alignment)."""
    own = {code: frozenset(term_stems(meta.title)) for code, meta in info.items()}
    out: dict[str, frozenset[str]] = {}
    for code, stems in own.items():
        merged = set(stems)
        for cut in range(3, len(code)):
            parent = code[:cut].rstrip(".")
            merged |= own.get(parent, frozenset())
        out[code] = frozenset(merged)
    return out


def _gold(doc: CorpusDoc, system: str) -> frozenset[str]:
    return doc.diagnoses if system == "ICD-10-CM" else doc.procedures


def _priors(docs: Sequence[CorpusDoc], system: str) -> tuple[Counter[str], Counter[str]]:
    prior: Counter[str] = Counter()
    for doc in docs:
        prior.update(_gold(doc, system))
    prior_cat: Counter[str] = Counter()
    for code, count in prior.items():
        prior_cat[code[:3]] += count
    return prior, prior_cat


def _ece(p: np.ndarray[Any, Any], y: np.ndarray[Any, Any], bins: int = 10) -> float:
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        mask = (p >= lo) & ((p < hi) if hi < 1.0 else (p <= hi))
        if mask.any():
            total += mask.sum() * abs(p[mask].mean() - y[mask].mean())
    return float(total / max(len(p), 1))


def _choose_threshold(p: np.ndarray[Any, Any], y: np.ndarray[Any, Any],
                      groups: np.ndarray[Any, Any], gold_by_doc: Mapping[int, int]
                      ) -> tuple[float, tuple[float, float, float, float]]:
    """Emission threshold: the best MAP among thresholds within ``F1_SHARE`` of the best F1.

    MAP is CodiEsp's official metric and the scorer ranks only the *emitted* codes, so
    a lower threshold buys MAP (more gold codes listed, below the confident ones) with
    precision. A computer-assisted coding list should show a coder the plausible codes,
    not only the likely ones -- automation is decided by routing (auto-finalize only at
    >= 0.90), not by emission -- so the threshold takes the MAP-best point that keeps
    micro-F1 within 10% of its best. Computed on held-out (out-of-fold) calibrated
    scores only. Returns the threshold and (precision, recall, F1, MAP) there.
    """
    per_doc = []
    for doc, n_gold in gold_by_doc.items():
        mask = groups == doc
        order = np.argsort(-p[mask], kind="stable")
        per_doc.append((p[mask][order], y[mask][order], n_gold))
    gold_total = max(sum(gold_by_doc.values()), 1)
    curve: list[tuple[float, tuple[float, float, float, float]]] = []
    for t in np.round(np.arange(0.05, 0.80, 0.01), 2):  # the cut the coder applies
        tp = fp = 0
        ap_sum = 0.0
        for probs, labels, n_gold in per_doc:
            k = int(np.searchsorted(-probs, -t, side="right"))
            hits = labels[:k]
            tp += int(hits.sum())
            fp += int(k - hits.sum())
            if n_gold and k:
                ranks = np.arange(1, k + 1)
                ap_sum += float((np.cumsum(hits) / ranks * hits).sum()) / n_gold
        precision = tp / max(tp + fp, 1)
        recall = tp / gold_total
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        curve.append((float(round(t, 2)), (precision, recall, f1,
                                           ap_sum / max(len(per_doc), 1))))
    best_f1 = max(point[2] for _, point in curve)
    eligible = [(t, point) for t, point in curve if point[2] >= F1_SHARE * best_f1]
    return max(eligible, key=lambda item: (item[1][3], item[0]))


def train_system(docs: Sequence[CorpusDoc], *, system: str,
                 info: Mapping[str, CodeInfoLite], index: TitleIndex | None,
                 folds: int = 5, analyses: Sequence[DocAnalysis] | None = None,
                 gbm_params: Mapping[str, Any] | None = None,
                 dense: StaticEmbedder | None = None
                 ) -> tuple[SystemModel, TrainReport]:
    """Train the ranker and calibrator of ``system`` on ``docs`` (see module doc).

    ``dense`` provides the dense features; the coder must then be given the same one.
    """
    params = dict(GBM_PARAMS_BY_SYSTEM.get(system, GBM_PARAMS) if gbm_params is None
                  else gbm_params)
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import GroupKFold

    t0 = time.perf_counter()
    stems = title_stem_map(info)
    analyses = list(analyses) if analyses is not None else [
        analyze(doc.text, max_n=MAX_N) for doc in docs]
    phrase_sets = [a.phrase_set for a in analyses]
    rows: list[tuple[float, ...]] = []
    labels: list[int] = []
    groups: list[int] = []
    gold_total = 0
    gold_by_doc: dict[int, int] = {}
    for k in range(folds):
        train_idx = [i for i in range(len(docs)) if i % folds != k]
        test_idx = [i for i in range(len(docs)) if i % folds == k]
        lexicon = Lexicon.learn(
            [(phrase_sets[i], set(_gold(docs[i], system))) for i in train_idx],
            title_stems=stems, max_n=MAX_N, **LEXICON_PARAMS)
        prior, prior_cat = _priors([docs[i] for i in train_idx], system)
        for i in test_idx:
            gold = _gold(docs[i], system)
            gold_total += len(gold)
            gold_by_doc[i] = len(gold)
            for cand in generate(analyses[i], index=index, lexicon=lexicon, info=info,
                                 prior=prior, prior_cat=prior_cat, n_train=len(train_idx),
                                 dense=dense):
                rows.append(cand.features)
                labels.append(int(cand.code in gold))
                groups.append(i)
        logger.info("%s fold %d: %d rows", system, k, len(rows))
    x = np.asarray(rows, dtype=np.float64).reshape(-1, len(FEATURES))
    # a feature missing on every row (the dense scores when ``dense`` is None) becomes a
    # constant: scikit-learn cannot bin an all-missing column, and a constant column is
    # never split on, so the value the coder passes for it later does not matter
    x[:, np.isnan(x).all(axis=0)] = 0.0
    y = np.asarray(labels, dtype=np.int64)
    g = np.asarray(groups)
    oof = np.zeros(len(y))
    for tr, te in GroupKFold(n_splits=folds).split(x, y, g):
        model = HistGradientBoostingClassifier(**params).fit(x[tr], y[tr])
        oof[te] = model.predict_proba(x[te])[:, 1]
    calibrator = Calibrator.fit(oof, y)
    calibrated = calibrator(oof)
    # honest ECE: isotonic fit on other notes' scores, measured on held-out notes
    held_out_cal = np.zeros(len(y))
    for tr, te in GroupKFold(n_splits=folds).split(x, y, g):
        held_out_cal[te] = Calibrator.fit(oof[tr], y[tr])(oof[te])
    threshold, best = _choose_threshold(calibrated, y, g, gold_by_doc)
    final = HistGradientBoostingClassifier(**params).fit(x, y)
    lexicon = Lexicon.learn([(phrase_sets[i], set(_gold(d, system))) for i, d in
                             enumerate(docs)], title_stems=stems, max_n=MAX_N,
                            **LEXICON_PARAMS)
    prior, prior_cat = _priors(docs, system)
    model_out = SystemModel(
        system=system, info=info, index=index, lexicon=lexicon, prior=dict(prior),
        prior_cat=dict(prior_cat), n_train=len(docs),
        ensemble=TreeEnsemble.from_sklearn(final), calibrator=calibrator,
        threshold=threshold)
    report = TrainReport(
        system=system, docs=len(docs), rows=len(y), positives=int(y.sum()), gold=gold_total,
        candidate_recall=round(float(y.sum()) / max(gold_total, 1), 4),
        oof_precision=round(best[0], 4), oof_recall=round(best[1], 4),
        oof_f1=round(best[2], 4), oof_map=round(best[3], 4), threshold=threshold,
        ece=round(_ece(held_out_cal, y), 4),
        seconds=round(time.perf_counter() - t0, 1))
    return model_out, report
