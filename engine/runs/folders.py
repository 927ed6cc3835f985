"""The run directory: everything about one training run, never half-written.

    RUN/config.json                  model, model config, training settings, data, history
    RUN/manifest.json                names the current checkpoint (see engine.runs.checkpoints)
    RUN/checkpoints/step_.../        weights (one safetensors per network) and resume state
    RUN/metrics.jsonl                one JSON object per logged step
    RUN/samples/step_000500.png      fixed-seed sample grids over time
    RUN/thumbnail.png                the latest grid's corner, for lists of runs
    RUN/.lock                        locked by the process training the run (engine.runs.lock)

docs/RUNS.md describes the format for people.
"""
from __future__ import annotations

import errno
import json

import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from engine import __version__
from engine.storage import safe_json
from engine.storage.atomic import atomic_write, atomic_write_json
from engine.runs.checkpoints import (KEEP_LAST, TRAINER_JSON, TRAINER_TENSORS, complete_checkpoints,
                                current_checkpoint, load_tensors, named_checkpoint,
                                save_checkpoint, tensor_header)
from engine.errors import RunDirError
from engine.media.png import png_bytes
from engine.media.images import fit_within
from engine.runs.finite_weights import first_nonfinite, nonfinite_message
from engine.models import GenerativeModel, build_model, expected_weights
from engine.models import model_config as make_model_config
from engine.storage.paths import default_runs_dir
from engine.storage.safetensors_file import expected_entries, mismatch

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
SAMPLES_DIR = "samples"
THUMBNAIL_FILE = "thumbnail.png"
THUMBNAIL_SIZE = 128
# metrics.jsonl grows by a line per logged step: a week-long run stays far below this.
MAX_METRICS_BYTES = 512 * 1024 * 1024
_SAMPLE_NAME = re.compile(r"step_(\d+)\.png$")
# Reads of the current checkpoint of a run that is saving newer ones meanwhile.
CURRENT_CHECKPOINT_ATTEMPTS = 3


class RunDir:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    # -- creating -------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path | None, model_name: str) -> "RunDir":
        """Make a fresh run directory, or fail with a clear message before training.

        With no path, a new folder under the user's runs directory is used.
        """
        if path is None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            path = default_runs_dir() / f"{stamp}-{model_name}"
            suffix = 1
            while path.exists():
                suffix += 1
                path = default_runs_dir() / f"{stamp}-{model_name}-{suffix}"
        path = Path(path).expanduser()
        try:
            if (path / CONFIG_FILE).exists():
                # A run killed in its first save can be neither resumed nor
                # overwritten: say how to start it again.
                again = "" if complete_checkpoints(path) else (
                    " (it stopped before its first save; to train it again from step 0, use "
                    f"Start again on the Runs page or `latent-atelier-cli train --restart {path}`)")
                raise RunDirError(f"{path} already holds a run; choose a new output folder{again}")
            if path.exists() and not path.is_dir():
                raise RunDirError(f"{path} is a file, not a folder")
            if path.exists() and any(path.iterdir()):
                raise RunDirError(f"{path} is not empty; choose a new or empty output folder")
            (path / SAMPLES_DIR).mkdir(parents=True, exist_ok=True)
            # mkdir can succeed where writing does not (e.g. read-only mounts).
            with tempfile.TemporaryFile(dir=path):
                pass
        except OSError as exc:
            raise RunDirError(f"cannot write to {path}: {exc.strerror or exc}") from None
        return cls(path)

    # -- writing --------------------------------------------------------------
    def write_config(self, config: dict[str, Any]) -> None:
        record = {"format_version": FORMAT_VERSION, "app_version": __version__, **config}
        self._guard(lambda: atomic_write_json(self.path / CONFIG_FILE, record))

    def save_checkpoint(self, model_name: str, model: GenerativeModel, step: int = 0,
                        trainer_tensors: dict[str, torch.Tensor] | None = None,
                        trainer_json: dict[str, Any] | None = None, keep_last: int = KEEP_LAST,
                        score: tuple[str, float] | None = None, ended: str | None = None,
                        **best_options: Any) -> None:
        """Weights and everything needed to resume exactly, as one consistent set
        (the trainer adds its data order and counters). See save_checkpoint for
        `keep_last`, `score`, `ended` and `best_options` (higher_is_better, score_label)."""
        trainer_tensors, trainer_json = trainer_tensors or {}, trainer_json or {}
        meta = {"model": model_name, "family": model.family,
                "model_config": json.dumps(model.config.to_dict()), "app_version": __version__}
        networks = {name: net.state_dict() for name, net in model.networks().items()}
        model_tensors, optimizer_settings = model.training_state()
        self._guard(lambda: save_checkpoint(
            self.path, step, networks, {**model_tensors, **trainer_tensors},
            {"step": step, "optimizers": optimizer_settings, **trainer_json}, meta,
            keep_last=keep_last, score=score, ended=ended, **best_options))

    def weights_path(self, network: str) -> Path:
        """The current checkpoint's file for one network, e.g. "generator"."""
        return current_checkpoint(self.path) / f"{network}.safetensors"

    def append_metrics(self, record: dict[str, Any]) -> None:
        def append() -> None:
            with open(self.path / METRICS_FILE, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
        self._guard(append)

    def save_sample_grid(self, step: int, grid: np.ndarray, provenance: dict[str, Any],
                         tile: int | None = None) -> Path:
        """Save a fixed-seed grid to the sample history and refresh the run's
        thumbnail (its top-left 4 x 4 tiles when `tile`, the tile pitch, is given)."""
        target = self.path / SAMPLES_DIR / f"step_{step:06d}.png"
        data = png_bytes(grid, provenance=provenance)
        self._guard(lambda: atomic_write(target, lambda tmp: tmp.write_bytes(data)))
        corner = grid[:4 * tile + 2, :4 * tile + 2] if tile else grid
        thumb = png_bytes(fit_within(corner, THUMBNAIL_SIZE), provenance=provenance)
        self._guard(lambda: atomic_write(self.path / THUMBNAIL_FILE,
                                         lambda tmp: tmp.write_bytes(thumb)))
        return target

    def rollback_to(self, step: int) -> None:
        """Forget the metrics and sample grids after `step`, the checkpoint a run
        continues from, so a resumed run's history reads as if it never stopped."""
        records = self.read_metrics()
        kept = [r for r in records if not (isinstance(r.get("step"), int) and r["step"] > step)]
        if len(kept) != len(records) or self._metrics_damaged(len(records)):
            text = "".join(json.dumps(r) + "\n" for r in kept)
            self._guard(lambda: atomic_write(self.path / METRICS_FILE,
                                             lambda tmp: tmp.write_text(text, encoding="utf-8")))
        for sample_step, path in self.sample_history():
            if sample_step > step:
                self._guard(lambda path=path: path.unlink(missing_ok=True))

    def _metrics_damaged(self, good_lines: int) -> bool:
        try:
            text = safe_json.read_regular_bytes(self.path / METRICS_FILE,
                                                MAX_METRICS_BYTES).decode("utf-8", "replace")
        except FileNotFoundError:
            return False
        return len(text.splitlines()) != good_lines or (text != "" and not text.endswith("\n"))

    def _guard(self, write) -> None:
        try:
            write()
        except OSError as exc:
            raise RunDirError(f"cannot write to {self.path}: {exc.strerror or exc}"
                              f"{free_space_note(self.path, exc)}") from None

    # -- reading --------------------------------------------------------------
    def read_config(self) -> dict[str, Any]:
        path = self.path / CONFIG_FILE
        try:
            config = safe_json.read_json(path)
        except FileNotFoundError:
            raise RunDirError(f"{self.path} is not a run folder (no {CONFIG_FILE})") from None
        except (OSError, ValueError) as exc:
            raise RunDirError(f"{path}: unreadable ({exc})") from None
        if not isinstance(config, dict) or "model" not in config or "model_config" not in config:
            raise RunDirError(f"{path}: missing model or model_config")
        version = config.get("format_version", 0)
        if not isinstance(version, int) or isinstance(version, bool) or version < 0:
            raise RunDirError(f"{path}: bad format_version {version!r}")
        if version > FORMAT_VERSION:
            raise RunDirError(f"{path}: written by a newer Latent Atelier "
                              f"(format {config['format_version']}); please update the app")
        return config

    def read_metrics(self) -> list[dict[str, Any]]:
        records = []
        path = self.path / METRICS_FILE
        try:
            lines = safe_json.read_regular_bytes(path, MAX_METRICS_BYTES).splitlines()
        except FileNotFoundError:
            return records
        except OSError as exc:
            raise RunDirError(f"{path}: unreadable ({exc.strerror or exc})") from None
        for line in lines:
            try:
                record = safe_json.loads(line)
            except ValueError:
                continue  # a line cut short by a crash (or damaged); the rest are still good
            if isinstance(record, dict):   # a null or a bare number is no record
                records.append(record)
        return records

    def sample_history(self) -> list[tuple[int, Path]]:
        """(step, png path) of every saved sample grid, oldest first."""
        found = []
        folder = self.path / SAMPLES_DIR
        if folder.is_dir():
            for entry in folder.iterdir():
                match = _SAMPLE_NAME.match(entry.name)
                if match:
                    found.append((int(match.group(1)), entry))
        return sorted(found)

    def load_model(self, device: torch.device,
                   checkpoint: str | None = None) -> tuple[str, GenerativeModel]:
        """Rebuild the run's model from its saved config and the weights of its
        current checkpoint (or of the kept checkpoint named `checkpoint`).

        The weight files are checked against the model on the meta device
        first: a config.json describing a model far larger than its weights
        is refused before gigabytes are allocated for it."""
        config = self.read_config()
        name = config["model"]
        where = self.path / CONFIG_FILE
        settings = config["model_config"]
        if not isinstance(name, str) or not isinstance(settings, dict):
            raise RunDirError(f"{where}: model must be a model's name and model_config "
                              "a JSON object")
        try:
            model_config = make_model_config(name, **settings)
            expected = expected_weights(name, model_config)
        except Exception as exc:
            raise RunDirError(f"{where}: cannot rebuild model: {exc}") from None
        # A run that is training saves a new checkpoint and prunes older ones
        # while this reads: if the current checkpoint it found vanishes midway,
        # a newer one replaced it, so read that one instead.
        model: GenerativeModel | None = None   # built once, whichever checkpoint loads
        for attempt in range(CURRENT_CHECKPOINT_ATTEMPTS):
            folder = named_checkpoint(self.path, checkpoint)
            try:
                for net_name, entries in expected.items():
                    self._check_weights_file(folder / f"{net_name}.safetensors", entries)
                if model is None:
                    try:
                        model = build_model(name, model_config, device)
                    except Exception as exc:
                        raise RunDirError(f"{where}: cannot rebuild model: {exc}") from None
                self.load_weights(model, device, folder.name)
                return name, model
            except RunDirError:
                replaced = checkpoint is None and not folder.is_dir()
                if not replaced or attempt == CURRENT_CHECKPOINT_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    @staticmethod
    def _check_weights_file(path: Path, expected: dict[str, tuple[str, tuple[int, ...]]]) -> None:
        """Names, dtypes and shapes of a weights file against a model, before
        anything is loaded or built."""
        problem = mismatch(tensor_header(path).tensors, expected)
        if problem:
            raise RunDirError(f"{path}: not a valid weights file for this model ({problem})")

    def load_weights(self, model: GenerativeModel, device: torch.device,
                     checkpoint: str | None = None) -> None:
        """Load the current (or the named) checkpoint's weights into `model`."""
        folder = named_checkpoint(self.path, checkpoint)
        for net_name, net in model.networks().items():
            path = folder / f"{net_name}.safetensors"
            self._check_weights_file(path, expected_entries(net.state_dict()))
            state = load_tensors(path, device)
            bad = first_nonfinite(state)
            if bad is not None:
                raise RunDirError(f"{path}: {nonfinite_message(bad)}")
            try:
                net.load_state_dict(state, strict=True)
            except (RuntimeError, ValueError) as exc:
                raise RunDirError(f"{path}: not a valid weights file for this model ({exc})") from None

    def load_trainer_state(self, device: torch.device, checkpoint: str | None = None
                           ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """The resume state saved beside the current weights (or those of the
        checkpoint named `checkpoint`)."""
        folder = named_checkpoint(self.path, checkpoint)
        tensors = load_tensors(folder / TRAINER_TENSORS, "cpu")
        try:
            values = safe_json.read_json(folder / TRAINER_JSON)
        except (OSError, ValueError) as exc:
            raise RunDirError(f"{folder / TRAINER_JSON}: unreadable ({exc})") from None
        return tensors, values


def free_space_note(folder: Path, exc: OSError) -> str:
    """" (12.3 MB free)" after a full disk's message, so the user knows how much
    to free; "" for other errors, or if the free space cannot be read."""
    if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
        return ""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return ""
    return f" ({free / 1e6:.1f} MB free)"


def is_run_dir(path: str | Path) -> bool:
    return (Path(path) / CONFIG_FILE).is_file()


