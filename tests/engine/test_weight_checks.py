"""Saved weights are checked before they cost memory or draw black tiles:
a run's config.json is compared with its weight files on the meta device
before the model is built (issue 22, item 8), and NaN or infinite weights in
a bundle or a run are refused at load, naming the tensor (item 11)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import engine.runs.folders
from engine.runs.bundles import BUNDLE_SUFFIX, BundleError, export_bundle, load_bundle, load_model_from
from engine.cli.main import EXIT_ERROR, main
from engine.errors import RunDirError
from engine.runs.folders import RunDir

CPU = torch.device("cpu")
HUGE = {"width": 1024, "image_size": 64, "latent_dim": 4096}   # each within the allowed limits


def cli(*argv) -> int:
    try:
        return main([str(a) for a in argv])
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR


def _one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ")
    assert "Error:" not in lines[0] and "Traceback" not in captured.err
    return lines[0]


def _current_folder(run: Path) -> Path:
    return run / "checkpoints" / json.loads((run / "manifest.json").read_text())["checkpoint"]


def _poison(path: Path, value: float) -> str:
    """Put `value` into the first floating-point tensor of a safetensors file;
    its name."""
    tensors = load_file(str(path))
    name = next(k for k, t in tensors.items() if t.is_floating_point())
    tensors[name] = tensors[name].clone()
    tensors[name].view(-1)[0] = value
    save_file(tensors, str(path))
    return name


# -- item 8: a run's model is never built before its weights are checked ------------------
def test_a_config_describing_a_huge_model_is_refused_before_building_it(run_copy, monkeypatch,
                                                                        capsys, tmp_path):
    # The reproduction: these settings made `sample` pass 9 GB before it
    # compared the weight files. Building the real model now fails the test.
    config = json.loads((run_copy / "config.json").read_text())
    config["model_config"].update(HUGE)
    (run_copy / "config.json").write_text(json.dumps(config))

    def no_real_build(*args, **kwargs):
        raise AssertionError("the real model was built before its weights were checked")
    monkeypatch.setattr(engine.runs.folders, "build_model", no_real_build)

    with pytest.raises(RunDirError, match=r"generator\.safetensors: not a valid weights file "
                                          r"for this model \(tensors do not match"):
        RunDir(run_copy).load_model(CPU)
    assert cli("sample", run_copy, "--out", tmp_path / "x.png") == EXIT_ERROR
    line = _one_error_line(capsys)
    assert str(_current_folder(run_copy) / "generator.safetensors") in line
    assert not (tmp_path / "x.png").exists()


def test_the_huge_config_stays_small_in_memory(run_copy):
    """The same check, measured: refusing it costs no more memory than a tiny
    model (the real build allocates gigabytes for these settings)."""
    import resource

    config = json.loads((run_copy / "config.json").read_text())
    config["model_config"].update(HUGE)
    (run_copy / "config.json").write_text(json.dumps(config))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss   # KiB on Linux
    with pytest.raises(RunDirError):
        RunDir(run_copy).load_model(CPU)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 500 * 1024


def test_a_model_matching_its_weights_still_loads(trained_run):
    name, model = RunDir(trained_run).load_model(CPU)
    assert name == "dcgan" and model.config.width == 8
    assert all(p.device.type == "cpu" for p in model.generator.parameters())


@pytest.mark.parametrize("config_change,message", [
    ({"model": ["dcgan"]}, "model must be a model's name"),
    ({"model_config": [1, 2]}, "model_config a JSON object"),
    ({"model": "stylegan"}, "cannot rebuild model: unknown model 'stylegan'"),
])
def test_a_config_json_of_the_wrong_shape_names_the_file(run_copy, config_change, message):
    config = json.loads((run_copy / "config.json").read_text())
    config.update(config_change)
    (run_copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(RunDirError) as caught:
        RunDir(run_copy).load_model(CPU)
    assert str(run_copy / "config.json") in str(caught.value) and message in str(caught.value)


# -- item 11: NaN or infinite weights ----------------------------------------------------
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_bundle_with_nonfinite_weights_is_refused_naming_the_tensor(trained_run, tmp_path,
                                                                     capsys, value):
    # The reproduction: NaN weights in a bundle sampled black tiles with rc 0.
    bundle = export_bundle(trained_run, tmp_path / f"tiny{BUNDLE_SUFFIX}")
    tensors = load_file(str(bundle))
    from safetensors import safe_open
    with safe_open(str(bundle), "pt") as f:
        metadata = f.metadata()
    name = "generator.main.0.weight"
    tensors[name] = tensors[name].clone()
    tensors[name].view(-1)[3] = value
    save_file(tensors, str(bundle), metadata=metadata)

    with pytest.raises(BundleError, match=rf"tensor '{name}' holds NaN or infinite values"):
        load_bundle(bundle, CPU)
    assert cli("sample", bundle, "--out", tmp_path / "x.png") == EXIT_ERROR
    line = _one_error_line(capsys)
    assert str(bundle) in line and name in line
    assert not (tmp_path / "x.png").exists()


def test_run_weights_with_nan_are_refused_naming_file_and_tensor(run_copy, tmp_path, capsys):
    path = _current_folder(run_copy) / "generator.safetensors"
    name = _poison(path, math.nan)
    with pytest.raises(RunDirError) as caught:
        load_model_from(run_copy, CPU)
    assert str(path) in str(caught.value) and f"tensor {name!r} holds NaN" in str(caught.value)
    assert cli("sample", run_copy, "--out", tmp_path / "x.png") == EXIT_ERROR
    assert name in _one_error_line(capsys)


def test_eval_on_nan_weights_is_one_clear_line(run_copy, tmp_path, capsys):
    # The reproduction: numpy's LinAlgError ("Eigenvalues did not converge")
    # from the Frechet distance of NaN features.
    _poison(_current_folder(run_copy) / "generator.safetensors", math.nan)
    assert cli("eval", run_copy, "--samples", "8", "--features", "random",
               "--no-likelihood") == EXIT_ERROR
    line = _one_error_line(capsys)
    assert "LinAlgError" not in line and "holds NaN" in line


def test_a_bundle_with_finite_weights_still_loads(trained_run, tmp_path):
    bundle = export_bundle(trained_run, tmp_path / f"tiny{BUNDLE_SUFFIX}")
    info, model = load_bundle(bundle, CPU)
    assert info.model == "dcgan" and torch.isfinite(model.sample([0, 1])).all()
