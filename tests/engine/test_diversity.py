"""The collapse measure tells a collapsed generator from a diverse one."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.metrics.diversity import diversity, mean_pairwise_distance, nearest_neighbours
from engine.metrics.features import RandomFeatures


def shapes(n: int, seed: int) -> torch.Tensor:
    """Coloured squares of random size and place on random flat backgrounds, in [-1, 1]."""
    rng = np.random.default_rng(seed)
    images = np.empty((n, 3, 16, 16), np.float32)
    for i in range(n):
        images[i] = rng.uniform(-1, 1, (3, 1, 1))
        side = rng.integers(4, 10)
        y, x = rng.integers(0, 16 - side, 2)
        images[i, :, y:y + side, x:x + side] = rng.uniform(-1, 1, (3, 1, 1))
    return torch.from_numpy(images)


def test_pairwise_distance_and_neighbours_are_exact_on_known_points():
    points = np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]])
    assert mean_pairwise_distance(points) == pytest.approx((5 + 10 + 5) / 3)
    assert nearest_neighbours(np.array([[5.0, 7.0], [-1.0, 0.0]]), points).tolist() == [2, 0]
    with pytest.raises(ValueError):
        mean_pairwise_distance(points[:1])


def test_a_collapsed_generator_scores_far_below_a_diverse_one():
    features = RandomFeatures(torch.device("cpu"))
    reals = features(shapes(64, seed=0))[0]
    diverse = diversity(features(shapes(64, seed=1))[0], reals)
    one_picture = shapes(1, seed=2).expand(64, -1, -1, -1)
    jitter = torch.randn(one_picture.shape, generator=torch.Generator().manual_seed(0)) * 0.02
    collapsed = diversity(features(one_picture + jitter)[0], reals)
    assert diverse.spread_ratio > 0.7 and diverse.distinct_neighbours >= 20
    assert collapsed.spread_ratio < 0.1 and collapsed.distinct_neighbours <= 2
    assert "distinct nearest real images" in collapsed.line()


def test_the_one_nearest_search_matches_brute_force_in_small_blocks(monkeypatch):
    import engine.metrics.diversity as div

    monkeypatch.setattr(div, "BLOCK_BYTES", 8 * 7 * 5)   # references 64 rows at a time
    monkeypatch.setattr(div, "CHUNK", 16)
    rng = np.random.default_rng(4)
    q, r = rng.normal(size=(50, 7)), rng.normal(size=(300, 7))
    brute = np.sqrt(((q[:, None] - r[None]) ** 2).sum(-1))
    found = div.nearest(q, r, k=4)
    np.testing.assert_array_equal(found.indices, np.argsort(brute, axis=1)[:, :4])
    np.testing.assert_allclose(found.distances, np.sort(brute, axis=1)[:, :4], atol=1e-9)


def test_the_search_can_leave_each_query_itself_out():
    from engine.metrics.diversity import nearest

    r = np.array([[0.0], [1.0], [3.0], [3.0]])
    picks = np.array([0, 2, 3])
    found = nearest(r[picks], r, k=1, exclude=picks)
    # 0 -> 1 (not itself); each of the duplicates 2 and 3 -> the other, at distance 0.
    assert found.indices[:, 0].tolist() == [1, 3, 2] and found.distances[:, 0].tolist() == [1, 0, 0]
    pictures = np.random.default_rng(0).integers(0, 256, (20, 3, 8, 8), dtype=np.uint8)
    same = nearest(pictures[[7]], pictures, k=2)        # uint8 pictures of any shape
    assert same.indices[0, 0] == 7 and same.distances[0, 0] == pytest.approx(0, abs=1e-6)
