"""What the gallery keeps and compares besides generated tiles: a run's favourite
seeds, and the same seeds across the run's checkpoints and sample history."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.storage import safe_json
from engine.storage.atomic import atomic_write_json
from engine.runs.checkpoints import CHECKPOINTS_DIR, load_tensors, read_manifest
from engine.runtime.device import resolve_device
from engine.errors import ConfigError, RunDirError
from engine.media.images import to_uint8
from engine.runs.folders import RunDir

FAVOURITES_FILE = "favourites.json"
MAX_COMPARE_SEEDS = 16
_CHECKPOINT_NAME = re.compile(r"step_(\d+)-[0-9a-f]+$")


# -- favourites ----------------------------------------------------------------------
def read_favourites(run_dir: str | Path) -> list[int]:
    """The run's favourite seeds, in the order they were marked."""
    path = Path(run_dir) / FAVOURITES_FILE
    try:
        values = safe_json.read_json(path)
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise RunDirError(f"{path}: unreadable ({exc})") from None
    seeds = values.get("seeds") if isinstance(values, dict) else None
    if not isinstance(seeds, list) or not all(safe_json.is_whole_number(s) for s in seeds):
        raise RunDirError(f"{path}: not a list of favourite seeds")
    return seeds


def set_favourite(run_dir: str | Path, seeds: list[int], favourite: bool) -> list[int]:
    """Mark (or unmark) seeds as favourites; returns the new list. Written atomically."""
    current = read_favourites(run_dir)
    if favourite:
        current += [s for s in seeds if s not in current]
    else:
        current = [s for s in current if s not in seeds]
    path = Path(run_dir) / FAVOURITES_FILE
    try:
        atomic_write_json(path, {"seeds": current})
    except OSError as exc:
        raise RunDirError(f"cannot write {path}: {exc.strerror or exc}") from None
    return current


# -- comparing seeds over a run's life -------------------------------------------------
@dataclass(frozen=True)
class ComparisonRow:
    label: str                 # "checkpoint, step 120" or "sample grid, step 40"
    step: int
    images: list[np.ndarray | None]   # one per seed; None where this source lacks it


def compare_seeds(run_dir: str | Path, seeds: list[int], device: str = "auto",
                  max_history: int = 6, steps: int | None = None,
                  guidance: float | None = None) -> list[ComparisonRow]:
    """The same seeds from every kept checkpoint (rendered) and from up to
    `max_history` evenly spaced sample grids (tiles of seeds 0-63 only), oldest first.
    `steps` and `guidance` choose an iterative sampler's settings for the rendered
    rows (None: the run's defaults, which the sample grids were drawn with)."""
    from engine.studio.animation import GRID_TILES, grid_tile
    from engine.studio.sampling import sampler_settings
    from engine.models import build_model, model_config

    if not 1 <= len(seeds) <= MAX_COMPARE_SEEDS:
        raise ConfigError(f"compare between 1 and {MAX_COMPARE_SEEDS} seeds, not {len(seeds)}")
    run = RunDir(run_dir)
    config = run.read_config()
    rows: list[ComparisonRow] = []
    manifest = read_manifest(run.path) or {}
    torch_device = resolve_device(device)
    for folder_name in manifest.get("kept", []):
        match = _CHECKPOINT_NAME.match(folder_name)
        folder = run.path / CHECKPOINTS_DIR / folder_name
        if not match or not folder.is_dir():
            continue
        name = config["model"]
        model = build_model(name, model_config(name, **config["model_config"]), torch_device)
        for net_name, net in model.networks().items():
            net.load_state_dict(load_tensors(folder / f"{net_name}.safetensors", torch_device))
        with sampler_settings(model, steps, guidance, name):
            images = to_uint8(model.sample(seeds))
        rows.append(ComparisonRow(f"checkpoint, step {int(match.group(1)):,}", int(match.group(1)),
                                  list(images)))
    history = run.sample_history()
    if history and any(s < GRID_TILES for s in seeds):
        picks = sorted(set(np.linspace(0, len(history) - 1, min(max_history, len(history)))
                           .round().astype(int).tolist()))
        from PIL import Image
        for i in picks:
            step, path = history[i]
            try:
                with Image.open(path) as picture:
                    grid = np.asarray(picture.convert("L" if picture.mode in ("L", "I", "1") else "RGB"))
            except OSError as exc:
                raise RunDirError(f"{path}: unreadable sample grid ({exc})") from None
            grid = grid[:, :, None] if grid.ndim == 2 else grid
            rows.append(ComparisonRow(f"sample grid, step {step:,}", step,
                                      [grid_tile(grid, s, path) if s < GRID_TILES else None
                                       for s in seeds]))
    if not rows:
        raise RunDirError(f"{run.path} has no checkpoints or sample grids to compare yet")
    return sorted(rows, key=lambda row: (row.step, row.label.startswith("checkpoint")))
