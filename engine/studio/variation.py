"""Variations of the artist's own picture (SDEdit): the picture noised to a
chosen strength with each seed's noise, then sampled back by a diffusion or
flow model (the VARY capability). Strength 0 keeps the picture, 1 ignores it;
the same picture, strength, seed, steps and guidance always give the same
variation.

The gallery's strength slider and `sample RUN --from-image a.png --strength 0.5`
both use this module. Pictures load through the one path reconstructions use
(engine.studio.reconstruction: any format the data loader reads, fitted to the
model's size and channels).
"""
from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.errors import ConfigError, DataError, RunDirError
from engine.media.images import to_uint8
from engine.models.base import VARY, GenerativeModel
from engine.studio.reconstruction import (MAX_IMAGES, Reconstructor, fit_pixels, load_picture,
                                          model_geometry, picture_digest, source_model)
from engine.studio.sampling import sampler_provenance, sampler_settings

Picture = str | Path | np.ndarray   # an image file, or uint8 (H, W, 1|3|4) pixels the GUI holds


def _models_that_vary() -> str:
    from engine.models import model_specs
    return ", ".join(s.name for s in model_specs() if VARY in s.capabilities)


def _refusal(name: str) -> str:
    return (f"Variations of a picture need a diffusion or flow model ({_models_that_vary()}); "
            f"this run is {name}.")


def variation_unavailable(source: str | Path) -> str | None:
    """Why this run (or bundle) cannot make variations of a picture (a sentence,
    for the GUI to show beside a disabled control), or None when it can; read
    from its config without loading weights."""
    from engine.models import find_model
    try:
        name, _ = source_model(source)
    except (RunDirError, DataError, ConfigError) as exc:
        return str(exc)
    spec = find_model(name)
    if spec is None or VARY not in spec.capabilities:
        return _refusal(name)
    return None


def check_strength(strength: Any) -> float:
    """The strength as a float in [0, 1], or a ConfigError saying what it must be."""
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) \
            or not 0 <= strength <= 1:
        raise ConfigError(f"strength must be a number from 0 (the picture itself) to 1 "
                          f"(a new picture), not {strength!r}")
    return float(strength)


@dataclasses.dataclass(frozen=True)
class Variations:
    images: np.ndarray              # uint8 (N, S, S, C): one variation per seed
    original: np.ndarray            # uint8 (S, S, C): the picture as the model sees it
    seeds: tuple[int, ...]
    provenance: dict[str, Any]      # what every saved variation records (see tile_provenance)

    def tile_provenance(self, index: int) -> dict[str, Any]:
        """Provenance of variation `index` saved on its own: the source picture's
        digest, strength, its seed, sampler steps and guidance."""
        record = {k: v for k, v in self.provenance.items() if k not in ("seeds", "labels")}
        record["seed"] = self.seeds[index]
        if "labels" in self.provenance:
            record["label"] = self.provenance["labels"][index]
        return record


class VariationMaker(Reconstructor):
    """Keeps one run's model between variations (the gallery moves the strength
    slider again and again) and reloads it when the run saves a new checkpoint.
    Use from one thread at a time."""

    def check(self, name: str, model: GenerativeModel) -> None:
        if VARY not in model.capabilities:
            raise ConfigError(_refusal(name))

    def vary(self, picture: Picture, strength: float, seeds: list[int],
             labels: list[int] | None = None, steps: int | None = None,
             guidance: float | None = None) -> Variations:
        """One variation of `picture` per seed. `labels`: the class of every
        variation (one for all, or one per seed) for a class-conditional model;
        without them it varies the picture without a class."""
        strength = check_strength(strength)
        if not 1 <= len(seeds) <= MAX_IMAGES:
            raise ConfigError(f"make between 1 and {MAX_IMAGES} variations, not {len(seeds)}")
        model = self.model()
        size, channels = model_geometry(model)
        if isinstance(picture, np.ndarray):
            pixels = fit_pixels(picture, size, channels)
            shown, digest = "pixels", hashlib.sha256(pixels.tobytes()).hexdigest()[:16]
        else:
            path = Path(picture).expanduser()
            pixels = load_picture(path, size, channels)
            shown, digest = path.name, picture_digest(path)
        y = self._labels(model, labels, seeds)
        x = torch.from_numpy(np.array(pixels)).float().mul_(2.0 / 255.0).sub_(1.0)
        x = x.unsqueeze(0).expand(len(seeds), -1, -1, -1)
        with sampler_settings(model, steps, guidance, self.name):
            images = to_uint8(model.vary(x, strength, list(seeds), y))
            sampler = sampler_provenance(model)
        provenance = {"kind": "variation", "model": self.name, "run": self.source.name,
                      "step": self._step(), "input": shown, "input_sha256": digest,
                      "strength": strength, "seeds": list(seeds), **sampler,
                      **({"labels": [int(v) for v in y.cpu()]} if y is not None else {})}
        return Variations(images=images, original=np.ascontiguousarray(pixels.transpose(1, 2, 0)),
                          seeds=tuple(seeds), provenance=provenance)

    @staticmethod
    def _labels(model: GenerativeModel, labels: list[int] | None, seeds: list[int]
                ) -> torch.Tensor | None:
        if labels is None or not model.uses_labels:
            return None
        if len(labels) == 1:
            labels = list(labels) * len(seeds)
        return model.labels_for_seeds(list(seeds), list(labels))

    def _step(self) -> int | None:
        if self.source.is_file():
            from engine.runs.bundles import inspect_bundle
            return inspect_bundle(self.source).step
        from engine.runs.folders import RunDir
        from engine.studio.animation import checkpoint_step
        return checkpoint_step(RunDir(self.source))



def vary_picture(source: str | Path, picture_path: Picture, strength: float, seeds: list[int],
                 labels: list[int] | None = None, device: str = "auto",
                 steps: int | None = None, guidance: float | None = None) -> np.ndarray:
    """uint8 variations (N, H, W, C) of a picture file (or uint8 pixels) with a
    run's (or bundle's) diffusion or flow model, one per seed; see VariationMaker
    for the provenance a saved variation carries."""
    return VariationMaker(source, device).vary(picture_path, strength, seeds, labels,
                                               steps, guidance).images
