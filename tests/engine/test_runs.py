"""engine.runs.folders and engine.storage.paths: creating, writing and reading run directories."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from engine.errors import RunDirError
from engine.storage.paths import default_runs_dir, user_data_dir
from engine.runs.folders import RunDir, is_run_dir
from engine.training import TrainingSession

CPU = torch.device("cpu")


# -- paths ---------------------------------------------------------------------------
def test_user_data_dir_follows_the_override(atelier_home):
    assert user_data_dir() == atelier_home
    assert default_runs_dir() == atelier_home / "runs"


def test_user_data_dir_expands_tilde(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("LATENT_ATELIER_HOME", "~/portable")
    assert user_data_dir() == tmp_path / "portable"


def test_user_data_dir_default_on_linux(monkeypatch, tmp_path):
    monkeypatch.delenv("LATENT_ATELIER_HOME")
    monkeypatch.setattr("sys.platform", "linux")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert user_data_dir() == tmp_path / "xdg" / "LatentAtelier"


# -- creating ------------------------------------------------------------------------
def test_create_makes_the_folder_and_samples(tmp_path):
    run = RunDir.create(tmp_path / "a" / "b" / "run", "dcgan")
    assert run.path == tmp_path / "a" / "b" / "run"
    assert (run.path / "samples").is_dir()
    assert list(run.path.iterdir()) == [run.path / "samples"]  # the write probe left nothing


def test_create_accepts_an_existing_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    assert RunDir.create(tmp_path / "empty", "dcgan").path == tmp_path / "empty"


def test_create_without_path_uses_the_runs_folder(atelier_home):
    first = RunDir.create(None, "mlp-gan")
    second = RunDir.create(None, "mlp-gan")
    assert first.path.parent == atelier_home / "runs" == second.path.parent
    assert first.path.name.endswith("-mlp-gan")
    assert first.path != second.path  # same second: a suffix keeps them apart


def test_create_refuses_an_existing_run(trained_run):
    with pytest.raises(RunDirError, match="already holds a run") as info:
        RunDir.create(trained_run, "dcgan")
    assert str(trained_run) in str(info.value)


def test_create_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(RunDirError, match="not empty"):
        RunDir.create(tmp_path / "busy", "dcgan")
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"
    assert not (tmp_path / "busy" / "samples").exists()


def test_create_refuses_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunDirError, match="is a file, not a folder"):
        RunDir.create(tmp_path / "file", "dcgan")


def test_create_under_a_regular_file(tmp_path):
    (tmp_path / "file").write_text("x")
    target = tmp_path / "file" / "sub" / "run"
    with pytest.raises(RunDirError, match="cannot write to") as info:
        RunDir.create(target, "dcgan")
    assert str(target) in str(info.value)


def test_create_in_a_read_only_folder(read_only_folder):
    with pytest.raises(RunDirError, match="cannot write to") as info:
        RunDir.create(read_only_folder / "run", "dcgan")
    assert str(read_only_folder / "run") in str(info.value)


def test_write_failure_is_a_run_dir_error(tmp_path):
    run = RunDir.create(tmp_path / "run", "dcgan")
    (run.path / "samples").rmdir()
    run.path.rmdir()  # the folder vanished (unplugged drive, deleted by the user)
    with pytest.raises(RunDirError, match="cannot write to"):
        run.append_metrics({"step": 1})
    with pytest.raises(RunDirError, match="cannot write to"):
        run.write_config({"model": "dcgan", "model_config": {}})


# -- reading -------------------------------------------------------------------------
def _session(tiny_config, **overrides) -> TrainingSession:
    return TrainingSession(tiny_config(**overrides))


def _saved_run(tiny_config, path: Path, **overrides) -> tuple[RunDir, TrainingSession]:
    session = _session(tiny_config, **overrides)
    for _ in range(2):
        session.step()
    run = RunDir.create(path, session.config.model)
    run.write_config({"model": session.config.model, "model_config": session.model_config.to_dict()})
    run.save_checkpoint(session.config.model, session.model)
    return run, session


@pytest.mark.parametrize("model", ["dcgan", "mlp-gan"])
def test_load_model_round_trip_gives_identical_samples(tiny_config, tmp_path, model):
    run, session = _saved_run(tiny_config, tmp_path / "run", model=model)
    name, loaded = run.load_model(CPU)
    assert name == model
    assert loaded.config == session.model_config
    for net_name, net in session.model.networks().items():
        other = loaded.networks()[net_name].state_dict()
        for key, value in net.state_dict().items():
            assert torch.equal(value, other[key]), f"{net_name}.{key}"
    seeds = [0, 7, 123]
    assert torch.equal(loaded.sample(seeds), session.model.sample(seeds))


def test_load_model_of_the_shared_run(trained_run):
    name, model = RunDir(trained_run).load_model(CPU)
    assert name == "dcgan" and model.config.width == 8
    assert model.generator.training  # loaded nets are ready to train on


@pytest.mark.parametrize("net", ["generator", "discriminator"])
@pytest.mark.parametrize("damage", ["zero-byte", "truncated", "garbage", "header-only"])
def test_damaged_weights_name_the_file(run_copy, net, damage):
    path = RunDir(run_copy).weights_path(net)
    data = path.read_bytes()
    path.write_bytes({"zero-byte": b"", "truncated": data[: len(data) // 2],
                      "garbage": os.urandom(256), "header-only": data[:8]}[damage])
    with pytest.raises(RunDirError, match="not a valid weights file") as info:
        RunDir(run_copy).load_model(CPU)
    assert str(path) in str(info.value)


def test_weights_for_another_architecture_are_rejected(run_copy, tiny_config, tmp_path):
    other, _ = _saved_run(tiny_config, tmp_path / "wide", width=16)
    (RunDir(run_copy).weights_path("generator")).write_bytes((RunDir(other.path).weights_path("generator")).read_bytes())
    with pytest.raises(RunDirError, match="generator.safetensors"):
        RunDir(run_copy).load_model(CPU)


def test_missing_weights(run_copy):
    (RunDir(run_copy).weights_path("discriminator")).unlink()
    with pytest.raises(RunDirError, match="missing") as info:
        RunDir(run_copy).load_model(CPU)
    assert "discriminator.safetensors" in str(info.value)


def test_not_a_run_folder(tmp_path):
    with pytest.raises(RunDirError, match="is not a run folder"):
        RunDir(tmp_path).read_config()
    with pytest.raises(RunDirError, match="is not a run folder"):
        RunDir(tmp_path / "nowhere").load_model(CPU)
    assert not is_run_dir(tmp_path)


@pytest.mark.parametrize("content,message", [
    ("{not json", "unreadable"),
    ("[1, 2]", "missing model or model_config"),
    ('{"model": "dcgan"}', "missing model or model_config"),
    ('{"model": "dcgan", "model_config": {}, "format_version": 99}', "newer Latent Atelier"),
])
def test_bad_config_json(run_copy, content, message):
    (run_copy / "config.json").write_text(content)
    with pytest.raises(RunDirError, match=message) as info:
        RunDir(run_copy).read_config()
    assert "config.json" in str(info.value)


@pytest.mark.parametrize("model,model_config", [
    ("dcgan", {"width": 2}), ("stylegan", {}), ("dcgan", {"resolution": 9}),
])
def test_config_that_cannot_build_a_model(run_copy, model, model_config):
    config = json.loads((run_copy / "config.json").read_text())
    config.update(model=model, model_config={**config["model_config"], **model_config})
    (run_copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(RunDirError, match="cannot rebuild model"):
        RunDir(run_copy).load_model(CPU)


def test_read_metrics_skips_a_line_cut_short(run_copy):
    with open(run_copy / "metrics.jsonl", "a") as f:
        f.write('{"step": 5, "generat')
    records = RunDir(run_copy).read_metrics()
    assert [r["step"] for r in records] == [1, 2, 3, 4]


def test_read_metrics_of_a_fresh_run_is_empty(tmp_path):
    assert RunDir.create(tmp_path / "fresh", "dcgan").read_metrics() == []


def test_sample_history_is_sorted_and_ignores_other_files(run_copy):
    (run_copy / "samples" / "notes.png").write_bytes(b"")
    (run_copy / "samples" / "step_000010.png.tmp").write_bytes(b"")
    history = RunDir(run_copy).sample_history()
    assert [step for step, _ in history] == [0, 1, 2, 3, 4]
    assert all(path.parent == run_copy / "samples" for _, path in history)


def test_is_run_dir(trained_run, tmp_path):
    assert is_run_dir(trained_run) and is_run_dir(str(trained_run))
    assert not is_run_dir(tmp_path / "nothing")


def test_non_numeric_format_version_is_a_run_dir_error(run_copy):
    config = json.loads((run_copy / "config.json").read_text())
    config["format_version"] = "2"
    (run_copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(RunDirError, match="config.json"):
        RunDir(run_copy).read_config()
