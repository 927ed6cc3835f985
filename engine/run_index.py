"""The user's runs at a glance: what the Runs page and `latent-atelier-cli runs` list.

Listing reads only small files (config.json, manifest.json, the tail of
metrics.jsonl) and tests the run's lock, so it stays fast with many runs, and
a broken run folder becomes a "damaged" entry rather than an error.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from engine import safe_json
from engine.checkpoints import ended_cleanly, read_manifest
from engine.errors import AtelierError, RunDirError
from engine.paths import default_runs_dir
from engine.runlock import is_training
from engine.runs import METRICS_FILE, THUMBNAIL_FILE, RunDir

# What a run is doing or how its last session ended.
TRAINING, INTERRUPTED, FINISHED, NO_WEIGHTS, DAMAGED = (
    "training", "interrupted", "finished", "no weights", "damaged")
_NOT_LOSSES = {"step", "elapsed", "images_per_second"}
_TAIL_BYTES = 16 * 1024
_BAD_NAME = re.compile(r'[/\\:*?"<>|\x00-\x1f]')


@dataclass(frozen=True)
class RunSummary:
    path: Path
    state: str                      # one of the constants above
    detail: str = ""                # how it ended, or what is damaged
    model: str = ""
    data: str = ""
    step: int = 0                   # the furthest step logged or saved
    saved_step: int = 0             # the step of the current checkpoint (where a resume starts)
    losses: dict[str, float] = field(default_factory=dict)   # the last logged values
    thumbnail: Path | None = None
    modified: float = 0.0

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def can_resume(self) -> bool:
        return self.state in (INTERRUPTED, FINISHED)

    @property
    def can_open(self) -> bool:
        return self.state in (TRAINING, INTERRUPTED, FINISHED)


def summarize(path: str | Path) -> RunSummary:
    """One run's summary; never raises for a broken folder (it is "damaged")."""
    path = Path(path)
    modified = _mtime(path)
    thumb = path / THUMBNAIL_FILE
    thumbnail = thumb if thumb.is_file() else None
    try:
        config = RunDir(path).read_config()
        manifest = read_manifest(path)
    except (AtelierError, OSError) as exc:
        return RunSummary(path, DAMAGED, str(exc).removeprefix(f"{path}").lstrip(": /"),
                          thumbnail=thumbnail, modified=modified)
    data = config.get("data") if isinstance(config.get("data"), dict) else {}
    size = f" ({data['size']} px)" if data.get("size") else ""
    step, losses = _last_metrics(path)
    saved_step = 0
    if manifest is not None:
        saved_step = manifest["step"] if isinstance(manifest.get("step"), int) else 0
        modified = max(modified, _mtime(path / "manifest.json"))
    common = dict(model=str(config["model"]), data=f"{data.get('spec', '?')}{size}",
                  step=max(step, saved_step), saved_step=saved_step, losses=losses,
                  thumbnail=thumbnail, modified=modified)
    if is_training(path):
        return RunSummary(path, TRAINING, "training now", **common)
    if manifest is None:
        return RunSummary(path, NO_WEIGHTS, "stopped before its first save", **common)
    if not ended_cleanly(path):
        return RunSummary(path, INTERRUPTED, "cut short (crash or kill); resumable", **common)
    return RunSummary(path, FINISHED, str(manifest.get("ended") or "ended"), **common)


def list_runs(folder: str | Path | None = None) -> list[RunSummary]:
    """Every run folder in `folder` (default: the user's runs folder), newest first."""
    folder = Path(folder) if folder is not None else default_runs_dir()
    try:
        entries = [e for e in os.scandir(folder) if e.is_dir() and not e.name.startswith(".")]
    except OSError:   # no runs folder yet, or unreadable: nothing to list
        return []
    summaries = [summarize(entry.path) for entry in entries]
    return sorted(summaries, key=lambda s: s.modified, reverse=True)


def interrupted_runs(folder: str | Path | None = None) -> list[RunSummary]:
    """Runs whose last session was cut short, not being trained now and with a
    checkpoint to resume from: what the app offers to recover on launch. Newest first."""
    return [s for s in list_runs(folder) if s.state == INTERRUPTED]


def rename_run(path: str | Path, new_name: str) -> Path:
    """Rename a run's folder in place; refused while it trains."""
    path = Path(path)
    new_name = new_name.strip()
    if not new_name or new_name in (".", "..") or _BAD_NAME.search(new_name) or new_name.startswith("."):
        raise RunDirError(f"{new_name!r} is not a usable folder name")
    target = path.with_name(new_name)
    if is_training(path):
        raise RunDirError(f"{path} is being trained right now; stop it before renaming")
    if target.exists():
        raise RunDirError(f"{target} already exists; choose another name")
    try:
        path.rename(target)
    except OSError as exc:
        raise RunDirError(f"cannot rename {path}: {exc.strerror or exc}") from None
    return target


def format_losses(losses: dict[str, float], limit: int = 2) -> str:
    return " · ".join(f"{k} {v:.3g}" for k, v in list(losses.items())[:limit])


def _last_metrics(path: Path) -> tuple[int, dict[str, float]]:
    """(step, losses) of the last complete line of metrics.jsonl, reading only its tail."""
    try:
        with open(path / METRICS_FILE, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - _TAIL_BYTES))
            lines = f.read().splitlines()
    except OSError:
        return 0, {}
    for line in reversed(lines):
        try:
            record = safe_json.loads(line)
        except ValueError:
            continue   # cut short by a crash, or the first, partial line of the tail
        # Evaluation lines ("kind": "evaluation", engine.metrics) hold scores, not losses.
        if isinstance(record, dict) and "kind" not in record:
            losses = {k: float(v) for k, v in record.items()
                      if k not in _NOT_LOSSES and isinstance(v, (int, float))}
            step = record.get("step")
            return (step if isinstance(step, int) else 0), losses
    return 0, {}


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


__all__ = ["DAMAGED", "FINISHED", "INTERRUPTED", "NO_WEIGHTS", "TRAINING",
           "RunSummary", "format_losses", "interrupted_runs", "list_runs", "rename_run", "summarize"]
