"""Presets: the settings a user who changes nothing gets, chosen for the data and device."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engine.data.report import LoadReport
from engine.data.sources import ImageSet
from engine.models import model_config, model_spec
from engine.models.gan_presets import ema_decay_for
from engine.presets import (KNOWN_FACTS, DataFacts, choose_preset, data_facts)
from engine.training import TrainConfig

CPU, GPU = torch.device("cpu"), torch.device("cuda")   # a device object needs no GPU
SMALL_COLOUR = DataFacts(count=500, channels=3, size=32)
SMALL_GREY = DataFacts(count=500, channels=1, size=32)


def config_from(preset, **given) -> TrainConfig:
    config = TrainConfig(**preset.apply({"data": "folder:x", **given}))
    return config


def test_a_small_colour_set_on_a_cpu_gets_the_few_shot_gan_with_adaptive_augmentation():
    # Measured better than the DCGAN preset at equal CPU minutes (docs/BENCHMARKS.md).
    preset = choose_preset(SMALL_COLOUR, CPU)
    config = config_from(preset)
    assert config.model == "fastgan" and config.image_size == 32
    assert "measured" in preset.reasons["model"]
    assert config.model_settings["ada"] is True
    assert set(config.model_settings["augment"].split(",")) == {"translation", "cutout", "color"}
    assert config.steps and config.minutes      # a CPU run also has a time cap
    config.validate()
    # Only where it was measured: a labelled set keeps cgan, a GPU small-data-gan,
    # greyscale the DCGAN.
    labelled = DataFacts(count=600, channels=3, size=32, num_classes=4)
    assert choose_preset(labelled, CPU).value("model") == "cgan"
    assert choose_preset(SMALL_COLOUR, GPU).value("model") == "small-data-gan"
    assert choose_preset(SMALL_GREY, CPU).value("model") == "dcgan"
    assert choose_preset(DataFacts(count=50_000, channels=3, size=32), CPU).value("model") \
        != "fastgan"


def test_a_small_set_gets_differentiable_augmentation():
    # CPU: a short run, where a batch-norm DCGAN with DiffAugment learns fastest
    # (docs/BENCHMARKS.md); it samples the generator itself, not a weight average.
    preset = choose_preset(SMALL_GREY, CPU)
    config = config_from(preset)
    assert config.model == "dcgan" and config.image_size == 32
    assert config.model_settings == {"augment": "translation,cutout,color", "ema_decay": 0.0,
                                     "loss": "hinge"}
    assert config.steps and config.minutes      # a CPU run also has a time cap
    model = model_config(config.model, **config._model_settings(channels=1))
    assert model.augment == "translation,cutout,color" and model.loss == "hinge"
    assert not model.spectral_norm
    # GPU: a long run of the small-data GAN with every augmentation and an EMA generator.
    gpu = config_from(choose_preset(SMALL_GREY, GPU))
    assert gpu.model == "small-data-gan"
    assert set(gpu.model_settings["augment"].split(",")) == {"translation", "cutout", "color"}
    assert 0.99 <= gpu.model_settings["ema_decay"] < 1
    model = model_config(gpu.model, **gpu._model_settings(channels=3))
    assert model.loss == "hinge" and model.spectral_norm
    # Every choice says why, in one line.
    assert set(preset.reasons) >= {"model", "image_size", "width", "batch_size",
                                   "learning_rate", "steps", "augment", "ema_decay"}
    assert all(r and "\n" not in r for r in preset.reasons.values())


def test_the_device_decides_batch_size_width_and_budget():
    cpu, gpu = choose_preset(SMALL_COLOUR, CPU), choose_preset(SMALL_COLOUR, GPU)
    assert cpu.value("batch_size") < gpu.value("batch_size")
    assert cpu.value("width") < gpu.value("width")
    assert cpu.value("steps") < gpu.value("steps")
    assert gpu.value("minutes") is None and "GPU" in gpu.name
    # Large pictures: 64 px on a GPU, 32 px (four times cheaper) on a CPU.
    big = DataFacts(count=800, channels=3, size=256)
    assert choose_preset(big, GPU).value("image_size") == 64
    assert choose_preset(big, CPU).value("image_size") == 32


def test_mnist_on_a_cpu_gets_flow_where_it_measured_better():
    preset = choose_preset(KNOWN_FACTS["mnist"], CPU)
    assert preset.value("model") == "flow" and "measured" in preset.reasons["model"]
    assert preset.value("steps") and preset.value("minutes")     # a CPU run has a time cap
    config = TrainConfig(**preset.apply({"data": "mnist"}))
    config.validate()
    assert config.model_settings["guidance"] == 2.0               # MNIST has labels
    # Only where it was measured: not on a GPU, not for colour, not for a few pictures.
    assert choose_preset(KNOWN_FACTS["mnist"], GPU).value("model") == "dcgan"
    assert choose_preset(DataFacts(60_000, 3, 28), CPU).value("model") != "flow"
    assert choose_preset(DataFacts(2_000, 1, 28), CPU).value("model") != "flow"


def test_mnist_keeps_the_benchmarked_dcgan_baseline_exactly():
    preset = choose_preset(KNOWN_FACTS["mnist"], CPU, model="dcgan")
    with_preset = TrainConfig(**preset.apply({"data": "mnist"}))
    plain = TrainConfig()
    assert (with_preset.model, with_preset.batch_size, with_preset.image_size,
            with_preset.width or 32) == ("dcgan", 64, 28, 32)
    assert with_preset.learning_rate == pytest.approx(2e-4)
    assert with_preset.budget() == plain.budget() and not with_preset.model_settings
    # The model itself is identical to the one the plain defaults build.
    assert model_config("dcgan", **with_preset._model_settings(1, 10)).to_dict() == \
        model_config("dcgan", **plain._model_settings(1, 10)).to_dict()
    assert choose_preset(KNOWN_FACTS["mnist"], GPU).value("batch_size") == 64


def test_what_the_user_gave_wins_and_a_budget_is_one_choice():
    preset = choose_preset(SMALL_GREY, CPU)
    config = config_from(preset, batch_size=16, steps=300,
                         model_settings={"augment": "translation"})
    assert config.batch_size == 16
    assert config.steps == 300 and config.minutes is None   # not the preset's time cap
    assert config.model_settings["augment"] == "translation"
    assert config.model_settings["ema_decay"] == preset.value("ema_decay")
    chosen = [line.split(" = ")[0] for line in preset.applied({"batch_size": 16, "steps": 300})]
    assert "batch_size" not in chosen and "minutes" not in chosen and "augment" in chosen


def test_labels_sequences_and_other_families():
    labelled = DataFacts(count=600, channels=3, size=32, num_classes=4)
    assert choose_preset(labelled, CPU).value("model") == "cgan"
    assert choose_preset(labelled, CPU).value("augment")        # small: augmented too
    # A model the user chose: the GAN settings follow it; other families keep their own.
    assert choose_preset(SMALL_COLOUR, CPU, model="wgan-gp").value("model") == "wgan-gp"
    assert choose_preset(SMALL_COLOUR, CPU, model="conv-vae").settings == {}
    assert choose_preset(KNOWN_FACTS["moving-mnist"], CPU).value("model") == "convlstm"
    # Fewer images than the batch: the batch shrinks to fit.
    assert choose_preset(DataFacts(count=20, channels=3, size=32), CPU).value("batch_size") == 16


@pytest.mark.parametrize("facts", [SMALL_COLOUR, KNOWN_FACTS["mnist"],
                                   DataFacts(3000, 1, 64), DataFacts(50_000, 3, 32, 10),
                                   DataFacts(40, 3, 128, 2)])
@pytest.mark.parametrize("device", [CPU, GPU])
def test_every_preset_is_a_valid_configuration(facts, device):
    preset = choose_preset(facts, device)
    config = TrainConfig(**preset.apply({"data": "x"}))
    config.validate()
    model_config(config.model, **config._model_settings(facts.channels, facts.num_classes))


def test_ema_decay_follows_the_budget():
    assert ema_decay_for(2_500) == pytest.approx(0.996)
    assert ema_decay_for(1_000_000) == 0.999
    assert 0.999 ** 2_500 > 0.05 > (ema_decay_for(2_500)) ** 2_500   # why it is not 0.999


def test_facts_come_from_the_pictures_original_size():
    images = np.zeros((7, 3, 32, 32), np.uint8)
    data = ImageSet("folder:x", images, np.array([0, 1] * 3 + [0]), ("a", "b"),
                    report=LoadReport("folder:x", found=7, original_sizes=((200, 150, 7),)))
    assert DataFacts.of(data) == DataFacts(7, 3, 150, 2)
    assert data_facts("mnist") == KNOWN_FACTS["mnist"]


def test_cli_train_prints_and_applies_the_preset_and_can_turn_it_off(tmp_path, capsys):
    from PIL import Image
    from engine.cli.main import main

    folder = tmp_path / "pictures"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        # Greyscale: a small colour set would get fastgan (the test above).
        Image.fromarray(rng.integers(0, 255, (40, 40), dtype=np.uint8)).save(folder / f"{i}.png")
    assert main(["train", "--data", f"folder:{folder}", "--steps", "1", "--width", "8",
                 "--device", "cpu", "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "preset: dcgan for a small set" in out and "augment = translation,cutout,color" in out
    assert "width =" not in out and "steps =" not in out      # the user's own
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["model"] == "dcgan" and saved["train"]["batch_size"] == 4
    assert saved["model_config"]["augment"] and saved["model_config"]["width"] == 8

    from engine.cli.main import _train_config, build_parser
    args = build_parser().parse_args(["train", "--data", f"folder:{folder}", "--no-preset"])
    plain = _train_config(args, preset=args.preset)
    assert "preset" not in capsys.readouterr().out
    assert (plain.model, plain.batch_size, plain.model_settings) == ("dcgan", 64, {})


def test_the_gan_baseline_is_exactly_the_trainers_defaults():
    # The family cannot import the trainer, so it keeps its own copy of the numbers.
    from engine.models import gan_presets
    from engine.training import DEFAULT_STEPS
    assert (gan_presets.BASELINE_BATCH, gan_presets.BASELINE_STEPS) == \
        (TrainConfig().batch_size, DEFAULT_STEPS)


def test_presets_ask_each_familys_hook_and_take_the_best_fit():
    import dataclasses

    from engine.models.base import PRESET
    from engine.models.common.preset import Preset
    from engine.models.registry import register_model, unregister_model
    from tests.engine.toy_family import TOY, ToyModel

    class EagerToy(ToyModel):
        capabilities = ToyModel.capabilities | {PRESET}

        @classmethod
        def suggest_preset(cls, model, facts, device, chosen):
            preset = Preset(f"{model} for {facts.describe()}", fit=100.0)
            preset.choose("model", model, "it always fits best")
            preset.choose("learning_rate", 0.5, "the toy's own", model_setting=True)
            return preset

    register_model(TOY)       # the base hook: declines, so the toy keeps its own defaults
    try:
        assert choose_preset(SMALL_GREY, CPU).value("model") == "dcgan"
        chosen = choose_preset(SMALL_COLOUR, CPU, model="toy")
        assert chosen.settings == {} and chosen.name.startswith("toy with its own defaults")
    finally:
        unregister_model(TOY.name)
    eager = dataclasses.replace(TOY, name="eager-toy", family=EagerToy)
    register_model(eager)
    try:
        best = choose_preset(SMALL_COLOUR, CPU)
        assert best.value("model") == "eager-toy" and best.value("learning_rate") == 0.5
        assert best.settings["model_settings"] == {"learning_rate": 0.5}
        # The user's choice still asks that model only.
        assert choose_preset(SMALL_COLOUR, CPU, model="cgan").value("model") == "cgan"
    finally:
        unregister_model(eager.name)


def test_no_family_hook_suggests_a_model_for_data_it_cannot_train():
    for facts in (SMALL_COLOUR, KNOWN_FACTS["mnist"], KNOWN_FACTS["moving-mnist"]):
        for device in (CPU, GPU):
            model = choose_preset(facts, device).value("model")
            assert model_spec(model).data_kind == ("sequences" if facts.sequences else "images")
