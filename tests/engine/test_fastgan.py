"""The few-shot GAN family (`fastgan`): its networks at every size it takes, the
discriminator's reconstructions, its presets, and a run with adaptive
augmentation resumed exactly, p included. The shared family checks (shapes,
seeds, exact resume without ADA) run it in test_model_families.py and
test_training_resume.py."""
from __future__ import annotations

import json

import pytest
import torch

from engine.data.facts import DataFacts
from engine.errors import ConfigError
from engine.models import build_model, model_config
from engine.models.common.ada import P_KEY, RT_KEY
from engine.models.fastgan import IMAGE_SIZES, reconstruction_loss, suggest
from engine.models.fastgan_networks import (FastganDiscriminator, FastganGenerator,
                                            reconstruction_side)
from engine.runs.folders import RunDir
from engine.runtime.control import RunControl
from engine.training import resume, train
from engine.training.events import Progress

CPU = torch.device("cpu")


@pytest.mark.parametrize("size", IMAGE_SIZES)
def test_networks_at_every_size(size):
    generator = FastganGenerator(16, size, 3, 4)
    discriminator = FastganDiscriminator(size, 3, 4)
    pictures = generator(torch.randn(2, 16))
    assert pictures.shape == (2, 3, size, size)
    logits, recons = discriminator(pictures, quadrant=3)
    assert logits.shape[0] == 2 and logits.ndim == 2
    side = reconstruction_side(size)
    assert [r.shape for r in recons] == [(2, 3, side, side)] * 3
    assert discriminator(pictures)[1] is None   # reconstructions only when asked
    # Skip-layer excitation feeds the last levels from 16 times coarser (or the start).
    assert generator.excite_from


def test_the_generator_excites_as_in_the_paper_at_256_px():
    sides = {i: 4 * 2 ** i for i in range(7)}
    excite = FastganGenerator(16, 256, 3, 4).excite_from
    assert {sides[i]: sides[j] for i, j in excite.items()} == {64: 4, 128: 8, 256: 16}


def test_reconstruction_loss_is_zero_only_for_the_right_quadrant():
    real = torch.rand(2, 3, 32, 32) * 2 - 1
    side = reconstruction_side(32)
    whole = torch.nn.functional.avg_pool2d(real, 2)
    top_right = real[:, :, :16, 16:]
    assert side == 16
    assert float(reconstruction_loss((whole, whole, top_right), real, quadrant=1)) == \
        pytest.approx(0.0, abs=1e-6)
    assert float(reconstruction_loss((whole, whole, top_right), real, quadrant=2)) > 0.01
    with pytest.raises(ConfigError, match="no reconstructions"):
        reconstruction_loss(None, real, 0)


def test_settings_are_checked():
    with pytest.raises(ConfigError, match="image size must be one of"):
        model_config("fastgan", image_size=48)
    with pytest.raises(ConfigError, match="reconstruction weight"):
        model_config("fastgan", reconstruction_weight=-1.0)
    with pytest.raises(ConfigError, match="unknown augmentation"):
        model_config("fastgan", augment="rotate")


def test_a_step_reports_the_reconstruction_and_with_ada_p():
    images = torch.rand(4, 3, 32, 32) * 2 - 1
    model = build_model("fastgan", model_config(
        "fastgan", image_size=32, channels=3, width=4, ada=True, ada_interval=1,
        ada_speed_images=100), CPU, seed=0)
    losses = model.train_step(images)
    assert {"generator", "discriminator", "reconstruction", P_KEY, RT_KEY} <= set(losses)
    assert float(losses["reconstruction"]) > 0 and float(losses[P_KEY]) == 0.0
    assert model.steps_done == 1 and model.ada.rt is not None


def test_presets_by_data_size_and_device():
    few_colour = DataFacts(count=300, channels=3, size=256)
    cpu = suggest("fastgan", few_colour, "cpu", chosen=True)
    assert cpu.value("model") == "fastgan" and cpu.value("image_size") == 32
    assert cpu.value("ada") is True and cpu.value("minutes") is not None
    # p can go 0 -> 1 within a quarter of the run's pictures.
    assert cpu.value("ada_speed_images") == cpu.value("steps") * cpu.value("batch_size") // 4
    gpu = suggest("fastgan", few_colour, "cuda", chosen=True)
    assert gpu.value("image_size") == 128 and gpu.value("width") > cpu.value("width")
    many = suggest("fastgan", DataFacts(count=60_000, channels=1, size=28, num_classes=10),
                   "cpu", chosen=True)
    assert many.value("image_size") == 28 and many.value("ada") is None
    # Unasked: only where it was measured better (a small colour set on a CPU).
    unasked = suggest("fastgan", few_colour, "cpu", chosen=False)
    assert unasked.value("model") == "fastgan" and unasked.fit > 1.0
    assert "measured" in unasked.reasons["model"]
    assert suggest("fastgan", few_colour, "cuda", chosen=False) is None
    assert suggest("fastgan", DataFacts(count=300, channels=1, size=64), "cpu",
                   chosen=False) is None
    assert suggest("fastgan", DataFacts(100, 1, 64, sequences=True), "cpu", chosen=True) is None
    # The preset's settings make a valid model.
    model_config("fastgan", **{k: v for k, v in cpu.settings["model_settings"].items()})


def _ada_run(tiny_config, steps: int):
    return tiny_config(model="fastgan", steps=steps, width=4, batch_size=4, sample_every=1000,
                       model_settings={"ada": True, "ada_interval": 1, "ada_speed_images": 100,
                                       # Low, so p rises from the first steps.
                                       "ada_target": 0.2, "augment": "translation,color,cutout"})


def _saved_ada(run) -> dict:
    folder = RunDir(run).weights_path("any").parent
    return json.loads((folder / "trainer.json").read_text())["optimizers"]["ada"]


def test_a_resumed_run_continues_with_its_p_bit_for_bit(tiny_config, tmp_path, h):
    list(train(_ada_run(tiny_config, 6), tmp_path / "straight"))
    control = RunControl()
    for event in train(_ada_run(tiny_config, 6), tmp_path / "parts", control):
        if isinstance(event, Progress) and event.step >= 3:
            control.stop()
    stopped_p = _saved_ada(tmp_path / "parts")["p"]
    events = list(resume(tmp_path / "parts", steps=6))
    assert events[0].start_step == 3 and events[-1].step == 6
    straight, parts = _saved_ada(tmp_path / "straight"), _saved_ada(tmp_path / "parts")
    assert straight == parts and straight["p"] > 0 and stopped_p > 0
    a = h.load_tensors(RunDir(tmp_path / "straight").weights_path("generator"))
    b = h.load_tensors(RunDir(tmp_path / "parts").weights_path("generator"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    # p is in metrics.jsonl beside the losses, step by step, the same both ways.
    metrics = [r for r in RunDir(tmp_path / "straight").read_metrics() if P_KEY in r]
    resumed = [r for r in RunDir(tmp_path / "parts").read_metrics() if P_KEY in r]
    assert len(metrics) == 6 and [r[P_KEY] for r in metrics] == [r[P_KEY] for r in resumed]
    assert metrics[0][P_KEY] == 0.0 and metrics[-1][P_KEY] > 0
