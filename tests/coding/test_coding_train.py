"""The training recipe on a tiny synthetic corpus: out-of-fold rows, artifact round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from codeproof.coding.artifact import load_artifact, save_artifact
from codeproof.coding.assign import Coder
from codeproof.coding.candidates import CodeInfoLite
from codeproof.coding.corpus import CorpusDoc, load_codiesp
from codeproof.coding.evaluate import calibration, encounter_from_text, write_predictions
from codeproof.coding.lexicon import Term, TitleIndex, term_stems
from codeproof.coding.train import GBM_PARAMS, train_system
from codeproof.errors import ModelArtifactError

INFO = {
    "I10": CodeInfoLite("Essential (primary) hypertension", True),
    "E11.9": CodeInfoLite("Type 2 diabetes mellitus without complications", True),
    "J18.9": CodeInfoLite("Pneumonia, unspecified organism", True),
    "R50.9": CodeInfoLite("Fever, unspecified", True),
    "N39.0": CodeInfoLite("Urinary tract infection, site not specified", True),
    "K35.80": CodeInfoLite("Unspecified acute appendicitis", True),
}
SENTENCES = {
    "I10": "He has high blood pressure treated with enalapril.",
    "E11.9": "Known type 2 diabetes mellitus on metformin.",
    "J18.9": "Chest radiograph showed a right lower lobe pneumonia.",
    "R50.9": "She reported fever of 39 degrees.",
    "N39.0": "Urine culture grew E. coli consistent with a urinary tract infection.",
    "K35.80": "Ultrasound showed acute appendicitis and she went to surgery.",
}


def _corpus(n: int = 36) -> list[CorpusDoc]:
    docs = []
    codes = sorted(SENTENCES)
    for i in range(n):
        chosen = {codes[i % 6]} | ({codes[(i // 6) % 6]} if i % 2 else set())
        negated = codes[(i + 3) % 6]
        text = " ".join(SENTENCES[c] for c in sorted(chosen))
        if negated not in chosen:
            text += f" No {INFO[negated].title.split(',')[0].lower()}."
        docs.append(CorpusDoc(id=f"d{i:02d}", text=text, diagnoses=frozenset(chosen),
                              procedures=frozenset()))
    return docs


@pytest.fixture(scope="module")
def trained() -> tuple[object, object]:
    index = TitleIndex([Term(c, term_stems(m.title), True) for c, m in INFO.items()])
    params = {**GBM_PARAMS, "max_iter": 15, "min_samples_leaf": 5}
    return train_system(_corpus(), system="ICD-10-CM", info=INFO, index=index, folds=3,
                        gbm_params=params)


def test_train_reports_held_out_numbers(trained: tuple[object, object]) -> None:
    model, report = trained
    assert report.docs == 36 and report.rows > 0  # type: ignore[attr-defined]
    assert 0.0 < report.candidate_recall <= 1.0  # type: ignore[attr-defined]
    assert 0.05 <= report.threshold < 0.8  # type: ignore[attr-defined]
    # "high blood pressure" is learned as a phrase for I10 (not in the title)
    assert any(s.code == "I10" for s in model.lexicon.get("high blood pressure"))  # type: ignore[attr-defined]


def test_artifact_round_trip_and_coding(tmp_path: Path, trained: tuple[object, object]
                                        ) -> None:
    model, _ = trained
    save_artifact(tmp_path, {"ICD-10-CM": model}, {"model_version": "test-1"})  # type: ignore[dict-item]
    first = (tmp_path / "icd10cm.lexicon.json.gz").read_bytes()
    save_artifact(tmp_path, {"ICD-10-CM": model}, {"model_version": "test-1"})  # type: ignore[dict-item]
    assert (tmp_path / "icd10cm.lexicon.json.gz").read_bytes() == first  # reproducible
    artifact = load_artifact(tmp_path)
    assert artifact.version == "test-1"
    x = np.zeros((3, len(artifact.manifest["features"])))
    np.testing.assert_allclose(artifact.systems["ICD-10-CM"].ensemble.raw(x),  # type: ignore[union-attr]
                               model.ensemble.raw(x))  # type: ignore[attr-defined]
    coder = Coder(artifact)
    text = "Patient with high blood pressure on enalapril. She reported fever of 39 degrees."
    coded = coder.code(encounter_from_text("e1", text))
    assert {"I10"} <= {c.code for c in coded.codes}
    out = tmp_path / "pred"
    assert write_predictions([coded], out) == 1
    package = json.loads((out / "e1.json").read_text())
    assert package["encounter_id"] == "e1" and package["codes"]
    ece, table = calibration([coded], {"e1": {"I10", "R509"}}, system="ICD-10-CM")
    assert 0.0 <= ece <= 1.0 and table


@pytest.mark.parametrize("change", ["format", "features"])
def test_artifact_mismatch_is_rejected(tmp_path: Path, trained: tuple[object, object],
                                       change: str) -> None:
    model, _ = trained
    save_artifact(tmp_path, {"ICD-10-CM": model}, {"model_version": "t"})  # type: ignore[dict-item]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest[change] = "other" if change == "format" else ["x"]
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelArtifactError):
        load_artifact(tmp_path)


def test_load_codiesp_layout(tmp_path: Path) -> None:
    (tmp_path / "train" / "text").mkdir(parents=True)
    (tmp_path / "train" / "text" / "a.txt").write_text("Fever.")
    (tmp_path / "train" / "trainD.tsv").write_text("a\tr50.9\n")
    docs, digest = load_codiesp(tmp_path, "train")
    assert docs[0].diagnoses == {"R50.9"} and len(digest) == 64
