"""End-to-end: `codeproof code` over the bundled examples (all formats) and bad inputs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codeproof.export.package import check_evidence, validate_package
from codeproof.ingest import parse_path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def _run(args: list[str], home: Path, reference_dir: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, CODEPROOF_HOME=str(home), CODEPROOF_REFERENCE_DIR=str(reference_dir))
    return subprocess.run([sys.executable, "-m", "codeproof", *args], capture_output=True,
                          text=True, env=env, cwd=str(home.parent), timeout=600)


@pytest.fixture(scope="module")
def coded(tmp_path_factory: pytest.TempPathFactory, reference_dir: Path) -> tuple[Path, Path,
                                                                                     str]:
    base = tmp_path_factory.mktemp("e2e")
    inputs = base / "in"
    shutil.copytree(EXAMPLES, inputs)
    (inputs / "broken.json").write_text("{not json")
    (inputs / "empty.txt").write_text("   \n")
    proc = _run(["code", str(inputs), "--out", str(base / "out")], base / "home", reference_dir)
    return base, inputs, proc.stdout + "\n" + proc.stderr + f"\nEXIT={proc.returncode}"


def test_exit_code_and_rejections_named(coded: tuple[Path, Path, str]) -> None:
    _, _, output = coded
    assert "EXIT=2" in output, output[-3000:]
    assert "broken.json: [CP-ING-003]" in output
    assert "empty.txt: [CP-ING-004]" in output
    assert "Traceback" not in output
    assert "encounters coded" in output  # the summary table


def test_every_example_has_a_valid_grounded_package(coded: tuple[Path, Path, str]) -> None:
    base, inputs, _ = coded
    out = base / "out"
    examples = sorted(p for p in EXAMPLES.iterdir() if p.is_file())
    for example in examples:
        package = json.loads((out / f"{example.stem}.json").read_text(encoding="utf-8"))
        validate_package(package)
        encounter = parse_path(inputs / example.name)
        assert check_evidence(package, {n.id: n.text for n in encounter.notes}) == []
        assert (out / f"{example.stem}.html").exists()
        for code in package["codes"]:
            assert code["evidence"], f"{example.name}: {code['code']} has no evidence"
            assert code["routing"] in {"auto_finalize", "coder_review", "cdi_query"}
    assert not (out / "broken.json").exists()


def test_text_quotes_are_the_files_exact_contents(coded: tuple[Path, Path, str]) -> None:
    base, inputs, _ = coded
    package = json.loads((base / "out" / "office_visit_diabetes.json").read_text())
    raw = (inputs / "office_visit_diabetes.txt").read_bytes().decode("utf-8")
    codes = {c["code"] for c in package["codes"]}
    assert any(code.startswith("E11") for code in codes), codes
    for code in package["codes"]:
        for ev in code["evidence"]:
            assert raw[ev["start"]:ev["end"]] == ev["quote"]


def test_negated_and_family_mentions_are_not_coded_as_present(
        coded: tuple[Path, Path, str]) -> None:
    base, _, _ = coded
    package = json.loads((base / "out" / "office_visit_diabetes.json").read_text())
    codes = {c["code"] for c in package["codes"]}
    assert "R07.9" not in codes  # "Denies chest pain"
    assert not any(code.startswith("C18") for code in codes)  # mother's colon cancer


def test_resume_skips_done_inputs(coded: tuple[Path, Path, str], reference_dir: Path) -> None:
    base, inputs, _ = coded
    proc = _run(["code", str(inputs / "office_visit_diabetes.txt"), "--out", str(base / "out"),
                 "--resume"], base / "home", reference_dir)
    assert proc.returncode == 0, proc.stderr
    assert "encounters skipped (resume)" in proc.stdout
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("encounters skipped"))
    assert line.split()[-1] == "1"


def test_audit_chain_verifies_after_the_batch(coded: tuple[Path, Path, str],
                                              reference_dir: Path) -> None:
    base, _, _ = coded
    proc = _run(["audit", "verify"], base / "home", reference_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_empty_folder_warns_without_loading_models(tmp_path: Path,
                                                    reference_dir: Path) -> None:
    (tmp_path / "in").mkdir()
    proc = _run(["code", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "-q"],
                tmp_path / "home", reference_dir)
    assert proc.returncode == 0
    assert "no input files" in proc.stderr
