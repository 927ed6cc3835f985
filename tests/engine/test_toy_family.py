"""A family written in one file (toy_family.py) and registered with one call
shows up everywhere a model does."""
from __future__ import annotations

import json

import pytest

from engine.cli.main import main
from engine.models import model_names, model_spec
from engine.models.registry import register_model, unregister_model
from tests.engine.toy_family import TOY


@pytest.fixture
def toy():
    register_model(TOY)
    yield TOY
    unregister_model(TOY.name)


def test_registered_toy_is_a_model(toy):
    assert "toy" in model_names() and model_spec("toy") is toy
    assert toy.sampling_options == ("temperature",) and toy.process_name is None


def test_train_sample_export_and_eval_the_toy(toy, data_spec, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--model", "toy", "--data", data_spec, "--batch-size", "8",
                 "--steps", "2", "--device", "cpu", "--out", str(run)]) == 0
    assert json.loads((run / "config.json").read_text())["model"] == "toy"
    assert main(["sample", str(run), "--n", "4", "--device", "cpu",
                 "--out", str(tmp_path / "grid.png")]) == 0
    assert (tmp_path / "grid.png").is_file()
    bundle = tmp_path / "toy.atelier.safetensors"
    assert main(["export", str(run), "--out", str(bundle)]) == 0
    assert main(["sample", str(bundle), "--n", "2", "--device", "cpu",
                 "--out", str(tmp_path / "from-bundle.png")]) == 0
    capsys.readouterr()
    assert main(["eval", str(run), "--samples", "16", "--device", "cpu", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["kind"] == "evaluation" and result["fd"] >= 0



def test_the_toy_is_in_the_cli_help_and_animates(toy, data_spec, tmp_path, capsys):
    import dataclasses

    from engine.cli.main import build_parser

    wide = dataclasses.replace(toy, name="wide-toy", takes_width=True)
    register_model(wide)
    try:
        help_text = build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    finally:
        unregister_model(wide.name)
    assert "toy" in help_text and "wide-toy)" in " ".join(help_text.split())
    run = tmp_path / "run"
    assert main(["train", "--model", "toy", "--data", data_spec, "--batch-size", "8",
                 "--steps", "2", "--device", "cpu", "--out", str(run)]) == 0
    walk = tmp_path / "walk.gif"
    assert main(["animate", str(run), "--kind", "interpolate", "--seeds", "1,2",
                 "--frames-between", "2", "--out", str(walk)]) == 0
    assert walk.is_file() and walk.stat().st_size > 0
