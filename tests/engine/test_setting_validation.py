"""Model settings of the wrong kind, from `--set`, a run's config.json or code:
one line naming the setting, never a TypeError from deep inside a network."""
from __future__ import annotations

import json

import pytest

from engine.cli.main import EXIT_ERROR, EXIT_USAGE, main
from engine.errors import ConfigError
from engine.models import model_config


def cli(*argv) -> int:
    try:
        return main([str(a) for a in argv])
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR


@pytest.mark.parametrize("model,settings,message", [
    ("dcgan", {"width": 32.5}, "model setting width must be a whole number, not 32.5"),
    ("dcgan", {"latent_dim": True}, "model setting latent_dim must be a whole number, not true"),
    ("dcgan", {"image_size": "28"}, 'model setting image_size must be a whole number, not "28"'),
    ("dcgan", {"ema_decay": "x"}, 'model setting ema_decay must be a finite number, not "x"'),
    ("dcgan", {"learning_rate": float("inf")}, "learning_rate must be a finite number"),
    ("dcgan", {"spectral_norm": 1}, "model setting spectral_norm must be true or false, not 1"),
    ("dcgan", {"augment": ["color"]}, "model setting augment must be text, not a list"),
    ("conv-vae", {"beta": "nan"}, 'model setting beta must be a finite number, not "nan"'),
    ("conv-vae", {"beta": float("nan")}, "model setting beta must be a finite number, not NaN"),
    ("conv-vae", {"hidden": {"a": 1}}, "model setting hidden must be a whole number, not a JSON object"),
    ("draw", {"steps": 1e300}, "model setting steps must be a whole number"),
])
def test_a_setting_of_the_wrong_kind_is_one_clear_line(model, settings, message):
    with pytest.raises(ConfigError) as caught:
        model_config(model, **settings)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_whole_numbers_pass_as_floats_and_defaults_stay_valid():
    assert model_config("dcgan", ema_decay=0).ema_decay == 0
    assert model_config("conv-vae", beta=4).beta == 4
    for name in ("mlp-gan", "dcgan", "small-data-gan", "wgan-gp", "mlp-vae", "conv-vae",
                 "row-lstm", "draw", "convlstm"):
        model_config(name)


# -- --set on the command line (issue 22, item 10) -------------------------------------
@pytest.mark.parametrize("setting,code,message", [
    # Each has its own option, which overrode the --set without a word.
    ("width=abc", EXIT_USAGE, "--set width: use --width"),
    ("width=32.5", EXIT_USAGE, "--set width: use --width"),
    ("image_size=64", EXIT_USAGE, "--set image_size: use --image-size"),
    ("learning_rate=0.1", EXIT_USAGE, "--set learning_rate: use --lr"),
    ("channels=3", EXIT_USAGE, "--set channels: comes from the data"),
    # The reproduction: a TypeError from comparing the text "nan" with a number.
    ("beta=nan", EXIT_ERROR, 'model setting beta must be a finite number, not "nan"'),
    ("beta=NaN", EXIT_ERROR, "model setting beta must be a finite number, not NaN"),
    ("latent_dim=32.5", EXIT_ERROR, "model setting latent_dim must be a whole number, not 32.5"),
    ("hidden=abc", EXIT_ERROR, 'model setting hidden must be a whole number, not "abc"'),
])
def test_set_of_a_bad_value_is_refused_in_one_line(setting, code, message, data_spec, tmp_path,
                                                   capsys):
    out = tmp_path / "never"
    assert cli("train", "--model", "conv-vae", "--data", data_spec, "--device", "cpu",
               "--batch-size", "8", "--steps", "1", "--set", setting, "--out", out) == code
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "error" in lines[0] and message in lines[0]
    assert "TypeError" not in captured.err
    assert not out.exists()


# -- a run's config.json -------------------------------------------------------------
@pytest.mark.parametrize("change,message", [
    ({"width": 32.5}, "model setting width must be a whole number, not 32.5"),
    ({"latent_dim": "4"}, 'model setting latent_dim must be a whole number, not "4"'),
    ({"ema_decay": None, "beta1": "0.5"}, "model setting beta1 must be a finite number"),
])
def test_a_config_json_setting_of_the_wrong_kind_names_the_file_and_setting(
        change, message, run_copy, tmp_path, capsys):
    path = run_copy / "config.json"
    config = json.loads(path.read_text())
    config["model_config"].update(change)
    path.write_text(json.dumps(config))
    assert cli("sample", run_copy, "--out", tmp_path / "x.png") == EXIT_ERROR
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert str(path) in lines[0] and message in lines[0]
    assert not (tmp_path / "x.png").exists()


def test_a_bundle_whose_config_has_a_setting_of_the_wrong_kind(trained_run, tmp_path, capsys):
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from engine.runs.bundles import BUNDLE_SUFFIX, export_bundle

    bundle = export_bundle(trained_run, tmp_path / f"tiny{BUNDLE_SUFFIX}")
    with safe_open(str(bundle), "pt") as f:
        metadata = f.metadata()
    settings = json.loads(metadata["model_config"])
    settings["width"] = 8.5
    save_file(load_file(str(bundle)), str(bundle),
              metadata={**metadata, "model_config": json.dumps(settings)})
    assert cli("sample", bundle, "--out", tmp_path / "x.png") == EXIT_ERROR
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and str(bundle) in lines[0]
    assert "model setting width must be a whole number, not 8.5" in lines[0]
