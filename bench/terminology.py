"""Terminology bench: build time, load time, lookups/s, full iteration time.

Builds the full store (ICD-10-CM FY2026, ICD-10-PCS FY2024, ICD-11 titles, and the
WHO ICD-10 -> ICD-11 map when ../shared/data/icd11 exists) into a temporary
folder, then measures loading in this process and in a fresh process, random
lookups with and without the per-instance cache, and iteration over every
billable ICD-10-CM code. Needs no shared data (the ICD-11 map is optional).
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_ICD11 = ROOT.parent / "shared" / "data" / "icd11"


def main() -> int:
    sys.path.insert(0, str(ROOT / "src"))
    from codeproof.coding.codesets import ICD10PCS, Terminology, build_terminology
    from codeproof.coding.codesets.build import DB_NAME

    workdir = Path(tempfile.mkdtemp(prefix="codeproof-terminology-bench-"))
    icd11 = SHARED_ICD11 if (SHARED_ICD11 / "10To11MapToOneCategory.txt").is_file() else None
    t0 = time.perf_counter()
    folder = build_terminology(workdir, icd11_dir=icd11)
    build_s = time.perf_counter() - t0
    database = folder / DB_NAME
    size_mb = database.stat().st_size / 1e6
    print(f"build: {build_s:.1f} s ({size_mb:.0f} MB; ICD-11 map: "
          f"{'WHO tables from ../shared' if icd11 else 'absent'})")

    loads = []
    for _ in range(20):
        t0 = time.perf_counter()
        terminology = Terminology(database)
        terminology.get("E11.9")
        loads.append(time.perf_counter() - t0)
        terminology.close()
    print(f"load (open + versions + first lookup), in process: median "
          f"{statistics.median(loads) * 1000:.1f} ms, max {max(loads) * 1000:.1f} ms")

    script = ("import time; t=time.perf_counter(); "
              "from codeproof.coding.codesets import load_terminology; "
              f"x=load_terminology({str(workdir)!r}); x.get('E11.9'); "
              "print(time.perf_counter()-t)")
    fresh = [float(subprocess.run([sys.executable, "-c", script], check=True, text=True,
                                  capture_output=True, cwd=ROOT).stdout) for _ in range(3)]
    print(f"load in a fresh process (import codeproof.coding.codesets + load + lookup): "
          f"median {statistics.median(fresh) * 1000:.0f} ms")

    terminology = Terminology(database)
    codes = [code for code, _title, _terms in terminology.texts()]
    pcs = [code for code, _title, _terms in terminology.texts(ICD10PCS)]
    rng = random.Random(7)
    sample = rng.sample(codes, 10_000)
    cold = Terminology(database)
    t0 = time.perf_counter()
    for code in sample:
        cold.get(code)
    cold_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for code in sample:
        cold.get(code)
    warm_s = time.perf_counter() - t0
    print(f"get(): {len(sample) / cold_s:,.0f} lookups/s uncached, "
          f"{len(sample) / warm_s:,.0f} lookups/s cached (10,000 random billable ICD-10-CM)")
    mixed = rng.sample(codes, 2_000) + rng.sample(pcs, 2_000) + ["99213", "1A00", "E11.99"] * 100
    t0 = time.perf_counter()
    for code in mixed:
        cold.find(code)
    print(f"find(): {len(mixed) / (time.perf_counter() - t0):,.0f} lookups/s "
          "(system inferred; CM, PCS, CPT, ICD-11, unknown)")
    t0 = time.perf_counter()
    for code in rng.sample(codes, 2_000):
        cold.notes_inherited(code, "excludes1")
    print(f"notes_inherited(excludes1): {2_000 / (time.perf_counter() - t0):,.0f} codes/s")

    fresh_term = Terminology(database)
    t0, c0 = time.perf_counter(), time.process_time()
    n = sum(1 for _ in fresh_term.codes())
    codes_s, codes_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    m = sum(1 for _ in fresh_term.texts())
    texts_s, texts_cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"codes(): {n:,} billable ICD-10-CM CodeInfo in {codes_s:.2f} s wall "
          f"({codes_cpu:.2f} s CPU); texts(): {m:,} (code, title, inclusion terms) in "
          f"{texts_s:.2f} s wall ({texts_cpu:.2f} s CPU)")
    print(f"load average during the bench: {os.getloadavg()[0]:.1f} (2 cores)")
    synthetic(workdir)
    return 0


def synthetic(workdir: Path) -> None:
    """Generate the synthetic US set (n=100, seed 7) and score `codeproof code` on it."""
    try:
        import clinosim  # noqa: F401
    except ImportError:
        print("synthetic US set: skipped: clinosim is not installed (extra 'synthetic')")
        return
    from codeproof.evalsets import write_synthetic_set

    out = workdir / "synthetic-us"
    summary = write_synthetic_set(out, n=100, seed=7)
    print(f"synthetic US set: {summary.notes} notes, {summary.codes} gold codes in "
          f"{summary.seconds:.0f} s (codeproof eval-data synthetic --n 100 --seed 7)")
    scorer = ROOT.parent / "shared" / "eval" / "score_codiesp.py"
    if not scorer.is_file():
        print("synthetic US scores: skipped: ../shared/eval/score_codiesp.py is absent")
        return
    packages = workdir / "synthetic-packages"
    env = dict(os.environ, CODEPROOF_HOME=str(workdir / "home"),
               CODEPROOF_REFERENCE_DIR=str(ROOT / ".codeproof" / "reference"))
    t0 = time.perf_counter()
    proc = subprocess.run([str(ROOT / ".venv" / "bin" / "codeproof"), "code", str(out / "text"),
                           "--out", str(packages)], env=env, cwd=ROOT, text=True,
                          capture_output=True)
    seconds = time.perf_counter() - t0
    if proc.returncode not in (0, 2):
        reason = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        print(f"synthetic US scores: skipped: `codeproof code` failed ({reason})")
        return
    print(f"synthetic US set coded in {seconds:.1f} s ({summary.notes / seconds:.1f} notes/s)")
    scored = subprocess.run([sys.executable, str(scorer), str(out / "gold.tsv"), str(packages)],
                            text=True, capture_output=True)
    print(scored.stdout.rstrip() or scored.stderr.rstrip())


if __name__ == "__main__":
    raise SystemExit(main())
