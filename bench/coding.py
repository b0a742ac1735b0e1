"""Bench of the code assignment engine on CodiEsp dev (and the synthetic US set).

Run from the repository root: ``.venv/bin/python bench/coding.py``. Prints:

1. coder stage on the 250 dev notes (ICD-10-CM, then ICD-10-PCS on devP): micro P/R/F1,
   MAP, auto-band precision, ECE + reliability table, notes/s -- under the ``mentions``
   convention the CodiEsp gold is annotated in, then ICD-10-CM under ``ocg`` (the US
   claim code set) to show the convention gap;
2. end-to-end ``codeproof code`` on the same notes with ``coding.convention = mentions``
   (notes/s, peak RSS) scored by the official scorer (``bench/e2e.py`` runs the default
   ``ocg`` convention);
3. the synthetic US set (``codeproof eval-data synthetic``) when it can be generated.

Exits 0 with a ``skipped: ...`` line when ../shared is absent.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
DATA = SHARED / "data" / "codiesp-en"
SCORER = SHARED / "eval" / "score_codiesp.py"
CLI = [sys.executable, "-m", "codeproof"]


def _print_eval(title: str, result: dict[str, object]) -> None:
    scores = result["scores"]
    assert isinstance(scores, dict)
    print(f"== {title}")
    print(f"notes {result['notes']}  notes/s {result['notes_per_second']}")
    print(f"micro P/R/F1 {scores['micro_precision']} / {scores['micro_recall']} / "
          f"{scores['micro_f1']}  MAP {scores['map']}  category F1 "
          f"{scores['category_micro_f1']}")
    print(f"auto band >= {scores['auto_band_threshold']}: precision "
          f"{scores['auto_band_precision']}  n {scores['auto_band_predictions']}  "
          f"coverage {scores['auto_band_coverage_of_gold']}")
    print(f"ECE {result['ece']}")
    print("reliability: bin n confidence accuracy")
    reliability = result["reliability"]
    assert isinstance(reliability, list)
    for row in reliability:
        print(f"  {row['bin']:.1f} {int(row['n']):5d} {row['confidence']:.3f} "
              f"{row['accuracy']:.3f}")


def _eval(args: list[str]) -> dict[str, object] | None:
    proc = subprocess.run([*CLI, "eval", *args, "--json"], capture_output=True, text=True,
                          cwd=ROOT, check=False)
    if proc.returncode != 0:
        print(f"eval {' '.join(args)} failed: {proc.stderr.strip()[-400:]}")
        return None
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def _end_to_end() -> None:
    help_proc = subprocess.run([*CLI, "code", "--help"], capture_output=True, text=True,
                               cwd=ROOT, check=False)
    if help_proc.returncode != 0:
        print("end-to-end: skipped: `codeproof code` is not available")
        return
    with tempfile.TemporaryDirectory(prefix="bench-coding-") as tmp:
        t0 = time.perf_counter()
        proc = subprocess.run([*CLI, "code", str(DATA / "dev" / "text"), "--out", tmp],
                              capture_output=True, text=True, cwd=ROOT, check=False,
                              env={**os.environ, "CODEPROOF_HOME": str(Path(tmp) / "home"),
                                   "CODEPROOF_REFERENCE_DIR": str(ROOT / ".codeproof"
                                                                  / "reference"),
                                   "CODEPROOF_CODING__CONVENTION": "mentions"})
        seconds = time.perf_counter() - t0
        rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        n = len(list(Path(tmp).glob("*.json")))
        print("== end-to-end `codeproof code` on dev, convention mentions (includes start-up)")
        print(f"exit {proc.returncode}  packages {n}  seconds {seconds:.1f}  "
              f"notes/s {n / seconds:.2f}  peak RSS {rss_mb:.0f} MB")
        score = subprocess.run([sys.executable, str(SCORER), str(DATA / "dev" / "devD.tsv"),
                                tmp], capture_output=True, text=True, check=False)
        print(score.stdout.strip())


def main() -> int:
    if not DATA.exists() or not SCORER.exists():
        print("skipped: ../shared/data/codiesp-en or ../shared/eval is absent")
        return 0
    cm = _eval(["codiesp", "--split", "dev", "--coder-only", "--convention", "mentions"])
    if cm:
        _print_eval("coding.assign.v1 on CodiEsp dev, ICD-10-CM (devD), convention mentions",
                    cm)
    pcs = _eval(["codiesp", "--split", "dev", "--system", "ICD-10-PCS", "--coder-only",
                 "--convention", "mentions"])
    if pcs:
        _print_eval("coding.assign.v1 on CodiEsp dev, ICD-10-PCS (devP), convention mentions",
                    pcs)
    ocg = _eval(["codiesp", "--split", "dev", "--coder-only", "--convention", "ocg"])
    if ocg:
        _print_eval("coding.assign.v1 on CodiEsp dev, ICD-10-CM (devD), convention ocg", ocg)
    _end_to_end()
    with tempfile.TemporaryDirectory(prefix="bench-synth-") as tmp:
        gen = subprocess.run([*CLI, "eval-data", "synthetic", "--out", tmp],
                             capture_output=True, text=True, cwd=ROOT, check=False)
        if gen.returncode != 0:
            print("synthetic: skipped: `codeproof eval-data synthetic` failed or is absent")
        else:
            synth = _eval(["synthetic", tmp, "--coder-only"])
            if synth:
                _print_eval("coding.assign.v1 on synthetic US notes", synth)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
