"""A training run's settings: what to train, on what, for how long, and how often
to report, sample, save and evaluate."""
from __future__ import annotations

import dataclasses
import math
from typing import Any

from engine.runtime.cpu_threads import check_threads
from engine.data.augment import Augmentation
from engine.errors import ConfigError
from engine.runs.best import is_eval_metric
from engine.metrics.during_training import DEFAULT_TRAINING_EVAL_SAMPLES
from engine.metrics.evaluate import MAX_EVAL_SAMPLES
from engine.models import default_lr_schedule, model_accepts, model_config
from engine.models.registry import BASE_IMAGE_SIZE, DEFAULT_MODEL
from engine.runtime.precision import PRECISION_CHOICES
from engine.training.schedule import check_schedule

DEFAULT_STEPS = 2000


@dataclasses.dataclass
class TrainConfig:
    model: str = DEFAULT_MODEL
    data: str = "mnist"
    image_size: int = BASE_IMAGE_SIZE
    width: int | None = None            # None: the model's default
    batch_size: int = 64
    learning_rate: float | None = None  # None: the model's default (e.g. 2e-4 GANs, 3e-3 MLP VAEs)
    lr_schedule: str = "auto"           # constant, cosine, or auto: the model's own (engine.training.schedule)
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
    precision: str = "auto"             # auto, fp32, bf16 or fp16 (engine.runtime.precision)
    compile: bool = False               # torch.compile the networks (engine.runtime.compilation)
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
