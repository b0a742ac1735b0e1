"""``codeproof train``: build the coding model artifact from CodiEsp train.

The artifact is reproducible: the same training split, package versions and
code give the same files (sorted JSON, gzip without timestamps, fixed seeds).
Its manifest records the training-data digest, the feature list, library
versions, the ranker parameters and the held-out (cross-validated) numbers of
every system.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import logging
from pathlib import Path
from typing import Any

from codeproof.coding.artifact import default_model_path, save_artifact
from codeproof.coding.candidates import CodeInfoLite, analyze
from codeproof.coding.corpus import load_codiesp
from codeproof.coding.dense import load_static_embedder
from codeproof.coding.lexicon import TitleIndex
from codeproof.coding.reference import cm_reference, pcs_reference, source_versions
from codeproof.coding.train import (
    F1_SHARE,
    GBM_PARAMS_BY_SYSTEM,
    LEXICON_PARAMS,
    MAX_N,
    SystemModel,
    train_system,
)

__all__ = ["MODEL_NAME", "build_artifact"]

logger = logging.getLogger(__name__)

MODEL_NAME = "codiesp-v1"


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def build_artifact(data_root: Path, out: Path | None = None, *, folds: int = 5,
                   systems: tuple[str, ...] = ("ICD-10-CM", "ICD-10-PCS"),
                   cache_dir: Path | None = None) -> dict[str, Any]:
    """Train on ``data_root/train`` and write the artifact to ``out``; return the manifest.

    ``cache_dir`` (the reference directory) holds the static MiniLM table of the dense
    features (:mod:`codeproof.coding.dense`); training needs the ``dense`` extra.
    """
    target = out if out is not None else default_model_path()
    dense = load_static_embedder(cache_dir)
    docs, digest = load_codiesp(data_root, "train")
    logger.info("training on %d notes (digest %s)", len(docs), digest[:12])
    analyses = [analyze(doc.text, max_n=MAX_N) for doc in docs]
    models: dict[str, SystemModel] = {}
    reports: dict[str, Any] = {}
    if "ICD-10-CM" in systems:
        info, terms = cm_reference()
        model, report = train_system(docs, system="ICD-10-CM", info=info,
                                     index=TitleIndex(terms), folds=folds, analyses=analyses,
                                     dense=dense)
        models["ICD-10-CM"], reports["ICD-10-CM"] = model, dataclasses.asdict(report)
    if "ICD-10-PCS" in systems:
        pcs = dict(pcs_reference())
        for doc in docs:  # CodiEsp also codes PCS partially (first 3-6 characters)
            for code in doc.procedures:
                if code not in pcs and 3 <= len(code) < 7:
                    pcs[code] = CodeInfoLite(
                        title=f"ICD-10-PCS partial code (first {len(code)} characters); "
                              "complete it before billing", billable=False)
        model, report = train_system(docs, system="ICD-10-PCS", info=pcs, index=None,
                                     folds=folds, analyses=analyses, dense=dense)
        models["ICD-10-PCS"], reports["ICD-10-PCS"] = model, dataclasses.asdict(report)
    manifest: dict[str, Any] = {
        "model_name": MODEL_NAME,
        "model_version": f"{MODEL_NAME}+{digest[:8]}",
        "training_data": {"corpus": "CodiEsp-en (CLEF eHealth 2020, CC BY 4.0)",
                          "split": "train", "notes": len(docs), "sha256": digest},
        "folds": folds,
        "max_n": MAX_N,
        "ranker": {"kind": "sklearn HistGradientBoostingClassifier (exported trees)",
                   "params": {name: GBM_PARAMS_BY_SYSTEM[name] for name in systems}},
        "threshold_rule": f"max MAP with micro-F1 >= {F1_SHARE} x best micro-F1 (held-out)",
        "lexicon": LEXICON_PARAMS,
        "calibration": "isotonic on grouped cross-validated scores",
        "dense": dense.version,
        "libraries": {"scikit-learn": _version("scikit-learn"), "numpy": _version("numpy"),
                      **source_versions()},
        "thresholds": {s: m.threshold for s, m in models.items()},
        "cross_validation": reports,
        "recipe": "codeproof train --data ../shared/data/codiesp-en",
    }
    save_artifact(target, models, manifest)
    logger.info("wrote coding model %s to %s", manifest["model_version"], target)
    return manifest
