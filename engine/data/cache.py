"""A cache of decoded data sets, so a second run on the same folder starts at once.

The key is a hash of everything the decoded pixels depend on: the spec, the
decode settings, and each file's path, size, modification time and mode. Any
change to the folder gives a new key, so a stale entry is never used. Entries
are plain .npz files (no pickle, loaded with allow_pickle=False), written
atomically under the user data folder; only the newest few are kept.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from engine.storage.atomic import atomic_write
from engine.storage.paths import user_data_dir

KEEP_ENTRIES = 8
_FORMAT = 1   # bump when what is stored changes


def cache_dir(kind: str = "data") -> Path:
    """The folder of one kind of entry: "data" (decoded sets), "doctor" (the data
    doctor's per-picture findings). Each kind keeps its own newest KEEP_ENTRIES, so
    small entries never push a large decoded set out."""
    return user_data_dir() / "cache" / kind


def cache_key(parts: Any) -> str:
    """A stable hash of JSON-able `parts` (spec, settings, file fingerprints)."""
    text = json.dumps([_FORMAT, parts], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def load_entry(key: str, kind: str = "data") -> dict[str, np.ndarray] | None:
    """The arrays stored under `key`, or None (missing or unreadable: rebuild)."""
    path = cache_dir(kind) / f"{key}.npz"
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
        path.touch()  # recently used entries survive pruning
        return arrays
    except (OSError, ValueError, KeyError, EOFError):
        return None


def save_entry(key: str, arrays: dict[str, np.ndarray], kind: str = "data") -> Path | None:
    """Store arrays under `key`; a cache that cannot be written is not an error."""
    folder = cache_dir(kind)
    path = folder / f"{key}.npz"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda tmp: _write_npz(tmp, arrays))
    except OSError:
        return None
    _prune(folder)
    return path


def _write_npz(tmp: Path, arrays: dict[str, np.ndarray]) -> None:
    with open(tmp, "wb") as f:   # a file object: np.savez would append ".npz" to a name
        np.savez(f, **arrays)


def _prune(folder: Path) -> None:
    try:
        entries = sorted(folder.glob("*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[KEEP_ENTRIES:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass
