"""Data specs ("mnist", "idx:PATH") and the images they name."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.data.idx import read_idx
from engine.errors import DataError
from resources import resource_path

# Specs a user can type today; the GUI lists these in its data picker.
DATA_SOURCES = {
    "mnist": "MNIST digits (bundled, 60,000 training images)",
    "idx:PATH": "MNIST-format IDX files in a folder (e.g. Fashion-MNIST)",
}


@dataclass(frozen=True)
class ImageSet:
    """A whole data set in memory: images as uint8 (N, C, H, W), or (N, T, C, H, W)
    for image sequences; integer class labels (N,) or None, with their names."""

    name: str
    images: np.ndarray
    labels: np.ndarray | None
    class_names: tuple[str, ...] | None = None

    @property
    def channels(self) -> int:
        return int(self.images.shape[-3])

    @property
    def size(self) -> int:
        return int(self.images.shape[-1])

    @property
    def frames(self) -> int | None:
        """Frames per sequence, or None for still images."""
        return int(self.images.shape[1]) if self.images.ndim == 5 else None

    @property
    def num_classes(self) -> int:
        if self.labels is None:
            return 0
        return len(self.class_names) if self.class_names else int(self.labels.max()) + 1

    def __len__(self) -> int:
        return int(self.images.shape[0])


def load_data(spec: str, split: str = "train") -> ImageSet:
    """Load the data set a spec names. split is "train" or "test"."""
    spec = (spec or "").strip()
    if split not in ("train", "test"):
        raise DataError(f"unknown split {split!r}; use 'train' or 'test'")
    if spec == "mnist":
        return _bundled_mnist(split)
    if spec.startswith("idx:"):
        folder = Path(spec[4:]).expanduser()
        return _load_idx_folder(folder, split, name=spec)
    known = ", ".join(DATA_SOURCES)
    raise DataError(f"unknown data spec {spec!r}; known: {known}")


@functools.lru_cache(maxsize=2)
def _bundled_mnist(split: str) -> ImageSet:
    # The bundled files never change, so a second run in the same app starts
    # without decompressing them again. The arrays are read-only views.
    return _load_idx_folder(resource_path("data", "mnist"), split, name="mnist")


def _find(folder: Path, stem: str) -> Path:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.exists():
            return candidate
    raise DataError(f"{folder}: no {stem}[.gz] found")


def _load_idx_folder(folder: Path, split: str, name: str) -> ImageSet:
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder")
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(_find(folder, f"{prefix}-images-idx3-ubyte"))
    if images.ndim != 3:
        raise DataError(f"{folder}: {prefix} images have shape {images.shape}, expected (N, H, W)")
    if images.shape[0] == 0:
        raise DataError(f"{folder}: the {prefix} images file contains no images")
    labels_path = None
    try:
        labels_path = _find(folder, f"{prefix}-labels-idx1-ubyte")
    except DataError:
        labels = None  # labels are optional: unconditional models do not need them
    if labels_path is not None:
        labels = read_idx(labels_path)
        if labels.shape != (images.shape[0],):
            raise DataError(f"{labels_path}: {labels.shape[0]} labels for {images.shape[0]} images")
    return ImageSet(name=name, images=images[:, None, :, :], labels=labels)
