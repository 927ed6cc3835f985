"""Checkpoints: a consistent set of safetensors + JSON files, named by a manifest.

    RUN/manifest.json                       written last: names the current set
    RUN/checkpoints/step_000000120-3f9a1c/  one folder per save
        generator.safetensors               weights, one file per network
        discriminator.safetensors
        trainer.safetensors                 optimizer state, RNG states, data order
        trainer.json                        step, counters, optimizer settings

A save writes a new folder (each file atomically), then the manifest
(atomically), then prunes folders the manifest no longer keeps. A crash at any
instant leaves the manifest naming a complete older set; whatever the crash
left half-written is removed by the next save or resume. Nothing is pickled.
"""
from __future__ import annotations

import math
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from engine import safe_json
from engine.atomic import atomic_write, atomic_write_json
from engine.errors import RunDirError
from engine.safetensors_file import BadTensorFileError, TensorFileHeader, read_header

MANIFEST_FILE = "manifest.json"
CHECKPOINTS_DIR = "checkpoints"
TRAINER_TENSORS = "trainer.safetensors"
TRAINER_JSON = "trainer.json"
KEEP_LAST = 2   # the current set and the one before it


def save_checkpoint(run: Path, step: int, networks: dict[str, dict[str, torch.Tensor]],
                    trainer_tensors: dict[str, torch.Tensor], trainer_json: dict[str, Any],
                    metadata: dict[str, str], keep_last: int = KEEP_LAST,
                    score: tuple[str, float] | None = None, ended: str | None = None,
                    higher_is_better: bool = False, score_label: str | None = None) -> Path:
    """Write one consistent checkpoint and make it current. Returns its folder.

    `score` (metric name, value; lower is better unless `higher_is_better`) lets
    the best checkpoint be kept besides the last `keep_last`. Scores are compared
    only with a best of the same metric and `score_label` (e.g. "FD@2000": FD at
    other sample counts is another scale); otherwise the new one replaces it.
    `ended` is the reason the run ended when
    this is its final save; None marks a run still in progress, so a crash
    before the next save is noticed on the next launch.
    """
    folder = run / CHECKPOINTS_DIR / f"step_{step:09d}-{uuid.uuid4().hex[:6]}"
    folder.mkdir(parents=True)
    try:
        for name, tensors in networks.items():
            _write_tensors(folder / f"{name}.safetensors", tensors, metadata)
        _write_tensors(folder / TRAINER_TENSORS, trainer_tensors, metadata)
        atomic_write_json(folder / TRAINER_JSON, trainer_json)
        _fsync_dir(folder)
    except BaseException:
        # A full disk must not leave a half set behind to fill it further.
        shutil.rmtree(folder, ignore_errors=True)
        raise
    previous = read_manifest(run) or {}
    recent = [folder.name] + [name for name in previous.get("recent", previous.get("kept", []))
                              if name != folder.name]
    recent = recent[:max(1, keep_last)]
    best = previous.get("best")
    if score is not None and math.isfinite(score[1]) and _replaces_best(
            best, score, higher_is_better, score_label):
        best = {"checkpoint": folder.name, "metric": score[0], "score": score[1], "step": step}
        if higher_is_better:
            best["higher_is_better"] = True
        if score_label:
            best["label"] = score_label
    kept = recent + ([best["checkpoint"]] if best and best["checkpoint"] not in recent else [])
    _write_manifest(run, {"step": step, "checkpoint": folder.name, "kept": kept, "recent": recent,
                          "best": best, "files": sorted(p.name for p in folder.iterdir()),
                          "ended": ended})
    remove_strays(run)
    return folder


def _replaces_best(best: dict[str, Any] | None, score: tuple[str, float], higher: bool,
                   label: str | None) -> bool:
    if not best or best.get("metric") != score[0] or best.get("label") != label \
            or best.get("checkpoint") is None:
        return True
    # Ties go to the newer checkpoint (trained longer).
    return score[1] >= best["score"] if higher else score[1] <= best["score"]


def mark_ended(run: Path, reason: str) -> None:
    """Record that the run ended (e.g. it diverged) without a new checkpoint."""
    manifest = read_manifest(run)
    if manifest is not None and manifest.get("ended") != reason:
        _write_manifest(run, {**manifest, "ended": reason})


def ended_cleanly(run: Path) -> bool:
    """False only for a run whose last session was cut short (crash, kill, power
    cut): its manifest still says it is in progress. Runs from before this
    record existed, and runs without a checkpoint, count as clean."""
    try:
        manifest = read_manifest(run)
    except RunDirError:
        return True
    return manifest is None or "ended" not in manifest or manifest["ended"] is not None


def _write_manifest(run: Path, manifest: dict[str, Any]) -> None:
    atomic_write_json(run / MANIFEST_FILE, manifest)
    _fsync_dir(run)


def read_manifest(run: Path) -> dict[str, Any] | None:
    path = run / MANIFEST_FILE
    try:
        manifest = safe_json.read_json(path, max_bytes=1024 * 1024)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise RunDirError(f"{path}: unreadable ({exc})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("checkpoint"), str) \
            or "/" in manifest["checkpoint"] or "\\" in manifest["checkpoint"]:
        raise RunDirError(f"{path}: not a valid manifest")
    return manifest


def current_checkpoint(run: Path) -> Path:
    """The folder of the run's current checkpoint; a clear error if it has none."""
    manifest = read_manifest(run)
    if manifest is None:
        raise RunDirError(f"{run}: the run has no saved weights yet")
    folder = run / CHECKPOINTS_DIR / manifest["checkpoint"]
    missing = [name for name in manifest.get("files", []) if not (folder / name).is_file()]
    if not folder.is_dir() or missing:
        raise RunDirError(f"{run / MANIFEST_FILE}: names {folder.name}, which is missing "
                          f"{', '.join(missing) or 'entirely'}")
    return folder


def named_checkpoint(run: Path, name: str | None) -> Path:
    """The folder of checkpoint `name` (one the run still has); None: the current one."""
    if name is None:
        return current_checkpoint(run)
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise RunDirError(f"{name!r} is not a checkpoint name")
    folder = run / CHECKPOINTS_DIR / name
    if not (folder / TRAINER_JSON).is_file():
        raise RunDirError(f"{run}: has no complete checkpoint {name} (it may have been pruned)")
    return folder


def tensor_header(path: Path) -> TensorFileHeader:
    """The checked header of a safetensors file in a run: framing, sizes and
    offsets are validated before any tensor is allocated, and a pickle dressed
    up as weights is refused (UnsafeFileError) without being unpickled."""
    if not path.is_file():
        raise RunDirError(f"{path}: missing")
    try:
        return read_header(path)
    except BadTensorFileError as exc:
        reason = str(exc).removeprefix(f"{path}: ")
        raise RunDirError(f"{path}: not a valid weights file ({reason})") from None


def load_tensors(path: Path, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """Tensors of a safetensors file; a clear error naming the file if it is damaged."""
    tensor_header(path)
    try:
        return load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise RunDirError(f"{path}: not a valid weights file ({exc})") from None


def remove_strays(run: Path) -> None:
    """Delete what an interrupted save left: temporary files and checkpoint
    folders the manifest does not keep."""
    manifest = read_manifest(run)
    kept = set(manifest.get("kept", [])) | {manifest["checkpoint"]} if manifest else set()
    root = run / CHECKPOINTS_DIR
    if root.is_dir():
        for folder in root.iterdir():
            if folder.name not in kept:
                shutil.rmtree(folder, ignore_errors=True)
    for folder in (run, *(root / name for name in kept)):
        if folder.is_dir():
            for leftover in folder.glob(".*.tmp"):
                leftover.unlink(missing_ok=True)


def _write_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    ready = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    atomic_write(path, lambda tmp: save_file(ready, str(tmp), metadata=metadata))


def _fsync_dir(folder: Path) -> None:
    # Makes the renames inside the folder durable, not only the files' data.
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
