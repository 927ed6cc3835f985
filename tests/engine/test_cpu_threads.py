"""A run can use fewer CPU threads than torch's one per core, and puts the setting back."""
from __future__ import annotations

import json

import pytest
import torch

from engine.runtime.cpu_threads import cpu_threads
from engine.errors import ConfigError
from engine.training import TrainingSession, resume, train


def test_the_block_uses_the_threads_asked_for_and_restores_the_previous_count():
    before = torch.get_num_threads()
    with cpu_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), cpu_threads(1):
        raise RuntimeError("a failing run")
    assert torch.get_num_threads() == before          # restored on an error too
    with cpu_threads(None):
        assert torch.get_num_threads() == before


@pytest.mark.parametrize("bad", [-1, 1025, 1.5, "2", True])
def test_impossible_thread_counts_are_refused(bad, tiny_config):
    with pytest.raises(ConfigError, match="threads must be a whole number from 1 to 1024, or 0"):
        tiny_config(threads=bad).validate()


def test_a_run_trains_with_its_threads_records_them_and_resume_can_change_them(
        tiny_config, tmp_path, monkeypatch):
    seen = []
    real_step = TrainingSession.step

    def step(self):
        seen.append(torch.get_num_threads())
        return real_step(self)

    monkeypatch.setattr(TrainingSession, "step", step)
    before = torch.get_num_threads()
    list(train(tiny_config(steps=2, threads=1), tmp_path / "run"))
    assert seen == [1, 1] and torch.get_num_threads() == before
    assert json.loads((tmp_path / "run" / "config.json").read_text())["train"]["threads"] == 1
    seen.clear()
    list(resume(tmp_path / "run", steps=3, threads=2))
    assert seen == [2]
    seen.clear()
    list(resume(tmp_path / "run", steps=4, threads=0))     # back to one per core
    assert seen == [before]
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["train"]["threads"] == 0
    assert [h["changes"].get("threads") for h in config["history"]] == [2, 0]
