"""A disk cache of real-image features, so repeated evaluations (every few
minutes while training, or one per checkpoint) skip the test set's features.

Keyed by the feature network (name and weights) and the exact image bytes, so a
changed data set or evaluator never reuses stale features. The cache is an
optimisation only: an unreadable, corrupt or unwritable cache just means the
features are computed again. Files are plain .npy (loaded without pickle).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from engine.storage.atomic import atomic_write
from engine.storage.paths import user_data_dir


def cache_dir() -> Path:
    return user_data_dir() / "cache" / "features"


def cache_key(extractor_fingerprint: str, images: np.ndarray) -> str:
    digest = hashlib.sha256(extractor_fingerprint.encode())
    digest.update(repr((images.shape, str(images.dtype))).encode())
    digest.update(np.ascontiguousarray(images).data)
    return digest.hexdigest()[:24]


def load_cached(key: str, count: int) -> np.ndarray | None:
    path = cache_dir() / f"{key}.npy"
    try:
        with open(path, "rb") as f:
            features = np.load(f, allow_pickle=False)
    except (OSError, ValueError):
        return None
    if features.ndim != 2 or features.shape[0] != count or features.dtype != np.float32 \
            or not np.isfinite(features).all():
        return None
    return features


def store(key: str, features: np.ndarray) -> None:
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.save(f, np.ascontiguousarray(features, dtype=np.float32), allow_pickle=False)

        atomic_write(folder / f"{key}.npy", write)
    except OSError:
        pass  # a read-only or full disk only costs recomputing next time
