"""Continuing a run from one of its kept checkpoints (say its best by FD) in a
new run folder, so the original run, with everything it trained after that
checkpoint, stays as it was.

The new run holds the run's config (with a history entry saying where it came
from), a copy of that checkpoint as its current one, and the metrics lines and
sample grids up to its step; `engine.training.resume` then continues it exactly
as it would have continued the original at that step.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from engine.storage import safe_json
from engine.storage.atomic import atomic_write, atomic_write_json
from engine.runs.checkpoints import CHECKPOINTS_DIR, MANIFEST_FILE, TRAINER_JSON, named_checkpoint
from engine.errors import AtelierError, RunDirError
from engine.runs.best import require_best
from engine.runs.folders import METRICS_FILE, SAMPLES_DIR, THUMBNAIL_FILE, RunDir

FORKED = "forked"   # the new run's `ended`: resumable, not cut short by a crash


def fork_best(run_path: str | Path, metric: str, out: str | Path | None = None) -> Path:
    """A new run continuing `run_path`'s best kept checkpoint by `metric`."""
    best = require_best(run_path, metric)
    return fork_at(run_path, best.checkpoint, out, reason={"metric": metric, "score": best.value})


def fork_at(run_path: str | Path, checkpoint: str, out: str | Path | None = None,
            reason: dict | None = None) -> Path:
    """A new run folder (`out`, default beside the run) whose current checkpoint
    is a copy of `checkpoint` of the run. Returns its path."""
    run = RunDir(run_path)
    saved = run.read_config()
    source = named_checkpoint(run.path, checkpoint)
    try:
        step = int(safe_json.read_json(source / TRAINER_JSON)["step"])
    except (OSError, ValueError, KeyError, TypeError):
        raise RunDirError(f"{source / TRAINER_JSON}: unreadable step") from None
    if out is None:
        out = _free_name(run.path.with_name(f"{run.path.name}-from-step{step}"))
    target = RunDir.create(out, str(saved["model"]))
    try:
        shutil.copytree(source, target.path / CHECKPOINTS_DIR / source.name)
        history = saved.get("history", []) + [{"forked_from": run.path.name, "checkpoint":
                                               source.name, "at_step": step, **(reason or {})}]
        target.write_config({**saved, "history": history})
        _copy_history(run, target, step)
        atomic_write_json(target.path / MANIFEST_FILE, {
            "step": step, "checkpoint": source.name, "kept": [source.name],
            "recent": [source.name], "best": None,
            "files": sorted(p.name for p in source.iterdir() if not p.name.startswith(".")),
            "ended": FORKED})
    except (OSError, AtelierError) as exc:
        shutil.rmtree(target.path, ignore_errors=True)   # no half-made run is left behind
        if isinstance(exc, AtelierError):
            raise
        raise RunDirError(f"cannot write {target.path}: {exc.strerror or exc}") from None
    return target.path


def _copy_history(run: RunDir, target: RunDir, step: int) -> None:
    lines = [json.dumps(r) for r in run.read_metrics()
             if not (isinstance(r.get("step"), int) and r["step"] > step)]
    text = "".join(line + "\n" for line in lines)
    atomic_write(target.path / METRICS_FILE, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    for sample_step, path in run.sample_history():
        if sample_step <= step:
            shutil.copy2(path, target.path / SAMPLES_DIR / path.name)
    for name in (THUMBNAIL_FILE, "favourites.json"):
        if (run.path / name).is_file():
            shutil.copy2(run.path / name, target.path / name)


def _free_name(path: Path) -> Path:
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


__all__ = ["FORKED", "fork_at", "fork_best"]
