"""Mixed precision (engine.runtime.precision) through every family and the trainer.

bf16 and fp16 autocast and the fp16 GradScaler all exist on the CPU, so every
model is trained under each precision here; only the automatic choice on a
CUDA device needs a GPU.
"""
from __future__ import annotations

import json
import math

import pytest
import torch

from engine.cli.main import main
from engine.runtime.control import RunControl
from engine.errors import ConfigError
from engine.training.events import Finished, Progress
from engine.models import GanModel, model_names
from engine.runtime.precision import MAX_SKIPPED_IN_A_ROW, MixedPrecision, resolve_precision
from engine.runs.folders import RunDir
from engine.training import TrainingError, TrainingSession, resume, train

from tests.engine.test_model_families import batch, make
from tests.engine.test_training_resume import assert_same_weights, trainer_json

CPU = torch.device("cpu")
# Small sizes keep the recurrent models quick; the rest use the families' default test size.
SIZES = {"row-lstm": 8, "draw": 16, "convlstm": 16}


def weights(model) -> dict[str, torch.Tensor]:
    return {f"{n}.{k}": v.detach().clone() for n, net in model.networks().items()
            for k, v in net.state_dict().items()}


@pytest.mark.parametrize("mode", ["bf16", "fp16"])
@pytest.mark.parametrize("name", model_names())
def test_every_model_trains_finite_under_mixed_precision(name, mode):
    model = make(name, **({"image_size": SIZES[name]} if name in SIZES else {}))
    model.precision = MixedPrecision(mode, CPU)
    images, labels = batch(model)
    before = weights(model)
    for _ in range(3):
        losses = model.train_step(images, labels)
    assert losses and all(math.isfinite(float(v)) for v in losses.values())
    after = weights(model)
    assert all(v.dtype == before[k].dtype and torch.isfinite(v.float()).all() for k, v in after.items())
    trained = any(not torch.equal(before[k], after[k]) for k in before if before[k].is_floating_point())
    if mode == "bf16":
        assert trained
    else:   # fp16: either it stepped, or the scaler found overflowing gradients and backed off
        assert trained or model.precision.scaler.get_scale() < 2.0 ** 16
    samples = model.sample([0, 1])
    assert samples.dtype == torch.float32 and samples.min() >= -1 and samples.max() <= 1


def test_fp32_is_the_plain_path():
    amp = MixedPrecision("fp32", CPU)
    assert amp.scaler is None and amp.counted() is None
    finite = torch.tensor(False)
    assert amp.tolerate_skipped(finite) is finite


def test_an_inf_gradient_skips_the_step_and_halves_the_scale():
    model = make("dcgan")
    model.precision = MixedPrecision("fp16", CPU)
    images, _ = batch(model)
    model.train_step(images)
    scale = model.precision.scaler.get_scale()
    discriminator = {k: v.clone() for k, v in model.discriminator.state_dict().items()}
    poisoned = images.clone()
    poisoned[0, 0, 0, 0] = float("inf")
    model.train_step(poisoned)
    assert bool(model.precision.skipped) and model.precision.scaler.get_scale() == scale / 2
    for key, value in model.discriminator.state_dict().items():
        if value.is_floating_point() and "running" not in key:
            assert torch.equal(value, discriminator[key]), key


def test_resolving_the_precision():
    assert resolve_precision("auto", CPU) == "fp32"
    assert resolve_precision("BF16", CPU) == "bf16"
    with pytest.raises(ConfigError, match="unknown precision"):
        resolve_precision("fp8", CPU)
    with pytest.raises(ConfigError, match="needs autocast"):
        resolve_precision("fp16", torch.device("meta"))


def test_a_bad_precision_is_refused_before_anything_runs(tiny_config):
    with pytest.raises(ConfigError, match="unknown precision 'half'"):
        tiny_config(precision="half").validate()


@pytest.mark.parametrize("model", ["dcgan", "mlp-vae"])
def test_fp16_resume_is_exact_with_the_scaler_state(tiny_config, tmp_path, model):
    common = dict(model=model, precision="fp16", steps=8)
    list(train(tiny_config(**common), tmp_path / "straight"))
    # Stopped, not given a smaller budget: a learning-rate schedule follows the budget.
    control = RunControl()
    for event in train(tiny_config(**common), tmp_path / "parts", control):
        if isinstance(event, Progress) and event.step >= 3:
            control.stop()
    state = trainer_json(tmp_path / "parts")["optimizers"]["amp.scaler"]
    list(resume(tmp_path / "parts", steps=8))
    assert_same_weights(tmp_path / "straight", tmp_path / "parts")
    saved = trainer_json(tmp_path / "straight")["optimizers"]["amp.scaler"]
    assert saved == trainer_json(tmp_path / "parts")["optimizers"]["amp.scaler"]
    if model == "mlp-vae":   # its summed loss overflows at first: the scale has moved
        assert state["scale"] < 2.0 ** 16
    config = json.loads((tmp_path / "parts" / "config.json").read_text())
    assert config["precision"] == "fp16" and config["train"]["precision"] == "fp16"


def test_the_precision_may_change_on_resume_and_is_recorded(tiny_config, tmp_path):
    list(train(tiny_config(precision="fp16", steps=2), tmp_path / "run"))
    events = list(resume(tmp_path / "run", steps=4, precision="bf16"))
    assert isinstance(events[-1], Finished) and events[-1].step == 4
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["precision"] == "bf16"
    assert config["history"][-1]["changes"] == {"precision": "bf16", "steps": 4}
    assert "amp.scaler" not in trainer_json(tmp_path / "run")["optimizers"]


def poison_step(monkeypatch, which) -> None:
    """Put an inf into the real images of the steps `which(step)` picks: the
    discriminator's gradients overflow. Steps are counted per model, as the
    trainer's memory probe trains a model of its own first."""
    original = GanModel.train_step
    calls: dict[int, int] = {}

    def poisoned(self, real, labels=None):
        calls[id(self)] = calls.get(id(self), 0) + 1
        if which(calls[id(self)]):
            real = real.clone()
            real[0, 0, 0, 0] = float("inf")
        return original(self, real, labels)

    monkeypatch.setattr(GanModel, "train_step", poisoned)


def test_a_scaler_skipped_step_is_not_a_divergence(tiny_config, tmp_path, monkeypatch):
    poison_step(monkeypatch, lambda step: step == 2)
    events = list(train(tiny_config(precision="fp16", steps=4), tmp_path / "run"))
    assert isinstance(events[-1], Finished) and events[-1].reason == "completed"
    progress = [e for e in events if isinstance(e, Progress)]
    # The skipped step's (NaN) losses are left out of the reported means.
    assert all(math.isfinite(v) for e in progress for v in e.losses.values())
    assert [e.losses for e in progress if e.step == 2] == [{}]
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["ended"] == "completed"


def test_the_same_step_without_a_scaler_is_a_divergence(tiny_config, tmp_path, monkeypatch):
    poison_step(monkeypatch, lambda step: step == 2)
    with pytest.raises(TrainingError, match="NaN or infinite at step 2"):
        list(train(tiny_config(precision="fp32", steps=4), tmp_path / "run"))


def test_a_long_streak_of_skipped_steps_is_a_divergence(tiny_config, tmp_path, monkeypatch):
    poison_step(monkeypatch, lambda step: step >= 2)
    with pytest.raises(TrainingError, match="NaN or infinite at step") as error:
        list(train(tiny_config(precision="fp16", steps=MAX_SKIPPED_IN_A_ROW + 5), tmp_path / "run"))
    # Every step from the second is skipped (the first may be too, while the scale settles).
    step = int(str(error.value).split("at step ")[1].split(".")[0])
    assert MAX_SKIPPED_IN_A_ROW <= step <= MAX_SKIPPED_IN_A_ROW + 1


def test_cli_train_precision_is_recorded(data_spec, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--data", data_spec, "--model", "dcgan", "--width", "8",
                 "--batch-size", "8", "--steps", "2", "--device", "cpu", "--precision", "bf16",
                 "--out", str(out)]) == 0
    config = RunDir(out).read_config()
    assert config["precision"] == "bf16" and config["train"]["precision"] == "bf16"
    assert main(["train", "--resume", str(out), "--steps", "3", "--precision", "fp32"]) == 0
    assert RunDir(out).read_config()["history"][-1]["changes"] == {"precision": "fp32", "steps": 3}


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("precision", ["auto", "fp16"])
def test_mixed_precision_on_cuda_trains(tiny_config, precision):
    session = TrainingSession(tiny_config(device="cuda", precision=precision))
    expected = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    assert session.precision == (expected if precision == "auto" else precision)
    for _ in range(3):
        losses = session.step()
    assert all(math.isfinite(float(v)) for v in losses.values())
    assert session.model.sample([0, 1]).dtype == torch.float32
