"""engine.training: config checks, budgets, determinism, the run it writes, control, events."""
from __future__ import annotations

import json
import math
import queue
import threading

import numpy as np
import pytest
import torch

from engine.runtime.control import RunControl
from engine.errors import AtelierError, ConfigError, DataError, RunDirError
from engine.training.events import Finished, Progress, RunStarted, Samples, Saved, StateChanged
from engine.models import GanModel
from engine.runs.folders import RunDir
from engine.training import (DEFAULT_STEPS, SAMPLE_SEEDS, TrainConfig, TrainingError,
                             TrainingSession, seconds_between_grids, train)


# -- configuration ------------------------------------------------------------------
@pytest.mark.parametrize("overrides,message", [
    ({"batch_size": 0}, "batch size must be at least 2"),
    ({"batch_size": -8}, "batch size must be at least 2"),
    ({"learning_rate": -1.0}, "learning rate must be a positive number"),
    ({"learning_rate": 0.0}, "learning rate must be a positive number"),
    ({"learning_rate": float("nan")}, "learning rate must be a positive number"),
    ({"learning_rate": float("inf")}, "learning rate must be a positive number"),
    ({"image_size": 7}, "image size must be one of"),
    ({"model": "mlp-gan", "image_size": 7}, "image size must be between 8 and 128"),
    ({"steps": 0}, "steps must be at least 1, not 0"),
    ({"minutes": 0}, "minutes must be a positive number"),
    ({"minutes": -1.0}, "minutes must be a positive number"),
    ({"minutes": float("inf")}, "minutes must be a positive number"),
    ({"width": 2}, "width must be between 4 and 1024, not 2"),
    ({"model": "unet"}, "unknown model 'unet'"),
    ({"seed": -1}, "seed must be between"),
    ({"sample_every": 0}, "sample_every must be at least 1"),
    ({"device": "tpu"}, "unknown device 'tpu'"),
])
def test_bad_settings_fail_before_anything_is_written(tiny_config, tmp_path, atelier_home,
                                                      overrides, message):
    config = tiny_config(**overrides)
    if "device" not in overrides:  # the device is checked when a session starts
        with pytest.raises(ConfigError, match=message):
            config.validate()
    with pytest.raises(ConfigError, match=message):
        list(train(config, tmp_path / "out"))
    assert not (tmp_path / "out").exists()
    with pytest.raises(ConfigError):
        list(train(config, None))  # the default location is not touched either
    assert not (atelier_home / "runs").exists()


def test_missing_data_fails_before_anything_is_written(tiny_config, tmp_path):
    with pytest.raises(DataError, match="not a folder"):
        list(train(tiny_config(data=f"idx:{tmp_path / 'nope'}"), tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_unavailable_device_is_a_config_error(tiny_config, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ConfigError, match="not available"):
        list(train(tiny_config(device="cuda"), tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_budget():
    assert TrainConfig().budget() == (DEFAULT_STEPS, None)
    assert TrainConfig(steps=10).budget() == (10, None)
    assert TrainConfig(minutes=1.5).budget() == (None, 90.0)
    assert TrainConfig(steps=10, minutes=2).budget() == (10, 120.0)


def test_default_budget_applies_with_neither_steps_nor_minutes(tiny_config, tmp_path):
    control = RunControl()
    control.stop()  # do not actually train 2000 steps
    events = list(train(tiny_config(steps=None, minutes=None), tmp_path / "run", control))
    started = events[0]
    assert isinstance(started, RunStarted)
    assert started.total_steps == DEFAULT_STEPS and started.time_budget_seconds is None
    assert isinstance(events[-1], Finished) and events[-1].reason == "stopped"
    assert events[-1].step == 0


def test_validate_accepts_a_good_config(tiny_config):
    tiny_config().validate()
    tiny_config(model="mlp-gan", image_size=32, width=None).validate()


def test_config_dict_round_trip():
    config = TrainConfig(model="mlp-gan", steps=5, minutes=1.0, seed=3)
    assert TrainConfig(**config.to_dict()) == config
    assert json.loads(json.dumps(config.to_dict()))["model"] == "mlp-gan"


# -- determinism and learning -------------------------------------------------------
def test_same_seed_gives_bit_identical_runs(tiny_config, tmp_path, h):
    metrics = []
    for name in ("a", "b"):
        h.run_training(tiny_config(seed=5), tmp_path / name)
        lines = (tmp_path / name / "metrics.jsonl").read_text().splitlines()
        metrics.append([{k: v for k, v in json.loads(line).items()
                         if k not in ("elapsed", "images_per_second")} for line in lines])
    for net in ("generator", "discriminator"):
        a = h.load_tensors(RunDir(tmp_path / "a").weights_path(net))
        b = h.load_tensors(RunDir(tmp_path / "b").weights_path(net))
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), f"{net}.{key} differs"
    assert len(metrics[0]) == 3
    assert metrics[0] == metrics[1]


def test_other_threads_drawing_random_numbers_do_not_change_a_run(tiny_config, tmp_path, h,
                                                                  monkeypatch):
    """The gallery builds models (drawing from torch's global generator) while a
    run trains; the run must come out the same."""
    import engine.training

    h.run_training(tiny_config(seed=7), tmp_path / "clean")
    original = engine.training.TrainingSession.step

    def step_while_someone_else_draws(self):
        torch.rand(1000)  # what another thread building a model would consume
        return original(self)

    monkeypatch.setattr(engine.training.TrainingSession, "step", step_while_someone_else_draws)
    h.run_training(tiny_config(seed=7), tmp_path / "busy")
    for net in ("generator", "discriminator"):
        a = h.load_tensors(RunDir(tmp_path / "clean").weights_path(net))
        b = h.load_tensors(RunDir(tmp_path / "busy").weights_path(net))
        assert all(torch.equal(a[k], b[k]) for k in a), net


def test_different_seed_gives_different_weights(tiny_config, tmp_path, h):
    h.run_training(tiny_config(seed=0, steps=1), tmp_path / "a")
    h.run_training(tiny_config(seed=1, steps=1), tmp_path / "b")
    a = h.load_tensors(RunDir(tmp_path / "a").weights_path("generator"))
    b = h.load_tensors(RunDir(tmp_path / "b").weights_path("generator"))
    assert any(not torch.equal(a[k], b[k]) for k in a)


def test_training_steps_change_the_weights(tiny_config, tmp_path, h):
    config = tiny_config(seed=2)
    torch.manual_seed(config.seed)  # what TrainingSession does before building the model
    initial = TrainingSession(config).model.generator.state_dict()
    initial = {k: v.clone() for k, v in initial.items()}
    h.run_training(config, tmp_path / "run")
    trained = h.load_tensors(RunDir(tmp_path / "run").weights_path("generator"))
    assert trained.keys() == initial.keys()
    changed = [k for k in trained if not torch.equal(trained[k], initial[k])]
    assert any(k.endswith("weight") for k in changed)


def test_discriminator_learns_to_separate_real_from_fake(tiny_config, tmp_path, h):
    events = h.run_training(tiny_config(model="mlp-gan", steps=30, seed=0), tmp_path / "run")
    progress = h.of_type(events, "Progress")
    assert [p.step for p in progress] == list(range(1, 31))  # report_seconds=0: every step
    first, last = progress[0].losses, progress[-10:]
    d_real = np.mean([p.losses["D(x)"] for p in last])
    d_fake = np.mean([p.losses["D(G(z))"] for p in last])
    assert abs(first["D(x)"] - 0.5) < 0.15 and abs(first["D(G(z))"] - 0.5) < 0.15
    assert d_real > d_fake + 0.05
    d_loss = np.mean([p.losses["discriminator"] for p in last])
    assert d_loss < first["discriminator"]


# -- what a run writes --------------------------------------------------------------
def test_run_directory_contents(trained_run, data_spec):
    config = json.loads((trained_run / "config.json").read_text())
    assert config["model"] == "dcgan"
    assert config["model_config"]["width"] == 8 and config["model_config"]["architecture"] == "dcgan"
    assert config["model_config"]["image_size"] == 28 and config["model_config"]["channels"] == 1
    assert config["train"]["steps"] == 4 and config["train"]["batch_size"] == 8
    assert config["data"] == {"spec": data_spec, "count": 64, "channels": 1, "size": 28}
    assert config["format_version"] == 1 and "app_version" in config and config["device"] == "cpu"
    for net in ("generator", "discriminator"):
        assert (RunDir(trained_run).weights_path(net)).stat().st_size > 0
    records = [json.loads(line) for line in (trained_run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    for r in records:
        assert {"generator", "discriminator", "D(x)", "D(G(z))", "elapsed",
                "images_per_second"} <= set(r)
        assert all(math.isfinite(r[k]) for k in ("generator", "discriminator"))
    samples = sorted(p.name for p in (trained_run / "samples").iterdir())
    assert samples == [f"step_{i:06d}.png" for i in range(5)]
    leftovers = [p for p in trained_run.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_weights_carry_their_config_in_metadata(trained_run):
    from safetensors import safe_open
    with safe_open(str(RunDir(trained_run).weights_path("generator")), "pt") as f:
        meta = f.metadata()
    assert meta["model"] == "dcgan" and meta["family"] == "gan"
    assert json.loads(meta["model_config"])["width"] == 8


def test_grids_by_time_never_take_more_than_a_tenth_of_the_run():
    # A fast grid: every 2 s at first, then every 5% of the elapsed time.
    assert seconds_between_grids(10.0, 0.01) == 2.0
    assert seconds_between_grids(3600.0, 0.01) == 180.0
    # A slow sampler's grid (3 s) comes at most every 30 s, however young the run.
    assert seconds_between_grids(10.0, 3.0) == 30.0
    assert seconds_between_grids(3600.0, 3.0) == 180.0


def test_sample_grid_png_shows_the_64_fixed_seeds(trained_run):
    from PIL import Image
    with Image.open(trained_run / "samples" / "step_000004.png") as png:
        assert png.mode == "L"
        assert png.size == (8 * 30 + 2, 8 * 30 + 2)  # 8x8 tiles of 28 px, 2 px padding
        provenance = json.loads(png.text["latent-atelier"])
    assert provenance["step"] == 4 and provenance["model"] == "dcgan"
    assert provenance["seeds"] == list(SAMPLE_SEEDS)


def test_event_sequence(tiny_config, tmp_path, h):
    # sample_every far beyond the budget: grids only at the start and the end
    events = h.run_training(tiny_config(steps=3, sample_every=1000), tmp_path / "run")
    types = h.event_types(events)
    assert types[:2] == ["RunStarted", "Samples"]
    assert types[-2:] == ["Saved", "Finished"]
    started, finished = events[0], events[-1]
    assert started.run_dir == str(tmp_path / "run") == finished.run_dir
    assert started.total_steps == 3 and started.data_count == 64 and started.device == "cpu"
    assert started.parameters > 0
    assert finished.reason == "completed" and finished.step == 3
    progress = h.of_type(events, "Progress")
    assert [p.step for p in progress] == [1, 2, 3]
    assert progress[-1].fraction == 1.0 and 0 < progress[0].fraction < 1
    assert progress[-1].eta_seconds == 0
    assert all(p.images_per_second > 0 for p in progress)
    samples = h.of_type(events, "Samples")
    assert [s.step for s in samples] == [0, 3]
    assert samples[0].seeds == SAMPLE_SEEDS


def test_run_without_out_goes_under_the_user_runs_folder(tiny_config, atelier_home, h):
    events = h.run_training(tiny_config(steps=1), None)
    run_dir = events[0].run_dir
    assert str(atelier_home / "runs") in run_dir
    assert run_dir.endswith("-dcgan")
    assert (atelier_home / "runs").is_dir() and len(list((atelier_home / "runs").iterdir())) == 1


def test_existing_run_is_never_overwritten(trained_run, tiny_config, tmp_path):
    before = (trained_run / "config.json").read_bytes()
    with pytest.raises(RunDirError, match="already holds a run"):
        list(train(tiny_config(steps=1), trained_run))
    assert (trained_run / "config.json").read_bytes() == before


def test_autosave(tiny_config, tmp_path, h):
    events = h.run_training(tiny_config(steps=3, autosave_seconds=0.0), tmp_path / "run")
    assert len(h.of_type(events, "Saved")) >= 4  # each step, plus the final save


def _plain(value, path="event"):
    """Assert a value is plain data: numbers, strings, tuples/lists/dicts, uint8 arrays."""
    assert not isinstance(value, torch.Tensor), f"{path} is a torch.Tensor"
    if isinstance(value, np.ndarray):
        assert value.dtype == np.uint8, f"{path} has dtype {value.dtype}"
    elif isinstance(value, dict):
        for k, v in value.items():
            assert isinstance(k, str)
            _plain(v, f"{path}[{k!r}]")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _plain(v, f"{path}[{i}]")
    else:
        assert value is None or type(value) in (int, float, str, bool), \
            f"{path} is a {type(value).__name__}"


def test_events_carry_only_plain_data(tiny_config, tmp_path, h):
    control = RunControl()
    events = []
    for event in train(tiny_config(steps=4, sample_every=2, autosave_seconds=0.0),
                       tmp_path / "run", control):
        events.append(event)
        if isinstance(event, Progress) and event.step == 1:
            control.pause()
        elif isinstance(event, StateChanged) and event.state == "paused":
            control.resume()
    assert {"RunStarted", "Progress", "Samples", "StateChanged", "Saved", "Finished"} <= \
           set(h.event_types(events))
    for event in events:
        _plain(h.fields(event), type(event).__name__)
        if isinstance(event, Samples):
            assert event.grid.ndim == 3 and event.grid.shape[2] == 1
            assert event.grid.flags.owndata or event.grid.base is not None
        if isinstance(event, Progress):
            assert all(type(v) is float for v in event.losses.values())
    grids = [e.grid for e in events if isinstance(e, Samples)]
    assert len({id(g) for g in grids}) == len(grids)  # each event has its own array


# -- control: pause, resume, stop ----------------------------------------------------
def test_pause_resume_and_stop_from_another_thread(tiny_config, tmp_path, h):
    control = RunControl()
    seen: queue.Queue = queue.Queue()
    failure: list[BaseException] = []

    def worker():
        try:
            for event in train(tiny_config(model="mlp-gan", steps=100_000), tmp_path / "run", control):
                seen.put(event)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failure.append(exc)
        finally:
            seen.put(None)

    def wait_for(predicate, timeout=20.0):
        got = []
        while True:
            event = seen.get(timeout=timeout)
            assert event is not None, f"training ended early: {failure or got}"
            got.append(event)
            if predicate(event):
                return got

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    log = wait_for(lambda e: isinstance(e, Progress) and e.step >= 2)
    control.pause()
    log += wait_for(lambda e: isinstance(e, StateChanged))
    paused = log[-1]
    assert paused.state == "paused"
    assert isinstance(log[-2], Saved) and log[-2].step == paused.step  # weights saved on pause
    assert seen.empty()  # nothing happens while paused
    control.resume()
    log += wait_for(lambda e: isinstance(e, StateChanged))
    assert log[-1].state == "running" and log[-1].step == paused.step
    log += wait_for(lambda e: isinstance(e, Progress) and e.step > paused.step)
    control.stop()
    thread.join(timeout=20)
    assert not thread.is_alive() and not failure
    rest = []
    while (event := seen.get_nowait()) is not None:
        rest.append(event)
    finished = rest[-1]
    assert isinstance(finished, Finished) and finished.reason == "stopped"
    assert finished.step < 100_000
    assert isinstance(rest[-2], Saved) and rest[-2].step == finished.step
    from engine.runs.folders import RunDir
    _, model = RunDir(tmp_path / "run").load_model(torch.device("cpu"))
    assert model.parameter_count() > 0


def test_stop_while_paused_finishes_and_saves(tiny_config, tmp_path, h):
    control = RunControl()
    events = []
    for event in train(tiny_config(steps=50), tmp_path / "run", control):
        events.append(event)
        if isinstance(event, Progress) and event.step == 2:
            control.pause()
        elif isinstance(event, StateChanged) and event.state == "paused":
            control.stop()  # the loop is about to wait; stop must wake it
    finished = events[-1]
    assert finished.reason == "stopped" and finished.step == 2
    assert [e.state for e in h.of_type(events, "StateChanged")] == ["paused"]
    assert (RunDir(tmp_path / "run").weights_path("generator")).exists()


def test_stopped_run_ends_with_a_sample_grid_of_its_final_state(tiny_config, tmp_path, h):
    control = RunControl()
    events = []
    for event in train(tiny_config(steps=10_000, sample_every=1_000), tmp_path / "run", control):
        events.append(event)
        if isinstance(event, Progress) and event.step >= 3:
            control.stop()
    final = events[-1].step
    assert h.of_type(events, "Samples")[-1].step == final
    assert (tmp_path / "run" / "samples" / f"step_{final:06d}.png").exists()


def test_pause_after_stop_never_blocks():
    control = RunControl()
    control.stop()
    control.pause()
    assert not control.paused
    assert control.wait_while_paused(timeout=0.01)


def test_run_control_flags():
    control = RunControl()
    assert not control.paused and not control.stopped
    control.pause()
    assert control.paused and control.wait_while_paused(timeout=0.01) is False
    control.resume()
    assert not control.paused and control.wait_while_paused(timeout=0.01) is True
    control.pause()
    control.stop()
    assert control.stopped and not control.paused  # stopping wakes a paused run


# -- budgets and failures ------------------------------------------------------------
def test_time_budget_stops_the_run(tiny_config, tmp_path, h):
    events = h.run_training(tiny_config(steps=None, minutes=0.003), tmp_path / "run")  # 0.18 s
    finished = events[-1]
    assert finished.reason == "time budget reached"
    assert finished.elapsed_seconds >= 0.18
    assert events[0].total_steps is None and events[0].time_budget_seconds == pytest.approx(0.18)
    assert h.of_type(events, "Progress")[-1].fraction == 1.0
    assert (RunDir(tmp_path / "run").weights_path("generator")).exists()


def test_step_budget_wins_when_reached_first(tiny_config, tmp_path, h):
    events = h.run_training(tiny_config(steps=2, minutes=10.0), tmp_path / "run")
    assert events[-1].reason == "completed" and events[-1].step == 2


def test_nan_loss_raises_training_error(tiny_config, tmp_path, monkeypatch):
    def nan_step(self, real):
        nan = torch.tensor(float("nan"))
        return {"generator": nan, "discriminator": nan}

    monkeypatch.setattr(GanModel, "train_step", nan_step)
    with pytest.raises(TrainingError, match="NaN") as info:
        list(train(tiny_config(steps=5), tmp_path / "run"))
    assert isinstance(info.value, AtelierError)
    assert "step 1" in str(info.value)


def test_infinite_loss_raises_training_error(tiny_config, tmp_path, monkeypatch):
    original = GanModel.train_step

    def inf_after_two(self, real):
        losses = original(self, real)
        self._calls = getattr(self, "_calls", 0) + 1
        if self._calls > 2:
            losses["generator"] = torch.tensor(float("inf"))
        return losses

    monkeypatch.setattr(GanModel, "train_step", inf_after_two)
    events = []
    with pytest.raises(TrainingError):
        for event in train(tiny_config(steps=10), tmp_path / "run"):
            events.append(event)
    assert [e.step for e in events if isinstance(e, Progress)] == [1, 2]


@pytest.mark.slow
def test_short_run_on_the_bundled_mnist(tmp_path, h):
    """Real data end to end: 100 mlp-gan steps on MNIST move G away from its start."""
    config = TrainConfig(model="mlp-gan", data="mnist", batch_size=64, steps=100, device="cpu",
                         seed=0, report_seconds=0.0, sample_every=100)
    events = h.run_training(config, tmp_path / "run")
    assert events[0].data_count == 60000
    assert events[-1].reason == "completed"
    first_grid, last_grid = [s.grid for s in h.of_type(events, "Samples")]
    # MNIST is mostly black background: trained samples are far darker than the start's grey
    assert last_grid.mean() < first_grid.mean() - 20


@pytest.mark.gpu
def test_dcgan_trains_on_cuda(tiny_config, tmp_path, h):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    events = h.run_training(tiny_config(device="cuda", steps=5), tmp_path / "run")
    assert events[0].device.startswith("cuda")
    assert events[-1].reason == "completed" and events[-1].step == 5
    from engine.runs.folders import RunDir
    _, model = RunDir(tmp_path / "run").load_model(torch.device("cuda"))
    images = model.sample(list(range(16)))
    assert images.device.type == "cuda"
    assert torch.isfinite(images).all()
    for p in h.of_type(events, "Progress"):
        assert all(math.isfinite(v) for v in p.losses.values())


# -- regressions: bad input refused before anything is written, NaN never saved --
@pytest.mark.parametrize("case", ["batch-size-1", "one-image-data-set"])
def test_mlp_gan_batch_of_one_is_refused_before_writing(tiny_config, tmp_path, h, case):
    if case == "batch-size-1":
        config = tiny_config(model="mlp-gan", batch_size=1, steps=1)
    else:
        folder = tmp_path / "one"
        h.write_idx(folder / "train-images-idx3-ubyte.gz", h.pattern_images(1))
        config = tiny_config(model="mlp-gan", data=f"idx:{folder}", steps=1)
    with pytest.raises(AtelierError, match="batch"):
        list(train(config, tmp_path / "out"))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("model", ["dcgan", "mlp-gan"])
def test_empty_data_set_is_a_data_error_before_writing(tiny_config, tmp_path, h, model):
    folder = tmp_path / "empty"
    h.write_idx(folder / "train-images-idx3-ubyte.gz", np.zeros((0, 28, 28), np.uint8))
    with pytest.raises(DataError, match="no images|empty"):
        list(train(tiny_config(model=model, data=f"idx:{folder}"), tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_nan_weights_never_overwrite_the_saved_checkpoint(tiny_config, tmp_path, h, monkeypatch):
    original = GanModel.train_step

    def goes_nan_at_step_3(self, real):
        losses = original(self, real)
        self._calls = getattr(self, "_calls", 0) + 1
        if self._calls >= 3:
            with torch.no_grad():
                for p in self.generator.parameters():
                    p.fill_(float("nan"))
            losses["generator"] = torch.tensor(float("nan"))
        return losses

    monkeypatch.setattr(GanModel, "train_step", goes_nan_at_step_3)
    # reports only at the end of the budget; an autosave after every step
    config = tiny_config(steps=5, report_seconds=1e9, autosave_seconds=0.0)
    with pytest.raises(TrainingError):
        list(train(config, tmp_path / "run"))
    saved = h.load_tensors(RunDir(tmp_path / "run").weights_path("generator"))
    assert all(torch.isfinite(t).all() for t in saved.values() if t.is_floating_point())
