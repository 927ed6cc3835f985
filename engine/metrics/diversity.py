"""Is a generator collapsing? Sample diversity measured against the real data.

Two numbers on image features (any engine.metrics.features extractor):

- spread: the mean distance between two different images of a set. Samples
  whose spread is far below the real images' spread are variations on a few
  pictures (mode collapse); a ratio near 1 means the samples vary as much as
  the data does.
- coverage: how many different real images are the nearest neighbour of some
  sample. A collapsed generator's samples all land near the same few.

`nearest` is the project's one nearest-neighbour search (diversity, the copy
check in engine.metrics.memorisation, a gallery tile's nearest training
pictures): exact, Euclidean, in bounded memory whatever the sizes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHUNK = 1024     # rows of the distance matrix computed at once (bounded memory)
BLOCK_BYTES = 2**25   # references converted to float64 at once, at most (32 MB)


def mean_pairwise_distance(features: np.ndarray) -> float:
    """Mean Euclidean distance over all pairs of different rows."""
    x = np.asarray(features, dtype=np.float64)
    n = len(x)
    if n < 2:
        raise ValueError("the mean pairwise distance needs at least two images")
    total = 0.0
    for start in range(0, n, CHUNK):
        total += pairwise_distances(x[start:start + CHUNK], x).sum()
    return float(total / (n * (n - 1)))    # the zero diagonal adds nothing


@dataclass(frozen=True)
class Neighbours:
    """Each query's k nearest references, nearest first: (N, k) indices into the
    references and (N, k) Euclidean distances."""

    indices: np.ndarray
    distances: np.ndarray


def nearest(queries: np.ndarray, references: np.ndarray, k: int = 1,
            exclude: np.ndarray | None = None) -> Neighbours:
    """The `k` nearest rows of `references` to each row of `queries` (Euclidean).

    `exclude[i]`, when given, is a reference index query i may not match (itself,
    when the queries are references: "the nearest *other* picture"). References
    are read a block at a time, so uint8 pictures are never all held as float64.
    """
    q = np.asarray(queries, dtype=np.float64).reshape(len(queries), -1)
    n, total = len(q), len(references)
    k = min(k, total - (1 if exclude is not None else 0))
    if k < 1 or n == 0:
        return Neighbours(np.empty((n, 0), np.int64), np.empty((n, 0)))
    dims = q.shape[1]
    block = int(min(4 * CHUNK, max(64, BLOCK_BYTES // (8 * max(dims, 1)))))
    best_d = np.full((n, k), np.inf)
    best_i = np.full((n, k), -1, dtype=np.int64)
    q_norms = (q * q).sum(1)
    for start in range(0, total, block):
        r = np.asarray(references[start:start + block], dtype=np.float64).reshape(-1, dims)
        r_norms = (r * r).sum(1)
        for row in range(0, n, CHUNK):
            end = min(row + CHUNK, n)
            squared = q_norms[row:end, None] + r_norms[None, :] - 2 * q[row:end] @ r.T
            if exclude is not None:
                own = np.asarray(exclude[row:end]) - start
                hit = (own >= 0) & (own < len(r))
                squared[np.flatnonzero(hit), own[hit]] = np.inf
            ids = np.broadcast_to(np.arange(start, start + len(r)), squared.shape)
            merged_d = np.concatenate([best_d[row:end], squared], axis=1)
            merged_i = np.concatenate([best_i[row:end], ids], axis=1)
            keep = np.argpartition(merged_d, k - 1, axis=1)[:, :k]
            best_d[row:end] = np.take_along_axis(merged_d, keep, axis=1)
            best_i[row:end] = np.take_along_axis(merged_i, keep, axis=1)
    order = np.argsort(best_d, axis=1, kind="stable")
    distances = np.sqrt(np.maximum(np.take_along_axis(best_d, order, axis=1), 0.0))
    return Neighbours(np.take_along_axis(best_i, order, axis=1), distances)


def nearest_neighbours(queries: np.ndarray, references: np.ndarray) -> np.ndarray:
    """Index into `references` of each query's nearest row (Euclidean)."""
    if not len(queries):
        return np.empty(0, int)
    return nearest(queries, references).indices[:, 0]


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The (len(a), len(b)) Euclidean distances between rows (float64 rows)."""
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
