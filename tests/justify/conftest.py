"""Fixtures for the justification tests: hand-built encounters and offline settings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from codeproof.config import Settings, load_settings
from codeproof.model import (
    Assertion,
    CodeAssignment,
    Encounter,
    Evidence,
    Mention,
    Note,
    RuleFinding,
    SourceRef,
)

NOTE = (
    "CHIEF COMPLAINT: follow-up.\n"
    "HPI: Mr. Jonas Whitfield, 67, seen on 03/04/2026 for diabetes follow-up.\n"
    "ASSESSMENT: Type 2 diabetes mellitus with diabetic neuropathy, on metformin.\n"
    "History of breast cancer, s/p lumpectomy 2015, no current treatment.\n"
    "Possible pneumonia, chest x-ray pending.\n"
)


def span(text: str, phrase: str, note_id: str = "n1") -> Evidence:
    """Evidence for the first occurrence of ``phrase``."""
    start = text.index(phrase)
    return Evidence(note_id=note_id, start=start, end=start + len(phrase), quote=phrase)


def make_encounter(**overrides: Any) -> Encounter:
    """The standard test encounter: three codes, a historical mention, a finding."""
    text = NOTE
    history = span(text, "History of breast cancer")
    mention = Mention(id="m-hx", note_id="n1", start=history.start + 11, end=history.end,
                      text="breast cancer", section="assessment_plan",
                      assertion=Assertion(historical=True, cues=(span(text, "History of"),)))
    codes = (
        CodeAssignment(system="ICD-10-CM", code="E11.40",
                       description="Type 2 diabetes mellitus with diabetic neuropathy, "
                                   "unspecified",
                       confidence=0.95, sequence=1, rationale="",
                       evidence=(span(text, "Type 2 diabetes mellitus with diabetic "
                                            "neuropathy"),)),
        CodeAssignment(system="ICD-10-CM", code="Z85.3",
                       description="Personal history of malignant neoplasm of breast",
                       confidence=0.82, rationale="", mention_ids=("m-hx",),
                       evidence=(history,)),
        CodeAssignment(system="ICD-10-CM", code="R91.8",
                       description="Other nonspecific abnormal finding of lung field",
                       confidence=0.55, rationale="",
                       evidence=(span(text, "chest x-ray pending"),)),
    )
    values: dict[str, Any] = {
        "id": "enc-1",
        "source": SourceRef(format="text", sha256="0" * 64, received_at="2026-03-04T10:00:00Z"),
        "notes": (Note(id="n1", text=text),),
        "mentions": (mention,),
        "codes": codes,
        "findings": (RuleFinding(rule_id="icd10cm.excludes1", severity="info",
                                 message="no Excludes1 conflict", codes=("ICD-10-CM:E11.40",),
                                 pack="icd10cm", pack_version="FY2026"),),
    }
    values.update(overrides)
    return Encounter(**values)


def deidentified(encounter: Encounter) -> Encounter:
    """The encounter marked de-identified with the patient's name and date masked."""
    import dataclasses

    text = encounter.notes[0].text
    name = text.index("Jonas Whitfield")
    date = text.index("03/04/2026")
    return dataclasses.replace(
        encounter, deidentified=True,
        deid_spans=(("n1", name, name + len("Jonas Whitfield"), "NAME"),
                    ("n1", date, date + 10, "DATE")))


@pytest.fixture()
def encounter() -> Encounter:
    """The standard test encounter."""
    return make_encounter()


@pytest.fixture()
def encounter_factory() -> Callable[..., Encounter]:
    """Build variants of the standard encounter."""
    return make_encounter


@pytest.fixture()
def jsettings(tmp_path: Path) -> Settings:
    """Offline settings: private home, BM25-only knowledge base, no reference data."""
    return load_settings(environ={}, home=str(tmp_path / "home"),
                         reference_dir=str(tmp_path / "no-reference"),
                         justify={"kb_dense": "off"})


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "justify"


@pytest.fixture()
def jh() -> Any:
    """Helpers for building test data: span, make, deid, NOTE, FIXTURES."""
    from types import SimpleNamespace

    return SimpleNamespace(span=span, make=make_encounter, deid=deidentified, NOTE=NOTE,
                           FIXTURES=FIXTURES)
