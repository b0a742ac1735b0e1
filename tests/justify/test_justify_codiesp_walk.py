"""Every justification statement of the CodiEsp dev run is grounded.

Walks every package of a ``codeproof code`` run over ``../shared/data/codiesp-en/dev``
(``$CODEPROOF_CODIESP_PACKAGES``, else ``out/codiesp-dev`` at the repo root, which
``codeproof code ../shared/data/codiesp-en/dev/text --out out/codiesp-dev`` writes) and
checks every quote against the note at its offsets, every citation against the
knowledge base or the package's rule findings, and every code a statement names
against the package's decision set. Skips when the data or the run is absent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from codeproof.justify.kb import load_guidelines

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT.parent / "shared" / "data" / "codiesp-en" / "dev"


def _packages() -> list[Path]:
    if not DEV.is_dir():
        pytest.skip("../shared/data/codiesp-en/dev is absent")
    folder = Path(os.environ.get("CODEPROOF_CODIESP_PACKAGES", ROOT / "out" / "codiesp-dev"))
    packages = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not packages:
        pytest.skip(f"no CodiEsp dev run in {folder}: run `codeproof code "
                    "../shared/data/codiesp-en/dev/text --out out/codiesp-dev`")
    return packages


def test_every_statement_of_the_codiesp_dev_run_is_grounded() -> None:
    guideline_citations = {r.citation for r in load_guidelines()}
    problems: list[str] = []
    statements = 0
    for path in _packages():
        package = json.loads(path.read_text(encoding="utf-8"))
        note = DEV / "text" / f"{package['encounter_id']}.txt"
        if not note.exists():
            continue
        texts = {package["notes"][0]["id"]: note.read_text(encoding="utf-8")}
        rules = {f["rule_id"] for f in package.get("findings", [])}
        codes = {c["code"] for c in package["codes"]}
        for code in package["codes"]:
            justification = code.get("justification")
            if justification is None:
                problems.append(f"{path.name}:{code['code']}: no justification")
                continue
            if not justification["grounded"]:
                problems.append(f"{path.name}:{code['code']}: not grounded")
            for statement in justification["statements"]:
                statements += 1
                for ev in statement["evidence"]:
                    text = texts.get(ev["note_id"])
                    if text is None or text[ev["start"]:ev["end"]] != ev["quote"]:
                        problems.append(f"{path.name}:{code['code']}: quote at "
                                        f"{ev['start']}-{ev['end']}")
                for citation in statement["citations"]:
                    if not (citation in guideline_citations or citation in rules
                            or citation.startswith("ICD-10-CM Tabular ")
                            or " policy " in citation):
                        problems.append(f"{path.name}:{code['code']}: citation {citation}")
                for named in statement["codes"]:
                    if named not in codes:
                        problems.append(f"{path.name}:{code['code']}: names {named}")
    assert statements > 0
    assert not problems, problems[:20]
