"""Is a generator collapsing? Sample diversity measured against the real data.

Two numbers on image features (any engine.metrics.features extractor):

- spread: the mean distance between two different images of a set. Samples
  whose spread is far below the real images' spread are variations on a few
  pictures (mode collapse); a ratio near 1 means the samples vary as much as
  the data does.
- coverage: how many different real images are the nearest neighbour of some
  sample. A collapsed generator's samples all land near the same few.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHUNK = 1024     # rows of the distance matrix computed at once (bounded memory)


def mean_pairwise_distance(features: np.ndarray) -> float:
    """Mean Euclidean distance over all pairs of different rows."""
    x = np.asarray(features, dtype=np.float64)
    n = len(x)
    if n < 2:
        raise ValueError("the mean pairwise distance needs at least two images")
    total = 0.0
    for start in range(0, n, CHUNK):
        total += _distances(x[start:start + CHUNK], x).sum()
    return float(total / (n * (n - 1)))    # the zero diagonal adds nothing


def nearest_neighbours(queries: np.ndarray, references: np.ndarray) -> np.ndarray:
    """Index into `references` of each query's nearest row (Euclidean)."""
    q = np.asarray(queries, dtype=np.float64)
    r = np.asarray(references, dtype=np.float64)
    return np.concatenate([_distances(q[s:s + CHUNK], r).argmin(axis=1)
                           for s in range(0, len(q), CHUNK)]) if len(q) else np.empty(0, int)


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.maximum(squared, 0.0))


@dataclass(frozen=True)
class Diversity:
    samples: int
    reals: int
    sample_spread: float          # mean pairwise distance of the samples
    real_spread: float            # the same for the real images
    distinct_neighbours: int      # different real images nearest to some sample

    @property
    def spread_ratio(self) -> float:
        return self.sample_spread / self.real_spread if self.real_spread > 0 else 0.0

    @property
    def coverage(self) -> float:
        """Distinct nearest real images per sample (1.0: every sample a different one)."""
        return self.distinct_neighbours / min(self.samples, self.reals)

    def line(self) -> str:
        return (f"spread {self.sample_spread:.3f} vs real {self.real_spread:.3f} "
                f"(ratio {self.spread_ratio:.2f}); {self.distinct_neighbours} of "
                f"{min(self.samples, self.reals)} distinct nearest real images "
                f"({self.coverage:.0%})")


def diversity(sample_features: np.ndarray, real_features: np.ndarray) -> Diversity:
    """Spread of samples and reals, and how many reals the samples' nearest neighbours hit."""
    neighbours = nearest_neighbours(sample_features, real_features)
    return Diversity(samples=len(sample_features), reals=len(real_features),
                     sample_spread=mean_pairwise_distance(sample_features),
                     real_spread=mean_pairwise_distance(real_features),
                     distinct_neighbours=int(len(np.unique(neighbours))))
