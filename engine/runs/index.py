"""The user's runs at a glance: what the Runs page and `latent-atelier-cli runs` list.

Listing reads only small files (config.json, manifest.json, the tail of
metrics.jsonl) and tests the run's lock, so it stays fast with many runs, and
a broken run folder becomes a "damaged" entry rather than an error.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from engine.storage import safe_json
from engine.runs.checkpoints import (complete_checkpoints, complete_set_step, ended_cleanly,
                                read_manifest)
from engine.errors import AtelierError, RunDirError
from engine.storage.paths import default_runs_dir
from engine.runs.lock import is_training
from engine.runs.folders import METRICS_FILE, THUMBNAIL_FILE, RunDir

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
    # Damaged only in its manifest: complete checkpoint sets are on disk, and
    # opening or resuming it recovers from the newest (engine.runs.checkpoints).
    recoverable: bool = False

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def can_resume(self) -> bool:
        return self.state in (INTERRUPTED, FINISHED) or self.recoverable

    @property
    def can_open(self) -> bool:
        return self.state in (TRAINING, INTERRUPTED, FINISHED) or self.recoverable


def summarize(path: str | Path) -> RunSummary:
    """One run's summary; never raises for a broken folder (it is "damaged").

    A run folder is anybody's file: whatever one holds (a file nested thousands
    deep, a FIFO, values of the wrong type) costs only that run its row.
    """
    path = Path(path)
    modified = _mtime(path)
    thumb = path / THUMBNAIL_FILE
    thumbnail = thumb if thumb.is_file() else None
    try:
        return _summarize(path, thumbnail, modified)
    except (AtelierError, OSError) as exc:
        reason = str(exc).removeprefix(f"{path}").lstrip(": /")
    except Exception as exc:  # noqa: BLE001 - any hostile content: this row only, not the list
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        reason = f"unreadable ({first})" if first else "unreadable"
    return RunSummary(path, DAMAGED, reason or "unreadable", thumbnail=thumbnail, modified=modified)


def _summarize(path: Path, thumbnail: Path | None, modified: float) -> RunSummary:
    config = RunDir(path).read_config()
    try:
        manifest = read_manifest(path)
        lost = None if manifest is not None else "manifest.json is missing"
    except RunDirError as exc:
        manifest, lost = None, str(exc).removeprefix(f"{path}").lstrip(": /")
    data = config.get("data") if isinstance(config.get("data"), dict) else {}
    size = f" ({data['size']} px)" if data.get("size") else ""
    step, losses = _last_metrics(path)
    saved_step = 0
    if manifest is not None:
        saved_step = manifest["step"] if _is_int(manifest.get("step")) else 0
        modified = max(modified, _mtime(path / "manifest.json"))
    common = dict(model=str(config["model"]), data=f"{data.get('spec', '?')}{size}",
                  step=max(step, saved_step), saved_step=saved_step, losses=losses,
                  thumbnail=thumbnail, modified=modified)
    if is_training(path):
        return RunSummary(path, TRAINING, "training now", **common)
    if manifest is None:
        # A manifest lost to a sync tool or refused as damaged does not lose the
        # weights beside it: resume recovers from the newest complete set.
        found = complete_checkpoints(path)
        if found:
            saved = complete_set_step(found[0]) or 0
            common.update(saved_step=saved, step=max(step, saved))
            # Listed as damaged (never offered on launch: how it ended is unknown),
            # yet it opens and resumes.
            return RunSummary(path, DAMAGED, f"{lost}; Resume recovers it from step {saved}",
                              recoverable=True, **common)
        if lost != "manifest.json is missing":
            raise RunDirError(lost)
        return RunSummary(path, NO_WEIGHTS, "stopped before its first save", **common)
    if not ended_cleanly(path):
        return RunSummary(path, INTERRUPTED, "cut short (crash or kill); resumable", **common)
    return RunSummary(path, FINISHED, str(manifest.get("ended") or "ended"), **common)


def list_runs(folder: str | Path | None = None) -> list[RunSummary]:
    """Every run folder in `folder` (default: the user's runs folder), newest first."""
    folder = Path(folder) if folder is not None else default_runs_dir()
    try:
        with os.scandir(folder) as scan:
            entries = [e for e in scan if not e.name.startswith(".") and _is_dir(e)]
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
    """(step, losses) of the last complete line of metrics.jsonl, reading only its tail.

    A line that is not JSON (cut short, or nested too deep) is passed over, as
    resuming passes it over; a metrics file that cannot be read at all (a FIFO,
    no permission) would stop a resume, so the run is damaged.
    """
    try:
        lines = _tail(path / METRICS_FILE, _TAIL_BYTES).splitlines()
    except FileNotFoundError:
        return 0, {}
    except OSError as exc:
        raise RunDirError(f"{path / METRICS_FILE}: unreadable ({exc.strerror or exc})") from None
    for line in reversed(lines):
        try:
            record = safe_json.loads(line)
        except ValueError:
            continue   # cut short by a crash, or the first, partial line of the tail
        # Evaluation lines ("kind": "evaluation", engine.metrics) hold scores, not losses.
        if isinstance(record, dict) and "kind" not in record:
            losses = {str(k): _float(v) for k, v in record.items()
                      if k not in _NOT_LOSSES and isinstance(v, (int, float))}
            step = record.get("step")
            return (step if _is_int(step) else 0), losses
    return 0, {}


def _tail(path: Path, size: int) -> bytes:
    """The last `size` bytes of a regular file. Opened without blocking, so a
    FIFO in the file's place is refused instead of hanging the listing."""
    with safe_json.open_regular(path) as (f, info):
        f.seek(max(0, info.st_size - size))
        return f.read(size)


def _is_int(value: object) -> bool:
    return safe_json.is_whole_number(value)


def _float(value: int | float) -> float:
    try:
        return float(value)
    except OverflowError:   # a JSON integer longer than any float
        return math.inf if value > 0 else -math.inf


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:   # a link into an unreadable place: not listed, like a file
        return False


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


__all__ = ["DAMAGED", "FINISHED", "INTERRUPTED", "NO_WEIGHTS", "TRAINING",
           "RunSummary", "format_losses", "interrupted_runs", "list_runs", "rename_run", "summarize"]
