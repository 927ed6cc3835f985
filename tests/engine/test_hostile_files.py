"""Hostile files (issue 22, items 7 and 10): one bad run folder, model file or
export costs only itself one clear line; nothing hangs, nothing recurses."""
from __future__ import annotations

import json

import pytest

from engine.runs.index import DAMAGED, FINISHED, interrupted_runs, list_runs, summarize

from tests.engine.hostile_runs import hostile_runs

pytestmark = pytest.mark.timeout(60)   # a FIFO opened for reading would block forever


@pytest.fixture
def runs(trained_run, tmp_path):
    return hostile_runs(trained_run, tmp_path / "runs")


def test_each_hostile_run_is_listed_on_its_own_and_the_good_one_still_is(runs):
    states = {s.name: s for s in list_runs(runs["good"].parent)}
    assert set(states) == set(runs)
    assert states["good"].state == FINISHED and states["good"].losses
    for file in ("config.json", "manifest.json"):
        for kind, reason in (("deep", "nested 5000 levels deep"), ("fifo", "not a regular file")):
            s = states[f"{kind}-{file}"]
            assert s.state == DAMAGED and s.detail.startswith(f"{file}: ") and reason in s.detail
    fifo = states["fifo-metrics.jsonl"]
    assert fifo.state == DAMAGED and fifo.detail == "metrics.jsonl: unreadable (not a regular file)"
    # A line nested too deep is passed over like a line cut short, as resuming does.
    assert states["deep-metrics.jsonl"].state == FINISHED
    assert states["bad-evaluations"].state == FINISHED and states["bad-evaluations"].losses
    assert all("\n" not in s.detail and "Error" not in s.detail for s in states.values())


def test_recovery_on_launch_lists_past_hostile_runs(runs):
    assert interrupted_runs(runs["good"].parent) == []


def test_any_failure_inside_one_run_becomes_its_damaged_row(runs, monkeypatch):
    import engine.runs.index as run_index

    def boom(path):
        raise TypeError("unhashable type: 'list'")

    monkeypatch.setattr(run_index, "ended_cleanly", boom)
    s = summarize(runs["good"])
    assert s.state == DAMAGED and s.detail == "unreadable (unhashable type: 'list')"


def test_cli_runs_lists_the_good_run_past_hostile_ones(runs, capsys):
    from engine.cli.main import main

    folder = runs["good"].parent
    assert main(["runs", "--folder", str(folder), "--json"]) == 0
    rows = {r["name"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert set(rows) == set(runs) and rows["good"]["state"] == FINISHED
    assert rows["fifo-metrics.jsonl"]["state"] == DAMAGED
    assert main(["runs", "--folder", str(folder), "--metric", "fd"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == len(runs) and "good\tfinished" in out


def test_best_checkpoint_passes_over_malformed_evaluation_lines(runs):
    from engine.runs.best import best_checkpoint, kept_checkpoints, recorded_evaluations

    assert recorded_evaluations(runs["bad-evaluations"]) == [{"kind": "evaluation", "fd": 10**400}]
    assert best_checkpoint(runs["bad-evaluations"], "fd") is None   # no score that fits a float
    assert kept_checkpoints(runs["bad-kept"]) <= kept_checkpoints(runs["good"])


def test_runs_cli_shows_terminal_escapes_from_a_run_visibly(trained_run, tmp_path, capsys):
    import shutil

    from engine.cli.main import main

    run = shutil.copytree(trained_run, tmp_path / "runs" / "evil\x1b[2J")
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "model": "\x1b]0;owned\x07dcgan\u202e"}))
    assert main(["runs", "--folder", str(run.parent)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "evil\\x1b[2J\t" in out and "\\x1b]0;owned\\x07dcgan\\u202e" in out


def test_printable_escapes_controls_and_keeps_text():
    from engine.storage.printable import printable

    assert printable("plain é 漢字") == "plain é 漢字"
    assert printable("a\x1b[31mb\x9bc\x7f") == "a\\x1b[31mb\\x9bc\\x7f"
    assert printable("line\nnext\tcol") == "line\\x0anext\\x09col"
    assert printable("line\nnext\tcol", one_line=False) == "line\nnext\tcol"


# -- model files and exports nested deep (issue 22, item 10) ----------------------------
DEEP = "[" * 5000 + "]" * 5000


@pytest.fixture(scope="module")
def bundle(trained_run, tmp_path_factory):
    from engine.runs.bundles import export_bundle

    return export_bundle(trained_run, tmp_path_factory.mktemp("bundle") / "b.atelier.safetensors")


def _cli_error(capsys, *argv) -> str:
    from engine.cli.main import EXIT_ERROR, main

    assert main([str(a) for a in argv]) == EXIT_ERROR
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "Error" not in captured.err
    return captured.err


def test_a_safetensors_header_nested_deep_is_one_line_naming_the_file(tmp_path, capsys):
    import struct

    from engine.storage.safetensors_file import BadTensorFileError, read_header

    header = ('{"__metadata__": {"a": "b"}, "x": ' + DEEP + "}").encode()
    path = tmp_path / "deep.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    with pytest.raises(BadTensorFileError, match="corrupted header .nested 5001 levels deep"):
        read_header(path)
    err = _cli_error(capsys, "sample", path, "--out", tmp_path / "o.png")
    assert err.startswith(f"error: {path}: corrupted header (nested 5001 levels deep")


@pytest.mark.parametrize("key", ["model_config", "data"])
def test_bundle_metadata_nested_deep_is_one_line_naming_the_file(bundle, tmp_path, capsys, key):
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(bundle), "pt") as f:
        metadata = f.metadata()
    path = tmp_path / f"deep-{key}.atelier.safetensors"
    save_file(load_file(str(bundle)), str(path), metadata={**metadata, key: '{"x": ' + DEEP + "}"})
    err = _cli_error(capsys, "sample", path, "--out", tmp_path / "o.png")
    assert err.startswith(f"error: {path}: corrupted metadata ({key} is nested 5001 levels deep")


def test_a_fifo_named_like_a_model_file_is_refused_at_once(tmp_path):
    import os

    from engine.storage.safetensors_file import BadTensorFileError, read_header

    os.mkfifo(tmp_path / "weights.safetensors")
    with pytest.raises(BadTensorFileError, match="not a regular file"):
        read_header(tmp_path / "weights.safetensors")


def test_animate_from_a_gif_whose_comment_is_nested_deep(bundle, tmp_path, capsys):
    from PIL import Image

    gif = tmp_path / "deep.gif"
    Image.new("P", (4, 4)).save(gif, comment=('{"timeline": ' + DEEP + "}").encode())
    err = _cli_error(capsys, "animate", bundle, "--kind", "interpolate", "--from", gif,
                     "--out", tmp_path / "o.gif")
    assert err == f"error: {gif}: its Latent Atelier metadata is damaged " \
                  "(nested 5001 levels deep (at most 64 allowed))\n"


# -- other JSON a run folder holds ------------------------------------------------------
@pytest.mark.parametrize("kind", ["deep", "fifo"])
def test_favourites_nested_deep_or_a_fifo_is_one_line(run_copy, kind):
    import os

    from engine.errors import RunDirError
    from engine.studio.gallery import read_favourites

    path = run_copy / "favourites.json"
    if kind == "deep":
        path.write_text('{"seeds": ' + DEEP + "}")
    else:
        os.mkfifo(path)
    reason = "nested 5001 levels deep" if kind == "deep" else "not a regular file"
    with pytest.raises(RunDirError, match=f"favourites.json: unreadable .{reason}"):
        read_favourites(run_copy)


@pytest.mark.parametrize("kind", ["deep", "fifo"])
def test_forking_from_a_trainer_json_nested_deep_or_a_fifo_is_one_line(run_copy, kind):
    import os

    from engine.runs.checkpoints import current_checkpoint
    from engine.errors import RunDirError
    from engine.runs.fork import fork_at

    trainer = current_checkpoint(run_copy) / "trainer.json"
    trainer.unlink()
    if kind == "deep":
        trainer.write_text(DEEP)
    else:
        os.mkfifo(trainer)
    # A FIFO is no file to the checkpoint check; either way, one line and no hang.
    with pytest.raises(RunDirError, match="trainer.json: unreadable step|missing trainer.json$"):
        fork_at(run_copy, None)
    assert sorted(p.name for p in run_copy.parent.iterdir()) == [run_copy.name], "nothing half-made"


def test_a_set_value_nested_deep_is_a_usage_error_naming_the_setting(capsys):
    from engine.cli.main import EXIT_USAGE, parse_model_settings

    with pytest.raises(SystemExit) as stopped:
        parse_model_settings(["beta=" + DEEP])
    assert stopped.value.code == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--set beta: the value is nested 5000 levels deep" in err
