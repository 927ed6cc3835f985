"""The training loop, written once for every model family.

`train()` is a generator of plain-data events (see engine.events). It checks a
RunControl between steps, so callers on any thread can pause, resume or stop
it, and it always leaves a loadable run directory behind.
"""
from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.models.recurrent import evaluating
from engine.control import RunControl
from engine.data import LoadCancelled, load_data
from engine.data.augment import Augmentation
from engine.data.batches import DeviceBatcher, to_model_range
from engine.device import device_usable, resolve_device
from engine.compilation import CompiledTraining
from engine.cpu_threads import check_threads, cpu_threads
from engine.precision import PRECISION_CHOICES, MixedPrecision, resolve_precision
from engine import checkpoints
from engine.errors import AtelierError, ConfigError, RunDirError
from engine.events import (Evaluated, Finished, Notice, Progress, RunStarted, Samples, Saved,
                           StateChanged, TrainingEvent)
from engine.images import make_grid, to_uint8
from engine.memory import check_fits, estimate_training_memory
from engine.metrics.best import higher_is_better, is_eval_metric
from engine.metrics.during_training import (DEFAULT_TRAINING_EVAL_SAMPLES, EvalSchedule,
                                            TrainingEvaluator, evaluation_summary)
from engine.metrics.evaluate import MAX_EVAL_SAMPLES, EvalFinished
from engine.models import (build_model, default_lr_schedule, model_accepts,
                           model_config)
from engine.runlock import RunLock, is_training
from engine.runs import RunDir
from engine.schedule import apply_schedule, check_schedule

DEFAULT_STEPS = 2000
SAMPLE_SEEDS = tuple(range(64))     # the fixed-seed grid: tile i is gallery seed i

# A sample grid costs at most about this share of a run's time when grids come
# by time (no sample_every).
GRID_TIME_SHARE = 0.1


def seconds_between_grids(elapsed: float, grid_seconds: float) -> float:
    """Training time from one sample grid to the next when no step interval is set.

    Every 2 s at first, then every 5% of the elapsed time, so a time-lapse
    dwells on the early changes and an hour-long run has about 120 frames; but
    never so often that grids take more than GRID_TIME_SHARE of the time: a
    slow sampler's 64-image grid (row-lstm draws pixel row by pixel row) took
    most of a short run before.
    """
    return max(2.0, 0.05 * elapsed, grid_seconds / GRID_TIME_SHARE)


class TrainingError(AtelierError):
    """Training cannot go on (e.g. the loss became NaN)."""


@dataclasses.dataclass
class TrainConfig:
    model: str = "dcgan"
    data: str = "mnist"
    image_size: int = 28
    width: int | None = None            # None: the model's default
    batch_size: int = 64
    learning_rate: float | None = None  # None: the model's default (e.g. 2e-4 GANs, 3e-3 MLP VAEs)
    lr_schedule: str = "auto"           # constant, cosine, or auto: the model's own (engine.schedule)
    steps: int | None = None            # budget: steps, minutes or both (first reached wins)
    minutes: float | None = None
    seed: int = 0
    device: str = "auto"
    sample_every: int | None = None     # steps between sample grids; None: by time
    report_seconds: float = 0.2         # at most this often a Progress event
    autosave_seconds: float = 120.0
    keep_last: int = 2                  # checkpoints kept besides the best one
    keep_best: str | None = None        # a reported loss, or an evaluation metric ("fd", "kid",
                                        # ...), to keep the best-scoring checkpoint by
    # Evaluation while training (engine.metrics.during_training): every so many
    # minutes of training and/or steps (None or 0: off), on `eval_samples` images.
    eval_every_minutes: float | None = None
    eval_every_steps: int | None = None
    eval_samples: int = DEFAULT_TRAINING_EVAL_SAMPLES
    flip: bool = False                  # augmentation for small data sets (off by default:
    translate: float = 0.0              # flipped or shifted digits are other digits);
    color_jitter: float = 0.0           # see engine.data.augment
    data_cache: bool = True             # reuse decoded folders (engine.data.cache)
    precision: str = "auto"             # auto, fp32, bf16 or fp16 (engine.precision)
    compile: bool = False               # torch.compile the networks (engine.compilation)
    threads: int | None = None          # CPU threads for the maths (0 or None: one per core)
    # Further model settings by name (e.g. {"beta": 4.0, "warmup_steps": 1000});
    # they define the run, so a resumed run keeps them.
    model_settings: dict[str, Any] = dataclasses.field(default_factory=dict)

    def validate(self) -> None:
        self._check_types()
        if self.batch_size < 2:
            raise ConfigError(f"batch size must be at least 2 (batch normalisation needs two or "
                              f"more images per step), not {self.batch_size}")
        if self.learning_rate is not None and (not (self.learning_rate > 0)
                                               or not math.isfinite(self.learning_rate)):
            raise ConfigError(f"learning rate must be a positive number, not {self.learning_rate}")
        if self.steps is not None and self.steps < 1:
            raise ConfigError(f"steps must be at least 1, not {self.steps}")
        if self.minutes is not None and not (self.minutes > 0 and math.isfinite(self.minutes)):
            raise ConfigError(f"minutes must be a positive number, not {self.minutes}")
        if not (self.autosave_seconds >= 0 and math.isfinite(self.autosave_seconds)):
            raise ConfigError(f"autosave interval must be 0 (every step) or more seconds, "
                              f"not {self.autosave_seconds}")
        if self.keep_last < 1:
            raise ConfigError(f"keep_last must be at least 1, not {self.keep_last}")
        if self.sample_every is not None and self.sample_every < 1:
            raise ConfigError(f"sample_every must be at least 1, not {self.sample_every}")
        if not 0 <= self.seed < 2**63:
            raise ConfigError(f"seed must be between 0 and 2**63 - 1, not {self.seed}")
        if self.lr_schedule != "auto":
            check_schedule(self.lr_schedule)
        self._validate_evaluation()
        self.augmentation().validate()
        check_threads(self.threads)
        if self.precision not in PRECISION_CHOICES:
            raise ConfigError(f"unknown precision {self.precision!r}; choose one of "
                              f"{', '.join(PRECISION_CHOICES)}")
        # The model's own checks (image size, width) run when its config is built.
        model_config(self.model, **self._model_settings(channels=1))

    def _check_types(self) -> None:
        """Each setting of its declared kind before any check compares it: a
        resumed run's config.json or a preset file can hold any JSON value, and
        a batch size of "64" or 32.5 must be one line naming it, not a TypeError."""
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            kinds = {part.strip() for part in str(field.type).split("|")}
            if (value is None and "None" in kinds) or field.name == "threads":
                continue   # threads: check_threads has its own message
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if "int" in kinds:
                ok, want = number and isinstance(value, int), "a whole number"
            elif "float" in kinds:
                ok, want = number, "a number"   # NaN and infinity: the range checks below
            elif "bool" in kinds:
                ok, want = isinstance(value, bool), "true or false"
            elif "str" in kinds:
                ok, want = isinstance(value, str), "text"
            else:
                continue   # model_settings: checked by _model_settings and the model
            if not ok:
                shown = repr(value) if isinstance(value, (bool, int, float, str)) else \
                    type(value).__name__.replace("dict", "a JSON object").replace("list", "a list")
                raise ConfigError(f"training setting {field.name} must be {want}, "
                                  f"not {shown[:40]}")

    def resolved_lr_schedule(self) -> str:
        return default_lr_schedule(self.model) if self.lr_schedule == "auto" else self.lr_schedule

    def _validate_evaluation(self) -> None:
        if self.eval_every_minutes is not None and not (
                self.eval_every_minutes >= 0 and math.isfinite(self.eval_every_minutes)):
            raise ConfigError(f"evaluation interval must be a number of minutes (0: off), "
                              f"not {self.eval_every_minutes}")
        if self.eval_every_steps is not None and self.eval_every_steps < 0:
            raise ConfigError(f"eval_every_steps must be 0 (off) or more, not {self.eval_every_steps}")
        if not 2 <= self.eval_samples <= MAX_EVAL_SAMPLES:
            raise ConfigError(f"evaluation samples must be between 2 and {MAX_EVAL_SAMPLES:,}, "
                              f"not {self.eval_samples}")
        if is_eval_metric(self.keep_best) and not self.evaluates:
            raise ConfigError(f"keeping the best checkpoint by {self.keep_best} needs evaluation "
                              "while training (every N minutes or steps)")

    @property
    def evaluates(self) -> bool:
        """Whether the run evaluates its model while training."""
        return bool(self.eval_every_minutes) or bool(self.eval_every_steps)

    def augmentation(self) -> Augmentation:
        return Augmentation(flip=self.flip, translate=self.translate,
                            color_jitter=self.color_jitter)

    def budget(self) -> tuple[int | None, float | None]:
        """(steps, seconds); with neither given, DEFAULT_STEPS applies."""
        if self.steps is None and self.minutes is None:
            return DEFAULT_STEPS, None
        return self.steps, (self.minutes * 60 if self.minutes is not None else None)

    def _model_settings(self, channels: int, num_classes: int = 0) -> dict[str, Any]:
        if not isinstance(self.model_settings, dict):
            raise ConfigError("model settings must be a mapping of names to values")
        settings = {**self.model_settings, "image_size": self.image_size, "width": self.width,
                    "learning_rate": self.learning_rate, "channels": channels}
        if model_accepts(self.model, "num_classes"):
            # Class-conditional models take their classes from the data's labels.
            settings["num_classes"] = num_classes
        return settings

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class TrainingSession:
    """Model, data and device for one configuration: everything a step needs."""

    def __init__(self, config: TrainConfig, cancel: Callable[[], bool] | None = None) -> None:
        config.validate()
        self.config = config
        self.device = resolve_device(config.device)
        if self.device.type == "cpu":
            # Denormal floats (tiny values near zero, common in GAN gradients) take
            # a slow path on x86 CPUs; flushing them to zero costs no accuracy
            # that matters here. It applies to the calling (training) thread.
            torch.set_flush_denormal(True)
        # Pictures decode at the model's size; `cancel` stops a long folder scan.
        self.data = load_data(config.data, size=config.image_size, cache=config.data_cache,
                              cancel=cancel)
        if len(self.data) < 2:
            raise ConfigError(f"{config.data} has {len(self.data)} image(s); training needs at least 2")
        self.model_config = model_config(config.model, **config._model_settings(
            self.data.channels, self.data.num_classes))
        self.precision = resolve_precision(config.precision, self.device)
        self.memory_estimate = estimate_training_memory(
            config.model, self.model_config, self.data, min(config.batch_size, len(self.data)),
            config.image_size, self.device, self.precision)
        check_fits(self.memory_estimate, self.device, requested_batch=config.batch_size)
        self.model = build_model(config.model, self.model_config, self.device, seed=config.seed)
        self.model.precision = MixedPrecision(self.precision, self.device)
        self.compiled = CompiledTraining(self.model) if config.compile else None
        self._compile_failure_told = False
        self.batcher = DeviceBatcher(self.data, config.batch_size, config.image_size,
                                     self.device, seed=config.seed,
                                     augmentation=config.augmentation())

    def step(self) -> dict[str, torch.Tensor]:
        batch = self.batcher.next_batch()
        if self.model.uses_labels:
            train = lambda: self.model.train_step(batch.images, batch.labels)  # noqa: E731
        else:
            train = lambda: self.model.train_step(batch.images)  # noqa: E731
        if self.compiled is not None:
            return self.compiled.run(train, tuple(batch.images.shape))
        return train()

    def compile_failure(self) -> str | None:
        """Once, the message that torch.compile failed (or cannot run here) and
        training went on eagerly."""
        compiled = self.compiled
        if compiled is None or self._compile_failure_told:
            return None
        if compiled.unavailable is not None:
            self._compile_failure_told = True
            reason = compiled.unavailable
            return f"Training without torch.compile: {reason}."
        if compiled.failure is None:
            return None
        self._compile_failure_told = True
        return (f"torch.compile failed ({compiled.failure}); training goes on without it, "
                "exactly as an uncompiled run.")

    def sample_grid(self) -> np.ndarray:
        """The fixed-seed grid (seeds 0-63, 8 x 8) as a fresh uint8 array."""
        return make_grid(to_uint8(self.model.sample(list(SAMPLE_SEEDS))), columns=8)

    def reconstruction_grid(self) -> np.ndarray | None:
        """For models that reconstruct (VAEs): rows of 8 data images, each row
        followed by its reconstructions; None for models that do not."""
        reconstruct = getattr(self.model, "reconstruct", None)
        if reconstruct is None:
            return None
        images, labels = self._reconstruction_inputs()
        recon = reconstruct(images, labels)
        pairs = torch.stack([images.view(4, 8, *images.shape[1:]),
                             recon.view(4, 8, *recon.shape[1:])], dim=1)
        return make_grid(to_uint8(pairs.reshape(-1, *images.shape[1:])), columns=8)

    def process_animation(self) -> np.ndarray | None:
        """Seed 0's process (rows filling in, a canvas, a rollout) as fresh uint8
        frames (T, H, W, C) for the live view; None for families without one."""
        if getattr(self.model, "process_name", None) is None:
            return None
        with evaluating(*self.model.networks().values()), torch.inference_mode():
            return to_uint8(self.model.process_frames(SAMPLE_SEEDS[0]))

    def _reconstruction_inputs(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        # The same 32 images every time (data set order, repeated if it has fewer),
        # chosen without touching the batcher so a run stays exactly resumable.
        index = torch.arange(32) % len(self.data)
        images = to_model_range(torch.from_numpy(self.data.images[index.numpy()]),
                                self.config.image_size).to(self.device)
        labels = None
        if self.data.labels is not None:
            labels = torch.from_numpy(self.data.labels[index.numpy()].astype("int64")).to(self.device)
        return images, labels


def train(config: TrainConfig, out: str | Path | None = None,
          control: RunControl | None = None) -> Iterator[TrainingEvent]:
    """Train per `config`, writing a run directory at `out` (None: a new one under
    the user's runs folder). Yields events; raises AtelierError on bad input
    before anything is written."""
    control = control or RunControl()
    try:
        session = TrainingSession(config, cancel=lambda: control.stopped)
    except LoadCancelled:
        return  # stopped while the data was loading: nothing was started or written
    run = RunDir.create(out, config.model)
    data = {"spec": config.data, "count": len(session.data),
            "channels": session.data.channels, "size": session.data.size}
    notices = []
    report = session.data.report
    if report is not None and report.skipped:
        # Files a folder could not use were skipped without a word: say so at the
        # start, and keep the count and the first few with the run.
        data["skipped"] = report.skipped_record()
        notices.append(Notice(0, "files-skipped", report.skipped_line()))
    run.write_config({"model": config.model, "model_config": session.model_config.to_dict(),
                      "train": config.to_dict(), "device": str(session.device),
                      "precision": session.precision, "data": data})
    yield from _Loop(session, run, control, start_notices=notices).run()


# Settings a resumed run may change; anything else would silently break it.
RESUMABLE_CHANGES = ("steps", "minutes", "learning_rate", "lr_schedule", "device", "sample_every",
                     "report_seconds", "autosave_seconds", "keep_last", "keep_best",
                     "data_cache", "eval_every_minutes", "eval_every_steps", "eval_samples",
                     "precision", "compile", "threads")


def resume(run_path: str | Path, control: RunControl | None = None, restart: bool = False,
           **changes: Any) -> Iterator[TrainingEvent]:
    """Continue a saved run exactly where its last checkpoint left it.

    `steps` is the run's total step budget (not a number of further steps); a
    time budget (`minutes`) bounds each session. Other changes allowed are in
    RESUMABLE_CHANGES; they are recorded in the run's history.

    With the manifest missing, refused or naming a set that is gone, the run
    goes on from the newest complete checkpoint on disk, says so (a "recovered"
    Notice) and gets a new manifest; nothing is deleted before the checkpoint
    has loaded. `restart`: a run that stopped before its first save (nothing
    to resume; NoSavedWeightsError otherwise) trains again from step 0 with its
    saved settings, in its own folder.
    """
    control = control or RunControl()
    run = RunDir(run_path)
    saved = run.read_config()
    if not isinstance(saved.get("train"), dict):
        raise RunDirError(f"{run.path / 'config.json'}: has no training settings")
    if is_training(run.path):
        raise RunDirError(f"{run.path} is being trained right now (by this app or another "
                          "process); wait for it to finish or stop it first")
    if restart:
        if checkpoints.complete_checkpoints(run.path):
            raise RunDirError(f"{run.path} has saved weights; resume it instead of starting "
                              "it again")
        folder, recovered = None, None
    else:
        # Before the data loads: a run with nothing to resume says so at once.
        folder, recovered = checkpoints.resume_point(run.path, strict=True)
    refused = sorted(k for k in changes if k not in RESUMABLE_CHANGES)
    if refused:
        raise ConfigError(f"cannot change {', '.join(refused)} when resuming {run.path}; "
                          "start a new run instead")
    # Runs saved before schedules existed trained at a constant rate; keep them so.
    saved_train = {"lr_schedule": "constant", **saved["train"]}
    try:
        config = TrainConfig(**saved_train)
    except TypeError as exc:
        raise RunDirError(f"{run.path / 'config.json'}: unreadable training settings ({exc})") from None
    changes = {k: v for k, v in changes.items() if v is not None and v != getattr(config, k)}
    moved = None
    if "device" not in changes and not device_usable(config.device):
        # A run trained on a GPU this machine lacks (a folder copied to a laptop)
        # goes on with the best device here instead of refusing to start.
        moved = config.device
        changes["device"] = "auto"
    config = dataclasses.replace(config, **changes)
    session = TrainingSession(config)
    if folder is not None:
        _check_same_run(run, saved, session)
    if is_training(run.path):
        # Its trainer may be mid-save: clearing "strays" would delete that save.
        raise RunDirError(f"{run.path} is being trained right now (by this app or another "
                          "process); wait for it to finish or stop it first")
    if folder is None:
        yield from _restart(run, saved, session, control, changes)
        return
    run.load_weights(session.model, session.device, folder.name)
    tensors, values = run.load_trainer_state(session.device, folder.name)
    if not {"step", "elapsed", "data", "optimizers"} <= set(values) or "data.order" not in tensors \
            or not _is_step(values["step"]) or not isinstance(values["elapsed"], (int, float)):
        raise RunDirError(f"{folder / checkpoints.TRAINER_JSON}: the checkpoint has no "
                          "resume state")
    session.model.load_training_state(tensors, values["optimizers"])
    session.batcher.load_state(tensors, values["data"])
    # Only now that the set has loaded is the manifest rewritten and anything deleted.
    if recovered is not None:
        checkpoints.repair_manifest(run.path, folder)
    checkpoints.remove_strays(run.path)
    run.rollback_to(values["step"])  # what a crash left after the checkpoint
    if "learning_rate" in changes:
        session.model.set_learning_rate(config.learning_rate)
    history = saved.get("history", []) + [{"resumed_at_step": values["step"], "changes": changes}]
    run.write_config({**saved, "train": config.to_dict(), "history": history,
                      "model_config": session.model_config.to_dict(),
                      "precision": session.precision})
    # Runs saved before evaluation existed resume their schedule from here.
    last_eval = values.get("last_eval_elapsed", values["elapsed"])
    notices = [] if moved is None else [Notice(
        values["step"], "device-changed",
        f"This run trained on {moved}, which this computer does not have; it continues on "
        f"{session.device}.")]
    if recovered is not None:
        notices.append(Notice(values["step"], "recovered", (
            f"{recovered}. The run goes on from the newest complete checkpoint, {folder.name} "
            f"(step {values['step']:,}), and its manifest was written again.")))
    yield from _Loop(session, run, control, start_step=values["step"],
                     start_elapsed=values["elapsed"], last_eval_elapsed=last_eval,
                     start_notices=notices).run()


def _is_step(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _restart(run: RunDir, saved: dict[str, Any], session: TrainingSession, control: RunControl,
             changes: dict[str, Any]) -> Iterator[TrainingEvent]:
    """Train a run that never completed a save again from step 0, in its own
    folder: what that attempt wrote (grids, metrics, a set cut short) goes, its
    config stays, with a history entry."""
    checkpoints.clear_unsaved(run.path)
    run.rollback_to(-1)
    data = session.data
    history = saved.get("history", []) + [{"restarted": True, "changes": changes}]
    run.write_config({**saved, "train": session.config.to_dict(), "history": history,
                      "model_config": session.model_config.to_dict(),
                      "device": str(session.device), "precision": session.precision,
                      "data": {"spec": session.config.data, "count": len(data),
                               "channels": data.channels, "size": data.size}})
    yield from _Loop(session, run, control).run()


def _check_same_run(run: RunDir, saved: dict[str, Any], session: TrainingSession) -> None:
    now = {k: v for k, v in session.model_config.to_dict().items() if k != "learning_rate"}
    # Settings added since the run was saved take their defaults, as loading does.
    try:
        saved_config = type(session.model_config).from_dict(saved["model_config"]).to_dict()
    except (ConfigError, TypeError):
        saved_config = saved["model_config"]
    before = {k: v for k, v in saved_config.items() if k != "learning_rate"}
    if now != before:
        diff = ", ".join(f"{k} {before.get(k)} -> {now.get(k)}" for k in sorted(set(now) | set(before))
                         if now.get(k) != before.get(k))
        raise ConfigError(f"cannot resume {run.path}: the model would change ({diff})")
    data = saved.get("data", {})
    shape = {"count": len(session.data), "channels": session.data.channels, "size": session.data.size}
    if any(data.get(k) != v for k, v in shape.items()):
        raise ConfigError(f"cannot resume {run.path}: the data changed "
                          f"(was {data}, now {shape})")


class _Loop:
    def __init__(self, session: TrainingSession, run: RunDir, control: RunControl,
                 start_step: int = 0, start_elapsed: float = 0.0,
                 last_eval_elapsed: float = 0.0, start_notices: list[Notice] | None = None
                 ) -> None:
        self.session, self.run_dir, self.control = session, run, control
        self._start_notices = list(start_notices or [])   # told right after RunStarted
        self.total_steps, self.budget_seconds = session.config.budget()
        self.step = self._start_step = start_step
        self._start_elapsed = start_elapsed
        self._started = time.perf_counter() - start_elapsed
        self._paused_seconds = 0.0
        self._loss_sums: dict[str, torch.Tensor] = {}
        self._loss_count = 0
        self._skipped_count: torch.Tensor | None = None   # fp16 steps the scaler skipped
        self._window_start = (0, 0.0)   # (step, elapsed) at the last report
        self._steps_per_second: float | None = None
        self._last_sample = (-1, -math.inf)  # (step, elapsed) of the last grid
        self._grid_seconds = 0.0   # how long the last grid took to draw
        self._last_save_at = 0.0
        self._last_saved_step = start_step
        self._bad_step: torch.Tensor | None = None   # on a GPU: first step with a bad loss
        self._write_failing = False
        self._last_losses: dict[str, float] = {}     # the latest report's means, for keep_best
        self._lr_schedule = session.config.resolved_lr_schedule()
        config = session.config
        self.eval_schedule = EvalSchedule(config.eval_every_minutes, config.eval_every_steps,
                                     last_eval_elapsed)
        self._evaluator: TrainingEvaluator | None = None
        self._eval_pending = False          # cut short by a pause: do it again after
        self._eval_seconds = 0.0            # how long the last evaluation took
        self._evaluation: dict[str, Any] | None = None  # scored weights the next save keeps
        self._scored_save = False           # the last save kept scored weights

    @property
    def elapsed(self) -> float:
        """Seconds since the run started, pauses excluded (sampling and saving count:
        a time budget is wall-clock time the user waits)."""
        return time.perf_counter() - self._started - self._paused_seconds

    def run(self) -> Iterator[TrainingEvent]:
        # Held while training, so the app can tell a live run from one that a
        # crash cut short, and no two processes train the same run.
        with RunLock(self.run_dir.path), cpu_threads(self.session.config.threads):
            yield from self._run()

    def _run(self) -> Iterator[TrainingEvent]:
        s = self.session
        yield RunStarted(run_dir=str(self.run_dir.path), model=s.config.model, device=str(s.device),
                         total_steps=self.total_steps, time_budget_seconds=self.budget_seconds,
                         parameters=s.model.parameter_count(), data_count=len(s.data),
                         start_step=self.step,
                         memory_estimate_bytes=s.memory_estimate.total_bytes)
        yield from self._start_notices
        yield from self._compile_notice()
        yield self._samples()
        if self.step == 0:
            yield self._save()  # the gallery can sample the run from its first second
        while True:
            if self.control.paused and not self.control.stopped:
                yield from self._pause()
            reason = self._reason_to_end()
            if reason:
                break
            apply_schedule(list(s.model.optimizers().values()), self._lr_schedule,
                           self._budget_fraction())
            try:
                losses = s.step()
            except torch.OutOfMemoryError:
                yield self._halve_batch()
                continue
            self._watch_finite(losses)
            self._accumulate(losses)
            self.step += 1
            yield from self._compile_notice()
            if self._reason_to_end() not in (None, "stopped"):
                continue  # the budget is spent: end now, without a report mid-way
            if self.elapsed - self._window_start[1] >= s.config.report_seconds:
                yield from self._while_writing(self._progress)
            if self._sample_due():
                yield from self._while_writing(self._samples)
            if self.elapsed - self._last_save_at >= s.config.autosave_seconds:
                yield from self._while_writing(self._save)
            if self.eval_schedule.enabled and (
                    self._eval_pending or self.eval_schedule.due(self.step, self.elapsed)):
                yield from self._evaluate()
        if self._loss_count:
            yield self._progress()
        if self._last_sample[0] != self.step:
            yield self._samples()  # the time-lapse always ends on the final state
        if reason != "stopped" and self.eval_schedule.enabled and (
                self._eval_pending or self.eval_schedule.due(self.step, self.elapsed)):
            yield from self._evaluate(ended=reason)   # scores the final weights, then saves
        else:
            yield self._save(ended=reason)
        yield Finished(step=self.step, reason=reason, run_dir=str(self.run_dir.path),
                       elapsed_seconds=self.elapsed)

    # -- faults -----------------------------------------------------------------
    def _compile_notice(self) -> Iterator[TrainingEvent]:
        message = self.session.compile_failure()
        if message:
            yield Notice(self.step, "compile-failed", message)

    def _watch_finite(self, losses: dict[str, torch.Tensor]) -> None:
        """Find the first step whose loss is NaN or infinite.

        On the CPU the check is immediate. On a GPU reading a flag every step
        would stall the queue of work, so the step number of the first bad loss
        is kept on the device and read at the next report, grid or save.
        """
        if not losses:
            return
        finite = torch.stack([v.detach().float().reshape(()) for v in losses.values()]).isfinite().all()
        # A step the fp16 loss scaler skipped changed no weight: not a divergence.
        finite = self.session.model.precision.tolerate_skipped(finite)
        step = self.step + 1
        if self.session.device.type == "cpu":
            if not bool(finite):
                self._diverged(step)
            return
        if self._bad_step is None:
            self._bad_step = torch.full((), -1, dtype=torch.long, device=self.session.device)
        self._bad_step = torch.where(finite | (self._bad_step >= 0), self._bad_step,
                                     torch.full_like(self._bad_step, step))

    def _check_finite(self) -> None:
        if self._bad_step is not None and int(self._bad_step) >= 0:
            self._diverged(int(self._bad_step))

    def _diverged(self, step: int) -> None:
        """Roll the run back to its last good checkpoint and end it with advice."""
        saved_step = self._last_saved_step
        try:
            self.run_dir.rollback_to(saved_step)
            checkpoints.mark_ended(self.run_dir.path, "diverged")
        except AtelierError:
            pass  # the message below matters more; the checkpoint itself is intact
        raise TrainingError(
            f"the loss became NaN or infinite at step {step}. The run was rolled back to its "
            f"last good checkpoint (step {saved_step}); try a lower learning rate than "
            f"{self.session.model_config.learning_rate:g} and resume it"
            + (" (or resume it in bf16 or fp32: --precision)." if self.session.precision == "fp16"
               else "."))

    def _halve_batch(self) -> Notice:
        """Out of device memory: continue with half the batch, and say so."""
        s = self.session
        old = s.batcher.batch_size
        for optimizer in s.model.optimizers().values():
            optimizer.zero_grad(set_to_none=True)
        s.model.precision.abandon_step()
        if s.device.type == "cuda":
            torch.cuda.empty_cache()
        if old // 2 < 2:
            raise TrainingError(f"out of memory on {s.device} even at batch size {old}; "
                                "choose a smaller model or image size")
        new = old // 2
        s.batcher.batch_size = new
        s.config = dataclasses.replace(s.config, batch_size=new)
        saved = self.run_dir.read_config()
        history = saved.get("history", []) + [{"at_step": self.step, "reason": "out of memory",
                                               "changes": {"batch_size": new}}]
        self.run_dir.write_config({**saved, "train": s.config.to_dict(), "history": history})
        return Notice(self.step, "batch-halved",
                      f"Out of memory on {s.device} at batch size {old}: training goes on with "
                      f"batch size {new}.")

    def _while_writing(self, write) -> Iterator[TrainingEvent]:
        """Run a periodic write (report, grid, autosave); if the disk refuses it
        (full, read-only, unplugged), say so once and keep training on the last
        checkpoint, which stays intact. The next interval tries again."""
        try:
            yield write()
        except RunDirError as exc:
            if write == self._save:
                self._last_save_at = self.elapsed  # retry after one interval, not every step
            if not self._write_failing:
                self._write_failing = True
                yield Notice(self.step, "save-failed",
                             f"{exc}. Training goes on; the last checkpoint (step "
                             f"{self._last_saved_step}) is intact. Free some space to save again.")
            return
        if write == self._save and self._write_failing:
            self._write_failing = False
            yield Notice(self.step, "save-failed", f"Saving works again (step {self.step}).")

    def _reason_to_end(self) -> str | None:
        if self.control.stopped:
            return "stopped"
        if self.total_steps is not None and self.step >= self.total_steps:
            return "completed"
        # A session trains at least one step, even when sampling and saving at
        # its start used up a tiny time budget on a busy machine.
        if self.budget_seconds is not None and self.step > self._start_step and \
                self.elapsed - self._start_elapsed >= self.budget_seconds:
            return "time budget reached"
        return None

    def _pause(self) -> Iterator[TrainingEvent]:
        yield from self._while_writing(self._save)
        yield StateChanged("paused", self.step)
        paused_at = time.perf_counter()
        self.control.wait_while_paused()
        self._paused_seconds += time.perf_counter() - paused_at
        if not self.control.stopped:
            yield StateChanged("running", self.step)

    def _accumulate(self, losses: dict[str, torch.Tensor]) -> None:
        # Summing tensors avoids a device sync every step; values are read at report time.
        # A step the fp16 loss scaler skipped (its losses may be inf) is left out.
        counted = self.session.model.precision.counted()
        if counted is not None:
            losses = {k: torch.where(counted > 0, v.detach().float(), 0.0) for k, v in losses.items()}
            skipped = 1 - counted
            self._skipped_count = skipped if self._skipped_count is None else self._skipped_count + skipped
        for name, value in losses.items():
            total = self._loss_sums.get(name)
            self._loss_sums[name] = value.detach().float() if total is None else total + value.detach()
        self._loss_count += 1

    def _progress(self) -> Progress:
        self._check_finite()
        counted = self._loss_count - (int(self._skipped_count) if self._skipped_count is not None else 0)
        means = {k: float(v) / counted for k, v in self._loss_sums.items()} if counted else {}
        if not all(math.isfinite(v) for v in means.values()):
            self._diverged(self.step)  # a family that reports no per-step losses
        elapsed = self.elapsed
        start_step, start_time = self._window_start
        rate = (self.step - start_step) / max(elapsed - start_time, 1e-9)
        images_per_second = rate * self.session.batcher.batch_size
        # A smoothed rate keeps the ETA from jumping with every short window.
        previous = self._steps_per_second
        self._steps_per_second = rate if previous is None else 0.8 * previous + 0.2 * rate
        fraction, eta = self._fraction_and_eta(elapsed)
        self.run_dir.append_metrics({"step": self.step, "elapsed": round(elapsed, 3),
                                     "images_per_second": round(images_per_second, 2), **means})
        self._loss_sums, self._loss_count, self._skipped_count = {}, 0, None
        self._window_start = (self.step, elapsed)
        self._last_losses = means
        return Progress(step=self.step, total_steps=self.total_steps, fraction=fraction, losses=means,
                        images_per_second=images_per_second, elapsed_seconds=elapsed,
                        eta_seconds=eta)

    def _budget_fraction(self) -> float:
        """How much of the budget is spent, for the learning-rate schedule: by
        steps when the run has a step budget (exact on resume), else by this
        session's share of its time budget."""
        if self.total_steps:
            return self.step / self.total_steps
        if self.budget_seconds:
            return (self.elapsed - self._start_elapsed) / self.budget_seconds
        return 0.0

    def _fraction_and_eta(self, elapsed: float) -> tuple[float, float | None]:
        fractions, etas = [], []
        if self.total_steps:
            fractions.append(self.step / self.total_steps)
            if self._steps_per_second:
                etas.append((self.total_steps - self.step) / self._steps_per_second)
        if etas and self._eval_seconds:
            # Evaluations still to come take about as long as the last one.
            etas[0] += self._eval_seconds * self.eval_schedule.evaluations_left(
                self.step, self.total_steps, etas[0])
        if self.budget_seconds:
            this_session = elapsed - self._start_elapsed
            fractions.append(this_session / self.budget_seconds)
            etas.append(self.budget_seconds - this_session)
        return min(1.0, max(fractions)), (max(0.0, min(etas)) if etas else None)

    def _sample_due(self) -> bool:
        every = self.session.config.sample_every
        if every is not None:
            return self.step % every == 0
        elapsed = self.elapsed
        return elapsed - self._last_sample[1] >= seconds_between_grids(elapsed,
                                                                        self._grid_seconds)

    def _samples(self) -> Samples:
        self._check_finite()
        self._last_sample = (self.step, self.elapsed)
        started = time.perf_counter()
        grid = self.session.sample_grid()
        self._grid_seconds = time.perf_counter() - started
        tile = self.session.config.image_size + 2  # make_grid's default padding
        self.run_dir.save_sample_grid(self.step, grid, {
            "model": self.session.config.model, "step": self.step, "seeds": list(SAMPLE_SEEDS)},
            tile=tile)
        return Samples(step=self.step, grid=grid, seeds=SAMPLE_SEEDS,
                       reconstructions=self.session.reconstruction_grid(),
                       process=self.session.process_animation(),
                       process_name=getattr(self.session.model, "process_name", None))

    def _save(self, ended: str | None = None) -> Saved:
        self._check_finite()
        # Never let a diverged model overwrite the last good checkpoint.
        for net in self.session.model.networks().values():
            if not all(torch.isfinite(p).all() for p in net.parameters()):
                self._diverged(self.step)
        data_tensors, data_counters = self.session.batcher.state()
        config = self.session.config
        score, best_options = None, {}
        evaluation, self._evaluation = self._evaluation, None
        trainer_json = {"elapsed": self.elapsed, "data": data_counters,
                        "last_eval_elapsed": self.eval_schedule.last_elapsed}
        if evaluation is not None:
            # The checkpoint remembers the scores of exactly these weights.
            trainer_json["evaluation"] = evaluation_summary(evaluation)
        if config.keep_best and config.keep_best in self._last_losses:
            score = (config.keep_best, self._last_losses[config.keep_best])
        elif evaluation is not None and isinstance(evaluation.get(config.keep_best), (int, float)):
            score = (config.keep_best, float(evaluation[config.keep_best]))
            best_options = {"higher_is_better": higher_is_better(config.keep_best),
                            "score_label": f"{evaluation['features']}@{evaluation['samples']}"}
        self.run_dir.save_checkpoint(config.model, self.session.model, self.step,
                                     data_tensors, trainer_json,
                                     keep_last=config.keep_last, score=score, ended=ended,
                                     **best_options)
        self._last_save_at = self.elapsed
        self._last_saved_step = self.step
        self._scored_save = evaluation is not None
        return Saved(step=self.step, run_dir=str(self.run_dir.path))

    # -- evaluation while training ------------------------------------------------------
    def _evaluate(self, ended: str | None = None) -> Iterator[TrainingEvent]:
        """Score the live model (engine.metrics.during_training), save a checkpoint of
        exactly these weights with their scores, record them in metrics.jsonl and
        emit Evaluated. A pause or stop cuts it short; a paused one runs again after
        the pause. Its time counts in the elapsed time and time budget, not in the
        reported training images/s. With `ended`, the save is the run's final one."""
        s = self.session
        self._check_finite()
        if self._evaluator is None:
            self._evaluator = TrainingEvaluator(self.run_dir, s.config.model, s.config.data,
                                                s.config.eval_samples)
        started = time.perf_counter()
        finished = None
        try:
            for event in self._evaluator.evaluate(s.model, self.step, self.control):
                if isinstance(event, EvalFinished):
                    finished = event
                else:
                    yield event   # EvalProgress: the app shows that it is evaluating
        except AtelierError as exc:
            self.eval_schedule = EvalSchedule()   # off for the rest of this session
            yield Notice(self.step, "eval-failed",
                         f"Evaluation while training is off for this session: {exc}")
            finished = None
        seconds = time.perf_counter() - started
        # Images/s reports training throughput: the window skips the evaluation.
        self._window_start = (self._window_start[0], self._window_start[1] + seconds)
        if finished is None or finished.result is None:
            self._eval_pending = not self.control.stopped
            if ended is not None:
                yield self._save(ended=ended)
            return
        self._eval_pending = False
        self._eval_seconds = seconds
        self.eval_schedule.done(self.elapsed)
        result = {**finished.result, "step": self.step, "elapsed": round(self.elapsed, 3),
                  "seconds": round(seconds, 3)}
        self._evaluation = result
        self._scored_save = False
        if ended is not None:
            yield self._save(ended=ended)   # the final save: its failure ends the run
        else:
            yield from self._while_writing(self._save)
        self._evaluation = None
        checkpoint = None
        if self._scored_save:
            checkpoint = (checkpoints.read_manifest(self.run_dir.path) or {}).get("checkpoint")
        result["checkpoint"] = checkpoint
        try:
            self.run_dir.append_metrics(result)
        except RunDirError:
            pass  # the failed save above has told the user; the scores still reach the GUI
        yield Evaluated(step=self.step, scores=evaluation_summary(result),
                        seconds=seconds, checkpoint=checkpoint)
