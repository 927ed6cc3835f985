"""The diffusion and flow presets' hardware choices: bfloat16 on a CPU that
computes it, float32 elsewhere; the network sized for the device."""
from __future__ import annotations

import pytest
import torch

from engine.data.facts import DataFacts
from engine.models.common import denoiser_presets
from engine.presets import choose_preset
from engine.training import TrainConfig

MNIST = DataFacts(60_000, 1, 28, 10)
FAMILIES = ["ddpm", "flow"]


@pytest.mark.parametrize("name", FAMILIES)
def test_a_cpu_with_bfloat16_trains_in_mixed_precision(name, monkeypatch):
    monkeypatch.setattr(denoiser_presets, "cpu_has_bfloat16", lambda: True)
    preset = choose_preset(MNIST, "cpu", model=name)
    assert preset.value("precision") == "bf16"
    assert any(line.startswith("precision = bf16: this CPU computes in bfloat16")
               for line in preset.applied({}))
    TrainConfig(**preset.apply({"model": name})).validate()
    # The user's precision wins.
    assert preset.apply({"model": name, "precision": "fp32"})["precision"] == "fp32"


@pytest.mark.parametrize("name", FAMILIES)
def test_other_devices_keep_their_automatic_precision(name, monkeypatch):
    monkeypatch.setattr(denoiser_presets, "cpu_has_bfloat16", lambda: False)
    assert choose_preset(MNIST, "cpu", model=name).value("precision") is None
    monkeypatch.setattr(denoiser_presets, "cpu_has_bfloat16", lambda: True)
    # A GPU's automatic precision (bf16 or fp16) is already mixed.
    assert choose_preset(MNIST, "cuda", model=name).value("precision") is None


def test_the_bfloat16_probe_answers_without_failing(monkeypatch):
    assert isinstance(denoiser_presets.cpu_has_bfloat16(), bool)

    def broken() -> bool:
        raise RuntimeError("no CPU probing in this build")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", broken, raising=False)
    assert denoiser_presets.cpu_has_bfloat16() is False
