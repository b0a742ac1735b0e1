"""NegEx/ConText kit: codeproof's assertions vs medspaCy default rules; NLP stage speed.

Run from the repository root (``make bench`` does): ``.venv/bin/python bench/negex.py``.

1. Builds ``{"id", "text", "target"}`` lines from ``../shared/data/negex/dev.tsv``,
   answers them with the real CLI (``codeproof assert --in``), and the same
   targets with medspaCy 1.3.1's default English ConText rules (blank spaCy
   tokenizer + PyRuSH sentences, the medspaCy default pipeline), then scores
   both with the official scorer ``../shared/eval/score_negex.py``.
2. Runs the four NLP stages (``nlp.sections.v1`` ... ``nlp.context.v1``) over the
   250 CodiEsp dev notes and prints notes/s (wall and CPU time).

Prints ``skipped: ...`` and exits 0 when ``../shared`` is absent.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
GOLD = SHARED / "data" / "negex" / "dev.tsv"
SCORER = SHARED / "eval" / "score_negex.py"
CODIESP = SHARED / "data" / "codiesp-en" / "dev" / "text"


def _rows() -> list[dict[str, str]]:
    csv.field_size_limit(10**7)
    with GOLD.open(encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def _score(pred: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, str(SCORER), str(GOLD), str(pred), "--json"],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)  # type: ignore[no-any-return]


def _codeproof(rows: list[dict[str, str]], tmp: Path) -> tuple[Path, float, int]:
    inp = tmp / "negex_in.jsonl"
    with inp.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps({"id": row["id"], "text": row["sentence"],
                                "target": row["concept"]}) + "\n")
    pred = tmp / "codeproof.jsonl"
    exe = ROOT / ".venv" / "bin" / "codeproof"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "codeproof"]
    t0 = time.perf_counter()
    done = subprocess.run([*cmd, "assert", "--in", str(inp)], capture_output=True, text=True,
                          cwd=ROOT)
    elapsed = time.perf_counter() - t0
    if done.returncode not in (0, 2):
        raise SystemExit(f"codeproof assert failed: rc={done.returncode}\n{done.stderr}")
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    pred.write_text("\n".join(json.dumps(o) for o in lines if "code" not in o) + "\n",
                    encoding="utf-8")
    errors = sum(1 for o in lines if "code" in o)
    return pred, elapsed, errors


def _medspacy(rows: list[dict[str, str]], tmp: Path) -> tuple[Path, float]:
    from loguru import logger as loguru_logger  # PyRuSH logs every token at DEBUG

    loguru_logger.remove()
    import medspacy

    from codeproof.errors import TargetNotFound
    from codeproof.nlp import find_target

    nlp = medspacy.load()  # default: PyRuSH sentences, target matcher, ConText default rules
    pyrush = nlp.get_pipe("medspacy_pyrush")
    context = nlp.get_pipe("medspacy_context")
    pred = tmp / "medspacy.jsonl"
    t0 = time.perf_counter()
    with pred.open("w", encoding="utf-8") as f:
        for row in rows:
            text = row["sentence"]
            try:
                start, end = find_target(text, row["concept"])
            except TargetNotFound:
                continue
            doc = pyrush(nlp.make_doc(text))
            span = doc.char_span(start, end, label="TARGET", alignment_mode="expand")
            if span is None:
                continue
            doc.ents = [span]
            doc = context(doc)
            ent = doc.ents[0]
            f.write(json.dumps({
                "id": row["id"], "negated": bool(ent._.is_negated),
                "historical": bool(ent._.is_historical),
                "hypothetical": bool(ent._.is_hypothetical),
                "uncertain": bool(ent._.is_uncertain),
                "experiencer": "other" if ent._.is_family else "patient",
            }) + "\n")
    return pred, time.perf_counter() - t0


def _stage_speed() -> None:
    from codeproof.config import load_settings
    from codeproof.model import Encounter, Note, SourceRef, sha256_text
    from codeproof.nlp.engine import NlpEngine, engine_from_runtime
    from codeproof.runtime import Runtime

    files = sorted(CODIESP.glob("*.txt"))
    encounters = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        encounters.append(Encounter(
            id=path.stem, source=SourceRef(format="text", sha256=sha256_text(text),
                                           received_at="2026-01-01T00:00:00Z"),
            notes=(Note(id=path.stem, text=text),)))
    stages = ("nlp.sections.v1", "nlp.sentences.v1", "nlp.mentions.v1", "nlp.context.v1")
    for label, runtime in (
        ("term list only", Runtime(load_settings(environ={}), nlp=NlpEngine())),
        ("term list + ICD-10-CM terminology", Runtime(load_settings())),
    ):
        t0 = time.perf_counter()
        pipeline = runtime.pipeline(stages)
        entries = len(engine_from_runtime(runtime).lexicon)  # build now, not timed below
        build = time.perf_counter() - t0
        w0, c0 = time.perf_counter(), time.process_time()
        mentions = 0
        for encounter in encounters:
            mentions += len(pipeline.run(encounter).mentions)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        print(f"nlp stages [{label}]: {len(encounters)} CodiEsp dev notes, {mentions} mentions; "
              f"{len(encounters) / wall:.1f} notes/s wall, {len(encounters) / cpu:.1f} notes/s "
              f"CPU (1 core); one-off build {build:.1f} s ({entries} lexicon entries)")


def main() -> None:
    if not GOLD.exists() or not SCORER.exists():
        print(f"skipped: {GOLD} or {SCORER} not found")
        return
    sys.path.insert(0, str(ROOT / "src"))
    rows = _rows()
    keys = ("negation_precision", "negation_recall", "negation_f1", "historical_precision",
            "historical_recall", "historical_f1", "experiencer_accuracy")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        ours, ours_s, errors = _codeproof(rows, tmp)
        theirs, theirs_s = _medspacy(rows, tmp)
        ours_score, theirs_score = _score(ours), _score(theirs)
    print(f"negex dev ({len(rows)} rows; scorer {SCORER.name}); codeproof error lines: {errors}")
    print(f"{'metric':24s} {'codeproof':>10s} {'medspacy-default':>17s}")
    for key in keys:
        print(f"{key:24s} {ours_score[key]:>10.4f} {theirs_score[key]:>17.4f}")
    print(f"{'seconds':24s} {ours_s:>10.2f} {theirs_s:>17.2f}  (codeproof incl. CLI start-up)")
    if os.environ.get("CODEPROOF_BENCH_SKIP_SPEED") != "1":
        if CODIESP.exists():
            _stage_speed()
        else:
            print(f"skipped: stage speed ({CODIESP} not found)")


if __name__ == "__main__":
    main()
