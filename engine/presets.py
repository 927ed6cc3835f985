"""Training presets: settings chosen from the data and the device, so a run that
changes nothing is a good one.

`choose_preset(facts, device)` picks the model, image size, width, batch size,
learning rate, step budget, generator EMA and differentiable augmentation,
each with a one-line reason. `Preset.apply(given)` fills in only what the user
left unset: a value the user gave always wins. The CLI's `train` and the GUI's
Train page both use it; `train --no-preset` (and the page's preset checkbox)
turns it off.

The bundled MNIST with nothing changed keeps the DCGAN baseline that the
benchmarks compare with pytorch/examples (batch 64, learning rate 2e-4, width
32, 28 x 28, 2,000 steps): the preset chooses exactly TrainConfig's defaults.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from engine.data.sources import ImageSet, load_data
from engine.training import DEFAULT_STEPS, TrainConfig

GAN_MODELS = ("mlp-gan", "dcgan", "small-data-gan", "wgan-gp", "cgan")
LARGE_SET = 10_000           # images from which a plain DCGAN no longer collapses
SMALL_DATA_AUGMENT = "translation,cutout,color"
MODEL_SETTINGS = ("augment", "ema_decay", "loss")   # chosen under TrainConfig.model_settings
CPU_BUDGET_MINUTES = 12.0    # a default CPU run ends within this, steps or not
EMA_MIN_STEPS = 5_000        # shorter runs sample the generator itself, not its average


@dataclass(frozen=True)
class DataFacts:
    """What a preset needs to know about a data set."""

    count: int
    channels: int
    size: int                 # side of the original pictures (the most common one)
    num_classes: int = 0
    sequences: bool = False

    @classmethod
    def of(cls, data: ImageSet) -> "DataFacts":
        size = data.size
        report = data.report
        if report is not None and report.original_sizes:
            width, height, _ = report.original_sizes[0]
            size = min(width, height)
        return cls(count=len(data), channels=data.channels, size=size,
                   num_classes=data.num_classes, sequences=data.frames is not None)

    @classmethod
    def of_summary(cls, summary: Any) -> "DataFacts":
        """From an engine.data.summary.DataSummary (what the Data page shows)."""
        size = min(summary.size)
        if summary.original_sizes:
            width, height, _ = summary.original_sizes[0]
            size = min(width, height)
        return cls(count=summary.count, channels=summary.channels, size=size,
                   num_classes=len(summary.class_names), sequences=summary.frames is not None)

    def describe(self) -> str:
        colour = "colour" if self.channels == 3 else "greyscale"
        kind = "sequences" if self.sequences else "images"
        labels = f", {self.num_classes} classes" if self.num_classes else ""
        return f"{self.count:,} {colour} {kind} of {self.size} px{labels}"


# The bundled data sets, known without loading them (the GUI shows their preset at once).
KNOWN_FACTS = {"mnist": DataFacts(60_000, 1, 28, 10),
               "moving-mnist": DataFacts(10_000, 1, 64, 0, sequences=True)}


@dataclass
class Preset:
    """Chosen settings (TrainConfig field names; GAN settings under model_settings)
    and why each was chosen."""

    name: str
    settings: dict[str, Any] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)

    def choose(self, name: str, value: Any, reason: str) -> None:
        if name in MODEL_SETTINGS:
            self.settings.setdefault("model_settings", {})[name] = value
        else:
            self.settings[name] = value
        self.reasons[name] = reason

    def value(self, name: str) -> Any:
        if name in MODEL_SETTINGS:
            return self.settings.get("model_settings", {}).get(name)
        return self.settings.get(name)

    def apply(self, given: dict[str, Any]) -> dict[str, Any]:
        """TrainConfig keyword arguments: `given` (the user's, None = not given)
        over the preset. The budget is one choice: a user's steps or minutes
        replace both of the preset's."""
        given = {k: v for k, v in given.items() if v is not None}
        values = {k: v for k, v in self.settings.items() if k != "model_settings"}
        if "steps" in given or "minutes" in given:
            values.pop("steps", None)
            values.pop("minutes", None)
        values.update({k: v for k, v in given.items() if k != "model_settings"})
        model_settings = {**self.settings.get("model_settings", {}),
                          **(given.get("model_settings") or {})}
        if model_settings:
            values["model_settings"] = model_settings
        return values

    def applied(self, given: dict[str, Any]) -> list[str]:
        """The preset's choices the user did not override, as "name = value: reason"."""
        given = {k: v for k, v in given.items() if v is not None}
        user_settings = given.get("model_settings") or {}
        budget_given = "steps" in given or "minutes" in given
        lines = []
        for name, reason in self.reasons.items():
            if name in given or name in user_settings or \
                    (budget_given and name in ("steps", "minutes")):
                continue
            lines.append(f"{name} = {self.value(name)}: {reason}")
        return lines

    def summary(self) -> str:
        """One short line, e.g. for the GUI's preset label."""
        return f"Preset: {self.name}"


def _is_gpu(device: torch.device | str) -> bool:
    return torch.device(device).type in ("cuda", "mps")


def data_facts(spec: str, cache: bool = True) -> DataFacts:
    """Load `spec` (decoded small: only counts, channels, classes and original
    sizes matter) and describe it. The bundled sets are known without loading."""
    if spec in KNOWN_FACTS:
        return KNOWN_FACTS[spec]
    return DataFacts.of(load_data(spec, size=32, cache=cache))


def choose_preset(facts: DataFacts, device: torch.device | str, model: str | None = None
                  ) -> Preset:
    """The preset for this data on this device; with `model`, for that model."""
    gpu = _is_gpu(device)
    model_given = {"model"} if model is not None else set()
    if facts.sequences:
        preset = Preset("image sequences: ConvLSTM next-frame model")
        if model in (None, "convlstm"):
            preset.choose("model", "convlstm", "the data are image sequences; the next-frame "
                          "model continues them")
        return preset
    if model is None:
        model = _choose_model(facts, gpu)
    if model not in GAN_MODELS:
        return Preset(f"{model} with its own defaults (presets tune the GAN family)")
    baseline = (facts.channels == 1 and facts.count >= LARGE_SET and facts.size <= 28
                and model in ("dcgan", "mlp-gan"))
    if baseline:
        return _baseline(facts, model)
    return _small_or_colour(facts, model, gpu, forced=model_given)


def _choose_model(facts: DataFacts, gpu: bool) -> str:
    if facts.channels == 1 and facts.count >= LARGE_SET and facts.size <= 28:
        return "dcgan"
    if 2 <= facts.num_classes <= 100 and facts.count >= 20 * facts.num_classes \
            and facts.count < LARGE_SET:
        return "cgan"
    # Measured on 500 colour pictures (docs/BENCHMARKS.md): in the few hundred
    # steps a CPU manages in minutes, the spectral-norm hinge GAN is still grey
    # blur while a batch-norm DCGAN with DiffAugment already draws varied
    # colours and shapes. A GPU's longer budget favours the steadier one.
    return "small-data-gan" if gpu else "dcgan"


def _baseline(facts: DataFacts, model: str) -> Preset:
    """MNIST-sized greyscale: the DCGAN settings benchmarked against the reference."""
    preset = Preset(f"{model} baseline for {facts.describe()}")
    defaults = TrainConfig()
    preset.choose("model", model, "a large greyscale set at 28 px: a plain DCGAN trains "
                  "well and is the benchmarked baseline")
    preset.choose("image_size", 28, "the pictures' own size")
    if model != "mlp-gan":
        preset.choose("width", 32, "the baseline's width: quick on a CPU, enough for digits")
    preset.choose("batch_size", defaults.batch_size, "the baseline's batch (pytorch/examples' "
                  "settings, which the benchmarks compare with)")
    preset.choose("learning_rate", 2e-4, "the DCGAN paper's Adam learning rate")
    preset.choose("steps", DEFAULT_STEPS, "about two epochs: clear digits on a CPU in minutes")
    return preset


def _small_or_colour(facts: DataFacts, model: str, gpu: bool, forced: set[str]) -> Preset:
    """Few or colour images: DiffAugment keeps the discriminator from memorising
    them and winning; on a GPU's long budget the spectral-norm hinge GAN with
    an EMA generator, on a CPU's short one a batch-norm DCGAN (faster to learn)."""
    small = facts.count < LARGE_SET
    kind = "small" if small else "large"
    where = "GPU" if gpu else "CPU"
    preset = Preset(f"{model} for a {kind} set ({facts.describe()}) on the {where}")
    if model == "small-data-gan":
        why = ("few images: hinge loss, spectral norm, DiffAugment and a generator EMA "
               "keep a GAN from collapsing" if small else
               "colour images: hinge loss and spectral norm train more stably than a plain DCGAN")
    elif model == "cgan":
        why = (f"{facts.num_classes} labelled classes: class-conditional, so the gallery "
               "can draw each class")
    elif model == "dcgan" and "model" not in forced:
        why = ("a short CPU run: a batch-norm DCGAN with DiffAugment learns colours and "
               "shapes several times faster than the spectral-norm GANs (measured)")
    else:
        why = "the model you chose"
    preset.choose("model", model, why)
    preset.choose("image_size", _image_size(facts.size, gpu),
                  _image_size_reason(facts.size, gpu))
    if model != "mlp-gan":
        preset.choose("width", 64 if gpu else 32, "the reference DCGAN width; a GPU runs it "
                      "quickly" if gpu else "half the reference width keeps a CPU run to minutes")
    batch = _fit_batch(128 if gpu else 32, facts.count)
    preset.choose("batch_size", batch,
                  ("a GPU takes a larger batch at little extra time per step" if gpu else
                   "a small batch gives more steps per CPU minute, which a GAN needs more than "
                   "larger batches") + ("" if batch in (32, 128) else "; no more than the data"))
    preset.choose("learning_rate", 2e-4, "the DCGAN and DiffAugment papers' Adam learning rate")
    if model == "dcgan" and "model" not in forced:
        preset.choose("loss", "hinge", "the hinge loss stops rewarding a discriminator that is "
                      "already sure, so it cannot run away from the generator (measured)")
    steps = 10_000 if gpu else 2_500
    preset.choose("steps", steps, "enough for clear shapes and colours on "
                  + ("a GPU in a few minutes" if gpu else "a CPU"))
    if not gpu:
        preset.choose("minutes", CPU_BUDGET_MINUTES, "a slow or busy CPU still finishes the "
                      "default run in minutes (the first budget reached ends it)")
    if small:
        preset.choose("augment", SMALL_DATA_AUGMENT, "the discriminator sees shifted, cut-out, "
                      "recoloured images (real and fake alike), so it cannot memorise a few "
                      "hundred pictures and win outright")
    else:
        preset.choose("augment", "translation", "shifts only: enough images that heavier "
                      "augmentation would slow learning")
    if steps >= EMA_MIN_STEPS:
        preset.choose("ema_decay", ema_decay_for(steps), "samples come from a running average "
                      "of the generator over about the last tenth of the run: steadier images")
    else:
        preset.choose("ema_decay", 0.0, "off: in a run this short the generator still changes "
                      "fast, and an average of its weights gives washed-out, alike samples "
                      "(measured: docs/BENCHMARKS.md)")
    return preset


def ema_decay_for(steps: int) -> float:
    """Averages over about the last tenth of the run (at most 0.999), so the
    initial weights' share at the end is about e^-10."""
    return round(min(0.999, 1 - 10 / max(steps, 100)), 4)


def _image_size(side: int, gpu: bool) -> int:
    if side <= 28:
        return 28
    if side <= 40 or not gpu:
        return 32
    return 64


def _image_size_reason(side: int, gpu: bool) -> str:
    if side <= 40:
        return "the nearest size the networks take to the pictures' own"
    if gpu:
        return "the largest size the networks take; a GPU trains it quickly"
    return "32 px trains about four times faster than 64 px on a CPU"


def _fit_batch(batch: int, count: int) -> int:
    """No larger than the data (rounded down to a power of two, at least 2)."""
    if count >= batch:
        return batch
    return max(2, 2 ** int(math.log2(max(count, 2))))
