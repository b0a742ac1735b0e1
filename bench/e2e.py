"""End-to-end bench: `codeproof code` over the 250 CodiEsp dev notes, scored officially.

Prints notes/s and peak RSS of the coding process, the official scorer's output
for diagnoses (devD, ICD-10-CM) and procedures (devP, ICD-10-PCS), the routing
mix, and checks every package against the schema and every evidence quote
against its note. Skips when ../shared is absent.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DEV = SHARED / "data" / "codiesp-en" / "dev"
SCORER = SHARED / "eval" / "score_codiesp.py"


def main() -> int:
    if not DEV.is_dir() or not SCORER.exists():
        print("skipped: ../shared/data/codiesp-en/dev or the scorer is absent")
        return 0
    sys.path.insert(0, str(ROOT / "src"))
    from codeproof.export.package import check_evidence, validate_package

    out = Path(tempfile.mkdtemp(prefix="codeproof-e2e-"))
    home = Path(tempfile.mkdtemp(prefix="codeproof-home-"))
    env = dict(os.environ, CODEPROOF_HOME=str(home),
               CODEPROOF_REFERENCE_DIR=str(ROOT / ".codeproof" / "reference"))
    exe = str(ROOT / ".venv" / "bin" / "codeproof")
    t0 = time.perf_counter()
    proc = subprocess.run([exe, "code", str(DEV / "text"), "--out", str(out), "--quiet"],
                          env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    rss_mb = usage.ru_maxrss / 1024
    packages = sorted(out.glob("*.json"))
    print(f"exit code: {proc.returncode}")
    if proc.returncode not in (0, 2):
        print(proc.stderr[-2000:])
        return 1
    print(f"packages: {len(packages)}")
    print(f"wall seconds (incl. start-up): {wall:.1f}")
    print(f"notes/s (incl. start-up): {len(packages) / wall:.2f}")
    print(f"peak RSS of one coding process: {rss_mb:.0f} MB")
    cpu = usage.ru_utime + usage.ru_stime
    print(f"CPU seconds (all processes): {cpu:.1f}; notes per CPU-second: "
          f"{len(packages) / cpu:.2f}")
    problems = 0
    routing: Counter[str] = Counter()
    for path in packages:
        package = json.loads(path.read_text(encoding="utf-8"))
        validate_package(package)
        note = (DEV / "text" / f"{package['encounter_id']}.txt").read_text(encoding="utf-8")
        problems += len(check_evidence(package, {package["notes"][0]["id"]: note}))
        routing.update(c["routing"] for c in package["codes"])
    print(f"schema-valid packages: {len(packages)}; evidence problems: {problems}")
    print(f"routing: {dict(routing)}")
    for gold, system in (("devD.tsv", "ICD-10-CM"), ("devP.tsv", "ICD-10-PCS")):
        res = subprocess.run([sys.executable, str(SCORER), str(DEV / gold), str(out),
                              "--system", system], capture_output=True, text=True)
        print(f"-- {system} ({gold})")
        print(res.stdout.strip())
    return 0 if problems == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
