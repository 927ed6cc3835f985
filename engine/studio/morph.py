"""Morphs between the artist's own pictures: two or more pictures, each turned
into a keyframe latent, and a walk between them through the same timeline
settings (frames between, easing, path, loop) and exporters as a latent walk.

Which latent depends on what the model can do (its capabilities):

- a VAE (RECONSTRUCT) encodes each picture to its posterior mean; the frame at
  a keyframe is the picture's reconstruction, and the path is straight (lerp)
  by default;
- a diffusion or flow model (INVERT) runs its deterministic sampler backwards
  from each picture to the starting noise that regenerates it; the frame at a
  keyframe is the picture regenerated from that noise, and the path is a slerp
  (the noise is Gaussian-like), so a looping morph loops seamlessly.

The frames between decode points on the path (and, for a conditional model,
blend the pictures' classes as a walk does).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from engine.errors import ConfigError, DataError, RunDirError
from engine.models.base import INVERT, RECONSTRUCT, GenerativeModel
from engine.studio.keyframes import Keyframe, Timeline
from engine.studio.reconstruction import (Reconstructor, load_picture, model_geometry,
                                          picture_digest, source_model)
from engine.studio.sampling import sampler_provenance, sampler_settings

if TYPE_CHECKING:
    from engine.studio.animation import FrameBudget

MORPH_DEFAULTS = {"frames_between": 24, "ease": "in-out", "loop": False, "interpolation": "lerp"}
# Inverted noise is Gaussian-like: slerp keeps its norm between the pictures, as a walk does.
INVERSION_MORPH_DEFAULTS = {**MORPH_DEFAULTS, "interpolation": "slerp"}
MORPH_CAPABILITIES = (RECONSTRUCT, INVERT)


def _models_with(capability: str) -> str:
    from engine.models import model_specs
    return ", ".join(s.name for s in model_specs() if capability in s.capabilities)


def _refusal(name: str) -> str:
    return (f"A morph needs a VAE ({_models_with(RECONSTRUCT)}) or a model that inverts "
            f"pictures to its noise ({_models_with(INVERT)}); this run is {name}.")


def morph_unavailable(source: str | Path) -> str | None:
    """Why this run (or bundle) cannot morph between pictures (a sentence), or None
    when it can; read from its config without loading weights."""
    from engine.models import find_model
    try:
        name, _ = source_model(source)
    except (RunDirError, DataError, ConfigError) as exc:
        return str(exc)
    spec = find_model(name)
    if spec is None or not set(MORPH_CAPABILITIES) & spec.capabilities:
        return _refusal(name)
    return None


def morph_defaults(model: GenerativeModel) -> dict[str, Any]:
    """The timeline settings a morph with this model gets when none are chosen."""
    return dict(MORPH_DEFAULTS if RECONSTRUCT in model.capabilities else INVERSION_MORPH_DEFAULTS)


def morph_timeline(count: int, labels: list[int] | None = None,
                   defaults: dict[str, Any] | None = None, **settings: Any) -> Timeline:
    """The timeline of a morph through `count` pictures: keyframe i is picture i
    (its "seed" is its index), with the picture's class for a conditional model;
    settings not given come from `defaults` (a VAE's morph defaults when None)."""
    if labels is not None and len(labels) == 1 and count > 1:
        labels = labels * count
    if labels is not None and len(labels) != count:
        raise ConfigError(f"{len(labels)} classes for {count} pictures; give one per picture "
                          "(or one for all)")
    values = {**(MORPH_DEFAULTS if defaults is None else defaults),
              **{k: v for k, v in settings.items() if v is not None}}
    if count < 2:
        raise ConfigError(f"a morph needs two or more pictures, not {count}")
    timeline = Timeline([Keyframe(i, None if labels is None else int(labels[i]))
                         for i in range(count)], **values)
    timeline.validate()
    return timeline



class MorphRenderer(Reconstructor):
    """Renders morphs of one run's model again and again (the studio's preview):
    a VAE through posterior means, a diffusion or flow model through inversion."""

    def check(self, name: str, model: GenerativeModel) -> None:
        if not set(MORPH_CAPABILITIES) & model.capabilities:
            raise ConfigError(_refusal(name))

    def render(self, paths: list[str | Path], labels: list[int] | None = None,
               budget: FrameBudget | None = None, steps: int | None = None,
               guidance: float | None = None, **settings: Any
               ) -> tuple[np.ndarray, dict[str, Any]]:
        """(uint8 frames (T, H, W, C), provenance) of the morph through the pictures;
        `budget` may refuse it before any frame is decoded; `steps` and `guidance`
        choose an inverting model's sampler settings (None: its defaults), used
        both to invert the pictures and to render the frames."""
        from engine.studio.animation import checkpoint_step, evaluating, frame_shape, render_path

        paths = [Path(p).expanduser() for p in paths]
        model = self.model()
        inverting = RECONSTRUCT not in model.capabilities
        timeline = morph_timeline(len(paths), labels, morph_defaults(model), **settings)
        if budget is not None:
            # Before the pictures are encoded: inverting them runs the sampler
            # backwards, the dearest part, and a refused export should cost nothing.
            budget(timeline.frame_count(), frame_shape(model))
        size, channels = model_geometry(model)
        pixels = np.stack([load_picture(p, size, channels) for p in paths])
        x = torch.from_numpy(pixels).float().mul_(2.0 / 255.0).sub_(1.0)
        y = None
        if model.uses_labels:
            if any(label is None for label in timeline.labels):
                if not inverting:
                    raise ConfigError(f"this conditional VAE needs a class for each picture "
                                      f"(0 to {model.num_classes - 1})")
            else:
                y = model.labels_for_seeds(timeline.seeds, timeline.labels)
        with sampler_settings(model, steps, guidance, self.name):
            if inverting:
                # Each picture's starting noise, found by the sampler run backwards
                # with the same steps and guidance that render the frames.
                keys = model.invert(x, y).cpu()
            else:
                keys = model.posterior_mean(x, y).cpu()
            with evaluating(model):
                # An unconditional model's num_classes is 0, so any classes are ignored here.
                frames = render_path(model, keys, timeline)
            sampler = sampler_provenance(model)
        if self.source.is_file():
            from engine.runs.bundles import inspect_bundle
            step = inspect_bundle(self.source).step
        else:
            from engine.runs.folders import RunDir
            step = checkpoint_step(RunDir(self.source))
        settings_out = {k: v for k, v in timeline.to_dict().items() if k != "keyframes"}
        provenance = {"kind": "morph", "model": self.name, "run": self.source.name, "step": step,
                      "inputs": [p.name for p in paths], "input_sha256": [picture_digest(p) for p in paths],
                      "morph": settings_out,
                      "keyframes_from": "inversion" if inverting else "posterior mean",
                      **({"labels": list(timeline.labels)} if y is not None else {}), **sampler}
        return frames, provenance


def morph_frames(source: str | Path, paths: list[str | Path], labels: list[int] | None = None,
                 device: str = "auto", budget: FrameBudget | None = None,
                 steps: int | None = None, guidance: float | None = None,
                 **settings: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """(frames, provenance) of a morph through pictures with a run's (or bundle's)
    VAE (posterior means) or diffusion or flow model (inversion)."""
    return MorphRenderer(source, device).render(paths, labels, budget, steps=steps,
                                                guidance=guidance, **settings)


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
        if not candidate.is_file() or picture_digest(candidate) != digest:
            return None
        found.append(str(candidate))
    return found
