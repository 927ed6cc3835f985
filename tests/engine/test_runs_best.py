"""The best checkpoint by an evaluation metric: found from the recorded
evaluations, listed by `runs`, exported and continued in a new run."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.runs.bundles import inspect_bundle
from engine.runs.checkpoints import read_manifest
from engine.cli.main import EXIT_ERROR, main
from engine.errors import AtelierError, RunDirError
from engine.runs.best import (best_checkpoint, is_eval_metric, metrics_recorded,
                                 recorded_evaluations, require_best)
from engine.runs.fork import fork_best
from engine.runs.index import FINISHED, summarize
from engine.runs.folders import RunDir
from engine.training import TrainConfig, resume, train


def cli(*argv) -> int:
    try:
        return main([str(a) for a in argv])
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR


@pytest.fixture(scope="module")
def scored_run(tmp_path_factory, data_spec) -> Path:
    """6 tiny steps, evaluated every 2 (16 samples), keeping the best by FD."""
    out = tmp_path_factory.mktemp("scored") / "runs" / "scored"
    config = TrainConfig(model="dcgan", data=data_spec, width=8, batch_size=8, steps=6,
                         device="cpu", report_seconds=0.0, eval_every_steps=2, eval_samples=16,
                         keep_last=1, keep_best="fd")
    list(train(config, out))
    return out


@pytest.fixture
def scored_copy(scored_run, tmp_path) -> Path:
    return Path(shutil.copytree(scored_run, tmp_path / "runs" / "scored"))


def _append(run: Path, record: dict) -> None:
    with open(run / "metrics.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def test_best_by_fd_is_the_lowest_kept_one(scored_run):
    records = recorded_evaluations(scored_run)
    assert len(records) == 3 and metrics_recorded(records)[:2] == ["fd", "kid"]
    lowest = min(records, key=lambda r: r["fd"])
    best = best_checkpoint(scored_run, "fd")
    assert (best.step, best.checkpoint, best.value) == (lowest["step"], lowest["checkpoint"],
                                                        lowest["fd"])
    assert best.available and best.label == "FD@16" and best.compared == 3
    assert "FD@16" in best.describe()


def test_best_compares_only_the_same_sample_count_and_prefers_kept(scored_copy):
    kept = read_manifest(scored_copy)["checkpoint"]
    # An evaluation at another sample count is another scale: never compared.
    _append(scored_copy, {"kind": "evaluation", "step": 6, "checkpoint": kept, "fd": 0.001,
                          "samples": 10000, "features": "mnist-evaluator-v1"})
    assert best_checkpoint(scored_copy, "fd").value == 0.001   # the latest count rules
    _append(scored_copy, {"kind": "evaluation", "step": 6, "checkpoint": kept, "fd": 5.0,
                          "samples": 16, "features": "mnist-evaluator-v1"})
    _append(scored_copy, {"kind": "evaluation", "step": 5, "checkpoint": "step_gone-000000",
                          "fd": 1.0, "samples": 16, "features": "mnist-evaluator-v1"})
    best = best_checkpoint(scored_copy, "fd")
    # The pruned checkpoint scored lower but cannot be used: the kept one wins.
    assert best.value == 5.0 and best.available and best.checkpoint == kept


def test_higher_is_better_for_class_coverage(scored_run):
    records = recorded_evaluations(scored_run)
    best = best_checkpoint(scored_run, "class_coverage", records=[
        {**r, "checkpoint": read_manifest(scored_run)["checkpoint"]} for r in records])
    assert best.value == max(r["class_coverage"] for r in records)


def test_no_evaluation_no_best_and_clear_errors(run_copy):
    assert best_checkpoint(run_copy, "fd") is None
    with pytest.raises(RunDirError, match="no evaluation with fd"):
        require_best(run_copy, "fd")
    with pytest.raises(AtelierError, match="not an evaluation metric"):
        best_checkpoint(run_copy, "generator")
    assert is_eval_metric("neg_elbo_nats") and is_eval_metric("fd") and not is_eval_metric("loss")


def test_runs_lists_the_best_checkpoint(scored_run, capsys):
    folder = scored_run.parent
    assert cli("runs", "--folder", folder, "--json") == 0
    row = json.loads(capsys.readouterr().out.splitlines()[0])
    assert row["best"]["checkpoint"] == best_checkpoint(scored_run, "fd").checkpoint
    assert cli("runs", "--folder", folder, "--metric", "kid") == 0
    assert "best KID" in capsys.readouterr().out
    assert cli("runs", "--folder", folder, "--metric", "generator") == 2


def test_export_the_best_checkpoint(scored_run, tmp_path, capsys):
    best = best_checkpoint(scored_run, "fd")
    out = tmp_path / "best.atelier.safetensors"
    assert cli("export", scored_run, "--best", "fd", "--out", out) == 0
    assert inspect_bundle(out).step == best.step
    assert cli("export", scored_run, "--best", "kid", "--out", tmp_path / "k.atelier.safetensors") == 0


def test_continue_the_best_checkpoint_in_a_new_run(scored_copy):
    best = best_checkpoint(scored_copy, "fd")
    before = sorted(p.name for p in scored_copy.rglob("*"))
    forked = fork_best(scored_copy, "fd")
    assert sorted(p.name for p in scored_copy.rglob("*")) == before   # the original is untouched
    assert forked.parent == scored_copy.parent and summarize(forked).state == FINISHED
    assert read_manifest(forked)["step"] == best.step
    history = RunDir(forked).read_config()["history"][-1]
    assert history["forked_from"] == scored_copy.name and history["metric"] == "fd"
    assert all(r.get("step", 0) <= best.step for r in RunDir(forked).read_metrics())
    events = list(resume(forked, steps=best.step + 1, eval_every_steps=1000))
    assert type(events[0]).__name__ == "RunStarted" and events[0].start_step == best.step
    assert events[-1].step == best.step + 1


def test_cli_resume_from_best(scored_copy, tmp_path, capsys):
    out = tmp_path / "continued"
    assert cli("train", "--resume", scored_copy, "--from-best", "fd", "--steps", 7,
               "--eval-every-steps", 1000, "--out", out) == 0
    assert read_manifest(out)["step"] == 7
    assert cli("train", "--from-best", "fd", "--steps", 3) == 2


def test_cli_train_evaluates_and_prints_scores(data_spec, tmp_path, capsys):
    out = tmp_path / "run"
    assert cli("train", "--data", data_spec, "--width", 8, "--batch-size", 8, "--device", "cpu",
               "--steps", 2, "--eval-every-steps", 2, "--eval-samples", 16, "--out", out,
               "--json") == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    evaluated = [e for e in events if e["event"] == "Evaluated"]
    assert len(evaluated) == 1 and evaluated[0]["scores"]["fd_label"].startswith("FD@16")
    assert RunDir(out).read_config()["train"]["eval_every_steps"] == 2
