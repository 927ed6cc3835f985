"""A tile's nearest training pictures: a planted training picture is found as an
exact copy, by the engine, by `nearest` on the command line, and `runs` shows the
memorisation score."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from engine.cli.main import main
from engine.data import load_data
from engine.errors import ConfigError
from engine.metrics.evaluate import EvalProgress
from engine.metrics.nearest_training import NearestTraining, nearest_training_pictures
from engine.runs.folders import RunDir


def training_pictures(run) -> np.ndarray:
    """The run's training set as the gallery holds pictures: uint8 (N, H, W, C)."""
    spec = RunDir(run).read_config()["data"]["spec"]
    return load_data(spec, "train", size=28).images.transpose(0, 2, 3, 1)


def search(run, pictures, **options) -> NearestTraining:
    events = list(nearest_training_pictures(run, pictures, device="cpu", **options))
    assert all(isinstance(e, EvalProgress) for e in events[:-1])
    return events[-1]


def test_a_planted_training_picture_is_an_exact_copy(trained_run):
    training = training_pictures(trained_run)
    planted = training[[5, 9]]
    found = search(trained_run, planted, k=3)
    assert found.training_count == found.searched == 64 and found.features
    for i, index in enumerate((5, 9)):
        by_pixels, by_features = found.pictures[i].by_pixels, found.pictures[i].by_features
        assert len(by_pixels) == len(by_features) == 3
        # The pictures at distance 0 are the planted one (or an identical twin in the data).
        np.testing.assert_array_equal(by_pixels[0].picture, training[index])
        assert by_pixels[0].pixel_distance == pytest.approx(0, abs=1e-6)
        assert by_features[0].feature_distance == pytest.approx(0, abs=1e-3)
        assert by_pixels[1].pixel_distance >= by_pixels[0].pixel_distance
        assert found.verdict(i).startswith("an exact copy of training picture #")
    assert found.close is not None and 0 <= found.close <= found.typical
    assert "by pixels:" in "\n".join(found.lines(["tile 5", "tile 9"]))


def test_a_new_picture_is_not_called_a_copy(trained_run):
    blank = np.full((1, 28, 28, 1), 128, np.uint8)   # nothing like the white-square data
    found = search(trained_run, blank, k=2)
    assert found.pictures[0].by_pixels[0].pixel_distance > 50
    assert not found.verdict(0).startswith(("an exact copy", "likely a copy"))


def test_folder_pictures_are_named_by_their_files(tmp_path):
    from engine.training import TrainConfig, train

    folder = tmp_path / "pictures"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(folder / f"p{i:02d}.png")
    (folder / "broken.png").write_bytes(b"")          # skipped: the names still line up
    run = tmp_path / "run"
    list(train(TrainConfig(model="dcgan", data=f"folder:{folder}", image_size=28, width=8,
                           batch_size=4, steps=1, device="cpu", report_seconds=0.0), run))
    planted = np.asarray(Image.open(folder / "p07.png"))[None, :, :, None]
    found = search(run, planted, k=1)
    assert found.pictures[0].by_pixels[0].name == str(folder / "p07.png")
    assert found.verdict(0) == "an exact copy of p07.png"


def test_bad_requests_are_refused_with_a_reason(trained_run):
    with pytest.raises(ConfigError, match="neighbours must be between"):
        search(trained_run, np.zeros((1, 28, 28, 1), np.uint8), k=0)
    with pytest.raises(ConfigError, match="makes 1 x 28 x 28"):
        search(trained_run, np.zeros((1, 32, 32, 3), np.uint8))
    with pytest.raises(ConfigError, match="uint8 pictures"):
        search(trained_run, np.zeros((1, 28, 28, 1), np.float32))


def test_the_cli_finds_a_planted_sample_and_writes_the_grid(trained_run, tmp_path, capsys,
                                                            monkeypatch):
    import engine.studio.sampling as sampling

    training = training_pictures(trained_run)
    # The "model" returns training pictures 3 and 4 as its samples of seeds 10 and 11.
    monkeypatch.setattr(sampling, "sample_run", lambda run, seeds, **_: training[[3, 4]])
    out = tmp_path / "nearest.png"
    assert main(["nearest", str(trained_run), "--seed", "10", "--n", "2", "--k", "2",
                 "--device", "cpu", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.count(": an exact copy of training picture #") == 2 and "seed 11:" in text
    grid = np.asarray(Image.open(out))
    assert grid.shape[1] == 2 + 5 * 30          # sample, 2 by features, 2 by pixels
    assert main(["nearest", str(trained_run), "--seed", "10", "--n", "2", "--k", "2",
                 "--device", "cpu", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert [p["seed"] for p in record["pictures"]] == [10, 11]
    assert record["pictures"][0]["by_pixels"][0]["pixel_distance"] == pytest.approx(0, abs=1e-6)
    assert main(["nearest", str(trained_run), "--n", "0"]) == 1


def test_runs_lists_the_latest_memorisation_score(run_copy, capsys):
    RunDir(run_copy).append_metrics({"kind": "evaluation", "step": 4, "fd": 9.5, "samples": 20,
                                     "features": "x", "fd_label": "FD@20", "checkpoint": None,
                                     "memorisation_score": 0.75,
                                     "memorisation_score_quantile": 0.05})
    assert main(["runs", "--folder", str(run_copy.parent)]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines()
                if line.startswith(run_copy.name))
    assert line.endswith("memorisation 75.0% at step 4")
    assert main(["runs", "--folder", str(run_copy.parent), "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    mine = next(r for r in records if r["name"] == run_copy.name)
    assert mine["memorisation"] == {"score": 0.75, "quantile": 0.05, "step": 4}
