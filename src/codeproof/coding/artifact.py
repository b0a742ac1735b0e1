"""The versioned model artifact: save/load of the trained :class:`SystemModel` set.

Layout of an artifact directory (all data, no pickles)::

    manifest.json          model version, training data digests, feature list,
                           library versions, thresholds, held-out training numbers
    icd10cm.codes.json.gz  code -> [title, billable] and the title/inclusion terms
    <system>.lexicon.json.gz   learned phrase -> code associations
    <system>.priors.json.gz    code frequencies in the training notes
    model.npz              tree ensembles and isotonic calibrators per system
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from codeproof.coding.candidates import FEATURES, CodeInfoLite
from codeproof.coding.lexicon import Lexicon, TitleIndex
from codeproof.coding.ranking import Calibrator, TreeEnsemble
from codeproof.coding.train import SystemModel
from codeproof.errors import ModelArtifactError

__all__ = ["ARTIFACT_FORMAT", "Artifact", "default_model_path", "load_artifact",
           "save_artifact"]

logger = logging.getLogger(__name__)

ARTIFACT_FORMAT = "codeproof.coding-model/v1"
_PREFIX = {"ICD-10-CM": "icd10cm", "ICD-10-PCS": "icd10pcs"}


def default_model_path() -> Path:
    """The artifact committed inside the package."""
    return Path(__file__).parent / "models" / "codiesp-v1"


@dataclass(frozen=True)
class Artifact:
    """A loaded artifact: its manifest and one model per code system."""

    manifest: Mapping[str, Any]
    systems: Mapping[str, SystemModel]

    @property
    def version(self) -> str:
        """The model version recorded in the manifest."""
        return str(self.manifest.get("model_version", "unknown"))


def _write_json_gz(path: Path, data: Any) -> None:
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode("utf-8")
    # mtime=0 keeps the file byte-identical across rebuilds of the same model
    with path.open("wb") as handle, gzip.GzipFile(fileobj=handle, mode="wb", mtime=0) as gz:
        gz.write(raw)


def _read_json_gz(path: Path) -> Any:
    with gzip.open(path, "rb") as handle:
        return json.loads(handle.read().decode("utf-8"))


def save_artifact(path: Path, systems: Mapping[str, SystemModel],
                  manifest: Mapping[str, Any]) -> Path:
    """Write ``systems`` and ``manifest`` to the directory ``path``."""
    path.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = {}
    for system, model in systems.items():
        prefix = _PREFIX[system]
        codes: dict[str, list[object]]
        if model.index is not None:
            codes = {c: [m.title, int(m.billable)] for c, m in model.info.items()}
        else:  # only what the lexicon can propose
            used = {s.code for stats in model.lexicon.entries.values() for s in stats}
            codes = {c: [model.info[c].title, int(model.info[c].billable)]
                     for c in sorted(used) if c in model.info}
        _write_json_gz(path / f"{prefix}.codes.json.gz", {
            "codes": codes, "terms": model.index.to_json() if model.index else None})
        _write_json_gz(path / f"{prefix}.lexicon.json.gz", model.lexicon.to_json())
        _write_json_gz(path / f"{prefix}.priors.json.gz", {
            "prior": dict(model.prior), "prior_cat": dict(model.prior_cat),
            "n_train": model.n_train, "threshold": model.threshold})
        if model.ensemble is not None:
            arrays.update(model.ensemble.to_arrays(f"{prefix}."))
        arrays[f"{prefix}.cal_x"] = model.calibrator.x
        arrays[f"{prefix}.cal_y"] = model.calibrator.y
    np.savez_compressed(path / "model.npz", **arrays)
    data = dict(manifest)
    data["format"] = ARTIFACT_FORMAT
    data["features"] = list(FEATURES)
    data["systems"] = sorted(systems)
    (path / "manifest.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n",
                                        encoding="utf-8")
    return path


def load_artifact(path: Path) -> Artifact:
    """Load an artifact directory; raise :class:`ModelArtifactError` when unusable."""
    manifest_path = path / "manifest.json"
    if not manifest_path.exists():
        raise ModelArtifactError(f"no coding model at {path} (run `codeproof train`)",
                                 path=str(path))
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("format") != ARTIFACT_FORMAT:
            raise ModelArtifactError(
                f"coding model at {path} has format {manifest.get('format')!r}, "
                f"expected {ARTIFACT_FORMAT!r}", path=str(path))
        if list(manifest.get("features", [])) != list(FEATURES):
            raise ModelArtifactError(
                f"coding model at {path} was trained with another feature list; "
                "retrain with `codeproof train`", path=str(path))
        arrays = np.load(path / "model.npz")
        systems: dict[str, SystemModel] = {}
        for system in manifest["systems"]:
            prefix = _PREFIX[system]
            codes = _read_json_gz(path / f"{prefix}.codes.json.gz")
            info = {c: CodeInfoLite(title=str(v[0]), billable=bool(v[1]))
                    for c, v in codes["codes"].items()}
            index = TitleIndex.from_json(codes["terms"]) if codes["terms"] else None
            lexicon = Lexicon.from_json(_read_json_gz(path / f"{prefix}.lexicon.json.gz"))
            priors = _read_json_gz(path / f"{prefix}.priors.json.gz")
            ensemble = (TreeEnsemble.from_arrays(arrays, f"{prefix}.")
                        if f"{prefix}.roots" in arrays else None)
            systems[system] = SystemModel(
                system=system, info=info, index=index, lexicon=lexicon,
                prior=priors["prior"], prior_cat=priors["prior_cat"],
                n_train=int(priors["n_train"]), ensemble=ensemble,
                calibrator=Calibrator(x=arrays[f"{prefix}.cal_x"], y=arrays[f"{prefix}.cal_y"]),
                threshold=float(priors["threshold"]))
    except ModelArtifactError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelArtifactError(f"coding model at {path} is unreadable: "
                                 f"{type(exc).__name__}", path=str(path)) from exc
    logger.info("loaded coding model %s from %s", manifest.get("model_version"), path)
    return Artifact(manifest=manifest, systems=systems)
