"""The ``codeproof assert`` contract: one JSON line per input, stable error codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codeproof.cli import app

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nlp"
KEYS = {"id", "negated", "historical", "hypothetical", "uncertain", "experiencer"}


def _run(path: Path, *extra: str) -> tuple[int, list[dict[str, object]]]:
    result = CliRunner().invoke(app, ["assert", "--in", str(path), *extra])
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result.exit_code, lines


def test_contract_with_bad_lines() -> None:
    code, lines = _run(FIXTURES / "assert_input.jsonl")
    assert code == 2
    assert [line.get("id") for line in lines] == ["a1", "a2", "a3", "a4", "a5", "a6", None, "a8"]
    answers = {line["id"]: line for line in lines if "code" not in line}
    assert all(set(a) == KEYS for a in answers.values())
    assert answers["a1"]["negated"] is True and answers["a2"]["negated"] is False
    assert answers["a3"]["historical"] is True
    assert answers["a4"]["experiencer"] == "other"
    assert answers["a8"]["hypothetical"] is True
    errors = {line["line"]: line["code"] for line in lines if "code" in line}
    assert errors == {6: "CP-NLP-005", 7: "CP-NLP-004", 8: "CP-NLP-003"}


@pytest.mark.parametrize(("record", "expected"), [
    ({"id": 1, "text": "No cough.", "target": "cough"}, {"negated": True}),
    ({"id": "x", "text": "NO COUGH.", "target": "cough"}, {"negated": True}),
    ({"id": "y", "text": "Cough.", "target": "cough"}, {"negated": False}),
    ({"id": "z", "text": "Cough.", "target": ""}, {"code": "CP-NLP-004"}),
    ({"id": "w", "text": 5, "target": "cough"}, {"code": "CP-NLP-004"}),
    ([1, 2], {"code": "CP-NLP-003"}),
])
def test_single_lines(tmp_path: Path, record: object, expected: dict[str, object]) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    code, lines = _run(path)
    assert len(lines) == 1
    assert {k: lines[0][k] for k in expected} == expected
    assert code == (2 if "code" in expected else 0)


def test_all_good_exit_zero_and_explain(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"id": "e", "text": "Wheezing upon exposure to cats.",
                                "target": "wheezing"}) + "\n", encoding="utf-8")
    code, lines = _run(path, "--explain")
    assert code == 0
    assert lines[0]["conditional"] is True and lines[0]["span"] == [0, 8]
    assert lines[0]["cues"] == [[9, 25, "upon exposure to"]]


def test_missing_file_is_a_clean_error(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "codeproof", "assert", "--in",
                           str(tmp_path / "absent.jsonl")], capture_output=True, text=True)
    assert done.returncode == 1
    assert "CP-NLP-001" in done.stderr and "Traceback" not in done.stderr


def test_exit_code_2_through_real_entry_point() -> None:
    done = subprocess.run([sys.executable, "-m", "codeproof", "assert", "--in",
                           str(FIXTURES / "assert_input.jsonl")], capture_output=True, text=True)
    assert done.returncode == 2
    assert len(done.stdout.splitlines()) == 8


def test_annotate_prints_sections_and_mentions() -> None:
    result = CliRunner().invoke(app, ["annotate", "--in", str(FIXTURES / "discharge_note.txt"),
                                      "--note-id", "n9"])
    assert result.exit_code == 0, result.stdout
    doc = json.loads(result.stdout)
    text = (FIXTURES / "discharge_note.txt").read_text(encoding="utf-8")
    assert doc["note_id"] == "n9" and doc["versions"]["nlp.context_rules"]
    assert "assessment_plan" in [s["name"] for s in doc["sections"]]
    assert all(text[m["start"]:m["end"]] == m["text"] for m in doc["mentions"])
    dvt = next(m for m in doc["mentions"] if m["text"] == "DVT")
    assert dvt["assertion"]["negated"] and dvt["id"].startswith("n9:")
    assert dvt["assertion"]["cues"][0][2] == "was ruled out"


def test_annotate_missing_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["annotate", "--in", str(tmp_path / "none.txt")])
    assert result.exit_code != 0
