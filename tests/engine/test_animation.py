"""engine.studio.animation: the training time-lapse frames of a run."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine.studio.animation import timelapse_frames
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


# -- latent walks ------------------------------------------------------------------
import torch  # noqa: E402

from engine.studio.animation import render_walk, walk_frames  # noqa: E402
from engine.errors import ConfigError  # noqa: E402
from engine.studio.keyframes import Timeline  # noqa: E402
from engine.studio.sampling import sample_run  # noqa: E402


def test_walk_passes_through_each_keyframes_own_image(trained_run):
    timeline = Timeline.from_seeds([1, 7, 42], frames_between=3)
    frames, provenance = walk_frames(trained_run, timeline, device="cpu")
    assert frames.shape == (9, 28, 28, 1) and frames.dtype == np.uint8
    tiles = sample_run(trained_run, [1, 7, 42], device="cpu")
    for k, position in enumerate(timeline.keyframe_positions()):
        assert np.abs(frames[position].astype(int) - tiles[k]).max() <= 1
    assert provenance["seeds"] == [1, 7, 42] and provenance["kind"] == "interpolate"
    assert provenance["model"] == "dcgan" and provenance["step"] == 4
    assert Timeline.from_dict(provenance["timeline"]) == timeline


def test_walk_is_reproducible_and_batching_does_not_change_it(trained_run):
    from engine.runs.folders import RunDir
    _, model = RunDir(trained_run).load_model(torch.device("cpu"))
    timeline = Timeline.from_seeds([3, 5], frames_between=10, ease="in-out")
    once = render_walk(model, timeline, batch_size=64)
    again = render_walk(model, timeline, batch_size=64)
    np.testing.assert_array_equal(once, again)
    assert np.abs(render_walk(model, timeline, batch_size=4).astype(int) - once).max() <= 1
    assert all(net.training for net in model.networks().values())  # left as it was


def test_looped_walk_has_no_jump(trained_run):
    timeline = Timeline.from_seeds([1, 7, 42], frames_between=6, loop=True)
    frames, _ = walk_frames(trained_run, timeline, device="cpu")
    f = frames.astype(np.int16)
    steps = [np.abs(f[i] - f[(i + 1) % len(f)]).mean() for i in range(len(f))]
    assert steps[-1] <= max(steps[:-1])


class _ConditionalToy:
    """Just enough of a conditional model to check what the walk hands it."""
    num_classes = 3
    device = torch.device("cpu")

    def __init__(self):
        self.seen = []

    def networks(self):
        return {}

    def latents_for_seeds(self, seeds):
        return torch.stack([torch.full((4,), float(s)) for s in seeds])

    def decode(self, latents):
        raise AssertionError("a walk with classes must use decode_with_classes")

    def decode_with_classes(self, latents, class_weights):
        self.seen.append(class_weights.clone())
        return class_weights[:, :, None, None].expand(-1, 3, 2, 2) * 2 - 1


def test_walk_hands_class_mixtures_to_conditional_models():
    toy = _ConditionalToy()
    frames = render_walk(toy, Timeline.from_seeds([1, 2], labels=[0, 2], frames_between=1))
    weights = torch.cat(toy.seen)
    torch.testing.assert_close(weights, torch.tensor([[1, 0, 0], [0.5, 0, 0.5], [0, 0, 1.0]]))
    assert frames.shape == (3, 2, 2, 3) and frames[1, 0, 0].tolist() == [128, 0, 128]


def test_unconditional_models_ignore_labels(trained_run):
    plain, _ = walk_frames(trained_run, Timeline.from_seeds([1, 2], frames_between=2), device="cpu")
    labelled, _ = walk_frames(trained_run, Timeline.from_seeds([1, 2], labels=[4, 9], frames_between=2),
                              device="cpu")
    np.testing.assert_array_equal(plain, labelled)


# -- a family's own process ------------------------------------------------------------
def test_gan_has_no_process_animation(trained_run):
    from engine.studio.animation import process_frames
    with pytest.raises(ConfigError, match="dcgan has no process animation"):
        process_frames(trained_run, seed=3, device="cpu")


def test_process_hook_is_used_when_a_family_provides_it(trained_run, monkeypatch):
    from engine.studio.animation import process_frames
    from engine.models.gan import GanModel

    def drawing(self, seed, label=None):
        assert torch.is_inference_mode_enabled()
        return torch.linspace(-1, 1, 5)[:, None, None, None].expand(5, 1, 28, 28)

    monkeypatch.setattr(GanModel, "process_name", "drawing")
    monkeypatch.setattr(GanModel, "process_frames", drawing)
    frames, provenance = process_frames(trained_run, seed=3, device="cpu")
    assert frames.shape == (5, 28, 28, 1)
    assert frames[0].max() == 0 and frames[-1].min() == 255
    assert provenance["process"] == "drawing" and provenance["seeds"] == [3]


# -- time-lapse of chosen tiles ---------------------------------------------------------
def test_timelapse_of_one_tile_is_that_seeds_image(trained_run):
    steps, frames = timelapse_frames(trained_run, tiles=[9])
    assert frames[0].shape == (28, 28, 1)
    tile = sample_run(trained_run, [9], device="cpu")[0]
    assert np.abs(frames[-1].astype(int) - tile).max() <= 1   # the last grid is the final state


def test_timelapse_of_several_tiles_is_a_small_grid(trained_run):
    _, frames = timelapse_frames(trained_run, tiles=[0, 1, 2, 3])
    assert frames[0].shape == (2 + 2 * 30, 2 + 2 * 30, 1)


@pytest.mark.parametrize("tiles", [[], [64], [-1]])
def test_bad_timelapse_tiles(trained_run, tiles):
    with pytest.raises(ConfigError, match="tiles must be from 0 to 63"):
        timelapse_frames(trained_run, tiles=tiles)


def test_walk_renderer_matches_walk_frames_and_reuses_its_model(trained_run, monkeypatch):
    from engine.studio.animation import WalkRenderer
    from engine.runs.folders import RunDir

    timeline = Timeline.from_seeds([2, 8], frames_between=2)
    expected, provenance = walk_frames(trained_run, timeline, device="cpu")
    loads = []
    original = RunDir.load_model
    monkeypatch.setattr(RunDir, "load_model", lambda self, d: loads.append(1) or original(self, d))
    renderer = WalkRenderer(trained_run, device="cpu")
    for _ in range(2):
        frames, info = renderer.render(timeline)
        np.testing.assert_array_equal(frames, expected)
    assert info == provenance
    assert len(loads) == 1


def test_a_walk_is_checked_against_its_budget_before_any_frame_is_decoded(trained_run, monkeypatch):
    # Issue 22, item 9: an export's memory is checked before the model makes anything.
    from engine.runs.folders import RunDir
    _, model = RunDir(trained_run).load_model(torch.device("cpu"))
    decoded, asked = [], []
    original = model.decode
    monkeypatch.setattr(model, "decode", lambda z: decoded.append(len(z)) or original(z))

    def refuse(count, shape):
        asked.append((count, shape))
        raise ConfigError("too large")

    timeline = Timeline.from_seeds([1, 2, 3], frames_between=1000)
    with pytest.raises(ConfigError, match="too large"):
        render_walk(model, timeline, budget=refuse)
    assert asked == [(2003, (28, 28, 1))] and decoded == []   # 2 x 1001 + 1
    frames = render_walk(model, Timeline.from_seeds([1, 2], frames_between=70),
                         batch_size=32, budget=lambda count, shape: asked.append((count, shape)))
    assert asked[-1] == (72, (28, 28, 1)) and decoded == [32, 32, 8]
    assert frames.shape == (72, 28, 28, 1) and frames.flags.c_contiguous
