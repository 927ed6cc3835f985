"""Evaluation while training: on schedule, recorded, saved with its checkpoint,
honouring pause and stop, keeping the best checkpoint by a metric, and a resumed
run keeping its rhythm."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from engine.runs.checkpoints import read_manifest
from engine.runtime.control import RunControl
from engine.errors import ConfigError
from engine.training.events import Evaluated, Finished, Progress
from engine.runs.best import best_checkpoint, recorded_evaluations
from engine.metrics.during_training import EvalSchedule, format_scores
from engine.metrics.evaluate import EvalProgress
from engine.runs.folders import RunDir
from engine.training import TrainConfig, resume, train

EVAL = dict(eval_samples=16)


# -- the schedule, on a fake clock ------------------------------------------------------
def test_time_schedule_fires_every_n_minutes_after_the_last_evaluation():
    schedule = EvalSchedule(every_minutes=2)
    clock = [0.0, 60.0, 119.9, 120.0]
    assert [schedule.due(step, t) for step, t in enumerate(clock, 1)] == [False, False, False, True]
    schedule.done(150.0)  # the evaluation itself took 30 s: the next is 2 min after it ended
    assert not schedule.due(10, 269.0) and schedule.due(11, 270.0)


def test_step_schedule_and_evaluations_left():
    schedule = EvalSchedule(every_steps=5)
    assert [s for s in range(1, 21) if schedule.due(s, 0.0)] == [5, 10, 15, 20]
    assert schedule.evaluations_left(7, 20, 100.0) == 3
    assert EvalSchedule(every_minutes=1).evaluations_left(0, None, 250.0) == 4
    assert not EvalSchedule().enabled and EvalSchedule(every_minutes=0.5).enabled


def test_a_resumed_schedule_keeps_its_rhythm():
    # Saved at 100 s, last evaluated at 90 s, every minute: due at 150 s, not at once.
    schedule = EvalSchedule(every_minutes=1, last_elapsed=90.0)
    assert not schedule.due(1, 100.0) and not schedule.due(2, 149.0) and schedule.due(3, 150.0)


# -- in the trainer ---------------------------------------------------------------------
def test_evaluates_on_schedule_records_and_saves_the_scored_weights(tiny_config, tmp_path):
    out = tmp_path / "run"
    events = list(train(tiny_config(steps=6, eval_every_steps=2, keep_last=10, **EVAL), out))
    evaluated = [e for e in events if isinstance(e, Evaluated)]
    assert [e.step for e in evaluated] == [2, 4, 6]
    assert isinstance(events[-1], Finished)
    # Progress of each evaluation comes first, so the app can say it is evaluating.
    progress = [e for e in events if isinstance(e, EvalProgress)]
    assert progress and {e.stage for e in progress} >= {"reference", "samples"}
    first = evaluated[0]
    assert first.scores["fd"] > 0 and first.scores["fd_label"].startswith("FD@16 (not comparable")
    assert first.scores["samples"] == 16 and first.seconds > 0
    # Each evaluation is a metrics line naming the checkpoint saved with those weights.
    recorded = recorded_evaluations(out)
    assert [(r["step"], r["source"]) for r in recorded] == [(2, "training"), (4, "training"),
                                                           (6, "training")]
    assert [r["checkpoint"] for r in recorded] == [e.checkpoint for e in evaluated]
    folder = out / "checkpoints" / recorded[0]["checkpoint"]
    remembered = json.loads((folder / "trainer.json").read_text())
    assert remembered["step"] == 2 and remembered["evaluation"]["fd"] == recorded[0]["fd"]
    # The evaluation's time is not counted as training throughput.
    assert all(e.images_per_second > 0 for e in events if isinstance(e, Progress))


def test_no_evaluation_unless_asked(tiny_config, tmp_path):
    events = list(train(tiny_config(steps=3), tmp_path / "run"))
    assert not [e for e in events if isinstance(e, Evaluated)]
    assert recorded_evaluations(tmp_path / "run") == []


def test_keep_best_by_fd_keeps_the_lowest_scoring_checkpoint(tiny_config, tmp_path):
    out = tmp_path / "run"
    list(train(tiny_config(steps=8, eval_every_steps=2, keep_last=1, keep_best="fd", **EVAL), out))
    recorded = recorded_evaluations(out)
    lowest = min(recorded, key=lambda r: r["fd"])
    manifest = read_manifest(out)
    assert manifest["best"]["metric"] == "fd" and manifest["best"]["step"] == lowest["step"]
    assert manifest["best"]["checkpoint"] == lowest["checkpoint"]
    assert lowest["checkpoint"] in manifest["kept"]
    assert (out / "checkpoints" / lowest["checkpoint"]).is_dir()
    best = best_checkpoint(out, "fd")
    assert best.available and best.checkpoint == lowest["checkpoint"] and best.value == lowest["fd"]


def test_keep_best_by_class_coverage_keeps_the_highest(tiny_config, tmp_path):
    out = tmp_path / "run"
    list(train(tiny_config(steps=6, eval_every_steps=2, keep_last=1,
                           keep_best="class_coverage", **EVAL), out))
    highest = max(reversed(recorded_evaluations(out)), key=lambda r: r["class_coverage"])
    best = read_manifest(out)["best"]
    assert best["higher_is_better"] and best["step"] == highest["step"]


def test_keep_best_by_a_metric_needs_evaluation(tiny_config):
    with pytest.raises(ConfigError, match="needs evaluation while training"):
        tiny_config(keep_best="fd").validate()
    with pytest.raises(ConfigError, match="number of minutes"):
        tiny_config(eval_every_minutes=-1).validate()
    with pytest.raises(ConfigError, match="needs evaluation"):
        tiny_config(eval_every_minutes=0, keep_best="kid").validate()   # 0 is off
    with pytest.raises(ConfigError, match="evaluation samples"):
        tiny_config(eval_every_minutes=1, eval_samples=1).validate()


def test_a_sequence_model_is_scored_on_next_frames_and_kept_best_by_mse(tmp_path):
    # An 8-frame GIF of a moving square: two 7-frame windows, 6 in and 1 predicted.
    frames = np.zeros((8, 16, 16), np.uint8)
    for t in range(8):
        frames[t, 1 + t:5 + t, 2 + t:6 + t] = 255
    pictures = [Image.fromarray(f) for f in frames]
    pictures[0].save(tmp_path / "square.gif", save_all=True, append_images=pictures[1:],
                     duration=100)
    config = TrainConfig(model="convlstm", data=f"frames:{tmp_path / 'square.gif'}",
                         image_size=8, width=4, batch_size=2, steps=4, device="cpu",
                         sample_every=1000, report_seconds=0.0, eval_every_steps=2,
                         eval_samples=4, keep_last=1, keep_best="next_frame_mse_per_frame")
    out = tmp_path / "run"
    events = list(train(config, out))
    evaluated = [e for e in events if isinstance(e, Evaluated)]
    assert [e.step for e in evaluated] == [2, 4]
    for event in evaluated:
        assert 0 <= event.scores["next_frame_mse_per_frame"] <= 64
        assert -1 <= event.scores["next_frame_ssim"] <= 1
    assert "next-frame MSE" in format_scores(evaluated[0].scores)
    lowest = min(recorded_evaluations(out), key=lambda r: r["next_frame_mse_per_frame"])
    best = read_manifest(out)["best"]
    assert best["metric"] == "next_frame_mse_per_frame" and best["step"] == lowest["step"]
    assert not best.get("higher_is_better") and (out / "checkpoints" / best["checkpoint"]).is_dir()


def test_stop_during_an_evaluation_ends_the_run_without_recording_it(tiny_config, tmp_path):
    out = tmp_path / "run"
    control = RunControl()
    seen = []
    for event in train(tiny_config(steps=50, eval_every_steps=2, eval_samples=2000), out, control):
        seen.append(event)
        if isinstance(event, Progress) and event.step == 2:
            control.stop()   # set before the evaluation starts: it must not run to the end
    assert isinstance(seen[-1], Finished) and seen[-1].reason == "stopped"
    assert not [e for e in seen if isinstance(e, Evaluated)]
    assert recorded_evaluations(out) == []


def test_pause_during_an_evaluation_pauses_and_evaluates_after(tiny_config, tmp_path):
    out = tmp_path / "run"
    control = RunControl()
    events = []
    for event in train(tiny_config(steps=4, eval_every_steps=2, **EVAL), out, control):
        events.append(event)
        if isinstance(event, Progress) and event.step == 2 and not control.paused:
            control.pause()      # the evaluation due now is cut short by the pause...
        if type(event).__name__ == "StateChanged" and event.state == "paused":
            control.resume()
    evaluated = [e.step for e in events if isinstance(e, Evaluated)]
    names = [type(e).__name__ for e in events]
    assert "StateChanged" in names
    # ...and done after it, one step later, then on schedule again.
    assert evaluated == [3, 4]


def test_resume_keeps_the_time_schedule(tiny_config, tmp_path):
    out = tmp_path / "run"
    list(train(tiny_config(steps=2, eval_every_steps=1, **EVAL), out))
    manifest = read_manifest(out)
    values = json.loads((out / "checkpoints" / manifest["checkpoint"] / "trainer.json").read_text())
    assert 0 < values["last_eval_elapsed"] <= values["elapsed"]
    # Switch to a long time interval on resume: nothing is due in a 2-step session.
    events = list(resume(out, steps=4, eval_every_steps=0, eval_every_minutes=60))
    assert not [e for e in events if isinstance(e, Evaluated)]
    saved = RunDir(out).read_config()
    assert saved["train"]["eval_every_minutes"] == 60
    # A step schedule continues at the multiples of its interval.
    events = list(resume(out, steps=6, eval_every_steps=3))
    assert [e.step for e in events if isinstance(e, Evaluated)] == [6]


def test_scores_while_training_equal_eval_of_the_saved_checkpoint(tiny_config, tmp_path):
    from engine.metrics.evaluate import EvalConfig, run_evaluation

    out = tmp_path / "run"
    events = list(train(tiny_config(steps=2, eval_every_steps=2, **EVAL), out))
    live = [e for e in events if isinstance(e, Evaluated)][0].scores
    again = run_evaluation(out, EvalConfig(samples=16, device="cpu", record=False, kid_subsets=20))
    assert live["kid_subsets"] == again["kid_subsets"] == 20
    assert (again["step"], again["fd"], again["kid"]) == (2, live["fd"], live["kid"])
    assert again["class_coverage"] == live["class_coverage"]
