"""Learning-rate schedules: the factor curve, how the trainer applies it, resume."""
from __future__ import annotations

import json
import math

import pytest
import torch

from engine.errors import ConfigError
from engine.models import default_lr_schedule
from engine.runs.folders import RunDir
from engine.training.schedule import apply_schedule, lr_factor
from engine.training import TrainConfig, resume, train


def test_cosine_decays_from_one_to_zero_and_constant_stays():
    assert lr_factor("cosine", 0.0) == 1.0
    assert lr_factor("cosine", 0.5) == pytest.approx(0.5)
    assert lr_factor("cosine", 1.0) == pytest.approx(0.0)
    assert lr_factor("cosine", 2.0) == pytest.approx(0.0)   # past the budget: clamped
    assert lr_factor("constant", 0.7) == 1.0


def test_apply_keeps_the_base_rate_in_the_group_and_constant_restores_it():
    param = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.Adam([param], lr=0.01)
    apply_schedule([opt], "cosine", 0.5)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.005)
    apply_schedule([opt], "cosine", 0.75)   # from the base, not compounded
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01 * 0.5 * (1 + math.cos(0.75 * math.pi)))
    apply_schedule([opt], "constant", 0.9)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)
    untouched = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=0.02)
    apply_schedule([untouched], "constant", 0.5)
    assert untouched.param_groups[0] == {**untouched.param_groups[0], "lr": 0.02}
    assert "initial_lr" not in untouched.param_groups[0]


def test_unknown_schedule_is_refused_with_the_choices(tiny_config):
    with pytest.raises(ConfigError, match="constant, cosine"):
        tiny_config(lr_schedule="step").validate()


def test_auto_resolves_to_each_models_own():
    assert default_lr_schedule("mlp-vae") == "cosine"
    assert default_lr_schedule("dcgan") == "constant"
    assert TrainConfig(model="mlp-vae").resolved_lr_schedule() == "cosine"
    assert TrainConfig(model="mlp-vae", lr_schedule="constant").resolved_lr_schedule() == "constant"


def _saved_lr(run) -> float:
    state = json.loads((RunDir(run).weights_path("any").parent / "trainer.json").read_text())
    (group,) = state["optimizers"]["vae"]["param_groups"]
    return group["lr"], group.get("initial_lr")


def test_a_cosine_run_ends_near_zero_and_a_constant_one_at_its_rate(tiny_config, tmp_path):
    list(train(tiny_config(model="mlp-vae", steps=8, learning_rate=1e-3), tmp_path / "cos"))
    lr, base = _saved_lr(tmp_path / "cos")
    # The last step ran at the factor for 7/8 of the budget.
    assert base == pytest.approx(1e-3)
    assert lr == pytest.approx(1e-3 * lr_factor("cosine", 7 / 8))
    list(train(tiny_config(model="mlp-vae", steps=8, learning_rate=1e-3, lr_schedule="constant"),
               tmp_path / "flat"))
    assert _saved_lr(tmp_path / "flat") == (pytest.approx(1e-3), None)


def test_runs_saved_before_schedules_resume_at_a_constant_rate(tiny_config, tmp_path):
    run = tmp_path / "old"
    list(train(tiny_config(model="mlp-vae", steps=2, learning_rate=1e-3, lr_schedule="constant"), run))
    config = json.loads((run / "config.json").read_text())
    del config["train"]["lr_schedule"]           # as an older version wrote it
    (run / "config.json").write_text(json.dumps(config))
    list(resume(run, steps=4))
    assert _saved_lr(run) == (pytest.approx(1e-3), None)
    assert json.loads((run / "config.json").read_text())["train"]["lr_schedule"] == "constant"
