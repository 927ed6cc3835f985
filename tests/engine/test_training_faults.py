"""Training faults: a diverging loss, running out of device memory, a run too
big to fit, and a disk that refuses an autosave. Each is told to the user and
none loses what was saved."""
from __future__ import annotations

import errno
import json

import pytest
import torch

from engine.runs import checkpoints

from engine.training import memory
from engine.runs.checkpoints import read_manifest
from engine.errors import ConfigError
from engine.training.events import Finished, Notice, Progress, Saved
from engine.models.gan import GanModel
from engine.runs.folders import RunDir
from engine.training import TrainingError, TrainingSession, resume, train


def steps_of(events, kind):
    return [e.step for e in events if isinstance(e, kind)]


def collect(gen):
    events = []
    try:
        for event in gen:
            events.append(event)
    except TrainingError as exc:
        return events, exc
    return events, None


# -- a loss that becomes NaN ----------------------------------------------------------
def test_non_finite_loss_is_caught_at_its_step_and_the_run_rolled_back(
        tiny_config, tmp_path, monkeypatch):
    original = GanModel.train_step

    def nan_from_step_4(self, real, labels=None):
        losses = original(self, real)
        self._calls = getattr(self, "_calls", 0) + 1
        if self._calls >= 4:
            losses["generator"] = torch.tensor(float("nan"))
        return losses

    monkeypatch.setattr(GanModel, "train_step", nan_from_step_4)
    # Reports after every step, saves every step; the grid only at step 0.
    config = tiny_config(steps=10, autosave_seconds=0.0, sample_every=1000)
    events, error = collect(train(config, tmp_path / "run"))
    assert error is not None
    message = str(error)
    assert "step 4" in message and "lower learning rate" in message
    assert "last good checkpoint (step 3)" in message
    assert steps_of(events, Progress) == [1, 2, 3]
    run = RunDir(tmp_path / "run")
    assert read_manifest(run.path)["step"] == 3
    assert read_manifest(run.path)["ended"] == "diverged"
    assert max(r["step"] for r in run.read_metrics()) == 3
    # the rolled-back run resumes (here with a lower learning rate) from step 3
    monkeypatch.setattr(GanModel, "train_step", original)
    done = [e for e in resume(run.path, steps=5, learning_rate=1e-4) if isinstance(e, Finished)]
    assert done[0].step == 5 and done[0].reason == "completed"


def test_rollback_forgets_metrics_and_grids_after_the_checkpoint(tiny_config, tmp_path):
    for _ in train(tiny_config(steps=4, sample_every=1), tmp_path / "run"):
        pass
    run = RunDir(tmp_path / "run")
    with open(run.path / "metrics.jsonl", "a") as f:
        f.write('{"step": 9, "generator": 1.0}\n{"step": 10, "gen')  # a crash mid-line
    (run.path / "samples" / "step_000009.png").write_bytes(b"x")
    run.rollback_to(4)
    assert [r["step"] for r in run.read_metrics()] == [1, 2, 3, 4]
    assert (run.path / "metrics.jsonl").read_text().endswith("}\n")
    assert [s for s, _ in run.sample_history()] == [0, 1, 2, 3, 4]


# -- out of device memory -----------------------------------------------------------
def test_out_of_memory_halves_the_batch_and_goes_on(tiny_config, tmp_path, monkeypatch):
    original = GanModel.train_step
    seen = []

    def oom_above_8(self, real, labels=None):
        seen.append(real.shape[0])
        if real.shape[0] > 8:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return original(self, real)

    monkeypatch.setattr(GanModel, "train_step", oom_above_8)
    events, error = collect(train(tiny_config(steps=4, batch_size=32), tmp_path / "run"))
    assert error is None
    notices = [e for e in events if isinstance(e, Notice)]
    assert [n.kind for n in notices] == ["batch-halved", "batch-halved"]
    assert "batch size 32" in notices[0].message and "batch size 16" in notices[0].message
    assert seen == [2, 4, 32, 16, 8, 8, 8, 8]  # the memory probe's two steps, then the run
    assert events[-1].step == 4
    saved = RunDir(tmp_path / "run").read_config()
    assert saved["train"]["batch_size"] == 8
    assert [h["changes"] for h in saved["history"]] == [{"batch_size": 16}, {"batch_size": 8}]
    # a resumed run keeps the batch size that fits
    monkeypatch.setattr(GanModel, "train_step", original)
    for event in resume(tmp_path / "run", steps=6):
        pass
    assert RunDir(tmp_path / "run").read_config()["train"]["batch_size"] == 8


def test_out_of_memory_at_the_smallest_batch_ends_the_run(tiny_config, tmp_path, monkeypatch):
    original = GanModel.train_step
    calls = []

    def always_oom(self, real, labels=None):
        calls.append(real.shape[0])
        if len(calls) <= 2:  # the memory probe's two steps fit
            return original(self, real)
        raise torch.OutOfMemoryError("CUDA out of memory (simulated)")

    monkeypatch.setattr(GanModel, "train_step", always_oom)
    events, error = collect(train(tiny_config(steps=4, batch_size=4), tmp_path / "run"))
    assert error is not None and "even at batch size 2" in str(error)


# -- a run too big to fit -----------------------------------------------------------
def test_memory_estimate_grows_with_batch_and_image_size(tiny_config):
    small = TrainingSession(tiny_config(batch_size=8)).memory_estimate
    big_batch = TrainingSession(tiny_config(batch_size=32)).memory_estimate
    big_image = TrainingSession(tiny_config(batch_size=8, image_size=64)).memory_estimate
    assert small.weights_bytes == big_batch.weights_bytes > 0
    assert big_batch.activations_bytes == pytest.approx(4 * small.activations_bytes, rel=0.01)
    assert big_image.activations_bytes > 3 * small.activations_bytes
    assert small.data_bytes == 64 * 28 * 28  # the tiny data set: 64 images of 28 x 28


def test_the_estimate_counts_activations_in_the_runs_precision(tiny_config):
    full = TrainingSession(tiny_config(batch_size=16, precision="fp32")).memory_estimate
    mixed = TrainingSession(tiny_config(batch_size=16, precision="bf16")).memory_estimate
    assert mixed.weights_bytes == full.weights_bytes      # weights stay float32
    # Convolutions and matrix products save bfloat16 inputs; normalisation and
    # losses stay float32, so mixed precision saves less but not half.
    assert 0.4 * full.activations_bytes < mixed.activations_bytes < 0.9 * full.activations_bytes


def test_the_probe_never_uses_a_batch_larger_than_the_runs(tiny_config, monkeypatch):
    original = GanModel.train_step
    seen = []

    def oom_above_2(self, real, labels=None):
        seen.append(real.shape[0])
        if real.shape[0] > 2:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return original(self, real)

    monkeypatch.setattr(GanModel, "train_step", oom_above_2)
    estimate = TrainingSession(tiny_config(batch_size=2)).memory_estimate
    assert seen == [2] and estimate.activations_bytes > 0


def test_a_second_probe_out_of_memory_falls_back_to_the_first(tiny_config, monkeypatch):
    original = GanModel.train_step
    seen = []

    def oom_at_4(self, real, labels=None):
        seen.append(real.shape[0])
        if real.shape[0] == 4 and len(seen) == 2:     # only the probe's second step
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return original(self, real)

    monkeypatch.setattr(GanModel, "train_step", oom_at_4)
    estimate = TrainingSession(tiny_config(batch_size=8)).memory_estimate
    assert seen[:2] == [2, 4] and estimate.activations_bytes > 0


def test_a_run_that_cannot_fit_is_refused_before_anything_is_written(
        tiny_config, tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda device: 50_000)
    with pytest.raises(ConfigError, match=r"needs about .* only 49 kB|needs about .* is free"):
        list(train(tiny_config(), tmp_path / "run"))
    assert not (tmp_path / "run").exists()


# -- a disk that refuses an autosave -------------------------------------------------
def test_a_failing_autosave_is_reported_and_training_goes_on(tiny_config, tmp_path, monkeypatch):
    original = checkpoints._write_tensors
    calls = {"saves": 0}

    def disk_full_for_saves_3_to_5(path, tensors, metadata):
        if path.name == "generator.safetensors":
            calls["saves"] += 1
        if 3 <= calls["saves"] <= 5:
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(path, tensors, metadata)

    monkeypatch.setattr(checkpoints, "_write_tensors", disk_full_for_saves_3_to_5)
    events, error = collect(train(tiny_config(steps=8, autosave_seconds=0.0), tmp_path / "run"))
    assert error is None and events[-1].reason == "completed" and events[-1].step == 8
    notices = [e for e in events if isinstance(e, Notice)]
    assert len(notices) == 2
    assert "No space left" in notices[0].message and "last checkpoint (step 1) is intact" \
        in notices[0].message
    assert "works again" in notices[1].message
    saved = steps_of(events, Saved)
    assert saved[:2] == [0, 1] and saved[-1] == 8
    run = tmp_path / "run"
    folders = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert folders == sorted(read_manifest(run)["kept"])  # no half-written sets left
    assert not list(run.rglob("*.tmp"))


def test_a_failing_pause_save_still_pauses(tiny_config, tmp_path, monkeypatch):
    from engine.runtime.control import RunControl
    from engine.training.events import StateChanged

    control = RunControl()
    original = checkpoints._write_tensors
    broken = {"on": False}

    def maybe_fail(path, tensors, metadata):
        if broken["on"]:
            raise OSError(errno.EROFS, "Read-only file system")
        return original(path, tensors, metadata)

    monkeypatch.setattr(checkpoints, "_write_tensors", maybe_fail)
    events = []
    for event in train(tiny_config(steps=50, autosave_seconds=1e9), tmp_path / "run", control):
        events.append(event)
        if isinstance(event, Progress) and event.step == 2:
            broken["on"] = True
            control.pause()
        if isinstance(event, StateChanged) and event.state == "paused":
            broken["on"] = False
            control.stop()
    kinds = [type(e).__name__ for e in events]
    assert "Notice" in kinds and kinds.index("Notice") < kinds.index("StateChanged")
    assert events[-1].reason == "stopped"
    assert read_manifest(tmp_path / "run")["ended"] == "stopped"


# -- keep last K and keep best -------------------------------------------------------
def test_keep_last_and_keep_best(tiny_config, tmp_path):
    config = tiny_config(steps=8, autosave_seconds=0.0, keep_last=3, keep_best="discriminator")
    events = list(train(config, tmp_path / "run"))
    run = tmp_path / "run"
    manifest = read_manifest(run)
    assert len(manifest["recent"]) == 3 and manifest["recent"][0] == manifest["checkpoint"]
    losses = {r["step"]: r["discriminator"] for r in RunDir(run).read_metrics()}
    best = manifest["best"]
    assert best["metric"] == "discriminator"
    assert best["score"] == pytest.approx(min(losses.values()))
    assert losses[best["step"]] == pytest.approx(best["score"])
    kept = set(manifest["kept"])
    assert kept == set(manifest["recent"]) | {best["checkpoint"]}
    assert {p.name for p in (run / "checkpoints").iterdir()} == kept
    assert json.loads((run / "checkpoints" / best["checkpoint"] / "trainer.json").read_text())[
        "step"] == best["step"]
    assert events[-1].reason == "completed"


def test_thumbnail_is_small_and_shows_the_latest_grid(tiny_config, tmp_path):
    from PIL import Image
    for _ in train(tiny_config(steps=2), tmp_path / "run"):
        pass
    with Image.open(tmp_path / "run" / "thumbnail.png") as thumb:
        assert max(thumb.size) <= 128
        assert thumb.size[0] == thumb.size[1] == 4 * 30 + 2  # 4 x 4 tiles of 28 px + padding


def test_a_model_too_big_even_for_the_probe_is_refused_clearly(tiny_config, tmp_path, monkeypatch):
    def oom(self, real, labels=None):
        raise torch.OutOfMemoryError("CUDA out of memory (simulated)")

    monkeypatch.setattr(GanModel, "train_step", oom)
    with pytest.raises(ConfigError, match="does not fit on cpu even at batch size 2"):
        list(train(tiny_config(), tmp_path / "run"))
    assert not (tmp_path / "run").exists()


# -- a batch size the memory estimate refuses (issue 22, item 12) -------------------------
def test_a_huge_batch_size_is_refused_naming_it_and_the_batch_that_fits(
        tiny_config, tmp_path, monkeypatch):
    """The reproduction: --batch-size 100000000 was accepted (every step took
    the whole data set; it peaked at 12.6 GB) although the estimate said as
    much. A run on the CPU may take half of the free memory: here the
    whole-set batch fits in all of it but not in that share."""
    import engine.training.session

    whole = TrainingSession(tiny_config(batch_size=64)).memory_estimate
    free = int(whole.total_bytes / 0.9)
    monkeypatch.setattr(memory, "available_memory", lambda device: free)
    monkeypatch.setattr(engine.training.session, "build_model", lambda *a, **k: pytest.fail(
        "the model was built before the memory check"))
    with pytest.raises(ConfigError) as caught:
        list(train(tiny_config(batch_size=100_000_000), tmp_path / "run"))
    message = str(caught.value)
    assert "\n" not in message and "needs about" in message
    assert "--batch-size 100,000,000 is more than the 64 images" in message
    assert "more than 50% of the" in message and "lower --batch-size" in message
    fits = int(message.split("the largest batch that fits is about ")[1].split(":")[0])
    assert 2 <= fits < 64
    budget = free * memory.training_memory_share(torch.device("cpu"))
    assert whole.largest_batch(int(budget)) == fits
    assert not (tmp_path / "run").exists()
    # and the batch it names does start
    monkeypatch.undo()
    monkeypatch.setattr(memory, "available_memory", lambda device: free)
    events = list(train(tiny_config(batch_size=fits, steps=1), tmp_path / "fits"))
    assert isinstance(events[-1], Finished)


def test_a_run_that_fits_only_without_any_batch_says_so(tiny_config, tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda device: 1024)
    with pytest.raises(ConfigError, match="not even batch size 2 fits"):
        TrainingSession(tiny_config())


@pytest.mark.parametrize("setting,message", [
    ({"batch_size": 32.5}, "training setting batch_size must be a whole number, not 32.5"),
    ({"batch_size": "64"}, "training setting batch_size must be a whole number, not '64'"),
    ({"steps": True}, "training setting steps must be a whole number, not True"),
    ({"flip": "yes"}, "training setting flip must be true or false, not 'yes'"),
    ({"minutes": "5"}, "training setting minutes must be a number, not '5'"),
    ({"data": ["mnist"]}, "training setting data must be text, not a list"),
    ({"width": 32.5}, "training setting width must be a whole number, not 32.5"),
    ({"model_settings": {"latent_dim": 32.5}}, "model setting latent_dim must be a whole number"),
])
def test_training_settings_of_the_wrong_kind_are_one_line(tiny_config, setting, message):
    # A resumed run's config.json or a preset file can hold any JSON value.
    with pytest.raises(ConfigError) as caught:
        tiny_config(**setting).validate()
    assert message in str(caught.value)


# -- metrics.jsonl lines that are no records (issue 22, item 10) --------------------------
def test_resume_over_metrics_lines_that_are_not_records(tiny_config, tmp_path):
    """The reproduction: a `null` line in metrics.jsonl made resume fail with
    AttributeError ('NoneType' object has no attribute 'get')."""
    run = tmp_path / "run"
    list(train(tiny_config(steps=2), run))
    with open(run / "metrics.jsonl", "a", encoding="utf-8") as f:
        f.write('null\n7\n"text"\n[1, 2]\n{"step": "x"}\n{"step": 99, "generator": 1.0}\n')
    events = list(resume(run, steps=4))
    assert isinstance(events[-1], Finished) and events[-1].step == 4
    records = RunDir(run).read_metrics()
    steps = [r["step"] for r in records if isinstance(r.get("step"), int)]
    assert 99 not in steps and max(steps) == 4   # rolled back to step 2, then trained on
    assert all(isinstance(r, dict) for r in records)


def test_the_reproduction_batch_is_refused_on_a_machine_like_the_reporters(monkeypatch):
    """--batch-size 100000000 on MNIST: every step takes all 60,000 images and
    the estimate is about 13 GB. With 22.7 GB free (the reporter's machine) the
    CPU share refuses it; a GPU with the same free memory may take it."""
    gb = 2**30
    estimate = memory.MemoryEstimate(weights_bytes=int(0.1 * gb), activations_bytes=int(12.7 * gb),
                                     data_bytes=int(0.2 * gb), batch_size=60_000,
                                     per_image_bytes=int(12.7 * gb / 60_000))
    monkeypatch.setattr(memory, "available_memory", lambda device: int(22.7 * gb))
    with pytest.raises(ConfigError, match=r"more than 50% of the 22.7 GB that is free on cpu"):
        memory.check_fits(estimate, torch.device("cpu"), requested_batch=100_000_000)
    memory.check_fits(estimate, torch.device("cuda"), requested_batch=100_000_000)
