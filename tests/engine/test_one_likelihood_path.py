"""`eval`, `likelihood` and `python -m engine.cli.recurrent_eval` are one evaluation
path: for one run, the same test images, batches and seed give the same numbers."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.cli import likelihood

from engine.cli import recurrent_eval
from engine.errors import ConfigError
from engine.metrics.evaluate import EvalConfig, run_evaluation
from engine.metrics.likelihood import BINARIZE_SEED, prepare_test_images
from engine.training import TrainConfig, train

IMAGES, BATCH, K = 12, 8, 3   # two batches, the second one short


def scores_of_all_three(run):
    by_eval = run_evaluation(run, EvalConfig(samples=2, features="random", device="cpu",
                                             batch_size=BATCH, likelihood_limit=IMAGES,
                                             importance_samples=K, record=False))
    by_likelihood = likelihood.evaluate_run(run, k=K, subset=IMAGES, limit=IMAGES, device="cpu",
                                            batch_size=BATCH)
    by_recurrent = recurrent_eval.evaluate_run(run, limit=IMAGES, device="cpu", batch_size=BATCH,
                                               importance_samples=K)
    return by_eval, by_likelihood, by_recurrent


def test_a_vae_run_gets_the_same_numbers_from_all_three_commands(tiny_config, tmp_path):
    run = tmp_path / "vae"
    list(train(tiny_config(model="mlp-vae", steps=2), run))
    by_eval, by_likelihood, by_recurrent = scores_of_all_three(run)
    assert by_eval["likelihood_protocol"] == "binarized" and by_likelihood["binarized"]
    assert by_eval["likelihood_count"] == by_likelihood["images"] == by_recurrent["images"] == IMAGES
    assert by_eval["neg_elbo_nats"] > 0
    assert (by_eval["neg_elbo_nats"] == by_likelihood["negative_elbo_nats"]
            == by_recurrent["test_nll_bound_nats"])
    assert by_eval["iw_nll_nats"] == by_likelihood["iwae_nll_nats"] == by_recurrent["test_iw_nll_nats"]
    assert by_eval["neg_elbo_bits_per_dim"] == by_recurrent["bits_per_dim"]


def test_a_row_lstm_run_gets_the_same_numbers_from_all_three_commands(data_spec, tmp_path):
    # Trained at 8x8 on 28x28 data: every command scores the test set resized as
    # the trainer resized it.
    run = tmp_path / "row"
    list(train(TrainConfig(model="row-lstm", data=data_spec, image_size=8, width=8, batch_size=8,
                           steps=2, device="cpu", sample_every=1000, report_seconds=0.0), run))
    by_eval, by_likelihood, by_recurrent = scores_of_all_three(run)
    assert "likelihood_skipped" not in by_eval
    assert 0 < by_eval["nll_nats"] < 8 * 8 * 2
    assert by_eval["nll_nats"] == by_recurrent["test_nll_nats"] == by_likelihood["negative_elbo_nats"]
    assert by_eval["nll_bits_per_dim"] == by_recurrent["bits_per_dim"]


def test_the_estimates_seed_never_changes_the_test_pictures():
    images = np.random.default_rng(0).integers(0, 256, (4, 1, 28, 28), dtype=np.uint8)
    fixed = prepare_test_images(images, "binarized")
    assert torch.equal(fixed, prepare_test_images(images, "binarized", binarize_seed=BINARIZE_SEED))
    assert set(fixed.unique().tolist()) == {-1.0, 1.0}
    small = prepare_test_images(images, "binarized", image_size=8)
    assert small.shape == (4, 1, 8, 8) and set(small.unique().tolist()) <= {-1.0, 1.0}
    levels = prepare_test_images(images, "8bit", image_size=8).add(1).mul(127.5)
    assert torch.allclose(levels, levels.round(), atol=1e-4)   # still 256 grey levels


def test_a_model_with_nothing_to_score_is_refused_in_one_line(trained_run):
    with pytest.raises(ConfigError, match="neither a likelihood nor next-frame prediction"):
        recurrent_eval.evaluate_run(trained_run, limit=4, device="cpu")
    with pytest.raises(ConfigError, match="does not measure likelihood"):
        likelihood.evaluate_run(trained_run, limit=4, device="cpu")


def test_a_conditional_vae_is_scored_given_each_images_class(tiny_config, tmp_path):
    """`likelihood` scored conditional VAEs before the paths were one; it still
    does, and `eval` now does too, with the same numbers."""
    run = tmp_path / "cvae"
    list(train(tiny_config(model="cvae", steps=2), run))
    by_eval = run_evaluation(run, EvalConfig(samples=2, features="random", device="cpu",
                                             batch_size=BATCH, likelihood_limit=IMAGES,
                                             importance_samples=K, record=False))
    by_likelihood = likelihood.evaluate_run(run, k=K, subset=IMAGES, limit=IMAGES, device="cpu",
                                            batch_size=BATCH)
    assert by_eval["neg_elbo_nats"] == by_likelihood["negative_elbo_nats"] > 0
    assert by_eval["iw_nll_nats"] == by_likelihood["iwae_nll_nats"]
