"""Readers for the CodiEsp corpus layout (``<split>/text/*.txt`` + ``<split>D.tsv``)."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from codeproof.errors import ReferenceDataMissing

__all__ = ["CorpusDoc", "load_codiesp"]


@dataclass(frozen=True, slots=True)
class CorpusDoc:
    """A coded note: id, text, gold diagnosis and procedure codes (canonical)."""

    id: str
    text: str
    diagnoses: frozenset[str]
    procedures: frozenset[str]


def _canonical(code: str) -> str:
    return code.strip().upper()


def _gold(path: Path) -> dict[str, set[str]]:
    gold: dict[str, set[str]] = defaultdict(set)
    if not path.exists():
        return gold
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 2 and parts[1].strip():
                gold[parts[0]].add(_canonical(parts[1]))
    return gold


def load_codiesp(root: Path, split: str) -> tuple[list[CorpusDoc], str]:
    """Load ``root/<split>``; return the docs (sorted by id) and a digest of the split."""
    folder = root / split
    text_dir = folder / "text"
    if not text_dir.is_dir():
        raise ReferenceDataMissing(f"CodiEsp split not found: {folder}", split=split)
    diagnoses = _gold(folder / f"{split}D.tsv")
    procedures = _gold(folder / f"{split}P.tsv")
    digest = hashlib.sha256()
    docs = []
    for path in sorted(text_dir.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        digest.update(path.name.encode())
        digest.update(text.encode())
        docs.append(CorpusDoc(id=path.stem, text=text,
                              diagnoses=frozenset(diagnoses.get(path.stem, ())),
                              procedures=frozenset(procedures.get(path.stem, ()))))
    for name in (f"{split}D.tsv", f"{split}P.tsv"):
        if (folder / name).exists():
            digest.update((folder / name).read_bytes())
    return docs, digest.hexdigest()
