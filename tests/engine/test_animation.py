"""engine.animation: the training time-lapse frames of a run."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine.animation import timelapse_frames
from engine.errors import RunDirError


def test_timelapse_frames_of_a_run(trained_run):
    steps, frames = timelapse_frames(trained_run)
    assert steps == [0, 1, 2, 3, 4]
    assert len(frames) == 5
    for frame in frames:
        assert frame.dtype == np.uint8 and frame.shape == (242, 242, 1)
    with Image.open(trained_run / "samples" / "step_000002.png") as png:
        np.testing.assert_array_equal(frames[2][:, :, 0], np.asarray(png))
    assert not np.array_equal(frames[0], frames[-1])  # training changed the pictures


def test_accepts_a_str_path(trained_run):
    steps, _ = timelapse_frames(str(trained_run))
    assert steps[0] == 0


def test_rgb_sample_grids_stay_rgb(run_copy):
    for step, path in [(0, "step_000000.png"), (1, "step_000001.png")]:
        Image.new("RGB", (6, 6), (step * 200, 0, 9)).save(run_copy / "samples" / path)
    for extra in (run_copy / "samples").glob("step_00000[2-9].png"):
        extra.unlink()
    steps, frames = timelapse_frames(run_copy)
    assert steps == [0, 1] and frames[1].shape == (6, 6, 3)
    assert tuple(frames[1][0, 0]) == (200, 0, 9)


def test_not_a_run_folder(tmp_path):
    with pytest.raises(RunDirError, match="not a run folder"):
        timelapse_frames(tmp_path)


def test_run_without_sample_grids(run_copy):
    for png in (run_copy / "samples").iterdir():
        png.unlink()
    with pytest.raises(RunDirError, match="no sample grids yet"):
        timelapse_frames(run_copy)


def test_unreadable_sample_grid_names_the_file(run_copy):
    bad = run_copy / "samples" / "step_000003.png"
    bad.write_bytes(b"\x89PNG not really")
    with pytest.raises(RunDirError, match="unreadable sample grid") as info:
        timelapse_frames(run_copy)
    assert str(bad) in str(info.value)
