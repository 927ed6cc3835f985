"""Distances between two sets of features: Frechet distance and KID.

Both compare the distribution of evaluator features of generated images with
that of real images; 0 means indistinguishable to the evaluator.

- Frechet distance (FD, the formula of FID) fits a Gaussian to each set. It is
  biased upwards for finite samples (the bias shrinks roughly as 1/n), so FD
  values are comparable only at the same sample counts; the app uses 10,000
  generated images by default and records the counts with every score.
- KID (kernel inception distance) is the unbiased estimate of the squared MMD
  with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over
  random subsets; it has no sample-size bias, so it may be compared across
  sample counts (its spread shrinks with more samples).
"""
from __future__ import annotations

import numpy as np

from engine.errors import ConfigError


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (float64) of (N, D) features."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ConfigError(f"need at least 2 feature vectors, got shape {x.shape}")
    _check_finite(x)
    return x.mean(axis=0), np.cov(x, rowvar=False)


def _check_finite(features: np.ndarray) -> None:
    # NaN features make the eigenvalue solver fail with numpy's LinAlgError.
    if not np.isfinite(features).all():
        raise ConfigError("the features hold NaN or infinite values (from images that are "
                          "not finite); no distance can be computed")


def _sqrtm_psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
                     ) -> float:
    """||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)).

    tr((S1 S2)^(1/2)) equals the sum of square roots of the eigenvalues of the
    symmetric matrix S1^(1/2) S2 S1^(1/2), which is stable where a general
    matrix square root (scipy.linalg.sqrtm) can return complex noise.
    """
    root1 = _sqrtm_psd(sigma1)
    middle = root1 @ sigma2 @ root1
    trace_root = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_root
    return float(max(value, 0.0))


def frechet_distance_of(features1: np.ndarray, features2: np.ndarray) -> float:
    return frechet_distance(*feature_statistics(features1), *feature_statistics(features2))


def kernel_distance(features1: np.ndarray, features2: np.ndarray, subsets: int = 100,
                    subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """KID: (mean, standard deviation) of the unbiased squared MMD over `subsets`
    random subsets of `subset_size` from each set (smaller sets use all they have)."""
    # float32 products (4x faster on a CPU), summed in float64: the kernel means
    # keep about 7 significant digits, far below the subset-to-subset spread.
    x = np.asarray(features1, dtype=np.float32)
    y = np.asarray(features2, dtype=np.float32)
    m = min(subset_size, len(x), len(y))
    if m < 2:
        raise ConfigError(f"KID needs at least 2 images on each side, got {len(x)} and {len(y)}")
    _check_finite(x)
    _check_finite(y)
    d = x.shape[1]
    rng = np.random.default_rng(seed)
    estimates = np.empty(subsets)
    for i in range(subsets):
        a = x[rng.choice(len(x), m, replace=False)]
        b = y[rng.choice(len(y), m, replace=False)]
        k_aa = _cubic_kernel(a, a, d)
        k_bb = _cubic_kernel(b, b, d)
        k_ab = _cubic_kernel(a, b, d)
        # Unbiased: the diagonals (each point with itself) are left out.
        within = (k_aa.sum(dtype=np.float64) - np.trace(k_aa, dtype=np.float64)
                  + k_bb.sum(dtype=np.float64) - np.trace(k_bb, dtype=np.float64)) / (m * (m - 1))
        estimates[i] = within - 2 * k_ab.mean(dtype=np.float64)
    return float(estimates.mean()), float(estimates.std())


def _cubic_kernel(a: np.ndarray, b: np.ndarray, d: int) -> np.ndarray:
    k = a @ b.T
    k /= d
    k += 1
    return k * k * k


def class_statistics(probabilities: np.ndarray, confident_at: float = 0.9) -> dict[str, float]:
    """From the evaluator's class probabilities (N, K) of generated images:

    - class_entropy: entropy (nats) of the predicted-class histogram; ln K when
      every class is generated equally often, 0 for a single class;
    - class_coverage: that entropy divided by ln K (1 = all classes evenly);
    - classes_seen: how many classes are the top prediction of at least 1% of images;
    - confident_fraction: share of images whose top class probability is at least
      `confident_at` (a blurry or malformed image is rarely classified confidently).
    """
    p = np.asarray(probabilities, dtype=np.float64)
    n, k = p.shape
    counts = np.bincount(p.argmax(axis=1), minlength=k)
    share = counts / n
    nonzero = share[share > 0]
    entropy = max(0.0, float(-(nonzero * np.log(nonzero)).sum()))
    return {"class_entropy": entropy, "class_coverage": entropy / float(np.log(k)),
            "classes_seen": int((share >= 0.01).sum()),
            "confident_fraction": float((p.max(axis=1) >= confident_at).mean())}
