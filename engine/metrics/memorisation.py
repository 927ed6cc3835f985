"""Is the model a copier? How close its samples come to their nearest training
picture, against how close new real pictures come.

A model that has memorised its few hundred pictures draws samples that sit
almost on top of some training picture; FD and KID reward that (the samples
look exactly like the data). This check compares, in one feature space (the
evaluator's or random features, as for FD):

- each sample's distance to its nearest training picture, with
- each held-out real picture's distance to its nearest picture among the rest
  of the training set: a seeded random fifth (at most HELD_OUT) is held out.

Real pictures the model never saw are the yardstick of "new": a model that
generalises puts its samples about as far from the training set as they are
(ratio of medians near 1, or above for a model still blurry), while a copier
puts them much nearer (ratio well below 1, and many samples closer than
nearly every new real picture). The held-out pictures are compared with a
training set smaller by the held-out share, so their distances come out a
little larger than for the whole set (about 2% on a 10-dimensional feature
manifold with a fifth held out): the check errs towards flagging.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.errors import ConfigError

HELD_OUT = 1000          # at most this many training pictures held out as the yardstick
MAX_SAMPLES = 1000       # samples whose nearest training picture is searched
MAX_TRAINING = 20_000    # training pictures searched (a seeded random subset of larger sets)
MIN_TRAINING = 10        # fewer cannot give a held-out yardstick
CLOSE_QUANTILE = 0.05    # "close": nearer than 95% of held-out real pictures are
CHUNK = 512              # rows of the distance matrix at once (bounded memory)
SPLIT_SEED = 0x00C0FFEE


def nearest_distances(queries: np.ndarray, references: np.ndarray) -> np.ndarray:
    """Euclidean distance from each query row to its nearest reference row."""
    r = np.asarray(references, dtype=np.float64)
    r_norms = (r * r).sum(1)[None, :]
    out = []
    for start in range(0, len(queries), CHUNK):
        q = np.asarray(queries[start:start + CHUNK], dtype=np.float64)
        squared = (q * q).sum(1)[:, None] + r_norms - 2 * q @ r.T
        out.append(np.sqrt(np.maximum(squared.min(axis=1), 0.0)))
    return np.concatenate(out) if out else np.empty(0)


def training_subset(count: int, seed: int = SPLIT_SEED) -> np.ndarray:
    """Indices of the training pictures the check searches: all of them, or a
    seeded random MAX_TRAINING of a larger set (sorted, so the features of the
    same data are cached under one key)."""
    if count <= MAX_TRAINING:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, MAX_TRAINING, replace=False))


def held_out_mask(count: int, seed: int = SPLIT_SEED) -> np.ndarray:
    """Which of `count` training pictures are held out: a seeded random fifth, at
    most HELD_OUT."""
    if count < MIN_TRAINING:
        raise ConfigError(f"the copy check needs {MIN_TRAINING} or more training pictures, "
                          f"not {count}")
    held = min(HELD_OUT, count // 5)
    mask = np.zeros(count, dtype=bool)
    mask[np.random.default_rng(seed).choice(count, held, replace=False)] = True
    return mask


@dataclass(frozen=True)
class Memorisation:
    sample_distances: np.ndarray     # each sample to its nearest training picture
    real_distances: np.ndarray       # each held-out real picture to its nearest other one
    training_count: int              # training pictures searched

    @property
    def ratio(self) -> float:
        """Median sample distance over median held-out distance: about 1 or more for a
        model that makes new pictures, well below 1 for a copier."""
        real = float(np.median(self.real_distances))
        return float(np.median(self.sample_distances)) / real if real > 0 else float("inf")

    @property
    def close_fraction(self) -> float:
        """Share of samples nearer to a training picture than 95% of held-out real
        pictures are: about 0.05 for a model that does not copy."""
        threshold = np.quantile(self.real_distances, CLOSE_QUANTILE)
        # <=: where duplicates in the data make the threshold 0, exact copies still count.
        return float((self.sample_distances <= threshold).mean())

    def scores(self) -> dict[str, Any]:
        """The evaluation's keys (see docs/METRICS.md, "Not a copier"), or why the
        check cannot judge this data."""
        s, r = self.sample_distances, self.real_distances
        if float(np.median(r)) <= 0:
            return {"memorisation_skipped": "most held-out training pictures have an exact "
                                            "duplicate among the others, so copies cannot be "
                                            "told from new pictures"}
        return {"memorisation_ratio": self.ratio,
                "memorisation_close_fraction": self.close_fraction,
                "memorisation_sample_q05": float(np.quantile(s, 0.05)),
                "memorisation_sample_median": float(np.median(s)),
                "memorisation_real_q05": float(np.quantile(r, 0.05)),
                "memorisation_real_median": float(np.median(r)),
                "memorisation_samples": int(len(s)), "memorisation_held_out": int(len(r)),
                "memorisation_training": int(self.training_count)}


def memorisation(sample_features: np.ndarray, training_features: np.ndarray,
                 seed: int = SPLIT_SEED) -> Memorisation:
    """The copy check on features of samples and of the training pictures."""
    if len(sample_features) < 1:
        raise ConfigError("the copy check needs at least one sample")
    held = held_out_mask(len(training_features), seed)
    samples = sample_features[:MAX_SAMPLES]
    return Memorisation(sample_distances=nearest_distances(samples, training_features),
                        real_distances=nearest_distances(training_features[held],
                                                         training_features[~held]),
                        training_count=len(training_features))


def describe(result: dict[str, Any]) -> str:
    """One line for people (eval's output)."""
    ratio, close = result["memorisation_ratio"], result["memorisation_close_fraction"]
    # Measured on MNIST (docs/METRICS.md): new real digits 1.01 and 6%, exact
    # copies 0 and 100%, copies shifted by one pixel 0.74 and 2%.
    if ratio < 0.5 or close > 0.25:
        verdict = "samples sit much nearer the training pictures than new real ones do: likely copying"
    elif ratio < 0.8 or close > 0.1:
        verdict = ("samples sit nearer the training pictures than new real ones do: look at them "
                   "beside the training set for near copies")
    else:
        verdict = "no sign of copying"
    return (f"copy check: nearest training picture at median {result['memorisation_sample_median']:.3g} "
            f"for samples vs {result['memorisation_real_median']:.3g} for held-out real pictures "
            f"(ratio {ratio:.2f}); {result['memorisation_close_fraction'] * 100:.1f}% of samples "
            f"closer than 95% of real ones; {verdict}")
