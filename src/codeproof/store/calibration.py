"""Refit confidence calibration from coders' decisions (``codeproof calibrate``).

Every decision stores the calibrated confidence the code had when a coder judged
it. A decision is a label for that confidence: ``accept`` = the code was right
(1), ``modify`` or ``reject`` = it was not (0). An isotonic regression from
confidence to observed accuracy is the monotone recalibration map; it is written
as a small JSON artifact that the coding engine applies after its own model.

When the coding engine provides ``codeproof.coding.calibrate.fit_from_feedback(
runtime, scores, labels) -> dict`` that function is used instead (one owner of
calibration); this module then only gathers the labels.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import import_module
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from codeproof.errors import InvalidDecision
from codeproof.runtime import Runtime
from codeproof.security.base import Principal
from codeproof.store.base import Store
from codeproof.store.policy import authorize
from codeproof.store.sql import now_iso

__all__ = ["CalibrationFit", "feedback_labels", "fit_isotonic", "refit_from_decisions"]

MIN_DECISIONS = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class CalibrationFit:
    """The refit map and how much it improves the Brier score on the decisions."""

    n: int
    positives: int
    x: tuple[float, ...]  # isotonic breakpoints (confidence in)
    y: tuple[float, ...]  # calibrated probability out
    brier_before: float
    brier_after: float
    ece_before: float
    ece_after: float
    method: str
    versions: tuple[str, ...]  # model/rule versions the decisions judged

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe view."""
        return {"n": self.n, "positives": self.positives, "x": list(self.x),
                "y": list(self.y), "brier_before": self.brier_before,
                "brier_after": self.brier_after, "ece_before": self.ece_before,
                "ece_after": self.ece_after, "method": self.method,
                "versions": list(self.versions)}

    def predict(self, confidence: float) -> float:
        """Apply the map to one confidence."""
        return float(np.interp(confidence, self.x, self.y))


def feedback_labels(store: Store, *, principal: Principal) -> tuple[list[float], list[int],
                                                                    list[str]]:
    """(confidence, label, versions) per code: the *latest* decision on each code wins."""
    latest: dict[tuple[str, str, str], Any] = {}
    for decision in store.list_decisions(principal=principal, limit=1_000_000):
        latest[(decision.encounter_id, decision.system, decision.code)] = decision
    scores = [d.confidence for d in latest.values()]
    labels = [1 if d.action == "accept" else 0 for d in latest.values()]
    versions = sorted({f"{k}={v}" for d in latest.values() for k, v in d.versions.items()})
    return scores, labels, versions


def _ece(p: np.ndarray[Any, Any], y: np.ndarray[Any, Any], bins: int = 10) -> float:
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        mask = (p >= lo) & ((p < hi) if hi < 1.0 else (p <= hi))
        if mask.any():
            total += mask.mean() * abs(float(p[mask].mean()) - float(y[mask].mean()))
    return round(total, 6)


def fit_isotonic(scores: list[float], labels: list[int]) -> tuple[list[float], list[float]]:
    """Isotonic regression confidence -> accuracy (scikit-learn), as breakpoints."""
    from sklearn.isotonic import IsotonicRegression

    model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    model.fit(np.asarray(scores, dtype=float), np.asarray(labels, dtype=float))
    return ([float(v) for v in model.X_thresholds_], [float(v) for v in model.y_thresholds_])


def refit_from_decisions(runtime: Runtime, store: Store, *, principal: Principal,
                         out: Path | None = None,
                         min_decisions: int = MIN_DECISIONS) -> tuple[CalibrationFit, Path]:
    """Fit the map from the tenant's decisions and write it; return (fit, path)."""
    authorize(principal, "calibration.fit")
    scores, labels, versions = feedback_labels(store, principal=principal)
    if len(scores) < min_decisions:
        raise InvalidDecision(f"{len(scores)} judged codes; calibration needs at least "
                              f"{min_decisions}", decisions=len(scores))
    if len(set(labels)) < 2:
        raise InvalidDecision("every judged code has the same outcome; nothing to calibrate")
    method = "isotonic.sklearn.v1"
    engine_fit: dict[str, Any] | None = None
    if find_spec("codeproof.coding.calibrate") is not None:
        module = import_module("codeproof.coding.calibrate")
        if hasattr(module, "fit_from_feedback"):
            engine_fit = module.fit_from_feedback(runtime, scores, labels)
            method = "codeproof.coding.calibrate.fit_from_feedback"
    if engine_fit is not None and "x" in engine_fit and "y" in engine_fit:
        x, y = list(engine_fit["x"]), list(engine_fit["y"])
    else:
        x, y = fit_isotonic(scores, labels)
    p = np.asarray(scores, dtype=float)
    truth = np.asarray(labels, dtype=float)
    after = np.interp(p, x, y)
    fit = CalibrationFit(
        n=len(scores), positives=int(truth.sum()), x=tuple(x), y=tuple(y),
        brier_before=round(float(np.mean((p - truth) ** 2)), 6),
        brier_after=round(float(np.mean((after - truth) ** 2)), 6),
        ece_before=_ece(p, truth), ece_after=_ece(after, truth), method=method,
        versions=tuple(versions))
    path = out or runtime.settings.home / "calibration" / f"feedback-{principal.tenant}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"schema": "codeproof.calibration/v1",
                                "tenant": principal.tenant, "created": now_iso(),
                                **fit.to_dict()}, indent=2), encoding="utf-8")
    return fit, path
