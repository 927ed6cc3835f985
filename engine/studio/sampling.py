"""Generating images from a saved run: the gallery and `sample` use this.

Models with an iterative sampler (declared by the STEPS and GUIDANCE
capabilities) take the sampler's steps and classifier-free guidance scale per
call; every entry point of the studio that samples (this module, walks, the
process animation, morphs, variations) applies them through `sampler_settings`.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from engine.runs.bundles import BUNDLE_SUFFIX, inspect_bundle, load_model_from
from engine.runtime.device import resolve_device
from engine.errors import ConfigError
from engine.media.images import to_uint8
from engine.models.base import CLASSES, GUIDANCE, STEPS, GenerativeModel, SamplerSettings
from engine.runs.folders import RunDir

MAX_SAMPLES = 4096


def seeds_from(first_seed: int, count: int) -> list[int]:
    if count < 1 or count > MAX_SAMPLES:
        raise ConfigError(f"number of images must be between 1 and {MAX_SAMPLES}, not {count}")
    if not 0 <= first_seed <= 2**63 - 1 - count:
        raise ConfigError(f"seed must be between 0 and 2**63 - 1, not {first_seed}")
    return list(range(first_seed, first_seed + count))


# -- sampler steps and guidance ----------------------------------------------------------
@contextlib.contextmanager
def sampler_settings(model: GenerativeModel, steps: int | None = None,
                     guidance: float | None = None, name: str | None = None
                     ) -> Iterator[None]:
    """The model samples with these steps and guidance inside the block (None: the
    model's own default), and with its previous settings after it, so a model
    kept between calls (a walk preview, the gallery) never keeps one call's choice.

    A value the model cannot use is a ConfigError naming the run's model: steps
    for a model that samples in one pass, guidance for one without classifier-free
    guidance or a run that is not class-conditional (guidance would change nothing).
    """
    if steps is None and guidance is None:   # nothing chosen: the model's settings as they are
        yield
        return
    shown = name or model.family
    if steps is not None and STEPS not in model.capabilities:
        raise ConfigError(f"{shown} draws a picture in one pass; it has no sampler steps to choose")
    if guidance is not None:
        if GUIDANCE not in model.capabilities:
            raise ConfigError(f"{shown} has no classifier-free guidance to set")
        if not model.uses_labels:
            raise ConfigError(f"guidance steers a class-conditional model towards a class; "
                              f"this {shown} run is not class-conditional")
    previous = model.sampling
    try:
        model.configure_sampling(steps=steps, guidance=guidance)
        yield
    finally:
        model.sampling = previous


def sampler_provenance(model: GenerativeModel) -> dict[str, Any]:
    """What an export records of the sampler: its steps and guidance, for models
    that have them (so the same seed gives the same picture again); nothing for
    the rest."""
    record: dict[str, Any] = {}
    if STEPS in model.capabilities:
        record["sampler_steps"] = model.sampling.steps
    if GUIDANCE in model.capabilities and model.uses_labels:
        record["guidance"] = model.sampling.guidance
    return record


def sample_run(run_dir: str | Path, seeds: list[int], device: str = "auto",
               batch_size: int = 256, labels: list[int] | None = None,
               temperature: float = 1.0, truncation: float | None = None,
               steps: int | None = None, guidance: float | None = None) -> np.ndarray:
    """uint8 images (N, H, W, C) for `seeds` from the run's saved generator.

    Tile i depends only on seeds[i] (and, for a conditional model, its class:
    labels[i], or seed mod classes when no labels are given), the temperature and
    the truncation (GANs; None: off), and for an iterative sampler its steps and
    guidance (None: the model's defaults), so the same seed always gives the
    same image.
    """
    name, model = load_model_from(run_dir, resolve_device(device))
    # Only passed when given: every family takes a temperature, GANs a truncation.
    options = {} if truncation is None else {"truncation": truncation}
    with sampler_settings(model, steps, guidance, name):
        chunks = [to_uint8(model.sample(seeds[i:i + batch_size],
                                        None if labels is None else labels[i:i + batch_size],
                                        temperature, **options))
                  for i in range(0, len(seeds), batch_size)]
    return np.concatenate(chunks)


def _model_name(run_dir: str | Path) -> str:
    if str(run_dir).endswith(BUNDLE_SUFFIX):
        return inspect_bundle(run_dir).model
    return RunDir(run_dir).read_config().get("model")


def run_supports_truncation(run_dir: str | Path) -> bool:
    """Whether a run's (or bundle's) model samples with truncation (the GANs),
    read from its config without loading weights."""
    from engine.models import find_model
    from engine.models.base import TRUNCATION
    spec = find_model(_model_name(run_dir))
    return spec is not None and TRUNCATION in spec.capabilities


def run_classes(run_dir: str | Path) -> int:
    """Classes a run's model draws from (0 unless it is class-conditional), read
    from its config without loading weights."""
    if str(run_dir).endswith(BUNDLE_SUFFIX):
        model_config = inspect_bundle(run_dir).model_config
    else:
        model_config = RunDir(run_dir).read_config().get("model_config", {})
    if not model_config.get("conditional"):
        return 0
    return int(model_config.get("num_classes", 0))


def run_sampling_options(run_dir: str | Path) -> tuple[str, ...]:
    """The sampling controls that apply to a run's (or bundle's) model, in the order
    a form shows them: its spec's options (temperature, truncation, classes, steps,
    guidance), less classes and guidance when the run is not class-conditional.
    Read from its config without loading weights."""
    from engine.models import find_model
    spec = find_model(_model_name(run_dir))
    if spec is None:
        return ()
    conditional = run_classes(run_dir) > 0
    return tuple(o for o in spec.sampling_options if conditional or o not in (CLASSES, GUIDANCE))


def run_sampling_defaults(run_dir: str | Path) -> SamplerSettings | None:
    """The steps and guidance a run's (or bundle's) model samples with when none
    are chosen (its config's defaults), or None for a model without an iterative
    sampler. Read from the config alone: no model is built."""
    from engine.models import find_model, model_config

    name = _model_name(run_dir)
    spec = find_model(name)
    if spec is None or not {STEPS, GUIDANCE} & spec.capabilities:
        return None
    if str(run_dir).endswith(BUNDLE_SUFFIX):
        values = inspect_bundle(run_dir).model_config
    else:
        values = RunDir(run_dir).read_config().get("model_config", {})
    return spec.family.default_sampling(model_config(name, **values))
