"""The data-spec registry and `latent-atelier-cli data`, plus training on a folder."""
from __future__ import annotations

import json

import numpy as np
import pytest

from engine.cli.main import EXIT_ERROR, main
from engine.data import DATA_SOURCES, ImageSet, load_data
from engine.data import registry
from engine.errors import DataError
from tests.engine import messy_images as messy


def test_every_source_is_listed():
    for form in ("mnist", "idx:PATH", "folder:PATH", "cifar10:PATH", "npz:PATH"):
        assert form in DATA_SOURCES


def test_a_new_source_is_one_register_call(monkeypatch):
    monkeypatch.setattr(registry, "_SOURCES", dict(registry._SOURCES))
    monkeypatch.setattr(registry, "DATA_SOURCES", dict(registry.DATA_SOURCES))
    seen = {}

    def load(request):
        seen.update(path=request.path, split=request.split, options=request.options)
        return ImageSet(request.spec, np.zeros((3, 1, 4, 4), np.uint8), None)

    registry.register_source("blank", load, "test frames", options=("n",))
    data = registry.load_data("blank:~/x?n=3", split="test")
    assert len(data) == 3 and seen["options"] == {"n": "3"} and seen["split"] == "test"
    assert seen["path"].name == "x" and "~" not in str(seen["path"])
    assert "blank:PATH" in registry.DATA_SOURCES
    with pytest.raises(ValueError, match="registered twice"):
        registry.register_source("blank", load, "again")


def test_a_source_without_a_path_can_take_options(monkeypatch):
    monkeypatch.setattr(registry, "_SOURCES", dict(registry._SOURCES))
    monkeypatch.setattr(registry, "DATA_SOURCES", dict(registry.DATA_SOURCES))
    seen = {}

    def load(request):
        seen.update(path=request.path, options=request.options)
        return ImageSet(request.spec, np.zeros((2, 1, 4, 4), np.uint8), None)

    registry.register_source("bouncing", load, "generated", takes_path=False, options=("seed",))
    registry.load_data("bouncing?seed=7")
    assert seen == {"path": None, "options": {"seed": "7"}}
    with pytest.raises(DataError, match="unknown option 'speed'"):
        registry.load_data("bouncing?speed=2")
    with pytest.raises(DataError, match="unknown data spec"):
        registry.load_data("bouncing:somewhere")


def test_a_path_containing_a_question_mark_is_a_path(tmp_path):
    folder = tmp_path / "what?"
    messy.plain(folder / "a.png")
    assert len(load_data(f"folder:{folder}", cache=False)) == 1


@pytest.mark.parametrize("spec, message", [("folder", "folder needs a path"),
                                           ("cifar10:", "cifar10 needs a path"),
                                           ("mnist:extra", "unknown data spec")])
def test_incomplete_specs(spec, message):
    with pytest.raises(DataError, match=message):
        load_data(spec)


def test_cli_data_reports_counts_classes_and_skips(tmp_path, capsys):
    root = tmp_path / "set"
    messy.plain(root / "cats" / "a.png")
    messy.plain(root / "dogs" / "b.jpg", fmt="JPEG")
    (root / "dogs" / "broken.png").write_bytes(b"")
    preview = tmp_path / "preview.png"
    code = main(["data", f"folder:{root}?labels=subfolders", "--size", "16", "--json",
                 "--preview", str(preview)])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["count"] == 2 and out["size"] == [16, 16] and out["channels"] == 3
    assert out["classes"] == {"cats": 1, "dogs": 1}
    assert [s["reason"] for s in out["skipped"]] == ["empty file (0 bytes)"]
    assert preview.exists()
    assert main(["data", f"folder:{root}?labels=subfolders", "--size", "16"]) == 0
    text = capsys.readouterr().out
    assert "2 images, 16 x 16" in text and "broken.png: empty file" in text
    assert "(from cache)" in text


def test_cli_data_bad_spec_is_one_line(tmp_path, capsys):
    assert main(["data", f"folder:{tmp_path / 'none'}"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a folder" in err


def test_train_on_a_folder_with_augmentation(tmp_path, capsys):
    root = tmp_path / "pics"
    for i in range(6):
        messy.plain(root / f"{i}.png", colour=(40 * i, 100, 200 - 30 * i), size=(40, 30))
    (root / "junk.png").write_text("no")
    code = main(["train", "--model", "dcgan", "--data", f"folder:{root}", "--image-size", "32",
                 "--width", "8", "--batch-size", "4", "--steps", "2", "--device", "cpu",
                 "--flip", "--translate", "0.1", "--color-jitter", "0.1",
                 "--out", str(tmp_path / "run"), "--json"])
    assert code == 0, capsys.readouterr().err
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["data"]["count"] == 6 and config["data"]["channels"] == 3
    assert config["data"]["size"] == 32
    assert config["train"]["flip"] is True and config["train"]["translate"] == 0.1


def test_cli_resume_refuses_new_augmentation(trained_run, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["train", "--resume", str(trained_run), "--flip"])
    assert exited.value.code == 2
    assert "--flip cannot change" in capsys.readouterr().err


def test_impossible_augmentation_is_one_line(data_spec, tmp_path, capsys):
    assert main(["train", "--data", data_spec, "--translate", "0.9", "--steps", "1",
                 "--out", str(tmp_path / "r")]) == EXIT_ERROR
    assert "translate must be between 0 and 0.5" in capsys.readouterr().err
