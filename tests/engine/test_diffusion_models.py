"""The diffusion (`ddpm`) and flow (`flow`) families: sampler settings,
determinism, classifier-free guidance, inversion, variations, the process
animation, the weight average and exact resume. Conformance, every model's
shapes and the trainer's exact resume run over them too
(test_family_conformance.py, test_model_families.py, test_training_resume.py)."""
from __future__ import annotations

import math

import pytest
import torch

from engine.data.facts import DataFacts
from engine.errors import ConfigError
from engine.models import build_model, model_config, model_names, model_spec
from engine.models.base import (CAPABILITIES, GUIDANCE, INVERT, PREDICTION, STEPS, VARY,
                                GenerativeModel, MissingCapability, SamplerSettings)
from engine.models.common.ema import ema_decay, update_average
from engine.presets import choose_preset

CPU = torch.device("cpu")
FAMILIES = ["ddpm", "flow"]


def make(name: str, seed: int = 0, steps: int = 4, **settings):
    """A tiny model (width 8, two levels of one block) sampling in a few steps."""
    settings = {"width": 8, "depth": 2, "blocks": 1, "sample_steps": steps, **settings}
    return build_model(name, model_config(name, **settings), CPU, seed=seed)


def pictures(n: int = 2, channels: int = 1, size: int = 28, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, channels, size, size, generator=g) * 2 - 1


def _overrides(family: type[GenerativeModel], method: str) -> bool:
    return getattr(family, method) is not getattr(GenerativeModel, method)


# -- declared capabilities and sampler settings ---------------------------------------
@pytest.mark.parametrize("name", model_names())
def test_the_new_capabilities_match_the_methods(name):
    family = model_spec(name).family
    caps = family.capabilities
    assert {STEPS, GUIDANCE, VARY, INVERT} <= CAPABILITIES and caps <= CAPABILITIES
    assert (VARY in caps) == _overrides(family, "vary")
    assert (INVERT in caps) == _overrides(family, "invert")


@pytest.mark.parametrize("name", FAMILIES)
def test_the_spec_offers_steps_and_guidance(name):
    spec = model_spec(name)
    assert {"steps", "guidance", "temperature", "classes"} <= set(spec.sampling_options)
    assert spec.process_name in ("denoising", "flowing") and spec.takes_width
    assert spec.image_sizes == (28, 32, 64) and "class_coverage" in spec.eval_metrics


def test_configure_sampling_validates_and_keeps_what_is_not_given():
    model = make("ddpm", num_classes=10)
    assert model.sampling == SamplerSettings(4, 2.0)   # from the config
    assert model.configure_sampling(steps=7) == SamplerSettings(7, 2.0)
    assert model.configure_sampling(guidance=0) == SamplerSettings(7, 0.0)
    assert model.configure_sampling(steps=12.0).steps == 12   # a whole number from JSON
    for steps in (0, 1001, 2.5, True, "9", float("nan")):
        with pytest.raises(ConfigError, match="sampler steps must be a whole number from 1"):
            model.configure_sampling(steps=steps)
    for guidance in (-0.1, 20.5, float("inf"), float("nan"), "2"):
        with pytest.raises(ConfigError, match="guidance must be a number from 0 to 20"):
            model.configure_sampling(guidance=guidance)
    assert model.sampling == SamplerSettings(12, 0.0)   # a refused choice changes nothing


def test_a_family_without_a_step_sampler_refuses_the_settings():
    gan = build_model("dcgan", model_config("dcgan", width=8), CPU)
    with pytest.raises(MissingCapability, match="sampler steps"):
        gan.configure_sampling(steps=10)
    with pytest.raises(MissingCapability, match="guidance"):
        gan.configure_sampling(guidance=2)
    with pytest.raises(MissingCapability, match="variations"):
        gan.vary(pictures(1), 0.5, [0])
    with pytest.raises(MissingCapability, match="invert"):
        gan.invert(pictures(1))


@pytest.mark.parametrize("settings,message", [
    ({"image_size": 30}, "multiple of 4"),
    ({"depth": 6}, "depth"),
    ({"prediction": "x0"}, "prediction"),
    ({"eta": 1.5}, "eta"),
    ({"sample_steps": 0}, "sampler steps"),
    ({"guidance": 30.0}, "guidance"),
    ({"process_shows": "noise"}, "process_shows"),
    ({"p_uncond": 1.0}, "p_uncond"),
])
def test_impossible_settings_are_one_clear_line(settings, message):
    with pytest.raises(ConfigError, match=message):
        model_config("ddpm", **settings)


def test_flow_settings_are_checked():
    with pytest.raises(ConfigError, match="sampler must be one of euler, heun"):
        model_config("flow", sampler="rk4")
    with pytest.raises(ConfigError, match="logit_std"):
        model_config("flow", logit_std=0.0)


# -- determinism -------------------------------------------------------------------------
@pytest.mark.parametrize("name,settings", [("ddpm", {}), ("ddpm", {"prediction": "epsilon"}),
                                           ("ddpm", {"eta": 1.0}), ("flow", {}),
                                           ("flow", {"sampler": "heun"})])
def test_same_seed_steps_and_guidance_give_the_same_picture(name, settings):
    model = make(name, num_classes=10, **settings)
    first = model.sample([3, 4], labels=[1, 2])
    assert torch.equal(first, model.sample([3, 4], labels=[1, 2]))
    assert torch.equal(first, make(name, num_classes=10, **settings).sample([3, 4], labels=[1, 2]))
    model.configure_sampling(steps=5)
    fewer = model.sample([3, 4], labels=[1, 2])
    assert not torch.equal(first, fewer)
    model.configure_sampling(steps=4)
    assert torch.equal(first, model.sample([3, 4], labels=[1, 2]))


def test_a_stochastic_ddim_picture_still_depends_on_its_seed_alone():
    """eta > 0 adds fresh noise each step, made from the seed's own starting noise."""
    model = make("ddpm", eta=1.0)
    alone, with_others = model.sample([5]), model.sample([2, 5, 7, 8, 9])
    torch.testing.assert_close(alone[0], with_others[1], rtol=0, atol=1e-6)
    assert not torch.equal(alone, make("ddpm", eta=0.0).sample([5]))


def test_decode_of_the_seeds_noise_is_the_sample():
    """A walk decodes the starting noise: its keyframes are the gallery's tiles."""
    model = make("flow")
    with torch.inference_mode():
        decoded = model.decode(model.latents_for_seeds([6, 9]))
    assert torch.equal(decoded, model.sample([6, 9]))


# -- classifier-free guidance -----------------------------------------------------------
@pytest.mark.parametrize("name", FAMILIES)
def test_guidance_changes_a_conditional_picture(name):
    """Guidance w: unconditional + w * (conditional - unconditional). So w = 0
    draws without the class (the null class: what decode gives without labels),
    w = 1 is the plain conditional model, and w > 1 pushes further."""
    model = make(name, num_classes=10)
    pictures_by_w = {}
    for w in (0.0, 1.0, 3.0):
        model.configure_sampling(guidance=w)
        pictures_by_w[w] = model.sample([2], labels=[7])
    assert not torch.equal(pictures_by_w[1.0], pictures_by_w[3.0])
    assert not torch.equal(pictures_by_w[0.0], pictures_by_w[1.0])
    model.configure_sampling(guidance=1.0)
    with torch.inference_mode():
        without_class = model.decode(model.latents_for_seeds([2]))
    model.configure_sampling(guidance=0.0)
    assert torch.equal(pictures_by_w[0.0], model.sample([2], labels=[3]))   # the class is ignored
    torch.testing.assert_close(pictures_by_w[0.0], without_class)


def test_guidance_is_ignored_by_an_unconditional_model():
    model = make("ddpm")
    assert not model.uses_labels
    first = model.sample([1])
    model.configure_sampling(guidance=5.0)
    assert torch.equal(first, model.sample([1]))


def test_a_model_on_unlabelled_data_or_told_not_to_is_unconditional():
    assert not make("ddpm", num_classes=0).uses_labels
    assert not make("flow", num_classes=10, conditional=False).uses_labels
    with pytest.raises(ConfigError, match="two or more classes"):
        make("ddpm", num_classes=1)


def test_a_class_mixture_halfway_lies_between_the_classes():
    model = make("ddpm", num_classes=10)
    with torch.inference_mode():
        noise = model.latents_for_seeds([4, 4, 4])
        weights = torch.zeros(3, 10)
        weights[0, 1], weights[1, [1, 8]], weights[2, 8] = 1, 0.5, 1
        one, half, eight = model.decode_with_classes(noise, weights)
    assert not torch.equal(half, one) and not torch.equal(half, eight)


def test_training_drops_labels_to_the_null_class():
    model = make("ddpm", num_classes=10, p_uncond=0.5)
    classes = model._training_classes(torch.arange(10).repeat(20), 200)
    dropped = (classes == 10).float().mean().item()
    assert 0.35 < dropped < 0.65
    with pytest.raises(ConfigError, match="class of each training picture"):
        model.train_step(pictures(2))


# -- inversion and variations ---------------------------------------------------------
@pytest.mark.parametrize("name,settings,steps,bound", [
    # Measured on this untrained tiny U-Net (two 16 px pictures in [-0.9, 0.9]), mean
    # absolute error of decode(invert(x)) against x: DDIM (v) 0.062 at 25 steps and
    # 0.031 at 50; flow Euler 0.019 and 0.0094; flow Heun 0.0005 at 10 and 0.00007
    # at 20. First-order samplers halve the error as the steps double. (A trained
    # ddpm on MNIST after 872 CPU steps: 0.035 at 20 steps, 0.014 at 50, 0.007 at 100.)
    ("ddpm", {}, 50, 0.05),
    ("flow", {}, 50, 0.015),
    ("flow", {"sampler": "heun"}, 20, 0.0003),
])
def test_inverting_and_decoding_gives_the_picture_back(name, settings, steps, bound):
    model = make(name, steps=steps, image_size=16, **settings)
    original = pictures(2, size=16) * 0.9
    noise = model.invert(original)
    assert noise.shape == original.shape
    with torch.inference_mode():
        back = model.decode(noise)
    error = (back - original).abs().mean().item()
    assert error < bound, f"round trip error {error:.5f}"


def test_inversion_of_a_conditional_model_uses_its_class():
    model = make("flow", sampler="heun", steps=20, num_classes=10, guidance=1.0, image_size=16)
    original = pictures(1, size=16) * 0.9
    labels = torch.tensor([3])
    noise = model.invert(original, labels)
    with torch.inference_mode():
        back = model.decode(noise, labels)
        other_class = model.decode(noise, torch.tensor([4]))
    assert (back - original).abs().mean() < 0.001
    assert not torch.equal(back, other_class)


@pytest.mark.parametrize("name", FAMILIES)
def test_variation_strength_runs_from_the_picture_to_a_new_one(name):
    model = make(name, steps=8)
    a, b = pictures(1, seed=1), pictures(1, seed=2)
    assert torch.equal(model.vary(a, 0.0, [5]), a.clamp(-1, 1))
    # Strength 1: all noise, so the picture no longer matters: the seed's own sample.
    full_a, full_b = model.vary(a, 1.0, [5]), model.vary(b, 1.0, [5])
    assert torch.equal(full_a, full_b)
    torch.testing.assert_close(full_a, model.sample([5]))
    # Between: deterministic per seed, closer to the picture the lower the strength.
    light, heavy = model.vary(a, 0.2, [5]), model.vary(a, 0.8, [5])
    assert torch.equal(light, model.vary(a, 0.2, [5]))
    assert (light - a).abs().mean() < (heavy - a).abs().mean()
    assert not torch.equal(model.vary(a, 0.5, [5]), model.vary(a, 0.5, [6]))


def test_variation_arguments_are_checked():
    model = make("flow")
    with pytest.raises(ConfigError, match="strength"):
        model.vary(pictures(1), 1.5, [0])
    with pytest.raises(ConfigError, match="seeds"):
        model.vary(pictures(2), 0.5, [0])


# -- the process animation ---------------------------------------------------------------
@pytest.mark.parametrize("name", FAMILIES)
def test_the_process_runs_from_noise_to_the_seeds_picture(name):
    model = make(name, steps=6, num_classes=10)
    frames = model.process_frames(3)
    assert frames.shape == (7, 1, 28, 28) and frames.min() >= -1 and frames.max() <= 1
    torch.testing.assert_close(frames[0:1], model.latents_for_seeds([3]).clamp(-1, 1))
    torch.testing.assert_close(frames[-1:], model.sample([3]))   # its class: seed mod classes
    predicted = model.process_frames(3, label=5, shows="prediction")
    assert predicted.shape == frames.shape and not torch.equal(predicted[1], frames[1])
    with pytest.raises(ConfigError, match="process shows"):
        model.process_frames(3, shows="everything")


def test_only_the_denoisers_process_shows_its_prediction():
    """PREDICTION: the families whose process can show each step's guess of the
    finished picture (the studio offers the view to those only)."""
    with_process = [name for name in model_names() if model_spec(name).process_name]
    assert set(FAMILIES) < set(with_process)   # row-lstm, draw, ... have a process too
    for name in with_process:
        assert (PREDICTION in model_spec(name).capabilities) == (name in FAMILIES), name


# -- speed: what guidance costs --------------------------------------------------------
def network_rows(model) -> list[int]:
    """Records the batch size of every pass of the averaged network."""
    rows: list[int] = []
    model.ema.register_forward_hook(lambda module, args, out: rows.append(args[0].shape[0]))
    return rows


def test_guidance_batches_both_passes_and_skips_them_without_a_class():
    """Guided: the conditional and unconditional passes as one batch, one pass a
    step. A conditional model drawing without a class (a walk or a variation
    without labels) runs one plain pass a step: guiding the null class towards
    itself changes nothing."""
    model = make("flow", steps=3, num_classes=10)
    rows = network_rows(model)
    labelled = model.sample([1, 2, 3, 4], labels=[1, 2, 3, 4])
    assert rows == [8, 8, 8]
    rows.clear()
    with torch.inference_mode():
        unlabelled = model.decode(model.latents_for_seeds([1, 2, 3, 4]))
    assert rows == [4, 4, 4] and not torch.equal(labelled, unlabelled)
    model.configure_sampling(guidance=1.0)
    with torch.inference_mode():
        assert torch.equal(unlabelled, model.decode(model.latents_for_seeds([1, 2, 3, 4])))


# -- the weight average ---------------------------------------------------------------
def test_the_average_warms_up_then_holds_its_target():
    assert ema_decay(0.999, 1) == pytest.approx(2 / 11)
    assert ema_decay(0.999, 80) == pytest.approx(0.9)
    assert ema_decay(0.999, 100_000) == 0.999
    assert ema_decay(0.0, 5) == 0.0
    average, network = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    before = average.weight.detach().clone()
    update_average(average, network, 0.999, 1)
    expected = before + (network.weight - before) * (1 - 2 / 11)
    torch.testing.assert_close(average.weight, expected)
    update_average(average, network, 0.0, 2)
    assert torch.equal(average.weight, network.weight)


def test_sampling_uses_the_average_which_trails_the_trained_network():
    model = make("flow", ema_decay=0.999)
    images = pictures(8)
    for _ in range(3):
        losses = model.train_step(images)
    assert set(losses) == {"loss"} and model.plotted_losses == ("loss",)
    assert model.steps_done == 3
    trained = dict(model.unet.named_parameters())
    moved = [name for name, p in model.ema.named_parameters() if not torch.equal(p, trained[name])]
    assert moved and not any(p.requires_grad for p in model.ema.parameters())
    assert set(model.networks()) == {"unet", "ema"}


@pytest.mark.parametrize("name", FAMILIES)
def test_training_resumes_bit_for_bit_with_the_average_and_its_step(name):
    """The model-level round trip the trainer's resume relies on (the trainer's
    own check runs over every model in test_training_resume.py)."""
    images, labels = pictures(8), torch.arange(8) % 10
    straight = make(name, seed=3, num_classes=10)
    for _ in range(4):
        straight.train_step(images, labels)

    first = make(name, seed=3, num_classes=10)
    for _ in range(2):
        first.train_step(images, labels)
    weights = {n: {k: v.clone() for k, v in net.state_dict().items()}
               for n, net in first.networks().items()}
    tensors, settings = first.training_state()
    assert settings[f"{name}.counters"] == {"steps_done": 2}
    resumed = make(name, seed=99, num_classes=10)
    for n, net in resumed.networks().items():
        net.load_state_dict(weights[n])
    resumed.load_training_state({k: v.clone() for k, v in tensors.items()}, settings)
    for _ in range(2):
        resumed.train_step(images, labels)
    for n, net in straight.networks().items():
        for key, value in net.state_dict().items():
            assert torch.equal(value, resumed.networks()[n].state_dict()[key]), f"{n}.{key}"
    assert torch.equal(straight.sample([0, 1]), resumed.sample([0, 1]))


# -- networks and presets -------------------------------------------------------------
@pytest.mark.parametrize("channels,size", [(1, 28), (3, 32), (3, 64)])
def test_the_unet_takes_each_size_and_colour(channels, size):
    model = make("ddpm", channels=channels, image_size=size)
    assert model.config.unet_patch == (2 if size == 64 else 1)
    model.train_step(pictures(2, channels, size))
    assert model.sample([0]).shape == (1, channels, size, size)


def test_attention_at_the_lowest_resolution_is_optional():
    plain, attending = make("flow"), make("flow", attention=True)
    assert attending.unet.attention is not None and plain.unet.attention is None
    assert attending.sample([0]).shape == (1, 1, 28, 28)


@pytest.mark.parametrize("name", FAMILIES)
def test_a_chosen_model_gets_a_preset_that_fits_the_data_and_device(name):
    mnist = DataFacts(60_000, 1, 28, 10)
    preset = choose_preset(mnist, "cpu", model=name)
    assert preset.value("model") == name and preset.value("image_size") == 28
    assert preset.value("width") == 16 and preset.value("minutes") is not None
    assert preset.value("guidance") == 2.0
    # One residual block per level on a CPU (sampling speed, steps per minute), two on a GPU.
    assert preset.value("blocks") == 1
    assert choose_preset(mnist, "cuda", model=name).value("blocks") == 2
    colour = DataFacts(500, 3, 96, 0)
    on_cpu = choose_preset(colour, "cpu", model=name)
    on_gpu = choose_preset(colour, "cuda", model=name)
    assert on_cpu.value("image_size") == 32 and on_gpu.value("image_size") == 64
    assert on_cpu.value("batch_size") == 64 and on_gpu.value("attention") is True
    assert on_cpu.value("guidance") is None   # no labels, no guidance
    tiny = choose_preset(DataFacts(20, 3, 32, 0), "cpu", model=name)
    assert tiny.value("batch_size") == 16
    assert model_spec(name).family.suggest_preset(
        name, DataFacts(100, 1, 64, 0, sequences=True), "cpu", True) is None


def test_unasked_they_outrank_the_gans_only_where_measured_better():
    # Measured (docs/BENCHMARKS.md): MNIST-like data on a CPU, where flow wins.
    assert choose_preset(DataFacts(60_000, 1, 28, 10), "cpu").value("model") == "flow"
    # Not measured in their favour: a GPU, colour, a small set.
    assert choose_preset(DataFacts(60_000, 1, 28, 10), "cuda").value("model") not in FAMILIES
    for facts in (DataFacts(500, 3, 64, 0), DataFacts(2_000, 1, 28, 10)):
        for device in ("cpu", "cuda"):
            assert choose_preset(facts, device).value("model") not in FAMILIES


@pytest.mark.parametrize("name", FAMILIES)
def test_a_preset_model_builds_and_its_settings_validate(name):
    preset = choose_preset(DataFacts(500, 3, 96, 0), "cuda", model=name)
    settings = {**preset.settings.get("model_settings", {}),
                "image_size": preset.value("image_size"), "width": preset.value("width"),
                "channels": 3}
    config = model_config(name, **settings)
    assert config.unet_patch == 2 and config.depth == 4
    assert math.isfinite(config.learning_rate)
