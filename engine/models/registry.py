"""The model registry: one ModelSpec per model name (as users type it).

A family module registers the models it offers at its bottom with
`register_model(ModelSpec(...))`; everything else (the CLI's help, the Train
page, the gallery, animation, bench, presets, evaluation) reads the spec, so a
new family is one file and nothing outside it names it.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from engine.errors import ConfigError
from engine.models.base import (CLASSES, GUIDANCE, ONNX, STEPS, TEMPERATURE, TRUNCATION,
                                GenerativeModel)

# Sampling options a family may offer, in the order a form shows them.
SAMPLING_OPTIONS = (TEMPERATURE, TRUNCATION, CLASSES, STEPS, GUIDANCE)
# The model a run gets when none is named (TrainConfig, the CLI's help), and the
# image size every model takes.
DEFAULT_MODEL = "dcgan"
BASE_IMAGE_SIZE = 28


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What a model name means: its family, the preset applied before the
    user's own settings, and what the app offers for it."""

    name: str
    family: type[GenerativeModel]
    description: str
    preset: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    # The learning-rate schedule a run gets when it asks for "auto" (engine.training.schedule).
    lr_schedule: str = "constant"
    # Image sides the model trains at; fully connected networks take one size.
    image_sizes: tuple[int, ...] = (28,)
    channels: tuple[int, ...] = (1, 3)
    # Whether the config's `width` (a convolutional base channel count) applies.
    takes_width: bool = False
    # Metrics (engine.metrics names) that can score this model, e.g. for keep-best.
    eval_metrics: tuple[str, ...] = ("fd", "kid")

    def __post_init__(self) -> None:
        # Read-only, so no caller can change a preset for every later run.
        object.__setattr__(self, "preset", MappingProxyType(dict(self.preset)))

    @property
    def capabilities(self) -> frozenset[str]:
        return self.family.capabilities

    @property
    def process_name(self) -> str | None:
        """What its process animation is called ("drawing", ...); None if it has none."""
        return self.family.process_name

    @property
    def sampling_options(self) -> tuple[str, ...]:
        """The sampling controls it offers (temperature, truncation, classes, steps,
        guidance)."""
        return tuple(o for o in SAMPLING_OPTIONS if o in self.family.capabilities)

    @property
    def data_kind(self) -> str:
        return self.family.data_kind

    @property
    def exports_onnx(self) -> bool:
        """Whether its pictures' network can leave the app as an ONNX file."""
        return ONNX in self.family.capabilities

    @property
    def onnx_refusal(self) -> str | None:
        """Why it cannot be exported to ONNX; None when it can."""
        return None if self.exports_onnx else self.family.onnx_refusal

    def accepts(self, setting: str) -> bool:
        """Whether its config has `setting` (e.g. "num_classes")."""
        return setting in {f.name for f in dataclasses.fields(self.family.config_class)}


_SPECS: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    """Make `spec.name` a model everywhere. Registering a name twice is refused
    unless it is the same spec (a module imported again)."""
    known = _SPECS.get(spec.name)
    if known is not None and known != spec:
        raise ConfigError(f"model {spec.name!r} is already registered")
    _SPECS[spec.name] = spec
    return spec


def unregister_model(name: str) -> None:
    """Forget a model (tests that register their own)."""
    _SPECS.pop(name, None)


def model_spec(name: str) -> ModelSpec:
    """The spec of model `name`; a ConfigError naming the choices if unknown."""
    try:
        return _SPECS[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(_SPECS)}") from None


def find_model(name: str) -> ModelSpec | None:
    """The spec of model `name`, or None (a saved run of a model this app lacks)."""
    return _SPECS.get(name)


def model_names() -> list[str]:
    """Registered model names, in registration order."""
    return list(_SPECS)


def model_specs() -> list[ModelSpec]:
    return list(_SPECS.values())
