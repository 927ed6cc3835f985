"""Listing the user's runs: states, tolerance of broken folders, renaming."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from engine.errors import RunDirError
from engine.storage.paths import default_runs_dir
from engine.runs.index import (DAMAGED, FINISHED, INTERRUPTED, NO_WEIGHTS, TRAINING, format_losses,
                              interrupted_runs, list_runs, rename_run, summarize)
from engine.runs.lock import RunLock
from engine.training import train


def cut_short_run(config, out: Path) -> Path:
    """A run whose process 'died' right after its first checkpoint: the generator
    is closed after the first Saved event, so the run never records an end."""
    events = train(config, out)
    for event in events:
        if type(event).__name__ == "Saved":
            break
    events.close()
    return out


def test_finished_run(trained_run):
    s = summarize(trained_run)
    assert (s.state, s.detail, s.model, s.step) == (FINISHED, "completed", "dcgan", 4)
    assert s.data.startswith("idx:") and "28 px" in s.data
    assert set(s.losses) >= {"generator", "discriminator"}
    assert s.thumbnail == trained_run / "thumbnail.png" and s.can_open and s.can_resume
    assert "generator" in format_losses(s.losses)


def test_cut_short_run_is_interrupted_and_offered(tiny_config, tmp_path, trained_run):
    runs = tmp_path / "runs"
    cut = cut_short_run(tiny_config(steps=50), runs / "cut")
    shutil.copytree(trained_run, runs / "done")
    s = summarize(cut)
    assert s.state == INTERRUPTED and s.can_resume
    assert [r.path for r in interrupted_runs(runs)] == [cut]


def test_a_run_being_trained_is_not_offered(tiny_config, tmp_path):
    runs = tmp_path / "runs"
    cut = cut_short_run(tiny_config(steps=50), runs / "cut")
    with RunLock(cut):
        assert summarize(cut).state == TRAINING
        assert interrupted_runs(runs) == []
    assert len(interrupted_runs(runs)) == 1


def test_newest_first_and_default_folder(trained_run):
    runs = default_runs_dir()
    runs.mkdir(parents=True)
    older = Path(shutil.copytree(trained_run, runs / "older"))
    newer = Path(shutil.copytree(trained_run, runs / "newer"))
    (newer / "manifest.json").touch()
    os.utime(older / "manifest.json", (1, 1))
    os.utime(older, (1, 1))
    assert [s.name for s in list_runs()] == ["newer", "older"]


@pytest.mark.parametrize("damage", ["no config", "bad config", "bad manifest", "newer format"])
def test_broken_folders_are_listed_as_damaged(run_copy, damage):
    if damage == "no config":
        (run_copy / "config.json").unlink()
    elif damage == "bad config":
        (run_copy / "config.json").write_text("{cut sh")
    elif damage == "bad manifest":
        (run_copy / "manifest.json").write_text("[]")
    else:
        config = json.loads((run_copy / "config.json").read_text())
        (run_copy / "config.json").write_text(json.dumps({**config, "format_version": 99}))
    s = summarize(run_copy)
    assert s.state == DAMAGED and s.detail
    # A bad manifest beside complete weights is the one damage that still resumes.
    recoverable = damage == "bad manifest"
    assert s.can_open == s.can_resume == s.recoverable == recoverable
    assert str(run_copy.parent) not in s.detail   # short: the folder is shown beside it


def test_listing_skips_files_and_tolerates_a_missing_folder(run_copy, tmp_path):
    (run_copy.parent / "notes.txt").write_text("x")
    (run_copy.parent / "empty").mkdir()
    states = {s.name: s.state for s in list_runs(run_copy.parent)}
    assert states["run-copy"] == FINISHED and states["empty"] == DAMAGED and "notes.txt" not in states
    assert list_runs(tmp_path / "nowhere") == []


def test_run_without_a_checkpoint(run_copy):
    (run_copy / "manifest.json").unlink()
    shutil.rmtree(run_copy / "checkpoints")
    assert summarize(run_copy).state == NO_WEIGHTS


def test_last_loss_read_from_the_tail_with_a_line_cut_short(run_copy):
    with open(run_copy / "metrics.jsonl", "a") as f:
        for step in range(5, 2000):
            f.write(json.dumps({"step": step, "elapsed": 1.0, "generator": step / 1000}) + "\n")
        f.write('{"step": 2000, "gen')
    s = summarize(run_copy)
    assert s.step == 1999 and s.losses == {"generator": 1.999}


def test_rename(run_copy):
    renamed = rename_run(run_copy, "  digits v2 ")
    assert renamed.name == "digits v2" and summarize(renamed).state == FINISHED
    assert not run_copy.exists()


@pytest.mark.parametrize("name", ["", "a/b", "..", ".hidden", "x\\y"])
def test_rename_refuses_bad_names(run_copy, name):
    with pytest.raises(RunDirError, match="not a usable folder name"):
        rename_run(run_copy, name)
    assert run_copy.exists()


def test_rename_refused_while_training_or_onto_another_run(run_copy, trained_run):
    with RunLock(run_copy):
        with pytest.raises(RunDirError, match="being trained"):
            rename_run(run_copy, "other")
    (run_copy.parent / "taken").mkdir()
    with pytest.raises(RunDirError, match="already exists"):
        rename_run(run_copy, "taken")
    assert run_copy.exists()


def test_cli_lists_runs(trained_run, capsys):
    from engine.cli.main import main

    assert main(["runs", "--folder", str(trained_run.parent), "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    mine = [r for r in records if r["name"] == trained_run.name]
    assert mine and mine[0]["state"] == FINISHED and mine[0]["step"] == 4
    assert main(["runs", "--folder", str(trained_run.parent)]) == 0
    assert trained_run.name in capsys.readouterr().out


# -- a lost or refused manifest beside good weights ---------------------------------
@pytest.mark.parametrize("damage", ["missing", "refused"])
def test_a_run_that_lost_its_manifest_is_damaged_but_opens_and_resumes(run_copy, damage):
    manifest = run_copy / "manifest.json"
    if damage == "missing":
        manifest.unlink()
    else:
        manifest.write_text(json.dumps({"checkpoint": "../../elsewhere", "step": 4}))
    s = summarize(run_copy)
    assert s.state == DAMAGED and s.recoverable and s.can_resume and s.can_open
    assert "manifest.json" in s.detail and "Resume recovers it from step 4" in s.detail
    assert s.saved_step == 4
    # How its last session ended is unknown: it is not offered on launch.
    assert interrupted_runs(run_copy.parent) == []


def test_a_refused_manifest_without_any_weights_is_damaged(run_copy):
    shutil.rmtree(run_copy / "checkpoints")
    (run_copy / "manifest.json").write_text(json.dumps({"checkpoint": 7}))
    s = summarize(run_copy)
    assert s.state == DAMAGED and "manifest.json" in s.detail
