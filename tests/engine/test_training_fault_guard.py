"""engine.training.fault_guard on its own: NaN losses, out of memory, refused writes."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from engine.errors import RunDirError
from engine.training.events import Notice, Saved
from engine.training import TrainConfig, TrainingError
from engine.training.fault_guard import FaultGuard


class FakeRunDir:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.rolled_back_to: int | None = None
        self.config: dict = {"train": {}, "history": [{"resumed_at_step": 3, "changes": {}}]}

    def rollback_to(self, step: int) -> None:
        self.rolled_back_to = step

    def read_config(self) -> dict:
        return dict(self.config)

    def write_config(self, config: dict) -> None:
        self.config = config


def fake_session(batch_size: int = 8, precision: str = "fp32") -> SimpleNamespace:
    net = nn.Linear(2, 2)
    model = SimpleNamespace(
        precision=SimpleNamespace(tolerate_skipped=lambda finite: finite, abandon_step=lambda: None),
        networks=lambda: {"net": net},
        optimizers=lambda: {"adam": torch.optim.Adam(net.parameters())})
    return SimpleNamespace(model=model, device=torch.device("cpu"), precision=precision,
                           processes=1,
                           model_config=SimpleNamespace(learning_rate=2e-4),
                           batcher=SimpleNamespace(batch_size=batch_size),
                           config=TrainConfig(batch_size=batch_size))


def test_a_nan_loss_rolls_back_to_the_last_save_and_ends_with_advice(tmp_path):
    run = FakeRunDir(tmp_path)
    guard = FaultGuard(fake_session(precision="fp16"), run, last_saved_step=40)
    guard.watch({"loss": torch.tensor(1.0)}, step=41)
    guard.check()
    with pytest.raises(TrainingError) as caught:
        guard.watch({"loss": torch.tensor(1.0), "kl": torch.tensor(float("nan"))}, step=42)
    assert run.rolled_back_to == 40
    message = str(caught.value)
    assert "at step 42" in message and "(step 40)" in message
    assert "lower learning rate than 0.0002" in message and "--precision" in message


def test_non_finite_weights_are_never_saved(tmp_path):
    session = fake_session()
    guard = FaultGuard(session, FakeRunDir(tmp_path), last_saved_step=0)
    guard.check_weights(5)
    with torch.no_grad():
        session.model.networks()["net"].weight[0, 0] = float("inf")
    with pytest.raises(TrainingError, match="at step 5"):
        guard.check_weights(5)


def test_out_of_memory_halves_the_batch_records_it_and_stops_below_two(tmp_path):
    session, run = fake_session(batch_size=8), FakeRunDir(tmp_path)
    guard = FaultGuard(session, run, last_saved_step=0)
    notice = guard.halve_batch(step=17)
    assert notice.kind == "batch-halved" and "batch size 8" in notice.message
    assert session.batcher.batch_size == 4 and session.config.batch_size == 4
    assert run.config["train"]["batch_size"] == 4
    assert run.config["history"][-1] == {"at_step": 17, "reason": "out of memory",
                                         "changes": {"batch_size": 4}}
    assert len(run.config["history"]) == 2   # earlier history kept
    small = fake_session(batch_size=3)
    with pytest.raises(TrainingError, match="even at batch size 3"):
        FaultGuard(small, FakeRunDir(tmp_path), last_saved_step=0).halve_batch(step=1)


def test_a_refused_write_is_told_once_and_a_save_that_works_again_is_told(tmp_path):
    guard = FaultGuard(fake_session(), FakeRunDir(tmp_path), last_saved_step=10)
    refused = []

    def disk_full():
        raise RunDirError("disk full")

    events = list(guard.while_writing(disk_full, 12, save_refused=lambda: refused.append(12)))
    assert refused == [12]
    assert [type(e) for e in events] == [Notice] and events[0].kind == "save-failed"
    assert "disk full" in events[0].message and "(step 10) is intact" in events[0].message
    assert list(guard.while_writing(disk_full, 13)) == []      # told once, not every step
    report = SimpleNamespace(step=14)
    assert list(guard.while_writing(lambda: report, 14)) == [report]   # not a save: no news
    saved = Saved(step=15, run_dir=str(tmp_path))
    events = list(guard.while_writing(lambda: saved, 15, save_refused=lambda: None))
    assert events[0] is saved and events[1].message == "Saving works again (step 15)."
    assert list(guard.while_writing(lambda: saved, 16, save_refused=lambda: None)) == [saved]
