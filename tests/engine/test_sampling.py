"""engine.studio.sampling: images from a saved run, reproducible seed by seed."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine.errors import ConfigError, RunDirError
from engine.media.images import make_grid
from engine.studio.sampling import MAX_SAMPLES, sample_run, seeds_from
from engine.training import SAMPLE_SEEDS


def test_seeds_from():
    assert seeds_from(3, 4) == [3, 4, 5, 6]
    assert seeds_from(0, 1) == [0]
    assert len(seeds_from(0, MAX_SAMPLES)) == MAX_SAMPLES


@pytest.mark.parametrize("first,count,message", [
    (0, 0, "number of images must be between 1 and 4096, not 0"),
    (0, MAX_SAMPLES + 1, "number of images"),
    (0, -3, "number of images"),
    (-1, 4, "seed must be between"),
])
def test_bad_seeds(first, count, message):
    with pytest.raises(ConfigError, match=message):
        seeds_from(first, count)


def test_sample_run_shape_and_type(trained_run):
    images = sample_run(trained_run, [0, 1, 2], device="cpu")
    assert images.shape == (3, 28, 28, 1) and images.dtype == np.uint8


def test_same_seeds_same_images(trained_run):
    a = sample_run(trained_run, [4, 5], device="cpu")
    b = sample_run(str(trained_run), [4, 5], device="cpu")
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a[0], a[1])


def test_a_tile_depends_only_on_its_seed(trained_run):
    alone = sample_run(trained_run, [5], device="cpu")
    among = sample_run(trained_run, [1, 5, 9], device="cpu")
    np.testing.assert_array_equal(alone[0], among[1])


def test_chunked_sampling_matches(trained_run):
    seeds = list(range(7))
    np.testing.assert_array_equal(sample_run(trained_run, seeds, device="cpu", batch_size=3),
                                  sample_run(trained_run, seeds, device="cpu"))


def test_matches_the_last_grid_training_saved(trained_run):
    """The gallery's seed i is the training grid's tile i, from the saved weights."""
    images = sample_run(trained_run, list(SAMPLE_SEEDS), device="cpu")
    with Image.open(trained_run / "samples" / "step_000004.png") as png:
        saved = np.asarray(png)
    np.testing.assert_array_equal(make_grid(images, columns=8)[:, :, 0], saved)


def test_missing_run(tmp_path):
    with pytest.raises(RunDirError, match="not a run folder"):
        sample_run(tmp_path / "gone", [0], device="cpu")


def test_unknown_device(trained_run):
    with pytest.raises(ConfigError, match="unknown device"):
        sample_run(trained_run, [0], device="quantum")
