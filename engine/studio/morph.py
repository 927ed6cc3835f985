"""Reconstruction morphs for VAEs: encode two or more pictures and walk between
their posterior means, through the same timeline settings (frames between,
easing, path, loop) and exporters as a latent walk.

The frame at each keyframe is that picture's reconstruction; the frames between
decode points on the path between the posterior means (and, for a conditional
VAE, blend the pictures' classes as a walk does).
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from engine.errors import ConfigError
from engine.studio.keyframes import Keyframe, Timeline
from engine.studio.reconstruction import Reconstructor, load_picture, model_geometry

if TYPE_CHECKING:
    from engine.studio.animation import FrameBudget

MORPH_DEFAULTS = {"frames_between": 24, "ease": "in-out", "loop": False, "interpolation": "lerp"}


def morph_timeline(count: int, labels: list[int] | None = None, **settings: Any) -> Timeline:
    """The timeline of a morph through `count` pictures: keyframe i is picture i
    (its "seed" is its index), with the picture's class for a conditional VAE."""
    if labels is not None and len(labels) == 1 and count > 1:
        labels = labels * count
    if labels is not None and len(labels) != count:
        raise ConfigError(f"{len(labels)} classes for {count} pictures; give one per picture "
                          "(or one for all)")
    values = {**MORPH_DEFAULTS, **{k: v for k, v in settings.items() if v is not None}}
    if count < 2:
        raise ConfigError(f"a morph needs two or more pictures, not {count}")
    timeline = Timeline([Keyframe(i, None if labels is None else int(labels[i]))
                         for i in range(count)], **values)
    timeline.validate()
    return timeline


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError:
        return ""


class MorphRenderer(Reconstructor):
    """Renders morphs of one run's VAE again and again (the studio's preview)."""

    def render(self, paths: list[str | Path], labels: list[int] | None = None,
               budget: FrameBudget | None = None, **settings: Any) -> tuple[np.ndarray, dict[str, Any]]:
        """(uint8 frames (T, H, W, C), provenance) of the morph through the pictures;
        `budget` may refuse it before any frame is decoded."""
        from engine.studio.animation import checkpoint_step, evaluating, render_path

        paths = [Path(p).expanduser() for p in paths]
        timeline = morph_timeline(len(paths), labels, **settings)
        model = self.model()
        size, channels = model_geometry(model)
        pixels = np.stack([load_picture(p, size, channels) for p in paths])
        x = torch.from_numpy(pixels).float().mul_(2.0 / 255.0).sub_(1.0)
        y = None
        if model.uses_labels:
            if any(label is None for label in timeline.labels):
                raise ConfigError(f"this conditional VAE needs a class for each picture "
                                  f"(0 to {model.num_classes - 1})")
            y = model.labels_for_seeds(timeline.seeds, timeline.labels)
        means = model.posterior_mean(x, y).cpu()
        with evaluating(model):
            # An unconditional model's num_classes is 0, so any classes are ignored here.
            frames = render_path(model, means, timeline, budget=budget)
        if self.source.is_file():
            from engine.runs.bundles import inspect_bundle
            step = inspect_bundle(self.source).step
        else:
            from engine.runs.folders import RunDir
            step = checkpoint_step(RunDir(self.source))
        settings_out = {k: v for k, v in timeline.to_dict().items() if k != "keyframes"}
        provenance = {"kind": "morph", "model": self.name, "run": self.source.name, "step": step,
                      "inputs": [p.name for p in paths], "input_sha256": [_digest(p) for p in paths],
                      "morph": settings_out,
                      **({"labels": list(timeline.labels)} if model.uses_labels else {})}
        return frames, provenance


def morph_frames(source: str | Path, paths: list[str | Path], labels: list[int] | None = None,
                 device: str = "auto", budget: FrameBudget | None = None,
                 **settings: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """(frames, provenance) of a reconstruction morph with a run's (or bundle's) VAE."""
    return MorphRenderer(source, device).render(paths, labels, budget, **settings)


def find_inputs(export: str | Path, info: dict[str, Any]) -> list[str] | None:
    """The pictures a morph export was made from, when they lie beside it with the
    same contents (checked by digest); None otherwise."""
    names, digests = info.get("inputs"), info.get("input_sha256")
    if not isinstance(names, list) or not isinstance(digests, list) or len(names) != len(digests):
        return None
    folder = Path(export).expanduser().parent
    found = []
    for name, digest in zip(names, digests):
        candidate = folder / Path(str(name)).name
        if not candidate.is_file() or _digest(candidate) != digest:
            return None
        found.append(str(candidate))
    return found
