"""A damaged, lost or hostile manifest never costs the weights beside it
(issue 22, items 1, 2, 3, 10 and 12): resume validates first, goes on from the
newest complete set on disk with a notice, and deletes nothing a valid
manifest does not supersede."""
from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import pytest
from safetensors import SafetensorError

import engine.runs.checkpoints as checkpoints
from engine.cli.main import main
from engine.errors import RunDirError
from engine.training.events import Notice, RunStarted, Saved
from engine.runs.folders import RunDir
from engine.studio.sampling import sample_run
from engine.training import TrainConfig, resume, train

FULL_DISK = "Error while serializing: I/O error: No space left on device (os error 28)"


@pytest.fixture(scope="module")
def base(tmp_path_factory, data_spec) -> Path:
    """A finished 4-step dcgan run saved every step: it keeps the sets of steps 3 and 4."""
    out = tmp_path_factory.mktemp("recovery") / "base"
    list(train(TrainConfig(model="dcgan", data=data_spec, image_size=28, width=8, batch_size=8,
                           steps=4, autosave_seconds=0.0, device="cpu", report_seconds=0.0), out))
    return out


@pytest.fixture
def run(base, tmp_path) -> Path:
    return Path(shutil.copytree(base, tmp_path / "nm"))


def sets(run: Path) -> list[str]:
    return sorted(p.name for p in (run / "checkpoints").iterdir())


def manifest(run: Path) -> dict:
    return json.loads((run / "manifest.json").read_text())


def write_manifest(run: Path, **fields) -> None:
    (run / "manifest.json").write_text(json.dumps({**manifest(run), **fields}))


def start_resume(run: Path, **changes):
    """(notices, the rest of the run's events): resume is run up to its first
    sample grid, past everything it does before training; training goes on
    only as the rest is consumed."""
    events = resume(run, **changes)
    first = next(events)
    assert isinstance(first, RunStarted)
    notices = []
    for event in events:
        if not isinstance(event, Notice):
            return notices, itertools.chain([first, *notices, event], events)
        notices.append(event)
    raise AssertionError("the resumed run yielded nothing after its notices")


# -- item 1: a failed resume deleted every checkpoint ----------------------------------------
def test_a_lost_manifest_resumes_from_the_newest_complete_set(run, capsys):
    before = sets(run)
    newest = manifest(run)["checkpoint"]
    (run / "manifest.json").unlink()
    # The reproduction: `train --resume nm --steps 40` said "no saved weights" and
    # emptied checkpoints/.
    assert main(["train", "--resume", str(run), "--steps", "6"]) == 0
    captured = capsys.readouterr()
    assert "from step 4" in captured.out
    assert "manifest.json is missing" in captured.err and newest in captured.err
    assert manifest(run)["step"] == 6 and manifest(run)["ended"] == "completed"
    # Later saves prune as usual, once a valid manifest names newer sets.
    assert len(before) == 2 and sets(run) == sorted(manifest(run)["kept"])


def test_the_recovery_is_told_and_deletes_nothing_before_training(run):
    before = sets(run)
    (run / "manifest.json").unlink()
    notices, events = start_resume(run, steps=6)
    [notice] = notices
    assert notice.kind == "recovered" and notice.step == 4
    assert "manifest.json is missing" in notice.message and "written again" in notice.message
    assert sets(run) == before                             # nothing deleted
    repaired = manifest(run)
    assert repaired["checkpoint"] == max(before) and repaired["step"] == 4
    assert sorted(repaired["kept"]) == before and repaired["ended"] is None
    assert list(events)[-1].step == 6


@pytest.mark.parametrize("name", ["step_000000099-abcdef", "..", "../../elsewhere", ""])
def test_a_manifest_naming_a_missing_or_impossible_folder_falls_back(run, name):
    before = sets(run)
    write_manifest(run, checkpoint=name)
    notices, events = start_resume(run, steps=5)
    assert [n.kind for n in notices] == ["recovered"] and "manifest.json" in notices[0].message
    assert sets(run) == before and manifest(run)["checkpoint"] == max(before)
    assert list(events)[-1].step == 5


def test_a_missing_newest_set_falls_back_to_the_one_before(run):
    older, newest = sets(run)
    shutil.rmtree(run / "checkpoints" / newest)
    notices, events = start_resume(run, steps=5)
    assert "names " + newest in notices[0].message and "missing" in notices[0].message
    first = next(events)
    assert first.start_step == 3 and sets(run) == [older]


def test_a_damaged_newest_set_is_passed_over_but_not_deleted(run):
    older, newest = sets(run)
    (run / "checkpoints" / newest / "trainer.safetensors").write_bytes(b"\x00" * 5)
    notices, events = start_resume(run, steps=5)
    assert "incomplete or damaged" in notices[0].message
    assert sets(run) == [older, newest]   # newer than the current set: kept until a save
    list(events)
    assert newest not in sets(run)        # a save of the run's new course supersedes it


def test_no_complete_set_at_all_is_a_clear_error_and_deletes_nothing(run):
    (run / "manifest.json").unlink()
    for folder in (run / "checkpoints").iterdir():
        (folder / "trainer.json").unlink()
    before = sets(run)
    with pytest.raises(checkpoints.NoSavedWeightsError, match="no saved weights yet"):
        next(resume(run))
    assert sets(run) == before


def test_reading_a_run_without_its_manifest_uses_the_newest_complete_set(run, base):
    (run / "manifest.json").unlink()
    assert checkpoints.current_checkpoint(run).name == manifest(base)["checkpoint"]
    assert (sample_run(run, [0, 1], device="cpu") == sample_run(base, [0, 1], device="cpu")).all()
    assert not (run / "manifest.json").exists()   # reading never writes


# -- item 2: manifest entries were trusted as paths ------------------------------------------
def test_kept_pointing_outside_the_run_is_refused_and_nothing_there_deleted(run, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / ".x.tmp").write_text("not the app's")
    write_manifest(run, kept=[manifest(run)["checkpoint"], "../../victim"])
    with pytest.raises(RunDirError, match=r"manifest.json: not a valid manifest \(kept"):
        checkpoints.read_manifest(run)
    notices, _ = start_resume(run, steps=5)
    assert notices[0].kind == "recovered"
    assert (victim / ".x.tmp").exists()


def test_kept_as_a_string_is_refused_and_the_previous_set_survives(run):
    before = sets(run)
    write_manifest(run, kept=manifest(run)["checkpoint"])
    notices, _ = start_resume(run, steps=5)
    assert "kept must be a list" in notices[0].message
    assert sets(run) == before


@pytest.mark.parametrize("fields", [
    {"step": "4"}, {"step": True}, {"kept": 5}, {"recent": [1, 2]}, {"files": "generator"},
    {"files": ["../config.json"]}, {"best": []}, {"best": {"checkpoint": "x", "score": 1}},
    {"best": {"checkpoint": None, "score": "low"}}, {"ended": 3}])
def test_wrong_manifest_types_are_one_clear_line(run, fields):
    # Item 10: these raised TypeError (set(5), "4" + 1, ...) here and there.
    write_manifest(run, **fields)
    with pytest.raises(RunDirError, match="manifest.json: not a valid manifest"):
        checkpoints.read_manifest(run)
    assert checkpoints.ended_cleanly(run)
    assert checkpoints.current_checkpoint(run).name == max(sets(run))


def test_strays_are_only_the_apps_own_names(run):
    (run / "checkpoints" / "notes").mkdir()
    (run / "checkpoints" / "step_1").mkdir()
    (run / "checkpoints" / "step_000000001-abcdef").mkdir()   # an older save, cut short
    checkpoints.remove_strays(run)
    assert {"notes", "step_1"} <= set(sets(run))
    assert "step_000000001-abcdef" not in sets(run)


# -- item 12: temporary grids survived a resume ----------------------------------------------
def test_resume_removes_temporary_files_a_kill_left(run):
    leftovers = [run / "samples" / ".step_000009.png.abcd.tmp", run / ".thumbnail.png.x.tmp",
                 run / "checkpoints" / max(sets(run)) / ".generator.safetensors.y.tmp"]
    for path in leftovers:
        path.write_bytes(b"half")
    start_resume(run, steps=5)
    assert not any(path.exists() for path in leftovers)


# -- item 3: a full disk during an autosave ended the run ------------------------------------
def test_a_full_disk_in_safetensors_is_a_notice_and_training_goes_on(tiny_config, tmp_path,
                                                                    monkeypatch):
    real_save = checkpoints.save_file
    calls = {"n": 0}

    def full_for_saves_3_to_5(tensors, path, metadata=None):
        if "generator" in Path(path).name:
            calls["n"] += 1
        if 3 <= calls["n"] <= 5:
            raise SafetensorError(FULL_DISK)
        return real_save(tensors, path, metadata=metadata)

    monkeypatch.setattr(checkpoints, "save_file", full_for_saves_3_to_5)
    out = tmp_path / "run"
    events = list(train(tiny_config(steps=8, autosave_seconds=0.0), out))
    assert events[-1].reason == "completed" and events[-1].step == 8
    notices = [e for e in events if isinstance(e, Notice)]
    assert len(notices) == 2 and "works again" in notices[1].message
    message = notices[0].message
    assert message.startswith(f"cannot write to {out}: No space left on device (")
    assert " MB free)" in message and "last checkpoint (step 1) is intact" in message
    assert "SafetensorError" not in message
    assert [e.step for e in events if isinstance(e, Saved)][:2] == [0, 1]
    assert sets(out) == sorted(manifest(out)["kept"]) and not list(out.rglob("*.tmp"))


def test_export_on_a_full_disk_is_one_line(trained_run, tmp_path, monkeypatch, capsys):
    def full(*_, **__):
        raise SafetensorError(FULL_DISK)

    monkeypatch.setattr(checkpoints, "save_file", full)
    out = tmp_path / "model.atelier.safetensors"
    assert main(["export", str(trained_run), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot write {out}: No space left on device (")
    assert "MB free)" in err and err.count("\n") == 1 and "SafetensorError" not in err
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))


# -- item 12: a run killed during its first save ---------------------------------------------
def killed_in_first_save(run: Path) -> Path:
    """What a kill during the first save leaves: config, a grid, metrics, and a
    checkpoint folder without its trainer files; no manifest."""
    (run / "manifest.json").unlink()
    folders = sorted((run / "checkpoints").iterdir())
    for extra in folders[1:]:
        shutil.rmtree(extra)
    for name in ("trainer.json", "trainer.safetensors"):
        (folders[0] / name).unlink()
    (run / "samples" / ".step_000001.png.zz.tmp").write_bytes(b"half")
    return run


def test_a_run_killed_in_its_first_save_says_how_to_start_again(run, tmp_path, capsys):
    killed_in_first_save(run)
    assert main(["train", "--resume", str(run), "--steps", "3"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no saved weights yet" in err
    assert f"latent-atelier-cli train --restart {run}" in err
    assert main(["train", "--data", "mnist", "--out", str(run)]) == 1
    assert f"--restart {run}" in capsys.readouterr().err


def test_restart_trains_it_again_from_step_zero(run, capsys):
    killed_in_first_save(run)
    stale = json.dumps({"step": 99, "elapsed": 1.0, "generator": 1.0})
    with open(run / "metrics.jsonl", "a") as f:
        f.write(stale + "\n")
    assert main(["train", "--restart", str(run), "--steps", "3"]) == 0
    assert "training dcgan" in capsys.readouterr().out
    assert manifest(run)["step"] == 3 and manifest(run)["ended"] == "completed"
    steps = [r["step"] for r in RunDir(run).read_metrics()]
    assert steps == sorted(set(steps)) and max(steps) == 3        # the old attempt's lines went
    config = json.loads((run / "config.json").read_text())
    assert config["history"][-1] == {"restarted": True, "changes": {"steps": 3}}
    assert not list(run.rglob("*.tmp"))


def test_restart_is_refused_for_a_run_with_saved_weights(run, capsys):
    (run / "manifest.json").unlink()   # a lost manifest is no reason to start over
    before = sets(run)
    assert main(["train", "--restart", str(run), "--steps", "3"]) == 1
    assert "has saved weights; resume it instead" in capsys.readouterr().err
    assert sets(run) == before
