"""Is this tile a copy? Its nearest training pictures, by features and by pixels.

For any picture a run made (a gallery tile, a sample of a seed), the training
pictures nearest to it in two senses, each with both distances:

- by features: the same features and the same training pictures as the copy
  check of `eval` (engine.metrics.memorisation), their features shared through
  the cache, so a tile is judged on the scale of the memorisation score;
- by pixels: the root-mean-square difference per pixel value (0-255), which
  finds exact and near-exact copies whatever the features think.

The yardstick is how near the training pictures come to each other: each of
the copy check's held-out pictures at its distance to its nearest *other*
training picture (engine.metrics.memorisation.nearest_other_distances). A tile
nearer to a training picture than the closest SCORE_QUANTILE of those is
flagged as a likely copy; its pixel distance says whether it is an exact one.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.data import load_data
from engine.data.doctor import picture_paths
from engine.errors import ConfigError, RunDirError
from engine.metrics.diversity import nearest
from engine.metrics.evaluate import EvalConfig, EvalProgress, training_features
from engine.metrics.features import make_extractor
from engine.metrics.memorisation import (MIN_TRAINING, SCORE_QUANTILE, held_out_mask,
                                         nearest_other_distances, training_subset)
from engine.runtime.control import RunControl
from engine.runtime.device import resolve_device

DEFAULT_NEIGHBOURS = 6
MAX_NEIGHBOURS = 32
MAX_PICTURES = 256        # pictures asked about at once
EXACT_PIXELS = 1.0        # RMS difference per pixel value under which a copy is exact


@dataclass(frozen=True)
class TrainingNeighbour:
    index: int                  # in the training set as loaded
    name: str | None            # its file, for a folder of pictures
    picture: np.ndarray         # uint8 (H, W, C)
    feature_distance: float
    pixel_distance: float       # RMS difference per pixel value, 0-255

    def label(self, base: str = "") -> str:
        """Its file (relative to `base`, a folder of the names) or its number."""
        if self.name is None:
            return f"training picture #{self.index:,}"
        return os.path.relpath(self.name, base) if base else self.name

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "name": self.name,
                "feature_distance": self.feature_distance, "pixel_distance": self.pixel_distance}


@dataclass(frozen=True)
class PictureNeighbours:
    """One picture's nearest training pictures, nearest first."""

    by_features: tuple[TrainingNeighbour, ...]
    by_pixels: tuple[TrainingNeighbour, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"by_features": [n.to_dict() for n in self.by_features],
                "by_pixels": [n.to_dict() for n in self.by_pixels]}


@dataclass(frozen=True)
class NearestTraining:
    """The nearest training pictures of each picture asked about, and the yardstick."""

    data: str                   # the run's data spec
    features: str               # the feature network's name
    training_count: int         # training pictures in the set
    searched: int               # of them searched (all, or a seeded 20,000)
    close: float | None         # features: the closest SCORE_QUANTILE of training pictures
    typical: float | None       # ... and the median, each to its nearest other one
    pictures: tuple[PictureNeighbours, ...]

    def base(self) -> str:
        """The folder all neighbours' files are in ("" when none has a file), so
        labels can name them as "cat/x.png"."""
        names = [n.name for p in self.pictures for n in p.by_features + p.by_pixels if n.name]
        try:
            return os.path.commonpath([os.path.dirname(n) for n in names]) if names else ""
        except ValueError:   # different drives
            return ""

    def verdict(self, i: int) -> str:
        """Whether picture i looks like a copy, in words."""
        base = self.base()
        found = self.pictures[i]
        nearest_pixels = found.by_pixels[0] if found.by_pixels else None
        if nearest_pixels is not None and nearest_pixels.pixel_distance < EXACT_PIXELS:
            return f"an exact copy of {nearest_pixels.label(base)}"
        if not found.by_features:
            return "no training pictures to compare with"
        first = found.by_features[0]
        if self.close is None or self.typical is None:
            return f"nearest is {first.label(base)} (too few training pictures to judge)"
        if first.feature_distance <= self.close:
            return (f"likely a copy of {first.label(base)}: nearer to it than {1 - SCORE_QUANTILE:.0%}"
                    " of training pictures are to another one")
        if first.feature_distance < self.typical:
            return (f"close to {first.label(base)}, about as close as training pictures come to each "
                    "other: look at them side by side")
        return "no sign of copying: farther from every training picture than is typical"

    def lines(self, names: list[str]) -> list[str]:
        """For people: each picture (named by `names`, e.g. "seed 3") and its nearest."""
        out, base = [], self.base()
        for i, (name, found) in enumerate(zip(names, self.pictures)):
            out.append(f"{name}: {self.verdict(i)}")
            out.append("  by features: " + _listed(found.by_features, base))
            out.append("  by pixels:   " + _listed(found.by_pixels, base))
        if self.close is not None and self.typical is not None:
            out.append(f"yardstick ({self.features} features): training pictures' nearest other "
                       f"picture at median {self.typical:.3g}, the closest "
                       f"{SCORE_QUANTILE:.0%} under {self.close:.3g}; {self.searched:,} of "
                       f"{self.training_count:,} training pictures of {self.data} searched")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"data": self.data, "features": self.features,
                "training_count": self.training_count, "searched": self.searched,
                "close": self.close, "typical": self.typical, "close_quantile": SCORE_QUANTILE,
                "pictures": [{**p.to_dict(), "verdict": self.verdict(i)}
                             for i, p in enumerate(self.pictures)]}


def format_distance(distance: float) -> str:
    """A feature distance for people: 3 significant digits, and 0 for the float
    noise of an exact match."""
    return "0" if distance < 5e-4 else f"{distance:.3g}"


def _listed(neighbours: tuple[TrainingNeighbour, ...], base: str) -> str:
    return "; ".join(f"{n.label(base)} (features {format_distance(n.feature_distance)}, pixels "
                     f"{n.pixel_distance:.1f})" for n in neighbours) or "-"


def training_source(run: str | Path) -> tuple[str, int, int]:
    """(data spec, image size, channels) of a run folder or a model bundle, read
    from its config without building the model."""
    from engine.runs.bundles import BUNDLE_SUFFIX, inspect_bundle
    from engine.runs.folders import RunDir

    path = Path(run)
    if path.is_file() or str(path).endswith(BUNDLE_SUFFIX):
        info = inspect_bundle(path)
        spec, model_config = info.data.get("spec"), info.model_config
    else:
        saved = RunDir(path).read_config()
        spec = saved.get("data", {}).get("spec") or saved.get("train", {}).get("data")
        model_config = saved.get("model_config", {})
    size, channels = model_config.get("image_size"), model_config.get("channels")
    if not isinstance(spec, str) or not spec:
        raise RunDirError(f"{path}: it does not say which pictures it was trained on, so its "
                          "nearest training pictures cannot be found")
    if not isinstance(size, int) or not isinstance(channels, int):
        raise RunDirError(f"{path}: its model config has no image size or channels")
    return spec, size, channels


def nearest_training_pictures(run: str | Path, pictures: np.ndarray,
                              k: int = DEFAULT_NEIGHBOURS, features: str = "auto",
                              device: str = "auto", control: RunControl | None = None
                              ) -> Iterator[EvalProgress | NearestTraining]:
    """The `k` nearest training pictures of each of `pictures` (uint8 (N, H, W, C), as
    the gallery and `sample` make them) from the run's training set: progress while
    the training features are computed (once; then cached), then one NearestTraining.
    Nothing more when stopped."""
    control = control or RunControl()
    pictures = np.asarray(pictures)
    if pictures.ndim == 3:
        pictures = pictures[None]
    if not 1 <= k <= MAX_NEIGHBOURS:
        raise ConfigError(f"neighbours must be between 1 and {MAX_NEIGHBOURS}, not {k}")
    if pictures.dtype != np.uint8 or pictures.ndim != 4 or not 1 <= len(pictures) <= MAX_PICTURES:
        raise ConfigError(f"expected 1 to {MAX_PICTURES} uint8 pictures (N, H, W, C), "
                          f"not {pictures.dtype} {pictures.shape}")
    spec, size, channels = training_source(run)
    queries = np.array(pictures.transpose(0, 3, 1, 2))   # N, C, H, W as the data; writable
    if queries.shape[1:] != (channels, size, size):
        raise ConfigError(f"the pictures are {queries.shape[1]} x {queries.shape[2]} x "
                          f"{queries.shape[3]} (channels x height x width) but the run's model "
                          f"makes {channels} x {size} x {size}")
    training = load_data(spec, "train", size=size)
    if training.frames is not None:
        raise ConfigError(f"{spec} holds sequences; the nearest training pictures are found "
                          "for still pictures only")
    if training.channels != channels:
        raise ConfigError(f"{spec} loads as {training.channels}-channel pictures but the run's "
                          f"model makes {channels}-channel ones")
    subset = training_subset(len(training))
    images = training.images[subset]
    extractor = make_extractor(features, channels, resolve_device(device))
    found = None
    for item in training_features(images, extractor, EvalConfig().batch_size, control):
        if isinstance(item, EvalProgress):
            yield item
        else:
            found = item
    if found is None or control.stopped:
        return
    query_features = extractor(torch.from_numpy(queries).float().div(127.5).sub(1))[0]
    close = typical = None
    if len(images) >= MIN_TRAINING:
        own = nearest_other_distances(found, np.flatnonzero(held_out_mask(len(images))))
        close, typical = float(np.quantile(own, SCORE_QUANTILE)), float(np.median(own))
    report = training.report
    names = picture_paths(spec, report.found, report.skipped, len(training)) if report else None
    neighbours = _Neighbours(images, found, subset, names)
    by_features = nearest(query_features, found, k)
    by_pixels = nearest(queries, images, k)
    yield NearestTraining(
        data=spec, features=extractor.name, training_count=len(training), searched=len(images),
        close=close, typical=typical,
        pictures=tuple(PictureNeighbours(neighbours.of(q, qf, by_features.indices[i]),
                                         neighbours.of(q, qf, by_pixels.indices[i]))
                       for i, (q, qf) in enumerate(zip(queries, query_features))))


class _Neighbours:
    """Training pictures as neighbours of one query, both distances each."""

    def __init__(self, images: np.ndarray, features: np.ndarray, subset: np.ndarray,
                 names: list[str] | None) -> None:
        self.images, self.features, self.subset, self.names = images, features, subset, names

    def of(self, query: np.ndarray, query_features: np.ndarray, indices: np.ndarray
           ) -> tuple[TrainingNeighbour, ...]:
        out = []
        for j in indices:
            picture = self.images[j]
            index = int(self.subset[j])
            pixels = float(np.sqrt(np.mean((picture.astype(np.float64) - query) ** 2)))
            feature = float(np.linalg.norm(self.features[j].astype(np.float64) - query_features))
            out.append(TrainingNeighbour(index=index,
                                         name=self.names[index] if self.names else None,
                                         picture=np.ascontiguousarray(picture.transpose(1, 2, 0)),
                                         feature_distance=feature, pixel_distance=pixels))
        return tuple(out)
