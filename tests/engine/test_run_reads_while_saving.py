"""Opening a run that is training: its current checkpoint may be pruned by a
newer save while it is read, and the read then takes the newer one."""
from __future__ import annotations

from pathlib import Path

import torch

import engine.runs.folders as folders
from engine.runs.folders import RunDir


def test_a_checkpoint_pruned_midway_is_read_from_the_newer_one(run_copy, monkeypatch):
    real = folders.named_checkpoint
    calls = []

    def first_one_pruned(run: Path, name: str | None) -> Path:
        calls.append(name)
        if len(calls) == 1:   # the first lookup finds a checkpoint that a save then prunes
            return run / "checkpoints" / "step_000000000-pruned"
        return real(run, name)

    monkeypatch.setattr(folders, "named_checkpoint", first_one_pruned)
    name, model = RunDir(run_copy).load_model(torch.device("cpu"))
    assert name == "dcgan" and calls[0] is None and len(calls) >= 2


def test_a_named_checkpoint_that_is_missing_is_still_an_error(run_copy):
    import pytest
    from engine.errors import AtelierError

    with pytest.raises(AtelierError, match="pruned"):
        RunDir(run_copy).load_model(torch.device("cpu"), checkpoint="step_000000001-abcdef")
