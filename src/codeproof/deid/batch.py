"""Files in, ``<stem>.json`` out: the library behind ``codeproof deid``.

Each input is read as bytes and decoded as UTF-8 without newline translation,
so span offsets index the file's exact text. Output per input:
``{"spans": [{"start", "end", "type"}], "text": "<de-identified text>"}``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from codeproof.deid.engine import DeidEngine, OperatorName, anonymize, residual_check
from codeproof.deid.operators import make_operator
from codeproof.errors import CodeproofError, DeidInputRejected

if TYPE_CHECKING:
    from codeproof.deid.vault import ReidVault

__all__ = ["BatchReport", "collect_inputs", "deidentify_files", "read_exact"]

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class BatchReport:
    """What a batch run wrote and which inputs it rejected (with error codes)."""

    written: list[Path] = field(default_factory=list)
    rejected: list[tuple[Path, CodeproofError]] = field(default_factory=list)


def read_exact(path: Path) -> str:
    """The file's exact text: bytes decoded as UTF-8, newlines untouched."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DeidInputRejected(f"cannot read {path.name}: {exc.strerror}",
                                file=path.name) from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DeidInputRejected(f"{path.name} is not UTF-8 text (byte {exc.start})",
                                file=path.name) from exc


def collect_inputs(inputs: Sequence[Path]) -> list[Path]:
    """Expand directories to their ``*.txt`` files (sorted); keep files as given."""
    out: list[Path] = []
    for item in inputs:
        if item.is_dir():
            out.extend(sorted(p for p in item.iterdir() if p.is_file() and p.suffix == ".txt"))
        else:
            out.append(item)
    return out


def deidentify_files(inputs: Sequence[Path], out_dir: Path, *, engine: DeidEngine,
                     operator: OperatorName = "placeholder", date_shift: bool = False,
                     patient_key: str | None = None, check_residual: bool = True,
                     batch_size: int = 64, vault: ReidVault | None = None,
                     tenant: str = "default") -> BatchReport:
    """De-identify every input into ``out_dir/<stem>.json``.

    With ``vault``, each file's reversible mapping is sealed into the vault under
    ``(tenant, <stem>)`` before the output is written; nothing else keeps it.
    """
    report = BatchReport()
    out_dir.mkdir(parents=True, exist_ok=True)
    op = make_operator(operator)
    files = collect_inputs(inputs)
    for offset in range(0, len(files), batch_size):
        chunk = files[offset:offset + batch_size]
        texts: list[tuple[Path, str]] = []
        for path in chunk:
            try:
                texts.append((path, read_exact(path)))
            except CodeproofError as exc:
                report.rejected.append((path, exc))
        found = engine.analyze_batch([t for _, t in texts])
        for (path, text), spans in zip(texts, found, strict=True):
            key = patient_key if patient_key is not None else path.stem
            try:
                result = anonymize(text, spans, operator=op, patient_key=key,
                                   date_shift=date_shift)
                if check_residual:
                    residual_check(engine, result, name=path.name)
            except CodeproofError as exc:
                report.rejected.append((path, exc))
                continue
            if vault is not None:
                vault.put(tenant=tenant, subject=path.stem, original_text=text, result=result)
            target = out_dir / f"{path.stem}.json"
            target.write_text(json.dumps(result.to_json(), ensure_ascii=False),
                              encoding="utf-8")
            report.written.append(target)
        logger.info("deid: %d/%d files done", min(offset + batch_size, len(files)),
                    len(files))
    return report
