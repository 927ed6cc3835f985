"""Starting a run: train() a new one, resume() a saved one, or restart one that
never saved; each writes the run's config and hands over to the training loop."""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.runs import checkpoints
from engine.runtime.control import RunControl
from engine.data import LoadCancelled
from engine.runtime.device import device_usable
from engine.errors import ConfigError, RunDirError
from engine.training.events import Notice, TrainingEvent
from engine.runs.lock import is_training
from engine.runs.folders import RunDir
from engine.storage.safe_json import is_whole_number
from engine.training.config import TrainConfig
from engine.training.follower import lead
from engine.training.loop import TrainingLoop
from engine.training.session import TrainingSession

if TYPE_CHECKING:
    from engine.training.distributed import Distributed


def train(config: TrainConfig, out: str | Path | None = None,
          control: RunControl | None = None,
          distributed: Distributed | None = None) -> Iterator[TrainingEvent]:
    """Train per `config`, writing a run directory at `out` (None: a new one under
    the user's runs folder). Yields events; raises AtelierError on bad input
    before anything is written. With `distributed` this is rank 0 of a run
    that torchrun started (engine.training.distributed)."""
    control = control or RunControl()
    try:
        session = TrainingSession(config, cancel=lambda: control.stopped,
                                  distributed=distributed)
    except LoadCancelled:
        return  # stopped while the data was loading: nothing was started or written
    _lead(session, 0)
    run = RunDir.create(out, config.model)
    data = {"spec": config.data, "count": len(session.data),
            "channels": session.data.channels, "size": session.data.size}
    notices = _processes_notice(session)
    report = session.data.report
    if report is not None and report.skipped:
        # Files a folder could not use were skipped without a word: say so at the
        # start, and keep the count and the first few with the run.
        data["skipped"] = report.skipped_record()
        notices.append(Notice(0, "files-skipped", report.skipped_line()))
    run.write_config({"model": config.model, "model_config": session.model_config.to_dict(),
                      "train": config.to_dict(), "device": str(session.device),
                      "precision": session.precision, "data": data,
                      **_processes_record(session)})
    yield from TrainingLoop(session, run, control, start_notices=notices).run()


# Settings a resumed run may change; anything else would silently break it.
RESUMABLE_CHANGES = ("steps", "minutes", "learning_rate", "lr_schedule", "device", "sample_every",
                     "report_seconds", "autosave_seconds", "keep_last", "keep_best",
                     "data_cache", "eval_every_minutes", "eval_every_steps", "eval_samples",
                     "precision", "compile", "threads")


def resume(run_path: str | Path, control: RunControl | None = None, restart: bool = False,
           distributed: Distributed | None = None, **changes: Any) -> Iterator[TrainingEvent]:
    """Continue a saved run exactly where its last checkpoint left it.

    `steps` is the run's total step budget (not a number of further steps); a
    time budget (`minutes`) bounds each session. Other changes allowed are in
    RESUMABLE_CHANGES; they are recorded in the run's history.

    With the manifest missing, refused or naming a set that is gone, the run
    goes on from the newest complete checkpoint on disk, says so (a "recovered"
    Notice) and gets a new manifest; nothing is deleted before the checkpoint
    has loaded. `restart`: a run that stopped before its first save (nothing
    to resume; NoSavedWeightsError otherwise) trains again from step 0 with its
    saved settings, in its own folder. `distributed`: as for train(); a run
    may go on in another number of processes than it trained in (recorded in
    its history), exactly only in the same number.
    """
    control = control or RunControl()
    run = RunDir(run_path)
    saved = run.read_config()
    if not isinstance(saved.get("train"), dict):
        raise RunDirError(f"{run.path / 'config.json'}: has no training settings")
    if is_training(run.path):
        raise RunDirError(f"{run.path} is being trained right now (by this app or another "
                          "process); wait for it to finish or stop it first")
    if restart:
        if checkpoints.complete_checkpoints(run.path):
            raise RunDirError(f"{run.path} has saved weights; resume it instead of starting "
                              "it again")
        folder, recovered = None, None
    else:
        # Before the data loads: a run with nothing to resume says so at once.
        folder, recovered = checkpoints.resume_point(run.path, strict=True)
    refused = sorted(k for k in changes if k not in RESUMABLE_CHANGES)
    if refused:
        raise ConfigError(f"cannot change {', '.join(refused)} when resuming {run.path}; "
                          "start a new run instead")
    # Runs saved before schedules existed trained at a constant rate; keep them so.
    saved_train = {"lr_schedule": "constant", **saved["train"]}
    try:
        config = TrainConfig(**saved_train)
    except TypeError as exc:
        raise RunDirError(f"{run.path / 'config.json'}: unreadable training settings ({exc})") from None
    changes = {k: v for k, v in changes.items() if v is not None and v != getattr(config, k)}
    moved = None
    if "device" not in changes and not device_usable(config.device):
        # A run trained on a GPU this machine lacks (a folder copied to a laptop)
        # goes on with the best device here instead of refusing to start.
        moved = config.device
        changes["device"] = "auto"
    config = dataclasses.replace(config, **changes)
    session = TrainingSession(config, distributed=distributed)
    if folder is not None:
        _check_same_run(run, saved, session)
    if is_training(run.path):
        # Its trainer may be mid-save: clearing "strays" would delete that save.
        raise RunDirError(f"{run.path} is being trained right now (by this app or another "
                          "process); wait for it to finish or stop it first")
    if folder is None:
        yield from _restart(run, saved, session, control, {**changes,
                                                            **_processes_change(saved, session)})
        return
    run.load_weights(session.model, session.device, folder.name)
    tensors, values = run.load_trainer_state(session.device, folder.name)
    if not {"step", "elapsed", "data", "optimizers"} <= set(values) or "data.order" not in tensors \
            or not _is_step(values["step"]) or not isinstance(values["elapsed"], (int, float)):
        raise RunDirError(f"{folder / checkpoints.TRAINER_JSON}: the checkpoint has no "
                          "resume state")
    session.model.load_training_state(tensors, values["optimizers"])
    session.batcher.load_state(tensors, values["data"])
    # Only now that the set has loaded is the manifest rewritten and anything deleted.
    if recovered is not None:
        checkpoints.repair_manifest(run.path, folder)
    checkpoints.remove_strays(run.path)
    run.rollback_to(values["step"])  # what a crash left after the checkpoint
    if "learning_rate" in changes:
        session.model.set_learning_rate(config.learning_rate)
    _lead(session, values["step"])
    history = saved.get("history", []) + [{"resumed_at_step": values["step"],
                                           "changes": {**changes,
                                                       **_processes_change(saved, session)}}]
    run.write_config({**saved, "train": config.to_dict(), "history": history,
                      "model_config": session.model_config.to_dict(),
                      "precision": session.precision, **_processes_record(session, saved)})
    # Runs saved before evaluation existed resume their schedule from here.
    last_eval = values.get("last_eval_elapsed", values["elapsed"])
    notices = _processes_notice(session) + ([] if moved is None else [Notice(
        values["step"], "device-changed",
        f"This run trained on {moved}, which this computer does not have; it continues on "
        f"{session.device}.")])
    if recovered is not None:
        notices.append(Notice(values["step"], "recovered", (
            f"{recovered}. The run goes on from the newest complete checkpoint, {folder.name} "
            f"(step {values['step']:,}), and its manifest was written again.")))
    yield from TrainingLoop(session, run, control, start_step=values["step"],
                            start_elapsed=values["elapsed"], last_eval_elapsed=last_eval,
                            start_notices=notices).run()


def _is_step(value: Any) -> bool:
    return is_whole_number(value) and value >= 0


def _restart(run: RunDir, saved: dict[str, Any], session: TrainingSession, control: RunControl,
             changes: dict[str, Any]) -> Iterator[TrainingEvent]:
    """Train a run that never completed a save again from step 0, in its own
    folder: what that attempt wrote (grids, metrics, a set cut short) goes, its
    config stays, with a history entry."""
    _lead(session, 0)
    checkpoints.clear_unsaved(run.path)
    run.rollback_to(-1)
    data = session.data
    history = saved.get("history", []) + [{"restarted": True, "changes": changes}]
    run.write_config({**saved, "train": session.config.to_dict(), "history": history,
                      "model_config": session.model_config.to_dict(),
                      "device": str(session.device), "precision": session.precision,
                      "data": {"spec": session.config.data, "count": len(data),
                               "channels": data.channels, "size": data.size},
                      **_processes_record(session, saved)})
    yield from TrainingLoop(session, run, control,
                            start_notices=_processes_notice(session)).run()


def _lead(session: TrainingSession, step: int) -> None:
    """Start the other processes of a distributed run (nothing in one process)."""
    if session.distributed is not None:
        lead(session.distributed, session, step)


def _processes_record(session: TrainingSession, saved: dict[str, Any] | None = None
                       ) -> dict[str, Any]:
    """config.json's record of how many processes train the run, and how: none
    for a run in one process, unless an earlier session of it had several."""
    d = session.distributed
    if d is None:
        return {"distributed": {"processes": 1}} if saved and "distributed" in saved else {}
    return {"distributed": {"processes": d.world_size, "backend": d.backend,
                            "batch_per_process": session.batcher.batch_size}}


def _processes_change(saved: dict[str, Any], session: TrainingSession) -> dict[str, Any]:
    """{"processes": N} for the history when a run goes on in another number of
    processes than its last session (runs from before this record: one)."""
    record = saved.get("distributed")
    before = record.get("processes", 1) if isinstance(record, dict) else 1
    return {} if before == session.processes else {"processes": session.processes}


def _processes_notice(session: TrainingSession) -> list[Notice]:
    d = session.distributed
    if d is None:
        return []
    batch = session.batcher.batch_size
    return [Notice(0, "distributed", f"Training in {d.world_size} processes ({d.backend} on "
                                     f"{session.device.type}): batch {batch} per process, "
                                     f"{batch * d.world_size} a step; rank 0 writes the run.")]


def _check_same_run(run: RunDir, saved: dict[str, Any], session: TrainingSession) -> None:
    now = {k: v for k, v in session.model_config.to_dict().items() if k != "learning_rate"}
    # Settings added since the run was saved take their defaults, as loading does.
    try:
        saved_config = type(session.model_config).from_dict(saved["model_config"]).to_dict()
    except (ConfigError, TypeError):
        saved_config = saved["model_config"]
    before = {k: v for k, v in saved_config.items() if k != "learning_rate"}
    if now != before:
        diff = ", ".join(f"{k} {before.get(k)} -> {now.get(k)}" for k in sorted(set(now) | set(before))
                         if now.get(k) != before.get(k))
        raise ConfigError(f"cannot resume {run.path}: the model would change ({diff})")
    data = saved.get("data", {})
    shape = {"count": len(session.data), "channels": session.data.channels, "size": session.data.size}
    if any(data.get(k) != v for k, v in shape.items()):
        raise ConfigError(f"cannot resume {run.path}: the data changed "
                          f"(was {data}, now {shape})")
