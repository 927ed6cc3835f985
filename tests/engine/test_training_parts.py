"""The trainer's parts, each on its own: clock, budget, loss meter, cadence."""
from __future__ import annotations

import math

import pytest
import torch

from engine.training.budget import Budget
from engine.training.cadence import Cadence
from engine.training.clock import RunClock
from engine.training.loss_meter import LossMeter


class FakeTime:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- clock ---------------------------------------------------------------------------------
def test_the_clock_goes_on_from_a_resumed_elapsed_time_and_leaves_pauses_out():
    time = FakeTime()
    clock = RunClock(start_elapsed=30.0, now=time)
    time.now += 5
    assert clock.elapsed == pytest.approx(35.0)
    with clock.paused():
        time.now += 60
    time.now += 1
    assert clock.elapsed == pytest.approx(36.0)


# -- budget --------------------------------------------------------------------------------
def test_the_budget_ends_on_stop_then_steps_then_time_with_at_least_one_step_a_session():
    steps = Budget(total_steps=10, seconds=None)
    assert steps.reason_to_end(9, 1e9, stopped=False) is None
    assert steps.reason_to_end(10, 0.0, stopped=False) == "completed"
    assert steps.reason_to_end(10, 0.0, stopped=True) == "stopped"
    timed = Budget(total_steps=None, seconds=60.0, start_step=5, start_elapsed=100.0)
    assert timed.reason_to_end(5, 1000.0, stopped=False) is None   # no step yet this session
    assert timed.reason_to_end(6, 159.0, stopped=False) is None
    assert timed.reason_to_end(6, 160.0, stopped=False) == "time budget reached"


def test_the_schedule_spends_the_budget_by_steps_else_by_this_sessions_time():
    assert Budget(total_steps=200, seconds=60.0).spent(50, 30.0) == 0.25
    assert Budget(total_steps=None, seconds=60.0, start_elapsed=100.0).spent(7, 115.0) == 0.25
    assert Budget(total_steps=None, seconds=None).spent(7, 115.0) == 0.0


def test_the_eta_adds_evaluations_to_come_and_takes_the_nearer_end():
    budget = Budget(total_steps=100, seconds=None)
    assert budget.fraction_and_eta(25, 10.0, None) == (0.25, None)
    assert budget.fraction_and_eta(25, 10.0, 5.0) == (0.25, 15.0)
    assert budget.fraction_and_eta(25, 10.0, 5.0, lambda eta: 2 * eta) == (0.25, 45.0)
    both = Budget(total_steps=100, seconds=20.0)
    assert both.fraction_and_eta(25, 10.0, 5.0) == (0.5, 10.0)


# -- loss meter ----------------------------------------------------------------------------
def test_the_meter_averages_the_losses_between_reports_and_keeps_the_last_means():
    meter = LossMeter()
    for value in (1.0, 2.0, 6.0):
        meter.add({"loss": torch.tensor(value), "kl": torch.tensor(value * 2)})
    assert meter.count == 3
    means = meter.means()
    assert means == pytest.approx({"loss": 3.0, "kl": 6.0})
    meter.reported(means)
    assert meter.count == 0 and meter.means() == {} and meter.latest == means
    meter.add({"loss": torch.tensor(10.0)})
    assert meter.means() == {"loss": 10.0}


def test_the_meter_leaves_out_steps_the_loss_scaler_skipped():
    meter = LossMeter()
    meter.add({"loss": torch.tensor(math.inf)}, counted=torch.tensor(0.0))
    assert meter.means() == {}    # nothing counted yet: no mean, not a division by zero
    meter.add({"loss": torch.tensor(4.0)}, counted=torch.tensor(1.0))
    assert meter.count == 2 and meter.means() == {"loss": 4.0}


# -- cadence -------------------------------------------------------------------------------
def test_reports_come_every_report_seconds_and_the_rate_is_smoothed():
    cadence = Cadence(report_seconds=1.0, sample_every=None, autosave_seconds=120.0)
    assert not cadence.report_due(0.5) and cadence.report_due(1.0)
    assert cadence.window_rate(10, 2.0) == 5.0 and cadence.steps_per_second == 5.0
    cadence.reported(10, 2.0)
    assert not cadence.report_due(2.5)
    assert cadence.window_rate(20, 3.0) == 10.0
    assert cadence.steps_per_second == pytest.approx(0.8 * 5.0 + 0.2 * 10.0)


def test_time_spent_evaluating_stays_out_of_the_training_rate():
    cadence = Cadence(report_seconds=0.2, sample_every=None, autosave_seconds=120.0)
    cadence.reported(100, 10.0)
    cadence.leave_out(30.0)
    assert cadence.window_rate(110, 41.0) == pytest.approx(10.0)


def test_grids_come_every_sample_every_steps_or_by_time_never_hogging_a_slow_sampler():
    by_steps = Cadence(report_seconds=0.2, sample_every=50, autosave_seconds=120.0)
    assert by_steps.sample_due(100, 0.0) and not by_steps.sample_due(101, 1e6)
    by_time = Cadence(report_seconds=0.2, sample_every=None, autosave_seconds=120.0)
    assert by_time.sample_due(0, 0.0)             # the first grid at once
    by_time.sampling(0, 10.0)
    assert by_time.sampled_step == 0
    assert not by_time.sample_due(5, 11.9) and by_time.sample_due(5, 12.0)
    by_time.grid_seconds = 3.0                    # 3 s a grid: at most a tenth of the time
    assert not by_time.sample_due(5, 39.9) and by_time.sample_due(5, 40.0)


def test_autosaves_come_every_autosave_seconds_and_zero_means_every_step():
    cadence = Cadence(report_seconds=0.2, sample_every=None, autosave_seconds=120.0)
    cadence.saved(10.0)
    assert not cadence.save_due(129.9) and cadence.save_due(130.0)
    every_step = Cadence(report_seconds=0.2, sample_every=None, autosave_seconds=0.0)
    every_step.saved(10.0)
    assert every_step.save_due(10.0)


def test_the_live_grid_of_an_iterative_sampler_is_quick_and_leaves_its_settings(data_spec):
    """Few single-pass steps for the grid the Train page shows while training;
    the model's own steps and guidance stay for everything else."""
    from engine.models import model_specs
    from engine.models.base import GUIDANCE, STEPS
    from engine.training import TrainConfig
    from engine.training.session import LIVE_SAMPLER_STEPS, TrainingSession

    name = next(s.name for s in model_specs() if {STEPS, GUIDANCE} <= s.capabilities)
    session = TrainingSession(TrainConfig(
        model=name, data=data_spec, image_size=28, width=8, batch_size=8, steps=1, device="cpu",
        model_settings={"depth": 2, "blocks": 1, "sample_steps": 12, "guidance": 3.0}))
    model = session.model
    seen = []
    real_sample = model.sample
    model.sample = lambda seeds, *a, **k: seen.append(model.sampling) or real_sample(seeds, *a, **k)
    grid = session.sample_grid()
    assert grid.shape[:2] == (8 * 28 + 9 * 2, 8 * 28 + 9 * 2)
    assert (seen[0].steps, seen[0].guidance) == (LIVE_SAMPLER_STEPS, 1.0)
    assert (model.sampling.steps, model.sampling.guidance) == (12, 3.0)
