"""Checkpoints are consistent sets named by a manifest; interrupted saves never
damage the previous one."""
from __future__ import annotations

import json

import pytest
import torch

import engine.runs.checkpoints as checkpoints
from engine.errors import RunDirError
from engine.runs.folders import RunDir


def save(run, step, value=1.0, **kwargs):
    return checkpoints.save_checkpoint(
        run, step, {"generator": {"w": torch.full((3,), value)}}, {"t": torch.zeros(2)},
        {"step": step}, {"model": "x"}, **kwargs)


def test_manifest_names_the_newest_complete_set_and_keeps_one_before(tmp_path):
    first = save(tmp_path, 1)
    second = save(tmp_path, 2)
    third = save(tmp_path, 3, value=3.0)
    manifest = checkpoints.read_manifest(tmp_path)
    assert manifest["step"] == 3 and manifest["checkpoint"] == third.name
    assert manifest["kept"] == [third.name, second.name]
    assert not first.exists()
    assert sorted(manifest["files"]) == ["generator.safetensors", "trainer.json", "trainer.safetensors"]
    loaded = checkpoints.load_tensors(checkpoints.current_checkpoint(tmp_path) / "generator.safetensors")
    assert torch.equal(loaded["w"], torch.full((3,), 3.0))


def test_a_save_interrupted_at_any_file_leaves_the_previous_set_current(tmp_path, monkeypatch):
    good = save(tmp_path, 1)
    real_write = checkpoints.atomic_write
    for fail_at in range(4):  # generator, trainer tensors, trainer json, manifest
        calls = []

        def failing_write(path, write):
            calls.append(path)
            if len(calls) > fail_at:
                raise OSError(28, "No space left on device")
            real_write(path, write)

        monkeypatch.setattr(checkpoints, "atomic_write", failing_write)
        monkeypatch.setattr(checkpoints, "atomic_write_json",
                            lambda path, value: failing_write(
                                path, lambda tmp: tmp.write_text(json.dumps(value))))
        with pytest.raises(OSError):
            save(tmp_path, 2, value=2.0)
        monkeypatch.undo()
        assert checkpoints.current_checkpoint(tmp_path) == good
        loaded = checkpoints.load_tensors(good / "generator.safetensors")
        assert torch.equal(loaded["w"], torch.ones(3))
    # What the failures left behind goes at the next save.
    save(tmp_path, 3)
    names = {p.name for p in (tmp_path / "checkpoints").iterdir()}
    assert names == set(checkpoints.read_manifest(tmp_path)["kept"])
    assert not list(tmp_path.rglob("*.tmp"))


def test_stray_temporary_files_are_removed(tmp_path):
    folder = save(tmp_path, 1)
    (tmp_path / ".config.json.abc.tmp").write_text("half")
    (folder / ".generator.safetensors.x.tmp").write_text("half")
    (tmp_path / "checkpoints" / "step_000000002-dead00").mkdir()
    checkpoints.remove_strays(tmp_path)
    assert not list(tmp_path.rglob("*.tmp"))
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == [folder.name]


@pytest.mark.parametrize("manifest", ['{"checkpoint": "../../etc"}', "not json", '["a"]'])
def test_a_bad_manifest_is_a_clear_error(tmp_path, manifest):
    (tmp_path / "manifest.json").write_text(manifest)
    with pytest.raises(RunDirError, match="manifest.json"):
        checkpoints.current_checkpoint(tmp_path)


def test_a_manifest_naming_missing_files_is_a_clear_error(tmp_path):
    folder = save(tmp_path, 1)
    (folder / "generator.safetensors").unlink()
    with pytest.raises(RunDirError, match="missing generator.safetensors"):
        checkpoints.current_checkpoint(tmp_path)


def test_a_run_without_checkpoint_says_so(tmp_path):
    with pytest.raises(RunDirError, match="no saved weights yet"):
        RunDir(tmp_path).weights_path("generator")
