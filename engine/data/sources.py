"""The in-memory data set (ImageSet) and the built-in sources `mnist` and `idx:PATH`.

Specs are parsed and dispatched by engine.data.registry; other sources (folders
of pictures, CIFAR-10, .npz) live in their own modules and register there.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.data.idx import read_idx
from engine.data.registry import DATA_SOURCES, DataRequest, load_data, register_source
from engine.data.report import LoadReport
from engine.errors import DataError
from resources import resource_path

__all__ = ["DATA_SOURCES", "ImageSet", "load_data"]


@dataclass(frozen=True)
class ImageSet:
    """A whole data set in memory: images as uint8 (N, C, H, W), or (N, T, C, H, W)
    for image sequences; integer class labels (N,) or None, with their names."""

    name: str
    images: np.ndarray
    labels: np.ndarray | None
    class_names: tuple[str, ...] | None = None
    report: LoadReport | None = None    # what was found, skipped (and why), from cache

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


def _load_mnist(request: DataRequest) -> ImageSet:
    return _bundled_mnist(request.split)


def _load_idx(request: DataRequest) -> ImageSet:
    return _load_idx_folder(request.path, request.split, name=request.spec)


register_source("mnist", _load_mnist, "MNIST digits (bundled, 60,000 training images)",
                takes_path=False)
register_source("idx", _load_idx, "MNIST-format IDX files in a folder (e.g. Fashion-MNIST)")
