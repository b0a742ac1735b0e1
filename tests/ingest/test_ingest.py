import base64
import json
from pathlib import Path

import pytest

from codeproof.errors import EmptyNote, IngestError, MalformedInput, UnsupportedFormat
from codeproof.ingest import iter_input_files, parse_bytes, parse_path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _docref(text: str, ctype: str = "text/plain") -> dict:
    return {"resourceType": "DocumentReference", "id": "d1", "status": "current",
            "content": [{"attachment": {"contentType": ctype,
                                        "data": base64.b64encode(text.encode()).decode()}}]}


def test_text_is_exact_file_contents(tmp_path: Path) -> None:
    raw = "Line one\r\nDiabetes  mellitus\n\ttab é\n"
    path = tmp_path / "note-7.txt"
    path.write_bytes(raw.encode("utf-8"))
    encounter = parse_path(path)
    assert encounter.id == "note-7"
    assert encounter.notes[0].text == raw  # no newline or whitespace normalisation
    assert encounter.source.format == "text"


@pytest.mark.parametrize(
    ("name", "data", "error"),
    [
        ("empty.txt", b"", EmptyNote),
        ("blank.txt", b"  \n\t\n", EmptyNote),
        ("latin1.txt", "caf\xe9".encode("latin-1"), MalformedInput),
        ("bad.json", b"{not json", MalformedInput),
        ("list.json", b"[1, 2]", MalformedInput),
        ("patient.json", json.dumps({"resourceType": "Patient"}).encode(), UnsupportedFormat),
        ("norestype.json", b'{"id": "x"}', UnsupportedFormat),
        ("docref-missing-status.json",
         json.dumps({"resourceType": "DocumentReference", "content": []}).encode(),
         MalformedInput),
        ("docref-pdf.json", json.dumps(_docref("x", "application/pdf")).encode(),
         UnsupportedFormat),
        ("docref-empty.json", json.dumps(_docref("   ")).encode(), EmptyNote),
        ("bad.hl7", b"PID|1||x\r", MalformedInput),
        ("notext.hl7", b"MSH|^~\\&|A|B|C|D|20250101||ORU^R01|1|P|2.5\rPID|1\r", EmptyNote),
        ("badseg.hl7", b"MSH|^~\\&|A|B\rbad segment\r", MalformedInput),
        ("bad.xml", b"<ClinicalDocument><unclosed>", MalformedInput),
        ("notcda.xml", b"<html/>", MalformedInput),
        ("empty-cda.xml", b'<ClinicalDocument xmlns="urn:hl7-org:v3"/>', EmptyNote),
    ],
)
def test_bad_inputs_raise_named_errors(name: str, data: bytes, error: type) -> None:
    with pytest.raises(error) as info:
        parse_bytes(data, name=name)
    assert info.value.code.startswith("CP-ING-")
    assert isinstance(info.value, IngestError)


def test_errors_do_not_echo_values() -> None:
    secret = "JOHN-SMITH-555-12-3456"
    bad = _docref("Asthma.")
    bad["date"] = secret  # not a valid instant
    with pytest.raises(MalformedInput) as info:
        parse_bytes(json.dumps(bad).encode(), name="x.json")
    assert secret not in str(info.value)


def test_xxe_is_not_resolved(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    xml = (f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]>'
           '<ClinicalDocument xmlns="urn:hl7-org:v3"><component><structuredBody><component>'
           '<section><title>A</title><text>Asthma &x;</text></section></component>'
           '</structuredBody></component></ClinicalDocument>').encode()
    try:
        encounter = parse_bytes(xml, name="x.xml")
    except IngestError:
        return
    assert "TOPSECRET" not in encounter.notes[0].text


def test_fhir_bundle_demographics_and_setting() -> None:
    encounter = parse_path(EXAMPLES / "fhir_bundle_heart_failure.json")
    assert encounter.id == "fhir_bundle_heart_failure"
    assert encounter.setting == "inpatient"
    assert encounter.demographics.sex == "F"
    assert encounter.demographics.age == 80
    assert encounter.demographics.discharge_status == "01"
    assert encounter.date_of_service == "2025-11-10"
    assert "diastolic" in encounter.notes[0].text
    assert encounter.notes[0].kind == "History and physical note"


def test_single_docref_and_explicit_setting() -> None:
    data = json.dumps(_docref("Asthma.")).encode()
    encounter = parse_bytes(data, name="x.json", setting="inpatient")
    assert encounter.notes[0].text == "Asthma."
    assert encounter.setting == "inpatient"


@pytest.mark.parametrize(
    ("example", "fmt", "setting", "snippet"),
    [
        ("hl7_progress_note.hl7", "hl7v2", "outpatient", "uncomplicated.\nPlan:"),
        ("cda_clinic_note.xml", "cda", "outpatient", "Hyperlipidemia, on atorvastatin."),
        ("office_visit_diabetes.txt", "text", "outpatient", "type 2 diabetes mellitus"),
    ],
)
def test_examples_parse(example: str, fmt: str, setting: str, snippet: str) -> None:
    encounter = parse_path(EXAMPLES / example)
    assert encounter.source.format == fmt
    assert encounter.setting == setting
    assert snippet in encounter.notes[0].text


def test_iter_input_files_expands_folders(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    for name in ("b.txt", "a.json", "sub/c.hl7", "skip.pdf"):
        (tmp_path / name).write_text("x")
    names = [p.name for p in iter_input_files([tmp_path])]
    assert names == ["a.json", "b.txt", "c.hl7"]


def test_unsupported_suffix(tmp_path: Path) -> None:
    path = tmp_path / "x.pdf"
    path.write_bytes(b"%PDF")
    with pytest.raises(UnsupportedFormat):
        parse_path(path)


def test_subject_is_a_keyed_pseudonym_never_the_identifier(tmp_path: Path) -> None:
    from codeproof.security.pseudonym import Pseudonymizer

    keyed = Pseudonymizer.from_file(tmp_path / "keys" / "pseudonym.key")
    assert (tmp_path / "keys" / "pseudonym.key").stat().st_mode & 0o077 == 0

    def pseudonymize(identifier: str) -> str:
        return keyed.subject("t1", identifier)

    bundle = json.loads((EXAMPLES / "fhir_bundle_heart_failure.json").read_text())
    bundle["entry"][0]["resource"]["identifier"] = [{"system": "urn:mrn", "value": "MRN123"}]
    fhir = parse_bytes(json.dumps(bundle).encode(), name="b.json", pseudonymize=pseudonymize)
    assert fhir.subject.startswith("subj-") and "MRN123" not in fhir.subject
    assert fhir.subject == keyed.subject("t1", "urn:mrn|MRN123")
    assert keyed.subject("t2", "urn:mrn|MRN123") != fhir.subject  # per tenant
    hl7 = parse_path(EXAMPLES / "hl7_progress_note.hl7", pseudonymize=pseudonymize)
    assert hl7.subject == keyed.subject("t1", "HOSP|000000")
    assert parse_path(EXAMPLES / "office_visit_diabetes.txt").subject == ""
    other = Pseudonymizer.from_file(tmp_path / "other.key")
    assert other.subject("t1", "urn:mrn|MRN123") != fhir.subject  # keyed, not a plain hash
