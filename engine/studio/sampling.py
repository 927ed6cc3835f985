"""Generating images from a saved run: the gallery and `sample` use this."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.runs.bundles import BUNDLE_SUFFIX, inspect_bundle, load_model_from
from engine.runtime.device import resolve_device
from engine.errors import ConfigError
from engine.media.images import to_uint8
from engine.runs.folders import RunDir

MAX_SAMPLES = 4096


def seeds_from(first_seed: int, count: int) -> list[int]:
    if count < 1 or count > MAX_SAMPLES:
        raise ConfigError(f"number of images must be between 1 and {MAX_SAMPLES}, not {count}")
    if not 0 <= first_seed <= 2**63 - 1 - count:
        raise ConfigError(f"seed must be between 0 and 2**63 - 1, not {first_seed}")
    return list(range(first_seed, first_seed + count))


def sample_run(run_dir: str | Path, seeds: list[int], device: str = "auto",
               batch_size: int = 256, labels: list[int] | None = None,
               temperature: float = 1.0, truncation: float | None = None) -> np.ndarray:
    """uint8 images (N, H, W, C) for `seeds` from the run's saved generator.

    Tile i depends only on seeds[i] (and, for a conditional model, its class:
    labels[i], or seed mod classes when no labels are given), the temperature and
    the truncation (GANs; None: off), so the same seed always gives the same image.
    """
    _, model = load_model_from(run_dir, resolve_device(device))
    # Only passed when given: every family takes a temperature, GANs a truncation.
    options = {} if truncation is None else {"truncation": truncation}
    chunks = [to_uint8(model.sample(seeds[i:i + batch_size],
                                    None if labels is None else labels[i:i + batch_size],
                                    temperature, **options))
              for i in range(0, len(seeds), batch_size)]
    return np.concatenate(chunks)


def run_supports_truncation(run_dir: str | Path) -> bool:
    """Whether a run's (or bundle's) model samples with truncation (the GANs),
    read from its config without loading weights."""
    from engine.models import find_model
    from engine.models.base import TRUNCATION
    if str(run_dir).endswith(BUNDLE_SUFFIX):
        name = inspect_bundle(run_dir).model
    else:
        name = RunDir(run_dir).read_config().get("model")
    spec = find_model(name)
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
