"""Frame sequences built from a run: latent walks through keyframes, the
training time-lapse, and a family's own process (drawing, denoising, ...).

Every kind ends as uint8 frames (T, H, W, C), the one thing the exporters take.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from engine.runtime.device import resolve_device
from engine.errors import ConfigError, RunDirError
from engine.media.images import make_grid, to_uint8
from engine.studio.keyframes import Timeline, timeline_class_weights, timeline_latents
from engine.studio.sampling import sampler_provenance, sampler_settings
from engine.models.base import PREDICTION, GenerativeModel
from engine.models.common import evaluating as models_evaluating
from engine.runs.folders import RunDir

DECODE_BATCH = 64
# The training sample grid's layout (engine.training: 64 seeds, 8 columns, 2 px padding).
GRID_COLUMNS = 8
GRID_TILES = 64
GRID_PADDING = 2


@contextlib.contextmanager
def evaluating(model: GenerativeModel) -> Iterator[None]:
    """eval() and inference mode for the block, then each network back as it was."""
    with models_evaluating(*model.networks().values()), torch.inference_mode():
        yield


# -- latent walks ---------------------------------------------------------------------
# Called with (frame count, frame shape (H, W, C)) once the model is loaded and
# before any frame is decoded: an export's memory check refuses there.
FrameBudget = Callable[[int, tuple[int, int, int]], None]


def render_walk(model: GenerativeModel, timeline: Timeline,
                batch_size: int = DECODE_BATCH, budget: FrameBudget | None = None,
                steps: int | None = None, guidance: float | None = None) -> np.ndarray:
    """uint8 frames (T, H, W, C) of the walk, decoded in batches under inference mode.

    Frame i depends only on the timeline (and an iterative sampler's steps and
    guidance; None: the model's defaults), so the same timeline always renders
    the same frames (bit for bit on the same device). For a diffusion or flow
    model the walk goes over the starting noise through its deterministic
    sampler, so a looping walk loops seamlessly there too.
    """
    timeline.validate()
    with sampler_settings(model, steps, guidance):
        return render_path(model, model.latents_for_seeds(timeline.seeds), timeline,
                           batch_size, budget)


def frame_shape(model: GenerativeModel) -> tuple[int, int, int]:
    """(H, W, C) of the frames the model decodes."""
    size, channels = int(model.config.image_size), int(model.config.channels)
    return size, size, channels


def render_path(model: GenerativeModel, keyframe_latents: torch.Tensor, timeline: Timeline,
                batch_size: int = DECODE_BATCH, budget: FrameBudget | None = None) -> np.ndarray:
    """uint8 frames of the timeline's path through the given keyframe latents (K, ...):
    a seed's prior draw for a walk, an encoded picture's posterior mean for a morph.

    Each batch is decoded straight into one preallocated array, so the frames
    are never held twice (a list of batches and their concatenation)."""
    count = timeline.frame_count()
    if budget is not None:
        budget(count, frame_shape(model))
    latents = timeline_latents(keyframe_latents, timeline)
    classes = timeline_class_weights(timeline, model.num_classes)
    frames: np.ndarray | None = None
    with evaluating(model):
        for i in range(0, count, batch_size):
            z = latents[i:i + batch_size].to(model.device)
            if classes is None:
                images = model.decode(z)
            else:
                images = model.decode_with_classes(z, classes[i:i + batch_size].to(model.device))
            chunk = to_uint8(images)
            if frames is None:
                frames = np.empty((count, *chunk.shape[1:]), dtype=np.uint8)
            frames[i:i + len(chunk)] = chunk
    assert frames is not None   # a validated timeline has two frames or more
    return frames


def walk_frames(run_dir: str | Path, timeline: Timeline, device: str = "auto",
                budget: FrameBudget | None = None, steps: int | None = None,
                guidance: float | None = None) -> tuple[np.ndarray, dict]:
    """(frames, provenance) of a latent walk through a saved run's generator;
    `budget` may refuse the walk before any frame is decoded; `steps` and
    `guidance` choose an iterative sampler's settings (None: the model's defaults)."""
    return WalkRenderer(run_dir, device).render(timeline, budget, steps=steps, guidance=guidance)


def checkpoint_step(run: RunDir) -> int | None:
    from engine.runs.checkpoints import read_manifest

    manifest = read_manifest(run.path)
    return manifest.get("step") if manifest else None


def _load_source(source: Path, device: str) -> tuple[str, GenerativeModel, int | None]:
    """(model name, model, step) of a run folder or a model bundle file."""
    if source.is_file():
        from engine.runs.bundles import load_bundle
        info, model = load_bundle(source, resolve_device(device))
        return info.model, model, info.step
    run = RunDir(source)
    name, model = run.load_model(resolve_device(device))
    return name, model, checkpoint_step(run)


# -- a family's own process ----------------------------------------------------------
PROCESS_VIEWS = ("sample", "prediction")


def process_frames(run_dir: str | Path, seed: int, label: int | None = None,
                   device: str = "auto", steps: int | None = None,
                   guidance: float | None = None, shows: str | None = None
                   ) -> tuple[np.ndarray, dict]:
    """(frames, provenance) of the run's (or bundle's) model showing its own process
    for one seed; for an iterative sampler (a diffusion model denoising) `steps`
    and `guidance` choose its settings (None: the model's defaults), and the
    process has steps + 1 frames, from the starting noise to the picture.

    `shows` picks what each frame shows: "sample" (the picture as the process
    has it) or "prediction" (each step's guess of the finished picture, for
    models that declare PREDICTION); None: the model's own default."""
    if shows is not None and shows not in PROCESS_VIEWS:
        raise ConfigError(f"the process shows one of {', '.join(PROCESS_VIEWS)}, not {shows!r}")
    source = Path(run_dir)
    name, model, step = _load_source(source, device)
    if model.process_name is None:
        raise ConfigError(f"{name} has no process animation; use --kind interpolate or timelapse")
    predicts = PREDICTION in model.capabilities
    if shows == "prediction" and not predicts:
        raise ConfigError(f"{name}'s {model.process_name} makes no guess of the finished picture "
                          "to show; diffusion and flow models do")
    with sampler_settings(model, steps, guidance, name), evaluating(model):
        # A family that predicts takes the view; for the others "sample" is all there is.
        view = {"shows": shows} if predicts and shows is not None else {}
        frames = to_uint8(model.process_frames(seed, label, **view))
        sampler = sampler_provenance(model)
    return frames, {"kind": "process", "process": model.process_name, "model": name,
                    "run": source.name, "step": step, "seeds": [seed],
                    **({"labels": [label]} if label is not None else {}), **view, **sampler}


# -- the training time-lapse ----------------------------------------------------------
def timelapse_frames(run_dir: str | Path, tiles: list[int] | None = None
                     ) -> tuple[list[int], list[np.ndarray]]:
    """(steps, uint8 frames (H, W, C)) of the run's fixed-seed grids, oldest first.

    With `tiles` (indices 0-63, which are also the tiles' seeds), each frame shows
    only those tiles: one tile alone, or several as a smaller grid.
    """
    if Path(run_dir).is_file():
        raise RunDirError(f"{run_dir}: a model bundle has no training history; the time-lapse "
                          "needs the run folder it was exported from")
    run = RunDir(run_dir)
    run.read_config()  # a clear error if this is not a run folder
    if tiles is not None:
        bad = [t for t in tiles if not 0 <= t < GRID_TILES]
        if not tiles or bad:
            raise ConfigError(f"time-lapse tiles must be from 0 to {GRID_TILES - 1}"
                              + (f", not {bad[0]}" if bad else ""))
    steps, frames = [], []
    for step, path in run.sample_history():
        try:
            with Image.open(path) as picture:
                array = np.asarray(picture.convert("L" if picture.mode in ("L", "I", "1") else "RGB"))
        except OSError as exc:
            raise RunDirError(f"{path}: unreadable sample grid ({exc})") from None
        frame = array[:, :, None] if array.ndim == 2 else array
        if tiles is not None:
            frame = _select_tiles(frame, tiles, path)
        frames.append(frame)
        steps.append(step)
    if not frames:
        raise RunDirError(f"{run.path} has no sample grids yet; train for a few seconds first")
    return steps, frames


def grid_tile(grid: np.ndarray, index: int, path: Path | str = "sample grid") -> np.ndarray:
    """Tile `index` of a training sample grid (8 columns, 2 px padding)."""
    h, w = grid.shape[:2]
    side = (w - GRID_PADDING) // GRID_COLUMNS - GRID_PADDING
    rows = GRID_TILES // GRID_COLUMNS
    if side < 1 or w != GRID_COLUMNS * (side + GRID_PADDING) + GRID_PADDING \
            or h != rows * (side + GRID_PADDING) + GRID_PADDING:
        raise RunDirError(f"{path}: not an 8 x 8 sample grid ({w} x {h} pixels)")
    r, c = divmod(index, GRID_COLUMNS)
    y, x = GRID_PADDING + r * (side + GRID_PADDING), GRID_PADDING + c * (side + GRID_PADDING)
    return grid[y:y + side, x:x + side].copy()


def _select_tiles(grid: np.ndarray, tiles: list[int], path: Path) -> np.ndarray:
    chosen = np.stack([grid_tile(grid, t, path) for t in tiles])
    return chosen[0] if len(tiles) == 1 else make_grid(chosen)


class WalkRenderer:
    """Renders walks of one run again and again (the studio's live preview) without
    rebuilding the model each time; reloads it when the run saves a new checkpoint.

    Not thread-safe: use one from one thread at a time (the GUI runs one preview
    job at a time).
    """

    def __init__(self, run_dir: str | Path, device: str = "auto") -> None:
        self.run = RunDir(run_dir)   # or a model bundle file (engine.runs.bundles)
        self.device = device
        self._model: GenerativeModel | None = None
        self._name = ""
        self._checkpoint: tuple[str | None, int | None] = (None, None)

    def render(self, timeline: Timeline, budget: FrameBudget | None = None,
               steps: int | None = None, guidance: float | None = None
               ) -> tuple[np.ndarray, dict]:
        """(frames, provenance) of the walk; `steps` and `guidance` choose an
        iterative sampler's settings for this render only (None: the model's defaults)."""
        timeline.validate()
        from engine.runs.checkpoints import read_manifest

        if self.run.path.is_file():   # a bundle: reload only if the file is replaced
            checkpoint = (str(self.run.path.stat().st_mtime_ns), self._checkpoint[1])
        else:
            manifest = read_manifest(self.run.path) or {}
            checkpoint = (manifest.get("checkpoint"), manifest.get("step"))
        if self._model is None or checkpoint[0] != self._checkpoint[0]:
            self._name, self._model, step = _load_source(self.run.path, self.device)
            checkpoint = (checkpoint[0], step)
            self._checkpoint = checkpoint
        with sampler_settings(self._model, steps, guidance, self._name):
            frames = render_walk(self._model, timeline, budget=budget)
            sampler = sampler_provenance(self._model)
        return frames, {"kind": "interpolate", "model": self._name, "run": self.run.path.name,
                        "step": checkpoint[1], "seeds": timeline.seeds,
                        "timeline": timeline.to_dict(), **sampler}
