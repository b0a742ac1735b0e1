"""CLI surface of the coding commands (no ../shared needed, except the skipped eval)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from codeproof.cli import app

runner = CliRunner()
SHARED = Path(__file__).resolve().parents[2].parent / "shared"


@pytest.mark.parametrize("args", [["train", "--help"], ["eval", "codiesp", "--help"],
                                  ["eval", "synthetic", "--help"]])
def test_help(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "--" in result.output


@pytest.mark.parametrize(("args", "code"), [
    (["eval", "codiesp", "--split", "../dev"], "CP-CFG-001"),
    (["eval", "codiesp", "--split", "test", "--data", "/nonexistent"], "CP-REF-002"),
    (["eval", "codiesp", "--system", "CPT"], "CP-CFG-001"),
    (["eval", "codiesp", "--data", "/nonexistent", "--coder-only"], "CP-REF-002"),
    (["train", "--data", "/nonexistent"], "CP-REF-002"),
])
def test_errors_have_codes(args: list[str], code: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code != 0
    assert getattr(result.exception, "code", None) == code


def test_eval_codiesp_any_split(tmp_path: Path) -> None:
    """A held-out split (e.g. test) is scored by the same command as dev."""
    scorer = SHARED / "eval" / "score_codiesp.py"
    if not scorer.exists():
        pytest.skip("../shared/eval/score_codiesp.py is absent")
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "coding" / "synthetic"
    split = tmp_path / "data" / "test"
    (split / "text").mkdir(parents=True)
    for note in (fixture / "text").glob("*.txt"):
        (split / "text" / note.name).write_text(note.read_text(encoding="utf-8"),
                                                encoding="utf-8")
    (split / "testD.tsv").write_text((fixture / "gold.tsv").read_text(encoding="utf-8"),
                                     encoding="utf-8")
    result = runner.invoke(app, ["eval", "codiesp", "--split", "test", "--data",
                                 str(tmp_path / "data"), "--scorer", str(scorer),
                                 "--coder-only", "--json"])
    assert result.exit_code == 0, result.output
    assert '"micro_f1"' in result.output


def test_eval_synthetic_on_fixture(tmp_path: Path) -> None:
    scorer = SHARED / "eval" / "score_codiesp.py"
    if not scorer.exists():
        pytest.skip("../shared/eval/score_codiesp.py is absent")
    folder = Path(__file__).resolve().parents[1] / "fixtures" / "coding" / "synthetic"
    result = runner.invoke(app, ["eval", "synthetic", str(folder), "--scorer", str(scorer),
                                 "--coder-only", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "micro P/R/F1" in result.output and "ECE" in result.output
    assert sorted(p.name for p in tmp_path.glob("*.json")) == ["s1.json", "s2.json",
                                                               "s3.json"]
