"""`codeproof calibrate`: isotonic refit from coder decisions."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from codeproof.api.fake import fake_code, fake_parse
from codeproof.errors import AccessDenied, InvalidDecision
from codeproof.security.base import Principal
from codeproof.store import open_store
from codeproof.store.calibration import feedback_labels, refit_from_decisions

SYSTEM = Principal.system()
CODER = Principal(user="cora", role="coder", tenant="default")


def seed(store: Any, n: int, *, accept_if: Any) -> None:
    rng = random.Random(7)
    for i in range(n):
        encounter = fake_parse(b"Pneumonia.", content_type="text/plain", name=f"e{i}.txt")
        result = fake_code(None, encounter, principal=SYSTEM)
        package = result.package
        package["codes"][0]["confidence"] = round(rng.random(), 3)
        package["codes"][0]["routing"] = "coder_review"
        store.save_encounter(result.encounter, package, principal=SYSTEM)
        confidence = package["codes"][0]["confidence"]
        action = "accept" if accept_if(confidence, rng) else "reject"
        store.record_decision(f"e{i}", principal=CODER, system="ICD-10-CM", code="J18.9",
                              action=action, reason="documentation_supports"
                              if action == "accept" else "not_documented")


def test_refit_improves_a_miscalibrated_score(tmp_path: Path, runtime_factory: Any) -> None:
    runtime = runtime_factory(tmp_path, "storage.memory.v1")
    store = open_store(runtime)
    # the model is overconfident: true accuracy is confidence squared
    seed(store, 60, accept_if=lambda c, rng: rng.random() < c * c)
    scores, labels, versions = feedback_labels(store, principal=SYSTEM)
    assert len(scores) == 60 and set(labels) == {0, 1} and any("fake" in v for v in versions)
    fit, path = refit_from_decisions(runtime, store, principal=SYSTEM)
    assert fit.brier_after < fit.brier_before and fit.ece_after <= fit.ece_before
    assert all(a <= b for a, b in zip(fit.y, fit.y[1:], strict=False))  # monotone
    assert fit.predict(0.5) < 0.5  # overconfidence corrected downwards
    saved = json.loads(path.read_text())
    assert saved["schema"] == "codeproof.calibration/v1" and saved["n"] == 60


@pytest.mark.parametrize(("n", "rule", "principal", "error"), [
    (5, lambda c, rng: rng.random() < c, SYSTEM, InvalidDecision),     # too few
    (25, lambda c, rng: True, SYSTEM, InvalidDecision),                # one class only
    (25, lambda c, rng: rng.random() < c, CODER, AccessDenied),        # not an admin
])
def test_refit_refusals(tmp_path: Path, runtime_factory: Any, n: int, rule: Any,
                        principal: Principal, error: type[Exception]) -> None:
    runtime = runtime_factory(tmp_path, "storage.memory.v1")
    store = open_store(runtime)
    seed(store, n, accept_if=rule)
    with pytest.raises(error):
        refit_from_decisions(runtime, store, principal=principal)
