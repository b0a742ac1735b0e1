"""Issue 6 must-show: walk every package of the CodiEsp dev run and check every quote
and every citation. Skips when ../shared (the evaluation data) is absent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from codeproof.export.package import check_evidence, validate_package

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT.parent / "shared" / "data" / "codiesp-en" / "dev" / "text"


@pytest.fixture(scope="module")
def dev_run(tmp_path_factory: pytest.TempPathFactory, reference_dir: Path) -> Path:
    if not DEV.is_dir():
        pytest.skip("../shared/data/codiesp-en/dev is absent")
    base = tmp_path_factory.mktemp("codiesp")
    env = dict(os.environ, CODEPROOF_HOME=str(base / "home"),
               CODEPROOF_REFERENCE_DIR=str(reference_dir))
    proc = subprocess.run([sys.executable, "-m", "codeproof", "code", str(DEV), "--out",
                           str(base / "out"), "--no-html", "--quiet", "--no-store"],
                          env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return base / "out"


def _valid_citation(citation: str, package: dict, guideline_citations: set[str],
                    terminology: object) -> bool:
    if citation in guideline_citations:
        return True
    if citation.startswith(("ICD-10-CM Tabular ", "ICD-10-PCS Tabular ")):
        return terminology.find(citation.rsplit(" ", 1)[1]) is not None  # type: ignore[attr-defined]
    finding_refs = {f["rule_id"] for f in package["findings"]} | {
        f["citation"] for f in package["findings"]}
    return citation in finding_refs


def test_every_quote_and_citation_of_the_dev_run_is_grounded(dev_run: Path,
                                                             reference_dir: Path) -> None:
    from codeproof.coding.codesets import load_terminology
    from codeproof.justify.kb import load_guidelines

    terminology = load_terminology(reference_dir)
    guideline_citations = {r.citation for r in load_guidelines()}
    packages = sorted(dev_run.glob("*.json"))
    assert len(packages) == 250
    bad: list[str] = []
    statements = 0
    for path in packages:
        package = json.loads(path.read_text(encoding="utf-8"))
        validate_package(package)
        note = (DEV / f"{package['encounter_id']}.txt").read_text(encoding="utf-8")
        bad += [f"{path.name}: {p}" for p in check_evidence(package, {path.stem: note})]
        codes_in_set = {c["code"] for c in package["codes"]}
        for code in package["codes"]:
            just = code["justification"]
            assert just is not None and just["grounded"], f"{path.name} {code['code']}"
            for statement in just["statements"]:
                statements += 1
                for citation in statement["citations"]:
                    if not _valid_citation(citation, package, guideline_citations,
                                           terminology):
                        bad.append(f"{path.name} {code['code']}: unknown citation {citation}")
                for named in statement["codes"]:
                    if named not in codes_in_set:
                        bad.append(f"{path.name} {code['code']}: names {named} not coded")
    assert statements > 0
    assert not bad, bad[:20]
