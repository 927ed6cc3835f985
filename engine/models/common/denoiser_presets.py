"""Presets for the diffusion and flow families: a U-Net small enough to learn
within the device's budget, at a size the data allows.

Unasked, `flow` is the choice for a large greyscale set of small pictures (the
bundled MNIST and its like) on a CPU: at equal CPU minutes it beat the DCGAN
baseline by a wide margin (docs/BENCHMARKS.md, "MNIST at equal CPU time").
Everywhere else, until a benchmark says otherwise, these stay below the GAN
presets: their fit is under the lowest GAN fit. When the user chose one of
them, the preset fits the data (picture size, colour, classes, count) and the
device.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from engine.models.common.preset import Preset, fit_batch, is_gpu
from engine.runtime.precision import cpu_has_bfloat16

if TYPE_CHECKING:
    from engine.data.facts import DataFacts

UNASKED_FIT = 0.5            # below every GAN preset's fit (the lowest is 1.0)
MEASURED_FIT = 4.0           # above the DCGAN baseline's 3.0, where measured better
LARGE_SET = 10_000           # as the GAN presets: from here a plain DCGAN does not collapse
CPU_BUDGET_MINUTES = 12.0    # a default CPU run ends within this, steps or not
CPU_STEPS, GPU_STEPS = 4_000, 20_000


def suggest_denoiser(model: str, facts: DataFacts, device: torch.device | str,
                     chosen: bool) -> Preset | None:
    """The preset for `model` (a diffusion or flow model) on these data; None
    for image sequences."""
    if facts.sequences:
        return None
    gpu = is_gpu(device)
    size = _image_size(facts.size, gpu)
    where = "GPU" if gpu else "CPU"
    measured = _measured_better(model, facts, gpu)
    preset = Preset(f"{model} for {facts.describe()} on the {where}",
                    fit=MEASURED_FIT if measured else UNASKED_FIT)
    preset.choose("model", model, "the model you chose" if chosen else MEASURED_REASON
                  if measured else "a diffusion-type model: stable training and a denoising "
                  "process to watch")
    preset.choose("image_size", size, _image_size_reason(facts.size, size, gpu))
    _choose_network(preset, size, facts.channels, gpu)
    batch = fit_batch(128 if gpu else 64, facts.count)
    preset.choose("batch_size", batch, ("a GPU takes a larger batch at little extra time per "
                  "step" if gpu else "64 pictures a step: steady gradients at a CPU's pace")
                  + ("" if batch in (64, 128) else "; no more than the data"))
    preset.choose("learning_rate", 3e-4 if gpu else 1e-3,
                  "Adam's rate for a U-Net of this size; the weight average smooths it"
                  if gpu else "a high rate for a small U-Net: a short run must learn fast, and "
                  "the weight average that samples smooths the noise it adds")
    steps = GPU_STEPS if gpu else CPU_STEPS
    preset.choose("steps", steps, "a long run: a GPU manages it in minutes" if gpu else
                  "what a CPU trains in about ten minutes at this size")
    if not gpu:
        preset.choose("minutes", CPU_BUDGET_MINUTES, "a slow or busy CPU still finishes the "
                      "default run in minutes (the first budget reached ends it)")
    if torch.device(device).type == "cpu" and cpu_has_bfloat16():
        preset.choose("precision", "bf16", "this CPU computes in bfloat16 (AVX-512 BF16 or "
                      "AMX): mixed precision trains the U-Net about 1.6 times as fast; weights "
                      "and samples stay float32")
    if facts.num_classes >= 2:
        preset.choose("guidance", 2.0, f"{facts.num_classes} labelled classes: the gallery "
                      "draws each class, and guidance 2 holds each picture to its class",
                      model_setting=True)
    return preset


# docs/BENCHMARKS.md, "MNIST at equal CPU time: 20 minutes".
MEASURED_REASON = ("in the same CPU minutes it draws far cleaner digits than the DCGAN "
                   "baseline: FD@10000 4.4 against 28.3, 99% confidently read (measured)")


def _measured_better(model: str, facts: DataFacts, gpu: bool) -> bool:
    """Where `flow` beat the GAN presets at equal device minutes: many small
    greyscale pictures on a CPU. (ddpm came second to flow there; colour sets
    and GPUs are not measured in its favour yet.)"""
    return (model == "flow" and not gpu and facts.channels == 1 and facts.size <= 28
            and facts.count >= LARGE_SET)


def _choose_network(preset: Preset, size: int, channels: int, gpu: bool) -> None:
    """Width and U-Net shape: on a CPU about a third of a million parameters at
    28 px (64 guided samples in 20 steps: about 3 CPU-seconds of work,
    docs/BENCHMARKS.md), on a GPU several million."""
    colour = channels == 3
    if gpu:
        width = 64
        preset.choose("attention", True, "self-attention at the lowest resolution: "
                      "cheap there, and it relates distant parts of the picture",
                      model_setting=True)
    else:
        width = 24 if colour else 16
    preset.choose("width", width, "a GPU runs a wide U-Net quickly" if gpu else
                  "a narrow U-Net samples a grid in seconds on a CPU"
                  + (" (wider for colour)" if colour else ""))
    depth = 4 if size >= 64 else 3
    preset.choose("depth", depth, f"{depth} resolution levels: down to "
                  f"{size // (2 if size >= 64 else 1) // 2 ** (depth - 1)} px at the bottom",
                  model_setting=True)
    # On a CPU one block per level: about 1.6 times the sampling speed of two,
    # and in the same CPU minutes more training steps that more than make up
    # for the smaller network (flow on MNIST, 14 CPU minutes on a shared core:
    # FD@2000 11.2 with one block, 27.9 with two; docs/BENCHMARKS.md).
    blocks = 2 if gpu else 1
    preset.choose("blocks", blocks, "2 residual blocks per level" if gpu else
                  "1 residual block per level: a grid samples in about a second or two, and "
                  "a short run trains more steps", model_setting=True)


def _image_size(side: int, gpu: bool) -> int:
    if side <= 28:
        return 28
    if side <= 40 or not gpu:
        return 32
    return 64


def _image_size_reason(side: int, size: int, gpu: bool) -> str:
    if side <= 40 or size == 64:
        return "the nearest size the U-Net takes to the pictures' own"
    return "32 px trains about four times faster than 64 px on a CPU"

