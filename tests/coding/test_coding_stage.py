"""The coding.assign.v1 stage end to end on short synthetic notes (committed artifact)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from codeproof.coding.artifact import default_model_path, load_artifact
from codeproof.coding.assign import AssignStage, Coder
from codeproof.coding.evaluate import encounter_from_text
from codeproof.errors import ModelArtifactError
from codeproof.model import Assertion, Encounter, Mention

pytestmark = pytest.mark.skipif(not (default_model_path() / "manifest.json").exists(),
                                reason="no committed coding model (run `codeproof train`)")


@pytest.fixture(scope="module")
def coder() -> Coder:
    return Coder.load()


def _code(coder: Coder, text: str, setting: str = "outpatient") -> Encounter:
    return AssignStage(coder)(encounter_from_text("n1", text, setting=setting))  # type: ignore[arg-type]


def _codes(encounter: Encounter) -> set[str]:
    return {c.code for c in encounter.codes}


def test_stage_contract() -> None:
    assert AssignStage.name == "coding.assign.v1"
    assert AssignStage.requires == {"notes", "mentions", "sections", "sentences"}
    assert AssignStage.assigns == {"candidates", "codes"}


@pytest.mark.issue(4)
@pytest.mark.parametrize(("text", "present", "absent"), [
    ("The patient has essential hypertension treated with enalapril.", {"I10"}, set()),
    ("Type 2 diabetes mellitus on metformin. Essential hypertension.", {"E11.9", "I10"},
     set()),
    ("The patient denies hypertension. No diabetes mellitus.", set(), {"I10", "E11.9"}),
    ("Type 2 diabetes mellitus with diabetic chronic kidney disease stage 3. "
     "Essential hypertension.", {"E11.22"}, {"E11.9"}),
    ("Her mother had breast cancer.", set(), {"C50.919", "C50.911"}),
])
def test_notes_table(coder: Coder, text: str, present: set[str], absent: set[str]) -> None:
    coded = _codes(_code(coder, text))
    assert present <= coded, coded
    assert not (absent & coded), coded


def test_evidence_quotes_equal_original_text(coder: Coder) -> None:
    text = "Fever and cough for three days.\nChest X-ray shows pneumonia. Hypertension."
    encounter = _code(coder, text)
    assert encounter.codes
    for code in encounter.codes:
        assert code.evidence, code.code
        for ev in code.evidence:
            assert text[ev.start:ev.end] == ev.quote
        assert code.explanation is not None
        assert code.explanation.producer.startswith("coding.assign.v1:")
        assert 0.0 <= code.confidence <= 1.0
        assert code.description
    assert sorted(c.sequence for c in encounter.codes) == list(
        range(1, len(encounter.codes) + 1))
    assert dict(encounter.versions)["coding_model"] == coder.version


def test_evidence_from_original_when_deidentified(coder: Coder) -> None:
    text = "John Smith has essential hypertension."
    encounter = dataclasses.replace(encounter_from_text("n1", text),
                                    deid_spans=(("n1", 0, 10, "NAME"),), deidentified=True)
    coded = coder.code(encounter)
    assert "I10" in _codes(coded)
    for code in coded.codes:
        for ev in code.evidence:
            assert ev.quote == text[ev.start:ev.end]


def test_mention_assertions_are_used(coder: Coder) -> None:
    text = "Assessment: essential hypertension."
    start = text.index("essential")
    end = len(text) - 1
    negated = Mention(id="m1", note_id="n1", start=start, end=end, text=text[start:end],
                      assertion=Assertion(negated=True))
    encounter = dataclasses.replace(encounter_from_text("n1", text), mentions=(negated,))
    assert "I10" not in _codes(coder.code(encounter))
    affirmed = dataclasses.replace(negated, assertion=Assertion())
    coded = coder.code(dataclasses.replace(encounter, mentions=(affirmed,)))
    assert "I10" in _codes(coded)
    assert coded.codes[0].mention_ids == ("m1",)


def test_candidates_are_ranked(coder: Coder) -> None:
    encounter = _code(coder, "Acute appendicitis with abdominal pain and fever.")
    confidences = [c.confidence for c in encounter.candidates]
    assert confidences == sorted(confidences, reverse=True)
    assert all(c.confidence >= coder.min_confidence for c in encounter.candidates)


def test_empty_note_yields_no_codes(coder: Coder) -> None:
    assert _code(coder, "   \n").codes == ()


def test_explicit_missing_model_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ModelArtifactError):
        Coder.load(tmp_path)


def test_artifact_manifest_records_recipe() -> None:
    artifact = load_artifact(default_model_path())
    manifest = artifact.manifest
    assert manifest["training_data"]["split"] == "train"
    assert len(manifest["training_data"]["sha256"]) == 64
    assert "scikit-learn" in manifest["libraries"]
    assert set(artifact.systems) >= {"ICD-10-CM"}
