"""Justification bench: guideline retrieval recall@5, routing and grounding on CodiEsp dev.

1. Retrieval: a labelled set of general coding questions -> the ICD-10-CM Official
   Guidelines section a coder would cite; recall@1/@5 and MRR for BM25-only and for
   hybrid (BM25 + MiniLM dense) when the dense extra is installed. Needs no shared data.
2. CodiEsp dev (skipped when ../shared is absent): codes the 250 dev notes with
   ``codeproof code`` (or reads packages from $CODEPROOF_BENCH_PACKAGES), then reports
   the share of codes auto-finalized and their precision against devD/devP gold, the
   routing mix, and a grounding walk: every justification statement's quotes against
   the note at their offsets and every citation against the knowledge base / findings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DEV = SHARED / "data" / "codiesp-en" / "dev"

#: question -> acceptable OCG sections (first is the intended one)
QUESTIONS: list[tuple[str, tuple[str, ...]]] = [
    ("patient with history of breast cancer, no current treatment", ("I.C.2.d",)),
    ("lumpectomy last year and still getting adjuvant chemotherapy", ("I.C.2.m",)),
    ("outpatient visit only to receive a chemotherapy infusion", ("I.C.2.e",)),
    ("treatment aimed at liver metastases from a colon primary", ("I.C.2.b",)),
    ("anemia caused by the malignancy treated with transfusion", ("I.C.2.c",)),
    ("note says diabetic but never says which type", ("I.C.4.a",)),
    ("diabetes caused by long-term prednisone", ("I.C.4.a.6",)),
    ("type 2 diabetic who takes insulin every day", ("I.C.4.a",)),
    ("high blood pressure together with congestive heart failure", ("I.C.9.a.1",)),
    ("hypertensive patient with CKD stage 4", ("I.C.9.a.2",)),
    ("hypertension, heart failure and kidney disease all at once", ("I.C.9.a.3",)),
    ("blood pressure 230/130 with hypertensive emergency", ("I.C.9.a.10",)),
    ("STEMI two weeks ago, readmitted for chest pain", ("I.C.9.e",)),
    ("old stroke with residual left-sided weakness and aphasia", ("I.C.9.d",)),
    ("COPD flare-up with worsening dyspnea", ("I.C.10.a",)),
    ("pneumonia that developed while on mechanical ventilation", ("I.C.10.e",)),
    ("suspected avian flu not confirmed", ("I.C.10.d",)),
    ("sepsis from a urinary tract infection with acute kidney failure", ("I.C.1.d",)),
    ("HIV positive patient without symptoms", ("I.C.1.a",)),
    ("pneumonia caused by methicillin resistant staph aureus", ("I.C.1.e",)),
    ("positive SARS-CoV-2 PCR", ("I.C.1.g",)),
    ("probable pneumonia documented at discharge from the hospital", ("II.H", "III.C")),
    ("office visit to rule out strep throat", ("IV.H",)),
    ("femur fracture, visit during the healing phase", ("I.C.19.a",)),
    ("several injuries: which one is listed first", ("I.C.19.b",)),
    ("fracture not described as open or closed", ("I.C.19.c",)),
    ("hives from an antibiotic taken as prescribed", ("I.C.19.e",)),
    ("accidental overdose of an opioid", ("I.C.19.e",)),
    ("fell off a ladder at home: where the accident happened", ("I.C.20",)),
    ("mother and sister had breast cancer", ("I.C.21.c.4",)),
    ("screening colonoscopy in a patient with no symptoms", ("I.C.21.c.5",)),
    ("patient is homeless and lacks food", ("I.C.21.c.17",)),
    ("stage 3 pressure injury on the sacrum", ("I.C.12.a",)),
    ("end stage renal disease on hemodialysis", ("I.C.14.a",)),
    ("fever and cough, no diagnosis established yet", ("I.B.4", "I.C.18.a", "IV.D")),
    ("vomiting in gastroenteritis: code the symptom too?", ("I.B.5", "I.C.18.b")),
    ("pancreatitis described as both acute and chronic", ("I.B.8",)),
    ("one code that captures the disease and its complication", ("I.B.9",)),
    ("two codes that may never be reported together", ("I.A.12.a",)),
    ("body mass index recorded by the dietitian", ("I.B.14",)),
    ("alcohol abuse and alcohol dependence both documented", ("I.C.5.b",)),
    ("vertebral compression fracture due to osteoporosis", ("I.C.13.c",)),
    ("pregnant woman with chronic hypertension", ("I.C.15.a",)),
    ("pre-op clearance exam before knee replacement", ("IV.M",)),
    ("abnormal potassium the physician never commented on", ("III.B",)),
    ("the note does not say right or left", ("I.B.13",)),
]


def _retrieval(dense: bool) -> dict[str, float]:
    from codeproof.justify.kb import KnowledgeBase, load_guidelines

    embedder = None
    if dense:
        from codeproof.justify.embed import MiniLMEmbedder

        embedder = MiniLMEmbedder()
    kb = KnowledgeBase(load_guidelines(), embedder=embedder)
    at1 = at5 = 0
    rr = 0.0
    misses = []
    t0 = time.perf_counter()
    for question, expected in QUESTIONS:
        got = [h.record.citation.removeprefix("ICD-10-CM OCG ")
               for h in kb.search(question, k=10)]
        ranks = [got.index(e) + 1 for e in expected if e in got]
        best = min(ranks) if ranks else None
        at1 += best == 1
        at5 += best is not None and best <= 5
        rr += 1.0 / best if best else 0.0
        if best is None or best > 5:
            misses.append(f"{question!r} -> {expected[0]} (top: {got[:3]})")
    n = len(QUESTIONS)
    ms = (time.perf_counter() - t0) * 1000 / n
    for miss in misses:
        print(f"    miss: {miss}")
    return {"recall@1": at1 / n, "recall@5": at5 / n, "mrr@10": rr / n, "ms/query": ms}


def _norm(code: str) -> str:
    return code.replace(".", "").lower()


def _gold(name: str) -> dict[str, set[str]]:
    gold: dict[str, set[str]] = {}
    for line in (DEV / name).read_text(encoding="utf-8").splitlines():
        if "\t" in line:
            doc, code = line.split("\t")[:2]
            gold.setdefault(doc, set()).add(_norm(code))
    return gold


def _codiesp() -> int:
    from codeproof.justify.kb import load_guidelines

    given = os.environ.get("CODEPROOF_BENCH_PACKAGES")
    if given:
        out = Path(given)
    else:
        out = Path(tempfile.mkdtemp(prefix="codeproof-justify-"))
        home = Path(tempfile.mkdtemp(prefix="codeproof-home-"))
        env = dict(os.environ, CODEPROOF_HOME=str(home),
                   CODEPROOF_REFERENCE_DIR=str(ROOT / ".codeproof" / "reference"))
        t0 = time.perf_counter()
        proc = subprocess.run([str(ROOT / ".venv" / "bin" / "codeproof"), "code",
                               str(DEV / "text"), "--out", str(out), "--no-store",
                               "--no-html"], env=env, capture_output=True, text=True)
        print(f"  codeproof code: exit {proc.returncode}, "
              f"{time.perf_counter() - t0:.1f} s")
        if proc.returncode not in (0, 2):
            # the e2e bench fails loudly on a broken run; here we only measure routing
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            print(f"skipped: codeproof code failed ({last[:200]})")
            return 0
    packages = sorted(out.glob("*.json"))
    if not packages:
        print("  no packages to read")
        return 1
    gold = {"ICD-10-CM": _gold("devD.tsv"), "ICD-10-PCS": _gold("devP.tsv")}
    guideline_citations = {r.citation for r in load_guidelines()}
    routing: Counter[str] = Counter()
    auto_ok: Counter[str] = Counter()
    auto_all: Counter[str] = Counter()
    sampled = 0
    statements = quotes = bad_quotes = citations = bad_citations = bad_codes = 0
    writers: Counter[str] = Counter()
    for path in packages:
        package = json.loads(path.read_text(encoding="utf-8"))
        doc = package["encounter_id"]
        note_file = DEV / "text" / f"{doc}.txt"
        texts = {package["notes"][0]["id"]: note_file.read_text(encoding="utf-8")} \
            if note_file.exists() and package.get("notes") else {}
        rule_ids = {f["rule_id"] for f in package.get("findings", [])}
        code_set = {c["code"] for c in package["codes"]}
        for code in package["codes"]:
            routing[code["routing"]] += 1
            system = code["system"]
            if code["routing"] == "auto_finalize" and system in gold:
                auto_all[system] += 1
                auto_ok[system] += _norm(code["code"]) in gold[system].get(doc, set())
                sampled += bool(code.get("audit_sample"))
            justification = code.get("justification") or {}
            writers[justification.get("writer", "none")] += 1
            for statement in justification.get("statements", []):
                statements += 1
                for ev in statement.get("evidence", []):
                    quotes += 1
                    text = texts.get(ev["note_id"])
                    bad_quotes += text is None or text[ev["start"]:ev["end"]] != ev["quote"]
                for citation in statement.get("citations", []):
                    citations += 1
                    known = (citation in guideline_citations or citation in rule_ids
                             or citation.startswith("ICD-10-CM Tabular ")
                             or " policy " in citation)
                    bad_citations += not known
                bad_codes += len(set(statement.get("codes", [])) - code_set)
    total = sum(routing.values())
    print(f"  packages: {len(packages)}  codes: {total}")
    for name in ("auto_finalize", "coder_review", "cdi_query"):
        print(f"  {name:<14} {routing[name]:>6}  ({routing[name] / max(total, 1):.1%})")
    for system in ("ICD-10-CM", "ICD-10-PCS"):
        n = auto_all[system]
        precision = auto_ok[system] / n if n else float("nan")
        print(f"  auto-finalized {system}: {n} codes, precision vs gold {precision:.3f}")
    print(f"  auto-finalized codes sampled for audit: {sampled}")
    print(f"  writers: {dict(writers)}")
    print(f"  grounding walk: {statements} statements, {quotes} quotes ({bad_quotes} bad), "
          f"{citations} citations ({bad_citations} unknown), {bad_codes} codes outside the "
          "decision set")
    return 0 if bad_quotes == bad_citations == bad_codes == 0 else 1


def main() -> int:
    sys.path.insert(0, str(ROOT / "src"))
    from codeproof.justify.embed import embedder_available

    print(f"guideline retrieval on {len(QUESTIONS)} labelled questions")
    for mode in ("bm25", "hybrid"):
        if mode == "hybrid" and not embedder_available():
            print("  hybrid: skipped (dense extra not installed)")
            continue
        scores = _retrieval(dense=mode == "hybrid")
        print(f"  {mode:<7} recall@1 {scores['recall@1']:.3f}  recall@5 "
              f"{scores['recall@5']:.3f}  MRR@10 {scores['mrr@10']:.3f}  "
              f"{scores['ms/query']:.1f} ms/query")
    if not DEV.is_dir():
        print("skipped: ../shared/data/codiesp-en/dev is absent (routing on CodiEsp dev)")
        return 0
    print("routing and grounding on CodiEsp dev")
    return _codiesp()


if __name__ == "__main__":
    raise SystemExit(main())
