"""The ranker: a gradient-boosted tree ensemble plus an isotonic calibrator.

Training uses scikit-learn's ``HistGradientBoostingClassifier``; the fitted
trees are exported to plain arrays (:class:`TreeEnsemble`) so that the model
artifact is data, not a pickle, and scoring needs only numpy. The calibrator is
the isotonic step function fitted on held-out (cross-validated) scores, stored
as its breakpoints and applied with linear interpolation exactly like
``IsotonicRegression(out_of_bounds="clip")``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Calibrator", "TreeEnsemble"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class TreeEnsemble:
    """Additive trees: ``raw = baseline + sum(tree leaf values)``; ``p = sigmoid(raw)``."""

    baseline: float
    feature: npt.NDArray[np.int32]
    threshold: FloatArray
    left: npt.NDArray[np.int32]
    right: npt.NDArray[np.int32]
    leaf: npt.NDArray[np.bool_]
    value: FloatArray
    missing_left: npt.NDArray[np.bool_]
    roots: npt.NDArray[np.int32]  # offset of each tree's root in the node arrays
    max_depth: int

    @classmethod
    def from_sklearn(cls, model: Any) -> TreeEnsemble:
        """Export a fitted binary ``HistGradientBoostingClassifier``."""
        feature, threshold, left, right, leaf, value, missing, roots = (
            [], [], [], [], [], [], [], [])
        offset = 0
        depth = 0
        for trees in model._predictors:  # one list per iteration (binary: one tree)
            nodes = trees[0].nodes
            roots.append(offset)
            feature.append(nodes["feature_idx"].astype(np.int32))
            threshold.append(nodes["num_threshold"].astype(np.float64))
            left.append(nodes["left"].astype(np.int32) + offset)
            right.append(nodes["right"].astype(np.int32) + offset)
            leaf.append(nodes["is_leaf"].astype(bool))
            value.append(nodes["value"].astype(np.float64))
            missing.append(nodes["missing_go_to_left"].astype(bool))
            depth = max(depth, int(nodes["depth"].max()))
            offset += len(nodes)
        return cls(
            baseline=float(np.ravel(model._baseline_prediction)[0]),
            feature=np.concatenate(feature), threshold=np.concatenate(threshold),
            left=np.concatenate(left), right=np.concatenate(right),
            leaf=np.concatenate(leaf), value=np.concatenate(value),
            missing_left=np.concatenate(missing),
            roots=np.asarray(roots, dtype=np.int32), max_depth=depth)

    def raw(self, x: FloatArray) -> FloatArray:
        """Raw (log-odds) scores of the rows of ``x``."""
        n = x.shape[0]
        if n == 0:
            return np.full(0, self.baseline, dtype=np.float64)
        # all (row, tree) pairs at once; each step advances only the pairs not yet at a
        # leaf, so the work is the sum of the path lengths, not rows x trees x max depth
        n_trees = len(self.roots)
        nodes = np.tile(self.roots, n)
        row_of = np.repeat(np.arange(n), n_trees)
        active = np.arange(n * n_trees)
        flat = x.ravel()
        width = x.shape[1]
        while active.size:
            current = nodes[active]
            inner = ~self.leaf[current]
            active, current = active[inner], current[inner]
            if not active.size:
                break
            vals = flat[row_of[active] * width + self.feature[current]]
            go_left = np.where(np.isnan(vals), self.missing_left[current],
                               vals <= self.threshold[current])
            nodes[active] = np.where(go_left, self.left[current], self.right[current])
        total: FloatArray = self.baseline + self.value[nodes].reshape(n, n_trees).sum(axis=1)
        return total

    def predict_proba(self, x: FloatArray) -> FloatArray:
        """Uncalibrated probabilities."""
        return 1.0 / (1.0 + np.exp(-self.raw(x)))

    def to_arrays(self, prefix: str) -> dict[str, npt.NDArray[Any]]:
        """Arrays for ``numpy.savez`` under ``prefix``."""
        return {f"{prefix}baseline": np.asarray([self.baseline]),
                f"{prefix}feature": self.feature, f"{prefix}threshold": self.threshold,
                f"{prefix}left": self.left, f"{prefix}right": self.right,
                f"{prefix}leaf": self.leaf, f"{prefix}value": self.value,
                f"{prefix}missing_left": self.missing_left, f"{prefix}roots": self.roots,
                f"{prefix}max_depth": np.asarray([self.max_depth])}

    @classmethod
    def from_arrays(cls, arrays: Any, prefix: str) -> TreeEnsemble:
        """Inverse of :meth:`to_arrays`."""
        return cls(baseline=float(arrays[f"{prefix}baseline"][0]),
                   feature=arrays[f"{prefix}feature"], threshold=arrays[f"{prefix}threshold"],
                   left=arrays[f"{prefix}left"], right=arrays[f"{prefix}right"],
                   leaf=arrays[f"{prefix}leaf"], value=arrays[f"{prefix}value"],
                   missing_left=arrays[f"{prefix}missing_left"],
                   roots=arrays[f"{prefix}roots"],
                   max_depth=int(arrays[f"{prefix}max_depth"][0]))


@dataclass(frozen=True)
class Calibrator:
    """Centered isotonic map from raw probability to calibrated probability.

    Isotonic regression is a step function: every score of a plateau gets the same
    probability, so codes the ranker tells apart tie and the CodiEsp MAP (which ranks
    by confidence) loses the ranker's order. The stored points are therefore reduced
    to *centered* isotonic regression (Oron & Flournoy 2017): each plateau becomes one
    knot at its midpoint, and the map interpolates linearly between knots. It stays
    monotone, keeps each plateau's mean level and breaks ties by the ranker score.
    Centering is idempotent, so artifacts stored either way load the same.
    """

    x: FloatArray
    y: FloatArray

    def __post_init__(self) -> None:
        """Reduce step-function knots to centered knots (one per plateau)."""
        x = np.asarray(self.x, dtype=np.float64)
        y = np.asarray(self.y, dtype=np.float64)
        if len(x) < 2:
            return
        starts = np.flatnonzero(np.r_[True, np.diff(y) != 0.0])
        ends = np.r_[starts[1:], len(y)] - 1
        object.__setattr__(self, "x", (x[starts] + x[ends]) / 2.0)
        object.__setattr__(self, "y", y[starts])

    @classmethod
    def fit(cls, scores: FloatArray, labels: npt.NDArray[Any]) -> Calibrator:
        """Fit isotonic regression of ``labels`` on ``scores`` (held-out scores!)."""
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
        iso.fit(scores, labels.astype(np.float64))
        return cls(x=np.asarray(iso.X_thresholds_, dtype=np.float64),
                   y=np.asarray(iso.y_thresholds_, dtype=np.float64))

    @classmethod
    def identity(cls) -> Calibrator:
        """No calibration (``p -> p``)."""
        return cls(x=np.asarray([0.0, 1.0]), y=np.asarray([0.0, 1.0]))

    def __call__(self, scores: FloatArray) -> FloatArray:
        """Calibrated probabilities of ``scores``."""
        return np.interp(scores, self.x, self.y)
