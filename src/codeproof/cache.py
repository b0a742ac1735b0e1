"""Build-once caches of derived reference artifacts (compiled lexicons, matchers).

Start-up must stay fast: anything derived from the terminology or from a data
file (a stemmed term index, a phrase trie, a name lexicon) is computed once and
stored under ``<reference_dir>/cache/<name>-<key>.pkl``, where ``key`` digests
everything the artifact depends on (source versions, data-file digests, the
code version of the builder). A changed input gives a new key, so a stale cache
is never read; old files are removed when a new one is written.

*Trust decision:* the cache uses pickle because these are large Python object
graphs that must load in milliseconds. The files are written only by codeproof
itself into the reference directory, which is as trusted as the code; never point
``reference_dir`` at files from elsewhere. A corrupt or unreadable file is rebuilt.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

__all__ = ["cache_key", "cached"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


def cache_key(*parts: object) -> str:
    """A short stable digest of ``parts`` (strings, numbers, bytes, paths' contents)."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            digest.update(part.read_bytes() if part.is_file() else str(part).encode())
        elif isinstance(part, bytes):
            digest.update(part)
        else:
            digest.update(repr(part).encode())
        digest.update(b"\x00")
    return digest.hexdigest()[:16]


def cached(directory: Path | None, name: str, key: str, build: Callable[[], T]) -> T:
    """Return the artifact ``name`` for ``key`` from ``directory``, building it once.

    ``directory`` None disables caching (the artifact is built every time).
    """
    if directory is None:
        return build()
    folder = Path(directory) / "cache"
    path = folder / f"{name}-{key}.pkl"
    if path.exists():
        try:
            with path.open("rb") as handle:
                return pickle.load(handle)  # type: ignore[no-any-return]  # noqa: S301
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            logger.warning("cache %s unreadable; rebuilding", path.name)
    value = build()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=folder)
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        for old in folder.glob(f"{name}-*.pkl"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError as exc:  # a read-only reference dir still works, just slower
        logger.warning("cannot write cache %s: %s", path.name, exc.strerror)
    return value
