"""Bench: validate 10,000 synthetic claims with every rule family; report claims/s.

Run from the repository root: ``.venv/bin/python bench/rules.py [--claims N] [--workers W]``.
The claims are synthetic (no shared data is needed): 70% outpatient professional
claims (ICD-10-CM + CPT/HCPCS lines with modifiers and units, a short note) and
30% inpatient claims (principal + secondary diagnoses + ICD-10-PCS), drawn with a
fixed seed from code pools. NCCI uses the small CMS-layout fixture tables of the
test suite. The terminology is the compiled store (built first if missing).
Set-up (loading packs, the grouper, HCC tables) is timed separately from validation.
Target: >= 1,000 claims/s on 2 cores.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from codeproof.model import (  # noqa: E402
    CodeAssignment,
    Demographics,
    Encounter,
    Evidence,
    Note,
    SourceRef,
)

OUT_DX = ["E11.9", "E11.22", "E11.65", "I10", "E78.5", "N18.4", "J44.9", "M17.11", "R51.9",
          "I50.9", "F32.A", "K21.9", "E10.9", "Z79.4", "I48.91", "M54.50", "J45.909", "E03.9",
          "N40.0", "O99.891", "S72.001", "E11", "G30.9", "F02.80", "E66.01", "Z68.41"]
IN_PDX = ["I50.9", "J18.9", "A41.9", "I21.4", "N17.9", "K56.609", "J44.1", "I63.9",
          "S72.001A", "M17.11", "K80.00", "I48.91", "G01", "I10"]
IN_SDX = ["N18.4", "E43", "E87.1", "D62", "J96.01", "E11.22", "I10", "E78.5", "N18.9",
          "I50.9", "F03.90", "G93.41", "Z79.4", "E66.01", "J44.9"]
PCS = ["0SRC0J9", "0DTJ4ZZ", "5A1935Z", "02100Z9", "0FT44ZZ", "B2151ZZ"]
LINES = ["99213", "99214", "99214-25", "99215", "20610", "20610-RT", "93000", "93005",
         "83036", "80061", "85025", "97110*4", "97110*8", "11042", "97597-XS", "36415",
         "G0121", "99497", "15823", "99396", "93000-76"]
PHRASES = ["stable, continue current medication 10 mg", "A1c reviewed, increase dose",
           "worsening, labs ordered", "follow-up in 3 months", "noted in past history"]


def make_claims(n: int, seed: int = 7) -> list[Encounter]:
    """Deterministic synthetic claims."""
    rng = random.Random(seed)
    claims: list[Encounter] = []
    for i in range(n):
        inpatient = rng.random() < 0.3
        dx = [rng.choice(IN_PDX)] + rng.sample(IN_SDX, rng.randint(1, 5)) if inpatient \
            else rng.sample(OUT_DX, rng.randint(1, 5))
        parts: list[str] = []
        codes: list[CodeAssignment] = []
        offset = 0
        for seq, value in enumerate(dict.fromkeys(dx), start=1):
            phrase = f"Problem {seq}: condition {value} - {rng.choice(PHRASES)}. "
            start = offset + phrase.index("condition")
            quote = f"condition {value}"
            parts.append(phrase)
            offset += len(phrase)
            codes.append(CodeAssignment(
                system="ICD-10-CM", code=value, description="", confidence=0.9,
                evidence=(Evidence(note_id="n1", start=start, end=start + len(quote),
                                   quote=quote),),
                rationale="bench", sequence=seq))
        if inpatient:
            for value in rng.sample(PCS, rng.randint(0, 2)):
                codes.append(CodeAssignment(system="ICD-10-PCS", code=value, description="",
                                            confidence=0.9, evidence=(), rationale="bench"))
        if rng.random() < 0.2:
            parts.append("Patient appears malnourished. ")
        lines = () if inpatient else tuple(rng.sample(LINES, rng.randint(1, 4)))
        claims.append(Encounter(
            id=f"bench-{i}",
            source=SourceRef(format="bench", sha256="0" * 64, received_at="2026-01-01T00:00:00Z"),
            notes=(Note(id="n1", text="".join(parts)),),
            setting="inpatient" if inpatient else "outpatient",
            demographics=Demographics(age=rng.randint(1, 95), sex=rng.choice("MF"),
                                      discharge_status="01"),
            date_of_service=f"2026-{rng.randint(1, 6):02d}-{rng.randint(1, 28):02d}",
            payer=rng.choice(["medicare", None]),
            place_of_service=rng.choice(["11", "22", None]),
            procedures_billed=lines,
            codes=tuple(codes),
        ))
    return claims


def _validator():  # type: ignore[no-untyped-def]
    from codeproof.coding.codesets import load_terminology
    from codeproof.config import load_settings
    from codeproof.rules.engine import Validator, build_context

    settings = load_settings(environ={})
    terminology = load_terminology(settings.reference_path, build_if_missing=True)
    source = "compiled store " + terminology.versions.get("icd10cm", "")
    context = build_context(terminology=terminology,
                            ncci_dir=ROOT / "tests" / "fixtures" / "rules" / "ncci")
    return Validator(context, strict=False), source


def _worker(args: tuple[int, int, int]) -> tuple[float, int, dict[str, float]]:
    start, stop, total = args
    validator, _ = _validator()
    claims = make_claims(total)[start:stop]
    for claim in claims[:20]:  # warm caches outside the timing
        validator.validate(claim)
    t0 = time.perf_counter()
    c0 = time.process_time()
    for claim in claims:
        validator.validate(claim)
    return time.perf_counter() - t0, len(claims), {"cpu": time.process_time() - c0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    t0 = time.perf_counter()
    validator, source = _validator()
    setup = time.perf_counter() - t0
    claims = make_claims(args.claims)
    t0 = time.perf_counter()
    c0 = time.process_time()
    severities: Counter[str] = Counter()
    for claim in claims:
        for item in validator.validate(claim):
            severities[item.severity] += 1
    single = time.perf_counter() - t0
    cpu = time.process_time() - c0
    print(f"rules bench: {args.claims} synthetic claims (terminology: {source}; "
          f"set-up {setup:.1f} s)")
    print(f"  machine load average: {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} cores (wall-clock rates drop when the machine is shared)")
    print(f"  1 process : {args.claims / single:,.0f} claims/s wall ({single:.2f} s); "
          f"{args.claims / cpu:,.0f} claims per CPU-second ({1000 * cpu / args.claims:.2f} "
          "ms CPU/claim)")
    print(f"  findings  : {dict(severities)}")
    if args.workers > 1:
        step = -(-args.claims // args.workers)
        chunks = [(i, min(i + step, args.claims), args.claims)
                  for i in range(0, args.claims, step)]
        with mp.get_context("spawn").Pool(args.workers) as pool:
            results = pool.map(_worker, chunks)
        wall = max(r[0] for r in results)
        done = sum(r[1] for r in results)
        cpu_rate = sum(r[1] / r[2]["cpu"] for r in results)
        print(f"  {args.workers} processes: {done / wall:,.0f} claims/s wall (validation "
              f"{wall:.2f} s; set-up excluded); {cpu_rate:,.0f} claims/s on "
              f"{args.workers} dedicated cores (sum of per-worker claims per CPU-second)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
