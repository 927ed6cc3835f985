"""The studio with models that sample step by step (diffusion, flow): sampler
steps and guidance on every entry point, walks through the deterministic
sampler, the denoising process, variations of a picture, morphs by inversion,
bundles and the weight average that sampling uses."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.errors import ConfigError
from engine.models import build_model, model_config
from engine.models.base import GUIDANCE, STEPS, SamplerSettings
from engine.runs.bundles import export_bundle, load_model_from
from engine.media.images import to_uint8
from engine.studio.animation import WalkRenderer, evaluating, process_frames, walk_frames
from engine.studio.keyframes import Timeline
from engine.studio.morph import morph_frames, morph_timeline, morph_unavailable
from engine.studio.sampling import (run_sampling_defaults, run_sampling_options, sample_run,
                                    sampler_settings)
from engine.studio.variation import VariationMaker, variation_unavailable, vary_picture


def test_samples_depend_on_seed_steps_and_guidance_alone(denoiser_run):
    a = sample_run(denoiser_run, [3, 4, 5], device="cpu", steps=3, guidance=1.5)
    np.testing.assert_array_equal(a, sample_run(denoiser_run, [3, 4, 5], device="cpu",
                                                steps=3, guidance=1.5))
    # A tile does not depend on the seeds sampled beside it.
    np.testing.assert_array_equal(a[2:], sample_run(denoiser_run, [5], device="cpu", steps=3,
                                                    guidance=1.5))
    assert not np.array_equal(a, sample_run(denoiser_run, [3, 4, 5], device="cpu", steps=2,
                                            guidance=1.5))
    assert not np.array_equal(a, sample_run(denoiser_run, [3, 4, 5], device="cpu", steps=3,
                                            guidance=0.0))
    # None: the run's own defaults (4 steps, guidance 2 in these tiny runs).
    np.testing.assert_array_equal(sample_run(denoiser_run, [3], device="cpu"),
                                  sample_run(denoiser_run, [3], device="cpu", steps=4, guidance=2.0))


def test_models_without_a_sampler_refuse_steps_and_guidance(trained_run):
    with pytest.raises(ConfigError, match="one pass; it has no sampler steps"):
        sample_run(trained_run, [0], device="cpu", steps=10)
    with pytest.raises(ConfigError, match="no classifier-free guidance"):
        sample_run(trained_run, [0], device="cpu", guidance=2.0)
    with pytest.raises(ConfigError, match="no sampler steps"):
        walk_frames(trained_run, Timeline.from_seeds([1, 2], frames_between=1), device="cpu",
                    steps=5)
    assert run_sampling_defaults(trained_run) is None
    assert STEPS not in run_sampling_options(trained_run)


def test_bad_sampler_values_are_one_clear_line(first_denoiser_run):
    with pytest.raises(ConfigError, match="sampler steps must be a whole number from 1 to 1000"):
        sample_run(first_denoiser_run, [0], device="cpu", steps=0)
    with pytest.raises(ConfigError, match="guidance must be a number from 0 to 20"):
        sample_run(first_denoiser_run, [0], device="cpu", guidance=-1.0)


def test_guidance_is_refused_for_a_run_that_is_not_class_conditional(first_denoiser_run):
    name = first_denoiser_run.name.removeprefix("tiny-")
    model = build_model(name, model_config(name, width=8, depth=2, blocks=1, conditional=False),
                        torch.device("cpu"))
    with pytest.raises(ConfigError, match="not class-conditional"), sampler_settings(model, guidance=3):
        pass
    with sampler_settings(model, steps=7):
        assert model.sampling.steps == 7
    assert model.sampling.steps == model.config.sample_steps   # put back after the block


def test_the_gui_reads_a_runs_sampling_controls(first_denoiser_run, tmp_path):
    options = run_sampling_options(first_denoiser_run)
    assert STEPS in options and GUIDANCE in options
    assert run_sampling_defaults(first_denoiser_run) == SamplerSettings(steps=4, guidance=2.0)
    bundle = export_bundle(first_denoiser_run, tmp_path / "m.atelier.safetensors")
    assert run_sampling_options(bundle) == options
    assert run_sampling_defaults(bundle) == SamplerSettings(steps=4, guidance=2.0)


def test_a_bundle_samples_as_its_run_with_steps_and_guidance(first_denoiser_run, tmp_path):
    bundle = export_bundle(first_denoiser_run, tmp_path / "m.atelier.safetensors")
    np.testing.assert_array_equal(
        sample_run(bundle, [1, 2], device="cpu", steps=3, guidance=1.0),
        sample_run(first_denoiser_run, [1, 2], device="cpu", steps=3, guidance=1.0))


def test_sampling_uses_the_weight_average(first_denoiser_run):
    _, model = load_model_from(first_denoiser_run, torch.device("cpu"))
    networks = model.networks()
    trained, average = networks["unet"], networks["ema"]
    before = model.sample([1, 2])
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(1.0)
    torch.testing.assert_close(model.sample([1, 2]), before, rtol=0, atol=0)
    with torch.no_grad():
        for p in average.parameters():
            p.add_(0.1)
    assert not torch.equal(model.sample([1, 2]), before)


def test_a_looping_walk_through_the_sampler_is_seamless(denoiser_run):
    loop, info = walk_frames(denoiser_run, Timeline.from_seeds([1, 2, 3], frames_between=3,
                                                               loop=True), device="cpu", steps=3)
    # The frame after the loop's last is its first: the open walk back to seed 1 shows it.
    open_walk, _ = walk_frames(denoiser_run, Timeline.from_seeds([1, 2, 3, 1], frames_between=3),
                               device="cpu", steps=3)
    assert len(loop) == 12 and len(open_walk) == 13
    np.testing.assert_array_equal(loop, open_walk[:-1])
    np.testing.assert_array_equal(open_walk[-1], loop[0])
    # The keyframes are the seeds' own starting noise through the same sampler
    # (without a class: the keyframes give none).
    _, model = load_model_from(denoiser_run, torch.device("cpu"))
    with sampler_settings(model, steps=3), evaluating(model):
        keyframes = to_uint8(model.decode(model.latents_for_seeds([1, 2, 3])))
    np.testing.assert_array_equal(loop[[0, 4, 8]], keyframes)
    assert info["sampler_steps"] == 3 and info["guidance"] == 2.0


def test_a_walk_preview_never_keeps_one_renders_settings(first_denoiser_run):
    renderer = WalkRenderer(first_denoiser_run, "cpu")
    timeline = Timeline.from_seeds([1, 2], frames_between=1)
    default, _ = renderer.render(timeline)
    fewer, info = renderer.render(timeline, steps=2)
    again, info_again = renderer.render(timeline)
    assert not np.array_equal(default, fewer) and info["sampler_steps"] == 2
    np.testing.assert_array_equal(default, again)
    assert info_again["sampler_steps"] == 4


def test_the_process_has_a_frame_per_step_from_noise(denoiser_run):
    frames, info = process_frames(denoiser_run, 7, device="cpu", steps=6, guidance=1.0)
    assert frames.shape == (7, 28, 28, 1)
    assert info["kind"] == "process" and info["sampler_steps"] == 6 and info["guidance"] == 1.0
    # The last frame is the seed's sample (its class: seed mod classes, as in the gallery).
    np.testing.assert_array_equal(frames[-1], sample_run(denoiser_run, [7], device="cpu", steps=6,
                                                         guidance=1.0)[0])
    assert len(process_frames(denoiser_run, 7, device="cpu")[0]) == 5   # default 4 steps


def test_the_process_can_show_each_steps_prediction(denoiser_run, trained_run):
    noisy, info = process_frames(denoiser_run, 7, device="cpu", steps=5, shows="sample")
    guessed, guess_info = process_frames(denoiser_run, 7, device="cpu", steps=5,
                                         shows="prediction")
    assert guessed.shape == noisy.shape == (6, 28, 28, 1)
    # Both start from the seed's noise; in between the guess is a picture, not noise.
    np.testing.assert_array_equal(guessed[0], noisy[0])
    assert not np.array_equal(guessed[1:-1], noisy[1:-1])
    assert guess_info["shows"] == "prediction" and info["shows"] == "sample"
    assert "shows" not in process_frames(denoiser_run, 7, device="cpu", steps=2)[1]
    with pytest.raises(ConfigError, match="the process shows one of sample, prediction"):
        process_frames(denoiser_run, 7, device="cpu", shows="noise")
    with pytest.raises(ConfigError, match="has no process animation"):
        process_frames(trained_run, 7, device="cpu", shows="prediction")


def test_variations_at_strength_0_are_the_picture_and_follow_their_seeds(denoiser_run, pictures):
    maker = VariationMaker(denoiser_run, "cpu")
    kept = maker.vary(pictures["square"], 0.0, [1, 2])
    for image in kept.images:
        np.testing.assert_array_equal(image, kept.original)
    some = maker.vary(pictures["square"], 0.6, [1, 2, 3], steps=5)
    np.testing.assert_array_equal(some.images, maker.vary(pictures["square"], 0.6, [1, 2, 3],
                                                          steps=5).images)
    assert not np.array_equal(some.images[0], some.images[1])
    assert not np.array_equal(some.images[0], kept.original)
    tile = some.tile_provenance(2)
    assert tile["kind"] == "variation" and tile["seed"] == 3 and tile["strength"] == 0.6
    assert tile["input"] == "square.png" and len(tile["input_sha256"]) == 16
    assert tile["sampler_steps"] == 5 and tile["guidance"] == 2.0
    # Pixels the GUI holds go the same way as the file they came from.
    from PIL import Image
    held = np.asarray(Image.open(pictures["square"]))[:, :, None]
    np.testing.assert_array_equal(vary_picture(denoiser_run, held, 0.6, [1, 2, 3], device="cpu",
                                               steps=5), some.images)


def test_bad_variation_requests(first_denoiser_run, trained_run, pictures):
    with pytest.raises(ConfigError, match="strength must be a number from 0"):
        vary_picture(first_denoiser_run, pictures["square"], 1.5, [1], device="cpu")
    with pytest.raises(Exception, match="notes.png"):
        vary_picture(first_denoiser_run, pictures["text"], 0.5, [1], device="cpu")
    with pytest.raises(ConfigError, match="need a diffusion or flow model"):
        vary_picture(trained_run, pictures["square"], 0.5, [1], device="cpu")
    assert variation_unavailable(first_denoiser_run) is None
    assert "this run is dcgan" in variation_unavailable(trained_run)


def test_a_morph_inverts_each_picture_and_walks_between_their_noises(denoiser_run, pictures):
    paths = [pictures["square"], pictures["bar"]]
    frames, info = morph_frames(denoiser_run, paths, device="cpu", frames_between=3, loop=True,
                                steps=4, guidance=1.0)
    assert frames.shape == (8, 28, 28, 1)
    assert info["keyframes_from"] == "inversion" and info["morph"]["interpolation"] == "slerp"
    assert info["sampler_steps"] == 4 and info["inputs"] == ["square.png", "bar.jpg"]
    # The keyframes are the pictures regenerated from their inverted noise.
    _, model = load_model_from(denoiser_run, torch.device("cpu"))
    from engine.studio.reconstruction import load_picture
    x = torch.stack([torch.from_numpy(np.array(load_picture(p, 28, 1))) for p in paths]).float() / 127.5 - 1
    with sampler_settings(model, steps=4, guidance=1.0):
        again = model.decode(model.invert(x))
    regenerated = ((again.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    positions = morph_timeline(2, frames_between=3, loop=True).keyframe_positions()
    for k, position in enumerate(positions):
        assert np.abs(frames[position].astype(int) - regenerated[k]).max() <= 1
    # Looping: the step from the last frame back to the first is like any other.
    steps = [np.abs(frames[i].astype(int) - frames[(i + 1) % 8]).mean() for i in range(8)]
    assert steps[-1] <= max(steps[:-1]) + 1e-9
    assert morph_unavailable(denoiser_run) is None


def test_a_model_that_neither_encodes_nor_inverts_cannot_morph(trained_run, pictures):
    with pytest.raises(ConfigError, match="needs a VAE .* or a model that inverts"):
        morph_frames(trained_run, [pictures["square"], pictures["bar"]], device="cpu")
    assert "this run is dcgan" in morph_unavailable(trained_run)


def test_comparing_checkpoints_takes_the_sampler_settings(first_denoiser_run):
    from engine.studio.gallery import compare_seeds

    rows = compare_seeds(first_denoiser_run, [1, 2], device="cpu", steps=2, guidance=1.0)
    newest = [row for row in rows if row.label.startswith("checkpoint")][-1]
    np.testing.assert_array_equal(np.stack(newest.images),
                                  sample_run(first_denoiser_run, [1, 2], device="cpu", steps=2,
                                             guidance=1.0))
