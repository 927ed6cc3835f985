"""Evaluating a run: scores recorded in its metrics, deterministic, stoppable."""
from __future__ import annotations

import json
import shutil

import pytest

from engine.runtime.control import RunControl
from engine.errors import ConfigError, RunDirError
from engine.metrics.evaluate import (EvalConfig, EvalFinished, EvalProgress, evaluate_run,
                                     evaluations, format_result, run_evaluation)

FAST = dict(samples=24, batch_size=16, device="cpu")


def test_evaluation_is_recorded_in_the_runs_metrics(run_copy):
    result = run_evaluation(run_copy, EvalConfig(**FAST))
    assert result["kind"] == "evaluation" and result["step"] == 4
    assert result["features"] == "mnist-evaluator-v1"
    assert result["fd"] > 0 and result["kid_std"] >= 0
    assert 0 <= result["class_coverage"] <= 1 and 0 <= result["confident_fraction"] <= 1
    assert result["fd_label"].startswith("FD@24 (not comparable")
    assert result["reference_split"] == "test" and result["reference_count"] == 16
    recorded = evaluations(run_copy)
    assert recorded == [json.loads(json.dumps(result))]
    # Training's own progress lines stay as they were.
    lines = (run_copy / "metrics.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["kind"] == "evaluation" and len(lines) > 1
    assert "FD@24" in format_result(result)


def test_same_seed_same_scores_other_seed_other_samples(run_copy):
    config = EvalConfig(**FAST, record=False)
    first, second = run_evaluation(run_copy, config), run_evaluation(run_copy, config)
    for key in ("fd", "kid", "kid_std", "class_entropy", "confident_fraction"):
        assert first[key] == second[key]
    other = run_evaluation(run_copy, EvalConfig(**FAST, seed=1, record=False))
    assert other["fd"] != first["fd"]
    assert evaluations(run_copy) == []


def test_progress_then_one_result_and_random_features_for_any_data(run_copy):
    events = list(evaluate_run(run_copy, EvalConfig(**FAST, features="random", record=False)))
    assert isinstance(events[-1], EvalFinished) and events[-1].reason == "done"
    progress = [e for e in events if isinstance(e, EvalProgress)]
    samples = [e for e in progress if e.stage == "samples"]
    assert [e.done for e in samples] == [16, 24] and samples[-1].total == 24
    result = events[-1].result
    assert result["features"] == "random-conv-v1" and "comparable only" in result["comparable"]
    assert "class_coverage" not in result  # random features know no classes


def test_stopping_ends_between_batches_and_records_nothing(run_copy):
    control = RunControl()
    events = []
    for event in evaluate_run(run_copy, EvalConfig(**FAST), control):
        events.append(event)
        if isinstance(event, EvalProgress) and event.stage == "samples":
            control.stop()
    assert events[-1] == EvalFinished("stopped", None)
    assert sum(isinstance(e, EvalProgress) and e.stage == "samples" for e in events) == 1
    assert evaluations(run_copy) == []


@pytest.mark.parametrize("settings, message", [
    (dict(samples=1), "samples"), (dict(features="inception"), "features"),
    (dict(batch_size=0), "batch size"), (dict(importance_samples=0), "importance")])
def test_bad_settings_fail_before_any_work(run_copy, settings, message):
    with pytest.raises(ConfigError, match=message):
        evaluate_run(run_copy, EvalConfig(**{**FAST, **settings}))


def test_a_folder_without_a_run_or_weights_is_refused(tmp_path, run_copy):
    with pytest.raises(RunDirError, match="not a run folder"):
        evaluate_run(tmp_path, EvalConfig(**FAST))
    (run_copy / "manifest.json").unlink()
    # Without its manifest a run still has its weights (the newest complete set is used).
    shutil.rmtree(run_copy / "checkpoints")
    with pytest.raises(RunDirError, match="no saved weights"):
        evaluate_run(run_copy, EvalConfig(**FAST))


def test_real_features_are_cached_and_a_corrupt_cache_is_recomputed(run_copy, atelier_home):
    # The copy check's training features are cached too (test_metrics_memorisation).
    config = EvalConfig(**{**FAST, "batch_size": 4}, record=False, copy_check=False)
    first = list(evaluate_run(run_copy, config))
    assert [e.stage for e in first if isinstance(e, EvalProgress)].count("reference") == 4
    cached = list(evaluate_run(run_copy, config))
    stages = [e.stage for e in cached if isinstance(e, EvalProgress)]
    assert stages.count("reference") == 1  # straight from the cache
    assert cached[-1].result["fd"] == first[-1].result["fd"]
    files = list((atelier_home / "cache" / "features").glob("*.npy"))
    assert len(files) == 1
    files[0].write_bytes(b"\x93NUMPY garbage")
    again = list(evaluate_run(run_copy, config))
    assert again[-1].result["fd"] == first[-1].result["fd"]
    assert [e.stage for e in again if isinstance(e, EvalProgress)].count("reference") == 4


def test_the_runs_list_shows_the_last_losses_not_an_evaluation(run_copy):
    from engine.runs.index import summarize

    before = summarize(run_copy)
    run_evaluation(run_copy, EvalConfig(**FAST))
    after = summarize(run_copy)
    assert after.losses == before.losses and "fd" not in after.losses


# -- non-finite samples (issue 22, item 10: LinAlgError from eval on NaN weights) ---------
def test_samples_that_are_not_finite_stop_the_evaluation_in_one_line(run_copy, monkeypatch):
    """A model whose finite weights still draw NaN (overflow) is refused by
    name; NaN weights are refused earlier, at load (test_weight_checks)."""
    import torch

    from engine.metrics.evaluate import EvaluationError
    from engine.models.gan import GanModel

    monkeypatch.setattr(GanModel, "decode",
                        lambda self, latents, labels=None: torch.full(
                            (len(latents), 1, 28, 28), float("nan")))
    with pytest.raises(EvaluationError, match="the model's samples are not finite") as caught:
        run_evaluation(run_copy, EvalConfig(**FAST, features="random"))
    assert str(run_copy) in str(caught.value)
    assert evaluations(run_copy) == []   # nothing recorded


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_distances_of_nonfinite_features_are_a_clear_error_not_linalg(bad):
    import numpy as np

    from engine.metrics.distances import frechet_distance_of, kernel_distance

    good = np.random.default_rng(0).normal(size=(20, 4))
    broken = good.copy()
    broken[3, 1] = bad
    with pytest.raises(ConfigError, match="features hold NaN or infinite values"):
        frechet_distance_of(broken, good)
    with pytest.raises(ConfigError, match="features hold NaN or infinite values"):
        kernel_distance(good, broken, subsets=2)
