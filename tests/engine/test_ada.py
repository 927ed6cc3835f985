"""Adaptive augmentation (engine/models/common/ada.py): the controller moves p
with the sign of the discriminator's scores on real pictures, augments with
probability p, and its state continues exactly after a save."""
from __future__ import annotations

import pytest
import torch

from engine.errors import ConfigError
from engine.models import build_model, model_config
from engine.models.common.ada import (P_KEY, RT_KEY, AdaptiveAugment, augment_with_probability,
                                      scaled_speed)

POLICY = ("translation", "color", "cutout")


def controller(**settings) -> AdaptiveAugment:
    values = {"target": 0.6, "interval": 4, "speed_images": 1_000}
    values.update(settings)
    return AdaptiveAugment(POLICY, **values)


def sure_of_real(n: int = 8) -> torch.Tensor:
    """Logits of a discriminator that has memorised the training pictures."""
    return torch.full((n, 5), 3.0)


def unsure(n: int = 8) -> torch.Tensor:
    """Half the patches right: r_t = 0, below the target."""
    return torch.tensor([[2.0, -2.0] * 3]).repeat(n, 1)


def test_p_rises_while_the_discriminator_overfits():
    ada = controller()
    seen = []
    for _ in range(12):
        ada.observe(sure_of_real(), images=8)
        seen.append(ada.p)
    # Adjusted every 4 steps by (pictures since the last adjustment) / speed.
    assert seen[:3] == [0.0, 0.0, 0.0]
    assert seen[3] == pytest.approx(32 / 1000) and seen[11] == pytest.approx(3 * 32 / 1000)
    assert ada.rt == 1.0


def test_p_falls_when_it_does_not_and_stays_within_0_and_1():
    ada = controller(interval=1, speed_images=100)
    ada.load_state({"p": 0.5})
    for _ in range(3):
        ada.observe(unsure(), images=8)
    assert ada.p == pytest.approx(0.5 - 3 * 0.08) and ada.rt == 0.0
    for _ in range(20):
        ada.observe(unsure(), images=8)
    assert ada.p == 0.0
    for _ in range(40):
        ada.observe(sure_of_real(), images=8)
    assert ada.p == 1.0


def test_observe_reports_the_p_it_trained_with_and_the_steps_sign_mean():
    ada = controller(interval=1)
    first = ada.observe(sure_of_real(), images=8)
    assert float(first[P_KEY]) == 0.0 and float(first[RT_KEY]) == 1.0
    second = ada.observe(unsure(), images=8)
    assert float(second[P_KEY]) == pytest.approx(0.008) and float(second[RT_KEY]) == 0.0
    assert float(first[P_KEY]) == 0.0   # a reported value is never changed afterwards


def test_a_saved_state_continues_exactly():
    straight, first = controller(), controller()
    logits = [sure_of_real() if i % 3 else unsure() for i in range(11)]
    for x in logits:
        straight.observe(x, images=8)
    for x in logits[:6]:                  # stopped mid-interval
        first.observe(x, images=8)
    resumed = controller()
    resumed.load_state(first.state())
    for x in logits[6:]:
        resumed.observe(x, images=8)
    assert resumed.state() == straight.state() and resumed.p > 0


@pytest.mark.parametrize("state", [{"p": 1.5}, {"p": "high"}, {"p": 0.2, "signs": None}])
def test_a_damaged_saved_state_is_a_clear_error(state):
    with pytest.raises(ConfigError, match="saved"):
        controller().load_state(state)


def test_a_state_from_before_ada_starts_at_zero():
    ada = controller()
    ada.load_state(None)
    assert ada.p == 0.0 and ada.rt is None


def test_augmentation_follows_p_and_passes_gradients():
    x = torch.linspace(-1, 1, 16).expand(64, 3, 16, 16).clone().requires_grad_(True)
    g = torch.Generator().manual_seed(0)
    assert augment_with_probability(x, ("cutout",), 0.0, g) is x
    half = augment_with_probability(x, ("cutout",), 0.5, g)
    changed = int((half != x).flatten(1).any(1).sum())
    assert 16 < changed < 48
    every = augment_with_probability(x, ("cutout",), 1.0, g)
    assert bool((every != x).flatten(1).any(1).all())
    every.sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


def test_the_same_generator_state_gives_the_same_augmentation():
    x = torch.rand(8, 3, 16, 16) * 2 - 1
    a = augment_with_probability(x, POLICY, 0.7, torch.Generator().manual_seed(3))
    b = augment_with_probability(x, POLICY, 0.7, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_settings_are_checked():
    with pytest.raises(ConfigError, match="needs augmentations"):
        model_config("small-data-gan", ada=True, augment="")
    with pytest.raises(ConfigError, match="target"):
        model_config("small-data-gan", ada=True, ada_target=1.0)
    with pytest.raises(ConfigError, match="interval"):
        model_config("small-data-gan", ada=True, ada_interval=0)
    with pytest.raises(ConfigError, match="speed"):
        model_config("small-data-gan", ada=True, ada_speed_images=10)
    with pytest.raises(ConfigError, match="WGAN"):
        model_config("wgan-gp", ada=True, augment="translation")


def test_scaled_speed_fits_short_runs_and_keeps_the_papers_for_long_ones():
    assert scaled_speed(2_500 * 16, 4) == 10_000
    assert scaled_speed(10**9, 4) == 500_000
    assert scaled_speed(100, 4) == 1_000


def test_gan_family_reports_p_with_ada_and_nothing_without():
    images = torch.rand(8, 1, 28, 28) * 2 - 1
    settings = {"width": 8, "augment": "translation,color"}
    plain = build_model("small-data-gan", model_config("small-data-gan", **settings),
                        torch.device("cpu"), seed=0)
    assert P_KEY not in plain.train_step(images) and "ada" not in plain.training_state()[1]
    adaptive = build_model("small-data-gan", model_config(
        "small-data-gan", ada=True, ada_interval=1, ada_speed_images=100, **settings),
        torch.device("cpu"), seed=0)
    losses = [adaptive.train_step(images) for _ in range(3)]
    assert [float(step[P_KEY]) for step in losses][0] == 0.0
    assert adaptive.training_state()[1]["ada"]["p"] == adaptive.ada.p


def test_a_gan_model_saves_and_restores_its_p_with_the_training_state():
    images = torch.rand(8, 1, 28, 28) * 2 - 1
    config = model_config("small-data-gan", width=8, augment="translation", ada=True,
                          ada_interval=1, ada_speed_images=100, ada_target=0.01)
    trained = build_model("small-data-gan", config, torch.device("cpu"), seed=0)
    for _ in range(3):
        trained.train_step(images)
    tensors, settings = trained.training_state()
    fresh = build_model("small-data-gan", config, torch.device("cpu"), seed=0)
    fresh.load_training_state(tensors, settings)
    assert fresh.ada.state() == trained.ada.state()
    assert fresh.ada.p == trained.ada.p > 0
