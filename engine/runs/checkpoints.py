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

The manifest is a file anybody can edit, so nothing in it is trusted as a path:
every folder it names must be a plain name of the app's own pattern, or it is
refused. A checkpoint folder is deleted only once a valid manifest names a
complete set that supersedes it; with the manifest missing, refused or naming
a set that is gone, the newest complete set on disk is used instead (and a
resume rewrites the manifest), so losing manifest.json never costs weights.
"""
from __future__ import annotations

import errno
import math
import os
import re
import shutil
import stat
import uuid
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from engine.storage import safe_json
from engine.storage.atomic import atomic_write, atomic_write_json
from engine.errors import AtelierError, RunDirError
from engine.storage.safetensors_file import BadTensorFileError, TensorFileHeader, read_header

MANIFEST_FILE = "manifest.json"
CHECKPOINTS_DIR = "checkpoints"
TRAINER_TENSORS = "trainer.safetensors"
TRAINER_JSON = "trainer.json"
KEEP_LAST = 2   # the current set and the one before it
SAMPLES_DIR = "samples"   # engine.runs.folders writes its grids there, atomically (so .tmp files)
# The folder name of every checkpoint the app writes: step, then a random tag.
CHECKPOINT_NAME = re.compile(r"step_(\d{9})-([0-9a-f]{1,32})")
# A file named in a manifest: a plain name in the checkpoint's own folder.
_FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_OS_ERROR = re.compile(r"os error (\d+)")


class NoSavedWeightsError(RunDirError):
    """The run has no complete checkpoint: it stopped before its first save."""


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
    try:
        previous = read_manifest(run) or {}
    except RunDirError:
        previous = {}   # refused: the manifest written below replaces it
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
    # Everything else was written before this set: superseded unless kept.
    remove_strays(run, superseded_by=folder)
    return folder


def _replaces_best(best: dict[str, Any] | None, score: tuple[str, float], higher: bool,
                   label: str | None) -> bool:
    if not best or best.get("metric") != score[0] or best.get("label") != label \
            or best.get("checkpoint") is None or "score" not in best:
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
    """The run's manifest, checked; None if it has none. A manifest with a name
    that is not one of the app's checkpoint folders, or a value of the wrong
    type, is refused (RunDirError naming manifest.json): it is never followed."""
    path = run / MANIFEST_FILE
    try:
        manifest = safe_json.read_json(path, max_bytes=1024 * 1024)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise RunDirError(f"{path}: unreadable ({exc})") from None
    problem = manifest_problem(manifest)
    if problem:
        raise RunDirError(f"{path}: not a valid manifest ({problem})")
    return manifest


def manifest_problem(manifest: Any) -> str | None:
    """What makes `manifest` unusable, or None if every field has its type and
    every folder name is a plain checkpoint name."""
    if not isinstance(manifest, dict):
        return "not a JSON object"
    if not is_checkpoint_name(manifest.get("checkpoint")):
        return f"checkpoint {_short(manifest.get('checkpoint'))} is not a checkpoint folder name"
    if "step" in manifest and not _is_count(manifest["step"]):
        return f"step {_short(manifest['step'])} is not a whole number"
    for key in ("kept", "recent"):
        names = manifest.get(key, [])
        if not isinstance(names, list) or not all(is_checkpoint_name(n) for n in names):
            return f"{key} must be a list of checkpoint folder names"
    files = manifest.get("files", [])
    if not isinstance(files, list) or not all(
            isinstance(n, str) and _FILE_NAME.fullmatch(n) for n in files):
        return "files must be a list of file names"
    if manifest.get("ended") is not None and not isinstance(manifest["ended"], str):
        return "ended must be text or null"
    return _best_problem(manifest.get("best"))


def _best_problem(best: Any) -> str | None:
    if best is None:
        return None
    if not isinstance(best, dict):
        return "best must be an object or null"
    if best.get("checkpoint") is not None and not is_checkpoint_name(best["checkpoint"]):
        return "best.checkpoint is not a checkpoint folder name"
    if "score" in best and (isinstance(best["score"], bool)
                            or not isinstance(best["score"], (int, float))):
        return "best.score is not a number"
    if "step" in best and not _is_count(best["step"]):
        return "best.step is not a whole number"
    for key in ("metric", "label"):
        if best.get(key) is not None and not isinstance(best[key], str):
            return f"best.{key} must be text"
    if not isinstance(best.get("higher_is_better", False), bool):
        return "best.higher_is_better must be true or false"
    return None


def is_checkpoint_name(name: Any) -> bool:
    """Whether `name` is a checkpoint folder name of the app's own pattern."""
    return isinstance(name, str) and CHECKPOINT_NAME.fullmatch(name) is not None


def _is_count(value: Any) -> bool:
    return safe_json.is_whole_number(value) and value >= 0


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _step_of(name: str) -> int:
    return int(CHECKPOINT_NAME.fullmatch(name).group(1))


def current_checkpoint(run: Path) -> Path:
    """The folder of the run's current checkpoint; a clear error if it has none.

    Normally the set the manifest names (a file it lists that is missing is an
    error naming it). With the manifest missing or refused, or naming a folder
    that is gone, the newest complete set on disk; nothing is written here.
    """
    return resume_point(run)[0]


def resume_point(run: Path, strict: bool = False) -> tuple[Path, str | None]:
    """(the checkpoint folder to load, None when the manifest names it, else
    what is wrong with the manifest).

    The manifest's set is used when its folder holds every file the manifest
    lists; `strict` (for a resume, which rewrites the manifest) also wants the
    set complete (complete_set_step) if an older complete set can stand in.
    Otherwise the newest complete set on disk stands in. NoSavedWeightsError
    when the run has no set to load at all.
    """
    path = run / MANIFEST_FILE
    try:
        manifest = read_manifest(run)
        problem = None if manifest is not None else f"{path} is missing"
    except RunDirError as exc:
        manifest, problem = None, str(exc)
    named = None
    if manifest is not None:
        named = run / CHECKPOINTS_DIR / manifest["checkpoint"]
        missing = [name for name in manifest.get("files", []) if not (named / name).is_file()]
        if not named.is_dir():
            problem = f"{path}: names {named.name}, which is missing"
        elif missing and not strict:
            raise RunDirError(f"{path}: names {named.name}, which is missing {', '.join(missing)}")
        elif not strict or (not missing and complete_set_step(named) is not None):
            return named, None
        else:
            problem = f"{path}: names {named.name}, which is incomplete or damaged"
    found = [folder for folder in complete_checkpoints(run) if folder != named]
    if found:
        return found[0], problem
    if named is not None and named.is_dir():
        return named, None   # nothing better: loading it names the file at fault
    if manifest is not None:
        raise NoSavedWeightsError(f"{problem}, and the run has no other complete checkpoint")
    detail = "" if problem == f"{path} is missing" else f" ({problem})"
    raise NoSavedWeightsError(f"{run}: the run has no saved weights yet{detail}")


def complete_checkpoints(run: Path) -> list[Path]:
    """The run's complete checkpoint sets on disk, newest first, whatever the
    manifest says: folders of the app's pattern (not links) whose set is
    complete (complete_set_step)."""
    found = []
    for entry in _checkpoint_folders(run):
        folder = Path(entry.path)
        step = complete_set_step(folder)
        if step is not None:
            found.append((step, _mtime(folder / TRAINER_JSON), folder))
    return [folder for *_, folder in sorted(found, key=lambda f: f[:2], reverse=True)]


def complete_set_step(folder: Path) -> int | None:
    """The step of the checkpoint set in `folder` if it is complete: trainer.json
    with its step, trainer.safetensors and at least one network's weights, every
    safetensors file a regular file with a valid header. None for a set cut
    short, damaged or missing."""
    try:
        trainer = safe_json.read_json(folder / TRAINER_JSON)
        weights = [p for p in folder.iterdir()
                   if p.name.endswith(".safetensors") and not p.name.startswith(".")]
    except (OSError, ValueError):
        return None
    if not isinstance(trainer, dict) or not _is_count(trainer.get("step")):
        return None
    if TRAINER_TENSORS not in {p.name for p in weights} or len(weights) < 2:
        return None
    for path in weights:
        try:
            if not stat.S_ISREG(path.lstat().st_mode):
                return None
            read_header(path)
        except (AtelierError, OSError):
            return None
    return trainer["step"]


def repair_manifest(run: Path, folder: Path) -> None:
    """Write a manifest naming `folder` (a complete set resume_point chose) as
    current; it keeps every complete set on disk, and the old manifest's best
    checkpoint where that is still complete. Nothing is deleted."""
    names = [folder.name] + [f.name for f in complete_checkpoints(run) if f != folder]
    try:
        best = (read_manifest(run) or {}).get("best")
    except RunDirError:
        best = None
    if best is not None and best.get("checkpoint") not in names:
        best = None
    step = complete_set_step(folder)
    _write_manifest(run, {"step": step if step is not None else _step_of(folder.name),
                          "checkpoint": folder.name, "kept": names, "recent": names,
                          "best": best, "ended": None,
                          "files": sorted(p.name for p in folder.iterdir()
                                          if not p.name.startswith("."))})


def named_checkpoint(run: Path, name: str | None) -> Path:
    """The folder of checkpoint `name` (one the run still has); None: the current one."""
    if name is None:
        return current_checkpoint(run)
    if not is_checkpoint_name(name):
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


def remove_strays(run: Path, superseded_by: Path | None = None) -> None:
    """Delete what interrupted saves left: temporary files (in the run, its
    samples and its checkpoint folders), and checkpoint folders the manifest
    does not keep that a complete current set supersedes.

    Folders go only while the manifest is valid and names a complete set, and
    only folders of the app's own pattern inside checkpoints/: those from an
    earlier step than that set, and saves cut short before their trainer.json
    (written last), which hold no usable set. After a save (`superseded_by`:
    the set it has just made current) every other folder was written before
    it, in a session the run has since continued past, so any it does not keep
    goes.
    """
    _remove_temporary_files(run)
    try:
        manifest = read_manifest(run)
    except RunDirError:
        return
    if manifest is None:
        return
    current = manifest["checkpoint"]
    # A save has just written its set whole; otherwise check it before trusting it.
    if superseded_by is None and complete_set_step(run / CHECKPOINTS_DIR / current) is None:
        return
    best = manifest.get("best") or {}
    kept = {current, *manifest.get("kept", []), *manifest.get("recent", []), best.get("checkpoint")}
    for entry in _checkpoint_folders(run):
        if entry.name not in kept and (superseded_by is not None
                                       or _step_of(entry.name) < _step_of(current)
                                       or not os.path.lexists(Path(entry.path) / TRAINER_JSON)):
            shutil.rmtree(entry.path, ignore_errors=True)


def clear_unsaved(run: Path) -> None:
    """Remove what a run that never completed a save left (its manifest, sets
    cut short, temporary files) so it can start again from step 0. Refused if
    the run holds a complete set: those weights are never thrown away here."""
    found = complete_checkpoints(run)
    if found:
        raise RunDirError(f"{run} has saved weights ({found[0].name}); resume it instead of "
                          "starting it again")
    _remove_temporary_files(run)
    for entry in _checkpoint_folders(run):
        shutil.rmtree(entry.path, ignore_errors=True)
    (run / MANIFEST_FILE).unlink(missing_ok=True)


def _checkpoint_folders(run: Path) -> list[os.DirEntry]:
    """Real folders (not links) of the app's pattern in checkpoints/."""
    try:
        entries = list(os.scandir(run / CHECKPOINTS_DIR))
    except OSError:
        return []
    return [e for e in entries if is_checkpoint_name(e.name) and e.is_dir(follow_symlinks=False)]


def _remove_temporary_files(run: Path) -> None:
    # Only the app's own temporary names (".NAME.XXXX.tmp", engine.storage.atomic), and
    # only files; no name read from a file is followed.
    for folder in (run, run / SAMPLES_DIR, *(Path(e.path) for e in _checkpoint_folders(run))):
        try:
            leftovers = [e.path for e in os.scandir(folder) if e.name.startswith(".")
                         and e.name.endswith(".tmp") and not e.is_dir(follow_symlinks=False)]
        except OSError:
            continue
        for leftover in leftovers:
            try:
                os.unlink(leftover)
            except OSError:
                pass   # gone already; whatever else stops it, the resume goes on


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """Write a safetensors file atomically. safetensors reports a full disk as
    SafetensorError, not OSError; it is raised as the OSError it was, so each
    caller's disk-error path (one message naming the folder) catches it."""
    def write(tmp: Path) -> None:
        try:
            save_file(tensors, str(tmp), metadata=metadata)
        except SafetensorError as exc:
            code = _OS_ERROR.search(str(exc))
            if code is None:
                raise OSError(errno.EIO, f"cannot write weights ({str(exc)[:200]})",
                              str(path)) from None
            number = int(code.group(1))
            raise OSError(number, os.strerror(number), str(path)) from None
    atomic_write(path, write)


def _write_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    ready = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    save_tensors(path, ready, metadata)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _fsync_dir(folder: Path) -> None:
    # Makes the renames inside the folder durable, not only the files' data.
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
