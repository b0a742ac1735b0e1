"""Evaluation of the coder on coded corpora (CodiEsp dev/train, synthetic US notes).

The notes run through the configured stages up to and including
``coding.assign.v1`` (or only the coder with ``coder_only``); the codes are
written as minimal prediction packages ``DIR/<id>.json`` (``encounter_id`` +
``codes``) and scored by the official CodiEsp scorer in a subprocess. The
reliability table and expected calibration error (ECE) of the emitted codes'
confidences are computed here from the same gold file.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from codeproof.errors import CodingError, ReferenceDataMissing
from codeproof.model import Encounter, Note, Setting, SourceRef, sha256_text

__all__ = [
    "EvalResult",
    "calibration",
    "encounter_from_text",
    "evaluate_folder",
    "read_gold",
    "run_scorer",
    "write_predictions",
]

logger = logging.getLogger(__name__)


def encounter_from_text(doc_id: str, text: str, *, setting: Setting = "outpatient") -> Encounter:
    """A one-note Encounter for a plain-text document (id = file stem)."""
    return Encounter(
        id=doc_id,
        source=SourceRef(format="text", sha256=sha256_text(text),
                         received_at=datetime.now(UTC).isoformat(timespec="seconds"),
                         name=f"{doc_id}.txt"),
        notes=(Note(id=doc_id, text=text),), setting=setting)


def read_gold(path: Path) -> dict[str, set[str]]:
    """``doc<TAB>code`` lines -> doc -> set of codes (upper case, no dots)."""
    gold: dict[str, set[str]] = defaultdict(set)
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 2 and parts[1].strip():
                gold[parts[0]].add(parts[1].strip().upper().replace(".", ""))
    return gold


def write_predictions(encounters: Iterable[Encounter], out: Path) -> int:
    """Write ``out/<id>.json`` with the encounter's codes; return the count."""
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for encounter in encounters:
        codes = [{"system": c.system, "code": c.code, "confidence": c.confidence,
                  "sequence": c.sequence} for c in encounter.codes]
        (out / f"{encounter.id}.json").write_text(
            json.dumps({"encounter_id": encounter.id, "codes": codes}, indent=1),
            encoding="utf-8")
        n += 1
    return n


def run_scorer(scorer: Path, gold: Path, predictions: Path, *, system: str) -> dict[str, Any]:
    """Run the official scorer with ``--json`` and return its numbers."""
    if not scorer.exists():
        raise ReferenceDataMissing(f"scorer not found: {scorer}")
    proc = subprocess.run(
        [sys.executable, str(scorer), str(gold), str(predictions), "--system", system,
         "--json"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise CodingError(f"scorer failed with exit code {proc.returncode}",
                          stderr_tail=proc.stderr[-500:])
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def calibration(encounters: Iterable[Encounter], gold: Mapping[str, set[str]], *,
                system: str, bins: int = 10) -> tuple[float, list[dict[str, float]]]:
    """ECE and reliability table of the emitted codes' confidences."""
    pairs: list[tuple[float, int]] = []
    for encounter in encounters:
        wanted = gold.get(encounter.id, set())
        pairs.extend((c.confidence, int(c.code.replace(".", "").upper() in wanted))
                     for c in encounter.codes if c.system == system)
    table: list[dict[str, float]] = []
    ece = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [(p, y) for p, y in pairs if lo <= p < hi or (b == bins - 1 and p == 1.0)]
        if not inside:
            continue
        conf = sum(p for p, _ in inside) / len(inside)
        acc = sum(y for _, y in inside) / len(inside)
        ece += len(inside) * abs(conf - acc)
        table.append({"bin": round(lo, 2), "n": len(inside), "confidence": round(conf, 4),
                      "accuracy": round(acc, 4)})
    return (round(ece / len(pairs), 4) if pairs else 0.0), table


@dataclass
class EvalResult:
    """Scores of one evaluation run."""

    scores: dict[str, Any]
    ece: float
    reliability: list[dict[str, float]]
    notes: int
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def notes_per_second(self) -> float:
        """Throughput of the coding run (stages only, not the scorer)."""
        return round(self.notes / self.seconds, 2) if self.seconds else 0.0


def evaluate_folder(text_dir: Path, gold_path: Path, *, out: Path, scorer: Path,
                    code: Callable[[Sequence[Encounter]], list[Encounter]],
                    system: str = "ICD-10-CM",
                    settings_of: Mapping[str, Setting] | None = None,
                    default_setting: Setting = "outpatient") -> EvalResult:
    """Code every ``*.txt`` under ``text_dir`` with ``code`` and score it."""
    paths = sorted(text_dir.glob("*.txt"))
    if not paths:
        raise ReferenceDataMissing(f"no .txt notes under {text_dir}")
    encounters = [encounter_from_text(
        p.stem, p.read_text(encoding="utf-8"),
        setting=(settings_of or {}).get(p.stem, default_setting)) for p in paths]
    t0 = time.perf_counter()
    coded = code(encounters)
    seconds = time.perf_counter() - t0
    write_predictions(coded, out)
    scores = run_scorer(scorer, gold_path, out, system=system)
    ece, table = calibration(coded, read_gold(gold_path), system=system)
    logger.info("evaluated %d notes in %.1f s", len(coded), seconds)
    return EvalResult(scores=scores, ece=ece, reliability=table, notes=len(coded),
                      seconds=round(seconds, 2))
