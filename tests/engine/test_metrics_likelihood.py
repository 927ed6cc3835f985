"""The likelihood hook: a family declares its test-image protocol and returns
per-image NLL in nats; the plumbing binarizes, batches and converts to bits/dim."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from engine.errors import ConfigError
from engine.metrics.likelihood import (has_likelihood, negative_log_likelihoods,
                                       prepare_test_images)
from engine.models.base import LIKELIHOOD, GenerativeModel, ModelConfig


class PixelBernoulli(GenerativeModel):
    """Independent Bernoulli pixels: its exact NLL has a closed form to check against."""

    family = "test-bernoulli"
    config_class = ModelConfig
    capabilities = frozenset({LIKELIHOOD})
    likelihood_data = "binarized"

    def __init__(self, p: float = 0.5) -> None:
        super().__init__(ModelConfig(), torch.device("cpu"))
        self.net = nn.Module()
        self.net.logits = nn.Parameter(torch.full((1, 28, 28), math.log(p / (1 - p))))
        self.calls: list[int] = []

    def networks(self):
        return {"pixels": self.net}

    def optimizers(self):
        return {}

    def train_step(self, real):
        return {}

    def latents_for_seeds(self, seeds):
        return torch.zeros(len(seeds), 1)

    def decode(self, latents):
        return torch.zeros(len(latents), 1, 28, 28)

    def negative_log_likelihood(self, images, generator, importance_samples):
        assert not torch.is_grad_enabled() and not self.net.training
        self.calls.append(len(images))
        target = (images + 1) / 2
        logits = self.net.logits.expand_as(images)
        nll = nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none")
        return {"nll": nll.flatten(1).sum(1)}


def test_a_coin_flip_model_scores_exactly_one_bit_per_dimension():
    images = prepare_test_images(np.random.default_rng(0).integers(0, 256, (10, 1, 28, 28),
                                                                   dtype=np.uint8), "binarized")
    model = PixelBernoulli(0.5)
    events = list(negative_log_likelihoods(model, images, batch_size=4))
    done, result = events[-1]
    assert [d for d, r in events[:-1]] == [4, 8, 10] and model.calls == [4, 4, 2]
    assert done == 10
    assert result["nll_nats"] == pytest.approx(784 * math.log(2))
    assert result["nll_bits_per_dim"] == pytest.approx(1.0)
    assert model.net.training  # put back as it was


def test_a_better_model_scores_lower():
    images = prepare_test_images(np.zeros((6, 1, 28, 28), dtype=np.uint8), "binarized")
    worse = list(negative_log_likelihoods(PixelBernoulli(0.5), images))[-1][1]
    better = list(negative_log_likelihoods(PixelBernoulli(0.1), images))[-1][1]
    assert better["nll_nats"] == pytest.approx(-784 * math.log(0.9), rel=1e-5)
    assert better["nll_nats"] < worse["nll_nats"]


def test_binarization_is_seeded_and_follows_intensity():
    images = np.full((200, 1, 28, 28), 64, dtype=np.uint8)
    a = prepare_test_images(images, "binarized", binarize_seed=0)
    assert torch.equal(a, prepare_test_images(images, "binarized", binarize_seed=0))
    assert not torch.equal(a, prepare_test_images(images, "binarized", binarize_seed=1))
    assert set(a.unique().tolist()) == {-1.0, 1.0}
    assert float((a > 0).float().mean()) == pytest.approx(64 / 255, abs=0.01)
    eight_bit = prepare_test_images(np.array([[[[0, 255]]]], dtype=np.uint8), "8bit")
    assert eight_bit.flatten().tolist() == [-1.0, 1.0]


def test_families_without_a_likelihood_are_refused_clearly():
    class NoLikelihood(PixelBernoulli):
        likelihood_data = None

    class Undeclared(PixelBernoulli):   # a protocol but no declared capability
        capabilities = frozenset()

    assert not has_likelihood(NoLikelihood()) and has_likelihood(PixelBernoulli())
    assert not has_likelihood(Undeclared())
    with pytest.raises(ConfigError, match="no likelihood"):
        next(negative_log_likelihoods(NoLikelihood(), torch.zeros(1, 1, 28, 28)))
    with pytest.raises(ConfigError, match="protocol"):
        prepare_test_images(np.zeros((1, 1, 2, 2), dtype=np.uint8), "continuous")


def test_a_badly_shaped_estimate_is_reported():
    class Broken(PixelBernoulli):
        def negative_log_likelihood(self, images, generator, importance_samples):
            return {"nll": torch.zeros(len(images), 2)}

    with pytest.raises(ValueError, match="shape"):
        list(negative_log_likelihoods(Broken(), torch.zeros(3, 1, 28, 28)))


@pytest.mark.parametrize("name, keys", [("mlp-vae", {"neg_elbo", "iw_nll"}),
                                        ("row-lstm", {"nll"}), ("draw", {"neg_elbo"})])
def test_likelihood_families_answer_through_the_hook(name, keys):
    from engine.models import build_model, model_config

    settings = {"hidden": 32, "latent_dim": 4} if name == "mlp-vae" else {}
    if name == "row-lstm":
        settings = {"width": 4, "layers": 1}
    model = build_model(name, model_config(name, **settings), torch.device("cpu"), seed=0)
    assert has_likelihood(model) and model.likelihood_data == "binarized"
    rng = np.random.default_rng(0)
    images = prepare_test_images(rng.integers(0, 256, (6, 1, 28, 28), dtype=np.uint8), "binarized")
    runs = [list(negative_log_likelihoods(model, images, batch_size=4, importance_samples=3))[-1][1]
            for _ in range(2)]
    assert runs[0] == runs[1]  # reproducible from the seed
    result = runs[0]
    assert {k[:-len("_nats")] for k in result if k.endswith("_nats")} == keys
    for key in keys:
        nats = result[f"{key}_nats"]
        assert math.isfinite(nats) and nats > 0
        assert result[f"{key}_bits_per_dim"] == pytest.approx(nats / (784 * math.log(2)))
    if name == "mlp-vae":
        assert result["iw_nll_nats"] <= result["neg_elbo_nats"] + 1.0


def test_a_conditional_vae_is_scored_only_given_the_classes():
    from engine.errors import ConfigError
    from engine.metrics.likelihood import run_likelihood_scores
    from engine.models import build_model, model_config

    model = build_model("cvae", model_config("cvae", hidden=16, latent_dim=2, num_classes=10),
                        torch.device("cpu"), seed=0)
    assert has_likelihood(model)
    images = np.random.default_rng(0).integers(0, 256, (4, 1, 28, 28), dtype=np.uint8)
    with pytest.raises(ConfigError, match="no labels"):
        run_likelihood_scores(model, images, importance_samples=1)
    scores = run_likelihood_scores(model, images, importance_samples=1,
                                   labels=np.array([0, 1, 2, 3], dtype=np.uint8))
    assert scores["neg_elbo_nats"] > 0
