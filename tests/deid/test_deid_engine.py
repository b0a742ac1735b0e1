"""Engine: allow list, exact offsets, the pipeline stage and the offset map."""

from __future__ import annotations

import dataclasses

import pytest

from codeproof.deid.engine import DeidStage, OffsetMap, deidentify_text, is_allowed
from codeproof.errors import ResidualPhiDetected
from codeproof.model import Encounter, Note, SourceRef
from codeproof.pipeline import Pipeline

NOTE = ("Nursing note 3/14/2021\r\nPt is a 93 yo woman from Riverside Hospital. "
        "Dr. Okonkwo aware.\nHPI: CHF, BID lasix, E11.9. BP 120/80.\n"
        "Daughter Priscilla called, phone 617-555-0142.\n")


@pytest.mark.parametrize(
    ("surface", "phi_type", "allowed"),
    [
        ("BID", "NAME", True),
        ("HPI", "NAME", True),
        ("E11.9", "DATE", True),
        ("120/80", "DATE", True),
        ("7/22", "DATE", False),  # borderline: a ratio that is a valid date stays PHI
        ("Okonkwo", "NAME", False),
        ("E11.9", "ID", False),
    ],
)
def test_allow_list(lexicons, surface: str, phi_type: str, allowed: bool) -> None:
    assert is_allowed(surface, phi_type, lexicons) is allowed


def test_spans_index_the_exact_text(engine) -> None:
    spans = engine.analyze(NOTE)
    found = {NOTE[s.start:s.end]: s.type for s in spans}
    assert found == {
        "3/14/2021": "DATE", "93": "AGE", "Riverside": "HOSPITAL", "Okonkwo": "NAME",
        "Priscilla": "NAME", "617-555-0142": "PHONE",
    }
    for token in ("BID", "HPI", "E11.9", "120/80", "CHF"):
        start = NOTE.index(token)
        assert not any(s.start < start + len(token) and start < s.end for s in spans), token


def test_placeholder_result_maps_back(engine) -> None:
    result = deidentify_text(NOTE, engine=engine, operator="placeholder")
    assert "[NAME]" in result.text and "Okonkwo" not in result.text
    assert "\r\n" in result.text  # newlines untouched
    # every placeholder maps back to its original span
    for (new_start, new_end, old_start, old_end) in result.offset_map.segments:
        assert result.offset_map.span_to_original(new_start, new_end) == (old_start, old_end)
    # text outside replacements maps back character for character
    pos = result.text.index("BID")
    orig = result.offset_map.to_original(pos)
    assert NOTE[orig:orig + 3] == "BID"
    start, end = result.offset_map.span_to_original(pos, pos + len("BID lasix"))
    assert NOTE[start:end] == "BID lasix"


def test_offset_map_without_replacements_is_identity() -> None:
    omap = OffsetMap(())
    assert omap.to_original(17) == 17
    assert omap.span_to_original(3, 9) == (3, 9)


def test_residual_phi_is_refused(engine) -> None:
    # spans given by the caller miss the phone number: the re-scan must catch it
    with pytest.raises(ResidualPhiDetected) as info:
        deidentify_text("call 617-555-0142 today", engine=engine, spans=())
    assert info.value.code == "CP-DEID-002"
    assert "617" not in str(info.value)


def _encounter(text: str) -> Encounter:
    return Encounter(id="enc-1", source=SourceRef(format="text", sha256="0" * 64,
                                                  received_at="2026-01-01T00:00:00Z"),
                     notes=(Note(id="n1", text=text),))


def test_stage_records_spans_and_keeps_text(engine) -> None:
    encounter = _encounter(NOTE)
    stage = DeidStage(engine)
    out = Pipeline([stage]).run(encounter)
    assert out.deidentified is True
    assert out.note("n1").text == NOTE
    assert ("n1", NOTE.index("Okonkwo"), NOTE.index("Okonkwo") + 7, "NAME") in out.deid_spans
    masked = out.model_text("n1")
    assert len(masked) == len(NOTE) and "Okonkwo" not in masked and "BID" in masked
    assert out.stages[-1].stage == "deid.engine.v1"
    assert encounter.deid_spans == ()  # input not mutated


def test_disabled_stage_is_a_noop() -> None:
    encounter = dataclasses.replace(_encounter("Dr. Okonkwo"), deidentified=True)
    out = DeidStage(None, enabled=False)(encounter)
    assert out.deidentified is False and out.deid_spans == ()


def test_registry_builds_the_stage(engine) -> None:
    from codeproof.config import Settings
    from codeproof.registrations import get_registry
    from codeproof.runtime import Runtime

    runtime = Runtime(Settings(), **{"deid.engine": engine})
    stage = get_registry("stages").get("deid.engine.v1")(runtime)
    assert stage.name == "deid.engine.v1" and stage.engine is engine
    off = Runtime(Settings.model_validate({"deid": {"enabled": False}}))
    assert get_registry("stages").get("deid.engine.v1")(off).enabled is False
    operators = get_registry("deid_operators")
    assert operators.get("deid.placeholder.v1")(runtime).replace("x", "NAME") == "[NAME]"


def test_context_found_words_propagate_within_a_note(engine) -> None:
    text = ("Plan: transfer to Quartermain 2 today.\nQuartermain aware of plan. "
            "Family from Sacred Heart Memorial called; sacred heart memorial staff to visit.")
    found = {text[s.start:s.end] for s in engine.analyze(text)}
    assert "Quartermain 2" in found and "Quartermain" in found
    assert "sacred heart memorial" in found


def test_presidio_default_registry_still_builds_next_to_ours(engine) -> None:
    """Presidio finds recognizer classes by name; ours must not shadow its defaults."""
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    nlp_engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": "blank"}])
    nlp_engine.nlp = {"en": engine._nlp_engine.nlp["en"]}
    analyzer = AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=["en"])
    names = {r.name for r in analyzer.registry.recognizers}
    assert "DateRecognizer" in names and not any(n.startswith("deid.") for n in names)


def test_cached_lexicons_round_trip(tmp_path, monkeypatch, lexicons) -> None:
    from codeproof.deid import lexicons as lexicons_module

    calls: list[int] = []

    def build() -> object:
        calls.append(1)
        return lexicons

    monkeypatch.setattr(lexicons_module, "load_lexicons", build)
    first = lexicons_module.cached_lexicons(tmp_path)
    second = lexicons_module.cached_lexicons(tmp_path)
    assert calls == [1]  # the second process-equivalent read comes from the pickle
    assert first == second == lexicons
    assert len(list((tmp_path / "cache").glob("deid-lexicons-*.pkl"))) == 1
    assert lexicons_module.cached_lexicons(None) is lexicons  # no directory: no cache
