"""The GAN family's presets: which GAN suits the data and device, and its settings.

The bundled MNIST with nothing changed keeps the DCGAN baseline that the
benchmarks compare with pytorch/examples (batch 64, learning rate 2e-4, width
32, 28 x 28, 2,000 steps): exactly TrainConfig's defaults.
"""
from __future__ import annotations


import torch

from engine.data.facts import DataFacts
from engine.models.common.preset import Preset, fit_batch, is_gpu

LARGE_SET = 10_000           # images from which a plain DCGAN no longer collapses
SMALL_DATA_AUGMENT = "translation,cutout,color"
CPU_BUDGET_MINUTES = 12.0    # a default CPU run ends within this, steps or not
EMA_MIN_STEPS = 5_000        # shorter runs sample the generator itself, not its average
# TrainConfig's defaults, which the baseline keeps (tests/engine/test_presets.py
# holds them equal; the family cannot import the trainer).
BASELINE_BATCH = 64
BASELINE_STEPS = 2_000
# How well a GAN suits the data when the user chose no model.
BASELINE_FIT, LABELLED_FIT, GENERAL_FIT = 3.0, 2.0, 1.0


def suggest(model: str, facts: DataFacts, device: torch.device | str, chosen: bool
            ) -> Preset | None:
    """The preset for GAN `model` on these data; None for image sequences, and,
    unless the user `chosen` it, for a GAN that suits other data better."""
    if facts.sequences:
        return None
    gpu = is_gpu(device)
    fit = _fit(model, facts, gpu)
    if not chosen and fit == 0:
        return None
    if _baseline_data(facts) and model in ("dcgan", "mlp-gan"):
        preset = _baseline(facts, model)
    else:
        preset = _small_or_colour(facts, model, gpu, chosen)
    preset.fit = fit
    return preset


def _baseline_data(facts: DataFacts) -> bool:
    return facts.channels == 1 and facts.count >= LARGE_SET and facts.size <= 28


def _fit(model: str, facts: DataFacts, gpu: bool) -> float:
    if _baseline_data(facts):
        return BASELINE_FIT if model == "dcgan" else 0.0
    if 2 <= facts.num_classes <= 100 and facts.count >= 20 * facts.num_classes \
            and facts.count < LARGE_SET:
        return LABELLED_FIT if model == "cgan" else 0.0
    # Measured on 500 colour pictures (docs/BENCHMARKS.md): in the few hundred
    # steps a CPU manages in minutes, the spectral-norm hinge GAN is still grey
    # blur while a batch-norm DCGAN with DiffAugment already draws varied
    # colours and shapes. A GPU's longer budget favours the steadier one.
    return GENERAL_FIT if model == ("small-data-gan" if gpu else "dcgan") else 0.0


def _baseline(facts: DataFacts, model: str) -> Preset:
    """MNIST-sized greyscale: the DCGAN settings benchmarked against the reference."""
    preset = Preset(f"{model} baseline for {facts.describe()}")
    preset.choose("model", model, "a large greyscale set at 28 px: a plain DCGAN trains "
                  "well and is the benchmarked baseline")
    preset.choose("image_size", 28, "the pictures' own size")
    if model != "mlp-gan":
        preset.choose("width", 32, "the baseline's width: quick on a CPU, enough for digits")
    preset.choose("batch_size", BASELINE_BATCH, "the baseline's batch (pytorch/examples' "
                  "settings, which the benchmarks compare with)")
    preset.choose("learning_rate", 2e-4, "the DCGAN paper's Adam learning rate")
    preset.choose("steps", BASELINE_STEPS, "about two epochs: clear digits on a CPU in minutes")
    return preset


def _small_or_colour(facts: DataFacts, model: str, gpu: bool, chosen: bool) -> Preset:
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
    elif model == "dcgan" and not chosen:
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
    batch = fit_batch(128 if gpu else 32, facts.count)
    preset.choose("batch_size", batch,
                  ("a GPU takes a larger batch at little extra time per step" if gpu else
                   "a small batch gives more steps per CPU minute, which a GAN needs more than "
                   "larger batches") + ("" if batch in (32, 128) else "; no more than the data"))
    preset.choose("learning_rate", 2e-4, "the DCGAN and DiffAugment papers' Adam learning rate")
    if model == "dcgan" and not chosen:
        preset.choose("loss", "hinge", "the hinge loss stops rewarding a discriminator that is "
                      "already sure, so it cannot run away from the generator (measured)",
                      model_setting=True)
    steps = 10_000 if gpu else 2_500
    preset.choose("steps", steps, "enough for clear shapes and colours on "
                  + ("a GPU in a few minutes" if gpu else "a CPU"))
    if not gpu:
        preset.choose("minutes", CPU_BUDGET_MINUTES, "a slow or busy CPU still finishes the "
                      "default run in minutes (the first budget reached ends it)")
    if small:
        preset.choose("augment", SMALL_DATA_AUGMENT, "the discriminator sees shifted, cut-out, "
                      "recoloured images (real and fake alike), so it cannot memorise a few "
                      "hundred pictures and win outright", model_setting=True)
    else:
        preset.choose("augment", "translation", "shifts only: enough images that heavier "
                      "augmentation would slow learning", model_setting=True)
    if steps >= EMA_MIN_STEPS:
        preset.choose("ema_decay", ema_decay_for(steps), "samples come from a running average "
                      "of the generator over about the last tenth of the run: steadier images",
                      model_setting=True)
    else:
        preset.choose("ema_decay", 0.0, "off: in a run this short the generator still changes "
                      "fast, and an average of its weights gives washed-out, alike samples "
                      "(measured: docs/BENCHMARKS.md)", model_setting=True)
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

