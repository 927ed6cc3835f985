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

The memorisation score is the one number lists show (the Runs page, `runs`):
the share of samples nearer to a training picture than the training pictures
are to each other, at SCORE_QUANTILE. The yardstick is each of the held-out
pictures' distance to its nearest *other* training picture in the whole set
searched (itself left out), so samples and yardstick see the same pictures. A
model that makes new pictures scores about SCORE_QUANTILE (by construction, that
share of training pictures are that close to another one); a copier scores near 1.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.errors import ConfigError
from engine.metrics.diversity import nearest

HELD_OUT = 1000          # at most this many training pictures held out as the yardstick
MAX_SAMPLES = 1000       # samples whose nearest training picture is searched
MAX_TRAINING = 20_000    # training pictures searched (a seeded random subset of larger sets)
MIN_TRAINING = 10        # fewer cannot give a held-out yardstick
CLOSE_QUANTILE = 0.05    # "close": nearer than 95% of held-out real pictures are
# The memorisation score's quantile: low enough that a score well above it is a
# sign, high enough that a few near-duplicate pairs in a small data set (which the
# data doctor reports) do not pull the threshold to 0. The same 5% as "close".
SCORE_QUANTILE = CLOSE_QUANTILE
SPLIT_SEED = 0x00C0FFEE


def nearest_distances(queries: np.ndarray, references: np.ndarray) -> np.ndarray:
    """Euclidean distance from each query row to its nearest reference row."""
    if not len(queries):
        return np.empty(0)
    return nearest(queries, references).distances[:, 0]


def nearest_other_distances(references: np.ndarray, picks: np.ndarray) -> np.ndarray:
    """Distance from each picked reference row to its nearest *other* row (itself
    left out; an exact duplicate elsewhere gives 0)."""
    if not len(picks):
        return np.empty(0)
    return nearest(references[picks], references, exclude=picks).distances[:, 0]


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
    # The same held-out pictures, each to its nearest other picture of the whole set.
    own_distances: np.ndarray = field(default_factory=lambda: np.empty(0))

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

    @property
    def score_threshold(self) -> float:
        """How near the closest SCORE_QUANTILE of training pictures are to another one."""
        return float(np.quantile(self.own_distances, SCORE_QUANTILE))

    @property
    def score(self) -> float:
        """The memorisation score: the share of samples nearer to a training picture
        than the training pictures are to each other at SCORE_QUANTILE; about
        SCORE_QUANTILE for a model that makes new pictures, near 1 for a copier."""
        # <=: where duplicates in the data make the threshold 0, exact copies still count.
        return float((self.sample_distances <= self.score_threshold).mean())

    def scores(self) -> dict[str, Any]:
        """The evaluation's keys (see docs/METRICS.md, "Not a copier"), or why the
        check cannot judge this data."""
        s, r = self.sample_distances, self.real_distances
        if float(np.median(r)) <= 0:
            return {"memorisation_skipped": "most held-out training pictures have an exact "
                                            "duplicate among the others, so copies cannot be "
                                            "told from new pictures"}
        score = ({"memorisation_score": self.score, "memorisation_score_quantile": SCORE_QUANTILE,
                  "memorisation_score_threshold": self.score_threshold,
                  "memorisation_training_median": float(np.median(self.own_distances))}
                 if len(self.own_distances) else {})
        return {**score, "memorisation_ratio": self.ratio,
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
                        training_count=len(training_features),
                        own_distances=nearest_other_distances(training_features,
                                                              np.flatnonzero(held)))


def describe(result: dict[str, Any]) -> str:
    """One line for people (eval's output)."""
    ratio, close = result["memorisation_ratio"], result["memorisation_close_fraction"]
    score = result.get("memorisation_score", close)
    # Measured on MNIST (docs/METRICS.md): new real digits 1.01 and 6%, exact
    # copies 0 and 100%, copies shifted by one pixel 0.74 and 2%.
    if ratio < 0.5 or close > 0.25 or score > 0.25:
        verdict = "samples sit much nearer the training pictures than new real ones do: likely copying"
    elif ratio < 0.8 or close > 0.1 or score > 0.1:
        verdict = ("samples sit nearer the training pictures than new real ones do: look at them "
                   "beside the training set for near copies")
    else:
        verdict = "no sign of copying"
    return (f"copy check: nearest training picture at median {result['memorisation_sample_median']:.3g} "
            f"for samples vs {result['memorisation_real_median']:.3g} for held-out real pictures "
            f"(ratio {ratio:.2f}); {result['memorisation_close_fraction'] * 100:.1f}% of samples "
            f"closer than 95% of real ones; {verdict}" + _score_text(result))


def _score_text(result: dict[str, Any]) -> str:
    if "memorisation_score" not in result:
        return ""   # recorded before the score existed
    q = result["memorisation_score_quantile"]
    return (f"\nmemorisation score {result['memorisation_score'] * 100:.1f}%: samples nearer to a "
            f"training picture than the closest {q * 100:g}% of training pictures are to "
            f"another one ({result['memorisation_score_threshold']:.3g}); about {q * 100:g}% "
            "when the model makes new pictures, near 100% when it copies")


@dataclass(frozen=True)
class RecordedScore:
    """A run's latest memorisation score, as its metrics recorded it."""

    score: float
    quantile: float
    step: int

    def describe(self) -> str:
        return f"{self.score * 100:.1f}% at step {self.step:,}"

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "quantile": self.quantile, "step": self.step}


def latest_score(evaluations: list[dict[str, Any]]) -> RecordedScore | None:
    """The newest recorded memorisation score among a run's evaluation records
    (oldest first, as engine.runs.best.recorded_evaluations reads them); None when
    none has one. Records are files a person may have edited: values of the wrong
    type or range are passed over."""
    for record in reversed(evaluations):
        score, quantile = record.get("memorisation_score"), record.get("memorisation_score_quantile")
        step = record.get("step", 0)
        if (_is_number(score) and 0 <= score <= 1 and _is_number(quantile) and 0 < quantile < 1
                and isinstance(step, int) and not isinstance(step, bool) and step >= 0):
            return RecordedScore(float(score), float(quantile), step)
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)
