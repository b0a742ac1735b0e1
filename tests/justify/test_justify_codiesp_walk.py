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

from codeproof.justify.verify import package_grounding_problems

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
    problems: list[str] = []
    statements = 0
    for path in _packages():
        package = json.loads(path.read_text(encoding="utf-8"))
        note = DEV / "text" / f"{package['encounter_id']}.txt"
        if not note.exists():
            continue
        texts = {package["notes"][0]["id"]: note.read_text(encoding="utf-8")}
        statements += sum(len((c.get("justification") or {}).get("statements", []))
                          for c in package["codes"])
        problems += package_grounding_problems(package, texts)
    assert statements > 0
    assert not problems, problems[:20]
