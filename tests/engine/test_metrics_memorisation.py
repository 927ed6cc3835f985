"""The copy check: samples' distance to their nearest training picture against
held-out real pictures' distance to the rest (engine.metrics.memorisation)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from engine.cli.main import main
from engine.errors import ConfigError
from engine.metrics.evaluate import EvalConfig, EvalProgress, evaluate_run, format_result
from engine.metrics.memorisation import (HELD_OUT, MAX_TRAINING, held_out_mask, memorisation,
                                         nearest_distances, training_subset)


def _clusters(n: int, seed: int) -> np.ndarray:
    """Features of 'pictures': points around a few centres on a 16-d manifold."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(size=(8, 16)) * 4
    return (centres[rng.integers(0, 8, n)] + rng.normal(size=(n, 16))).astype(np.float32)


def test_nearest_distances_match_brute_force():
    rng = np.random.default_rng(0)
    q, r = rng.normal(size=(700, 5)), rng.normal(size=(90, 5))
    brute = np.sqrt(((q[:, None] - r[None]) ** 2).sum(-1)).min(1)
    np.testing.assert_allclose(nearest_distances(q, r), brute, rtol=1e-9, atol=1e-9)


def test_a_copier_shows_and_a_model_of_new_pictures_does_not():
    training = _clusters(600, seed=1)
    copies = training[np.random.default_rng(2).integers(0, 600, 400)] + 0.01
    copier = memorisation(copies, training)
    assert copier.ratio < 0.05 and copier.close_fraction > 0.9
    fresh = memorisation(_clusters(400, seed=3), training)   # new draws of the same distribution
    assert 0.8 < fresh.ratio < 1.25 and fresh.close_fraction < 0.15
    scores = fresh.scores()
    assert scores["memorisation_held_out"] == 120 and scores["memorisation_training"] == 600
    assert scores["memorisation_samples"] == 400


def test_data_made_of_duplicates_cannot_be_judged():
    training = np.repeat(_clusters(20, seed=4), 5, axis=0)   # every picture five times
    scores = memorisation(_clusters(50, seed=5), training).scores()
    assert "exact duplicate" in scores["memorisation_skipped"]
    assert "memorisation_ratio" not in scores


def test_the_held_out_split_is_seeded_and_bounded():
    a, b = held_out_mask(500), held_out_mask(500)
    np.testing.assert_array_equal(a, b)
    assert a.sum() == 100 and held_out_mask(50_000).sum() == HELD_OUT
    with pytest.raises(ConfigError, match="10 or more training pictures"):
        held_out_mask(9)
    subset = training_subset(MAX_TRAINING * 2)
    assert len(subset) == MAX_TRAINING and np.all(np.diff(subset) > 0)
    np.testing.assert_array_equal(training_subset(30), np.arange(30))


def test_eval_reports_the_copy_check(trained_run, capsys):
    config = EvalConfig(samples=20, device="cpu", record=False)
    first = list(evaluate_run(trained_run, config))
    assert any(isinstance(e, EvalProgress) and e.stage == "training" for e in first)
    again = list(evaluate_run(trained_run, config))   # training features from the cache
    assert not any(isinstance(e, EvalProgress) and e.stage == "training" for e in again)
    result = again[-1].result
    assert result["memorisation_ratio"] == first[-1].result["memorisation_ratio"]
    assert 0 < result["memorisation_ratio"] and 0 <= result["memorisation_close_fraction"] <= 1
    # The fixture's 64 training pictures: a fifth held out.
    assert result["memorisation_held_out"] == 12 and result["memorisation_training"] == 64
    assert 0 <= result["memorisation_score"] <= 1 and result["memorisation_score_quantile"] == 0.05
    assert "copy check: nearest training picture" in format_result(result)
    assert main(["eval", str(trained_run), "--samples", "20", "--device", "cpu", "--no-record",
                 "--json", "--no-copy-check"]) == 0
    quiet = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert not any(key.startswith("memorisation") for key in quiet)


def test_the_memorisation_score_is_about_its_quantile_when_new_and_near_one_when_copying():
    from engine.metrics.memorisation import SCORE_QUANTILE

    training = _clusters(800, seed=11)
    planted = training[np.random.default_rng(12).integers(0, 800, 300)]   # training pictures as samples
    copier = memorisation(planted, training)
    assert copier.score == 1.0 and copier.scores()["memorisation_score"] == 1.0
    fresh = memorisation(_clusters(600, seed=13), training)
    assert abs(fresh.score - SCORE_QUANTILE) < 0.05
    scores = fresh.scores()
    assert scores["memorisation_score_quantile"] == SCORE_QUANTILE
    assert 0 < scores["memorisation_score_threshold"] < scores["memorisation_training_median"]
    # Half copies, half new: the score counts the copies.
    half = memorisation(np.concatenate([planted[:150], _clusters(150, seed=14)]), training)
    assert 0.45 < half.score < 0.6
    assert "memorisation score 100.0%" in describe_result(copier)
    assert "likely copying" in describe_result(copier)


def describe_result(result) -> str:
    from engine.metrics.memorisation import describe
    return describe(result.scores())


def test_the_latest_recorded_score_is_read_and_bad_records_passed_over():
    from engine.metrics.memorisation import latest_score

    records = [{"step": 10, "memorisation_score": 0.04, "memorisation_score_quantile": 0.05},
               {"step": 20, "memorisation_score": 0.5, "memorisation_score_quantile": 0.05},
               {"step": 30, "memorisation_score": "high", "memorisation_score_quantile": 0.05},
               {"step": 40, "memorisation_score": 7.0, "memorisation_score_quantile": 0.05},
               {"step": 50, "fd": 3.0}]
    latest = latest_score(records)
    assert (latest.score, latest.step) == (0.5, 20) and latest.describe() == "50.0% at step 20"
    assert latest_score(records[2:]) is None and latest_score([]) is None
