import dataclasses
from typing import Any, ClassVar

import pytest

from codeproof.errors import MissingRequirement, StageFailed
from codeproof.model import Encounter, Mention, Note, SourceRef
from codeproof.pipeline import Pipeline


def _encounter() -> Encounter:
    return Encounter(id="e1", source=SourceRef(format="text", sha256="0" * 64, received_at="t"),
                     notes=(Note(id="n1", text="Asthma."),))


class Finder:
    name: ClassVar[str] = "test.finder.v1"
    requires: ClassVar[frozenset[str]] = frozenset({"notes"})
    assigns: ClassVar[frozenset[str]] = frozenset({"mentions"})

    def __call__(self, encounter: Encounter) -> Encounter:
        mention = Mention(id="m1", note_id="n1", start=0, end=6, text="Asthma")
        return dataclasses.replace(encounter, mentions=(mention,))


class NeedsCodes:
    name: ClassVar[str] = "test.needs_codes.v1"
    requires: ClassVar[frozenset[str]] = frozenset({"codes"})
    assigns: ClassVar[frozenset[str]] = frozenset({"findings"})

    def __call__(self, encounter: Encounter) -> Encounter:
        return encounter


class Boom:
    name: ClassVar[str] = "test.boom.v1"
    requires: ClassVar[frozenset[str]] = frozenset()
    assigns: ClassVar[frozenset[str]] = frozenset()

    def __call__(self, encounter: Encounter) -> Encounter:
        raise ValueError("secret note text must not leak")


class Sink:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def record(self, name: str, *, tenant: str, actor: str, subject: str,
               properties: dict[str, Any]) -> None:
        self.events.append((name, properties))


def test_run_records_stages_and_audits() -> None:
    sink = Sink()
    before = _encounter()
    after = Pipeline([Finder()]).run(before, audit=sink)
    assert before.mentions == ()  # input not mutated
    assert after.mentions[0].text == "Asthma"
    assert [s.stage for s in after.stages] == ["test.finder.v1"]
    assert after.stages[0].input_digest != after.stages[0].output_digest
    assert sink.events[0][0] == "stage.completed"
    assert sink.events[0][1]["stage"] == "test.finder.v1"


@pytest.mark.parametrize(
    ("stages", "ok"),
    [([Finder()], True), ([NeedsCodes()], False), ([Finder(), NeedsCodes()], False)],
)
def test_validate_requirements(stages: list[Any], ok: bool) -> None:
    if ok:
        Pipeline(stages)
    else:
        with pytest.raises(MissingRequirement) as info:
            Pipeline(stages)
        assert "codes" in str(info.value)


def test_unexpected_failure_is_wrapped_without_text() -> None:
    with pytest.raises(StageFailed) as info:
        Pipeline([Boom()]).run(_encounter())
    assert "secret" not in str(info.value)
    assert info.value.code == "CP-PIPE-003"


def test_model_text_masks_but_keeps_offsets() -> None:
    encounter = dataclasses.replace(
        _encounter(), notes=(Note(id="n1", text="John Smith 12/03 has asthma"),),
        deid_spans=(("n1", 0, 10, "NAME"), ("n1", 11, 16, "DATE")))
    masked = encounter.model_text("n1")
    assert masked == "XXXX XXXXX 00/00 has asthma"
    assert len(masked) == len(encounter.notes[0].text)


def _reference_digest(encounter: Encounter) -> str:
    """The digest's definition: sha256 of the repr without stage records."""
    import hashlib

    return hashlib.sha256(repr(dataclasses.replace(encounter, stages=())).encode()).hexdigest()


def test_digest_is_the_repr_hash_and_the_memo_does_not_change_it() -> None:
    before = _encounter()
    after = Pipeline([Finder()]).run(before)
    assert before.digest() == _reference_digest(before)
    assert after.digest() == _reference_digest(after)  # stage records are left out
    memo: dict[int, tuple[object, str]] = {}
    assert before.digest(memo) == _reference_digest(before)
    assert after.digest(memo) == _reference_digest(after)  # shared notes come from the memo
    assert after.stages[0].input_digest == _reference_digest(before)
    assert after.stages[0].output_digest == _reference_digest(dataclasses.replace(
        after, stages=()))
