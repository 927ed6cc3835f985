"""engine.studio.gallery: favourite seeds, and seeds compared across a run's life."""
from __future__ import annotations

import numpy as np
import pytest

from engine.errors import ConfigError, RunDirError
from engine.studio.gallery import compare_seeds, read_favourites, set_favourite
from engine.studio.sampling import sample_run


def test_favourites_round_trip(run_copy):
    assert read_favourites(run_copy) == []
    assert set_favourite(run_copy, [5, 9], True) == [5, 9]
    assert set_favourite(run_copy, [9, 12], True) == [5, 9, 12]
    assert set_favourite(run_copy, [5], False) == [9, 12]
    assert read_favourites(run_copy) == [9, 12]


def test_damaged_favourites_file(run_copy):
    (run_copy / "favourites.json").write_text('{"seeds": ["x"]}')
    with pytest.raises(RunDirError, match="not a list of favourite seeds"):
        read_favourites(run_copy)


def test_compare_checkpoint_and_history(trained_run):
    rows = compare_seeds(trained_run, [3, 70], device="cpu")
    checkpoints = [r for r in rows if r.label.startswith("checkpoint")]
    grids = [r for r in rows if r.label.startswith("sample grid")]
    assert checkpoints and grids
    assert [r.step for r in rows] == sorted(r.step for r in rows)
    latest = sample_run(trained_run, [3, 70], device="cpu")
    np.testing.assert_array_equal(checkpoints[-1].images[0], latest[0])
    assert grids[0].images[1] is None                 # seed 70 is not in the 8 x 8 grid
    assert grids[-1].images[0].shape == (28, 28, 1)
    assert np.abs(grids[-1].images[0].astype(int) - latest[0]).max() <= 1


def test_compare_limits(trained_run):
    with pytest.raises(ConfigError, match="between 1 and 16 seeds"):
        compare_seeds(trained_run, [], device="cpu")
