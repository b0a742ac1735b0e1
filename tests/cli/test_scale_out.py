"""Batch scale-out: worker processes and Ray actors give the same packages as one process,
and the single writer keeps the audit chain whole."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from codeproof.config import load_settings
from codeproof.run import code_paths
from codeproof.runtime import Runtime

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["office_visit_diabetes.txt", "hl7_progress_note.hl7", "cda_clinic_note.xml"]


def _codes(out: Path) -> dict[str, list[tuple[str, float, str]]]:
    result = {}
    for path in sorted(out.glob("*.json")):
        package = json.loads(path.read_text())
        result[path.stem] = [(c["code"], c["confidence"], c["routing"])
                             for c in package["codes"]]
    return result


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("scale-in")
    for name in NAMES:
        shutil.copy(ROOT / "examples" / name, folder / name)
    (folder / "broken.json").write_text("{")
    return folder


@pytest.fixture(scope="module")
def baseline(inputs: Path, tmp_path_factory: pytest.TempPathFactory,
             reference_dir: Path) -> dict[str, list[tuple[str, float, str]]]:
    base = tmp_path_factory.mktemp("scale-base")
    runtime = Runtime(load_settings(environ={}, home=str(base / "home"),
                                    reference_dir=str(reference_dir)))
    report = code_paths(runtime, [inputs], base / "out", persist=False, html=False)
    assert len(report.coded) == 3 and len(report.rejected) == 1
    return _codes(base / "out")


@pytest.mark.parametrize("executor", ["process", "ray"])
def test_parallel_equals_single_process(executor: str, inputs: Path, baseline: dict,
                                        tmp_path: Path, reference_dir: Path) -> None:
    if executor == "ray" and importlib.util.find_spec("ray") is None:
        pytest.skip("ray is not installed (the 'ray' extra)")
    runtime = Runtime(load_settings(environ={}, home=str(tmp_path / "home"),
                                    reference_dir=str(reference_dir)))
    report = code_paths(runtime, [inputs], tmp_path / "out", workers=2, executor=executor,
                        html=False)
    assert sorted(report.coded) == sorted(baseline)
    assert [r[1] for r in report.rejected] == ["CP-ING-003"]
    assert _codes(tmp_path / "out") == baseline
    from codeproof.audit.log import open_audit_log

    verdict = open_audit_log(runtime.settings).verify()
    assert verdict.ok, verdict
