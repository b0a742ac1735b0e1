"""Plain-text notes: the file's exact contents are the note text."""

from __future__ import annotations

from codeproof.ingest._common import decode_text, now_iso, require_text, safe_id, sha256_bytes
from codeproof.model import Encounter, Note, Setting, SourceRef

__all__ = ["parse_text"]


def parse_text(data: bytes, *, name: str, encounter_id: str | None = None,
               setting: Setting = "outpatient", tenant: str = "default",
               region: str = "US") -> Encounter:
    """Turn the bytes of a ``.txt`` note into an Encounter with one note."""
    text = require_text(decode_text(data, name=name), name=name)
    enc_id = encounter_id or safe_id(name.rsplit("/", 1)[-1].rsplit(".", 1)[0], fallback="note")
    return Encounter(
        id=enc_id,
        source=SourceRef(format="text", sha256=sha256_bytes(data), received_at=now_iso(),
                         name=name.rsplit("/", 1)[-1]),
        notes=(Note(id=enc_id, text=text),),
        setting=setting,
        tenant=tenant,
        region=region,
    )
