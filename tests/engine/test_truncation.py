"""GAN truncation sampling: bounded, reproducible from seed and threshold, exported with provenance."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engine.errors import ConfigError
from engine.models import build_model, model_config
from engine.models.common.truncation import truncated_normal
from engine.studio.sampling import run_supports_truncation, sample_run


def gan(**settings):
    config = model_config("dcgan", image_size=28, width=8, channels=1, **settings)
    return build_model("dcgan", config, torch.device("cpu"), seed=0)


def test_truncated_latents_are_bounded_and_keep_the_components_inside():
    model = gan()
    plain = model.latents_for_seeds([5, 6, 7])
    truncated = model.truncated_latents_for_seeds([5, 6, 7], 0.5)
    assert truncated.abs().max() <= 0.5
    inside = plain.abs() <= 0.5
    assert torch.equal(truncated[inside], plain[inside])    # only the outliers are redrawn
    # Even a tiny threshold stays a bound.
    assert truncated_normal(100, 0.05, torch.Generator().manual_seed(1)).abs().max() <= 0.05


def test_truncated_tiles_are_reproducible_from_seed_and_threshold_alone():
    model = gan()
    alone = model.sample([42], truncation=0.7)
    among_others = model.sample([3, 42, 9], truncation=0.7)
    torch.testing.assert_close(among_others[1:2], alone)
    assert not torch.equal(model.sample([42], truncation=0.3), alone)
    with pytest.raises(ConfigError, match="truncation"):
        model.sample([1], truncation=0.0)


def test_families_without_truncation_say_so():
    config = model_config("mlp-vae", image_size=28, channels=1)
    vae = build_model("mlp-vae", config, torch.device("cpu"), seed=0)
    with pytest.raises(ConfigError, match="temperature"):
        vae.sample([1], truncation=0.5)


def test_sample_run_and_cli_sample_with_truncation(trained_run, tmp_path, capsys):
    from engine.cli.main import main
    from engine.studio.exporters.provenance import read_provenance

    assert run_supports_truncation(trained_run)
    images = sample_run(trained_run, [0, 1, 2], device="cpu", truncation=0.6)
    again = sample_run(trained_run, [2], device="cpu", truncation=0.6)
    np.testing.assert_array_equal(images[2:], again)
    out = tmp_path / "tiles"
    assert main(["sample", str(trained_run), "--n", "2", "--truncation", "0.6",
                 "--device", "cpu", "--out", f"{out}/", "--json"]) == 0
    written = json.loads(capsys.readouterr().out)["files"]
    provenance = read_provenance(written[0])
    assert provenance["truncation"] == 0.6 and provenance["seed"] == 0
