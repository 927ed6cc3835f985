"""Frechet distance, KID and class statistics on features with known answers."""
from __future__ import annotations

import numpy as np
import pytest

from engine.errors import ConfigError
from engine.metrics.distances import (class_statistics, frechet_distance, frechet_distance_of,
                                      kernel_distance)


def test_frechet_distance_matches_the_closed_form_for_diagonal_gaussians():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    s1, s2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 4.0, 1.0])  # variances
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(s1) - np.sqrt(s2)) ** 2).sum()
    assert frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected)


def test_frechet_distance_of_a_set_with_itself_is_zero_and_grows_with_a_shift():
    x = np.random.default_rng(0).normal(size=(500, 16))
    assert frechet_distance_of(x, x) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance_of(x, x + 0.5) == pytest.approx(16 * 0.25, rel=1e-6)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(400, 8)), rng.normal(size=(400, 8))
    same, same_std = kernel_distance(a, b, subsets=10, subset_size=200)
    shifted, _ = kernel_distance(a, b + 1.0, subsets=10, subset_size=200)
    assert abs(same) < 3 * same_std + 1e-3
    assert shifted > 20 * abs(same)


def test_kid_is_deterministic_for_a_seed():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(300, 4)), rng.normal(size=(300, 4))
    assert kernel_distance(a, b, subsets=5, subset_size=100, seed=3) == \
        kernel_distance(a, b, subsets=5, subset_size=100, seed=3)


def test_too_few_features_are_refused():
    with pytest.raises(ConfigError):
        frechet_distance_of(np.zeros((1, 4)), np.zeros((5, 4)))
    with pytest.raises(ConfigError):
        kernel_distance(np.zeros((1, 4)), np.zeros((5, 4)))


def test_class_statistics_for_even_one_class_and_unsure_predictions():
    even = np.eye(10)[np.arange(1000) % 10]
    stats = class_statistics(even)
    assert stats["class_coverage"] == pytest.approx(1.0)
    assert stats["classes_seen"] == 10 and stats["confident_fraction"] == 1.0
    one = np.eye(10)[np.zeros(50, dtype=int)]
    assert class_statistics(one)["class_coverage"] == 0.0
    assert class_statistics(one)["classes_seen"] == 1
    unsure = np.full((20, 10), 0.1)
    assert class_statistics(unsure)["confident_fraction"] == 0.0
