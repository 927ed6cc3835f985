"""engine.training.live_evaluation on its own, with a stand-in evaluator."""
from __future__ import annotations

from pathlib import Path

import pytest

import engine.training.live_evaluation as live_evaluation
from engine.runtime.control import RunControl
from engine.errors import AtelierError
from engine.training.events import Evaluated, Notice
from engine.metrics.evaluate import EvalFinished, EvalProgress
from engine.training.live_evaluation import LiveEvaluation


class FakeClock:
    elapsed = 90.0


class FakeRunDir:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.metrics: list[dict] = []

    def append_metrics(self, record: dict) -> None:
        self.metrics.append(record)


def stand_in_evaluator(monkeypatch, outcome):
    class Evaluator:
        made = 0

        def __init__(self, *args) -> None:
            Evaluator.made += 1

        def evaluate(self, model, step, control):
            yield EvalProgress("samples", 1, 2)
            if isinstance(outcome, Exception):
                raise outcome
            yield EvalFinished("done" if outcome else "stopped", outcome)

    monkeypatch.setattr(live_evaluation, "TrainingEvaluator", Evaluator)
    return Evaluator


def evaluation(tmp_path, every_steps=100) -> LiveEvaluation:
    return LiveEvaluation(FakeRunDir(tmp_path), "some-model", "mnist", 200,
                          every_minutes=None, every_steps=every_steps)


def test_it_is_due_on_its_schedule_or_when_a_pause_cut_it_short(tmp_path):
    assert not evaluation(tmp_path, every_steps=None).due(100, 1e6)
    due = evaluation(tmp_path)
    assert due.due(200, 0.0) and not due.due(201, 0.0)
    due.pending = True
    assert due.due(201, 0.0)


def test_a_result_is_kept_for_the_next_save_then_recorded_with_its_checkpoint(tmp_path, monkeypatch):
    evaluator = stand_in_evaluator(monkeypatch, {"fd": 12.5, "samples": 200, "features": "x"})
    live = evaluation(tmp_path)
    gen = live.score(model=None, step=300, control=RunControl(), clock=FakeClock())
    events = []
    with pytest.raises(StopIteration) as done:
        while True:
            events.append(next(gen))
    result, seconds = done.value.value
    assert [type(e) for e in events] == [EvalProgress]
    assert result["fd"] == 12.5 and result["step"] == 300 and result["elapsed"] == 90.0
    assert live.schedule.last_elapsed == 90.0 and live.seconds == seconds and not live.pending
    assert live.take_unsaved() is result and live.take_unsaved() is None
    assert live.seconds_to_come(300, 1000, 1e6) == pytest.approx(seconds * 7)
    evaluated = live.recorded(result, seconds)     # the save did not keep them: no checkpoint
    assert isinstance(evaluated, Evaluated) and evaluated.checkpoint is None
    assert evaluated.step == 300 and evaluated.scores["fd"] == 12.5
    assert live.run_dir.metrics == [result]
    list(live.score(None, 400, RunControl(), FakeClock()))
    assert evaluator.made == 1     # the real images and feature network load once


def test_a_pause_leaves_it_pending_and_a_stop_does_not(tmp_path, monkeypatch):
    stand_in_evaluator(monkeypatch, None)
    live = evaluation(tmp_path)
    list(live.score(None, 100, RunControl(), FakeClock()))
    assert live.pending and live.unsaved is None
    stopped = RunControl()
    stopped.stop()
    list(live.score(None, 100, stopped, FakeClock()))
    assert not live.pending


def test_a_failed_evaluation_says_so_and_turns_evaluation_off(tmp_path, monkeypatch):
    stand_in_evaluator(monkeypatch, AtelierError("no test split"))
    live = evaluation(tmp_path)
    events = list(live.score(None, 100, RunControl(), FakeClock()))
    notices = [e for e in events if isinstance(e, Notice)]
    assert len(notices) == 1 and notices[0].kind == "eval-failed"
    assert "no test split" in notices[0].message
    assert not live.due(200, 1e6)
