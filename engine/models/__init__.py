"""Model registry: a model name (as users type it) -> its family and preset."""
from __future__ import annotations

import threading
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from engine.errors import ConfigError
from engine.models.base import GenerativeModel, ModelConfig
from engine.models.registry import (ModelSpec, find_model, model_names, model_spec, model_specs,
                                    register_model)
# Importing a family module registers its models (in this order: the order of
# every list of models the app shows).
from engine.models.gan import GanConfig, GanModel
from engine.models.fastgan import FastganConfig, FastganModel
from engine.models.vae import VaeConfig, VaeModel
from engine.models.row_lstm import RowLstmConfig, RowLstmModel
from engine.models.draw import DrawConfig, DrawModel
from engine.models.convlstm import ConvLstmConfig, ConvLstmModel
from engine.models.ddpm import DdpmConfig, DdpmModel
from engine.models.flow import FlowConfig, FlowModel
from engine.storage.safetensors_file import expected_entries


def default_lr_schedule(name: str) -> str:
    """The schedule a run of `name` gets when it asks for "auto"."""
    spec = find_model(name)
    return spec.lr_schedule if spec is not None else "constant"


def model_accepts(name: str, setting: str) -> bool:
    """Whether model `name`'s config has `setting` (e.g. "num_classes")."""
    spec = find_model(name)
    return spec is not None and spec.accepts(setting)


def plotted_losses(name: str) -> tuple[str, ...]:
    """The losses of model `name` worth a curve in the GUI."""
    return model_spec(name).family.plotted_losses


def model_defaults(name: str) -> ModelConfig:
    """Model `name`'s config with nothing but its preset (its default settings)."""
    spec = model_spec(name)
    return spec.family.config_class.from_dict(dict(spec.preset))


def model_config(name: str, **settings: Any) -> ModelConfig:
    """The config for model `name` with the given settings over its preset."""
    spec = model_spec(name)
    values = {**spec.preset, **{k: v for k, v in settings.items() if v is not None}}
    config = spec.family.config_class.from_dict(values)
    config.validate()
    return config


# Weight initialisation draws from torch's global generator; holding this lock
# while seeding and building keeps two threads' models from interleaving draws.
BUILD_LOCK = threading.Lock()


def build_model(name: str, config: ModelConfig, device: torch.device, seed: int | None = None
                ) -> GenerativeModel:
    """Build model `name`. With a seed, its initial weights and training noise
    are reproducible from that seed alone."""
    family = model_spec(name).family
    with BUILD_LOCK:
        if seed is not None:
            torch.manual_seed(seed)
        return family(config, device, seed=seed or 0)


class _NoRandomFill(TorchFunctionMode):
    """Skips random initialisation of meta tensors (they hold no values): torch
    fills them through its reference kernels, whose first call imports
    torch._dynamo, seconds that a process which only samples never needs."""

    FILLS = {"normal_", "uniform_", "bernoulli_", "random_", "exponential_"}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if getattr(func, "__name__", "") in self.FILLS:
            # torch.nn.init passes the tensor by keyword, Tensor.normal_ as self.
            target = args[0] if args else kwargs.get("tensor")
            if isinstance(target, torch.Tensor) and target.is_meta:
                return target
        return func(*args, **kwargs)


def expected_weights(name: str, config: ModelConfig
                     ) -> dict[str, dict[str, tuple[str, tuple[int, ...]]]]:
    """network -> {key: (safetensors dtype, shape)} of the model `config`
    describes, from a copy built on the meta device: shapes without memory and
    without random draws. Saved weights are checked against this before the
    real model is built, so a config.json or a bundle that describes a huge
    model beside small weight files is refused without allocating it."""
    family = model_spec(name).family
    with BUILD_LOCK, torch.device("meta"), _NoRandomFill():
        model = family(config, torch.device("meta"))
    return {net: expected_entries(module.state_dict()) for net, module in model.networks().items()}


__all__ = ["ConvLstmConfig", "ConvLstmModel", "DdpmConfig", "DdpmModel", "DrawConfig", "DrawModel",
           "FastganConfig", "FastganModel", "FlowConfig", "FlowModel", "GanConfig", "GanModel",
           "GenerativeModel", "ModelConfig", "ModelSpec", "RowLstmConfig", "RowLstmModel",
           "VaeConfig", "VaeModel", "build_model", "default_lr_schedule", "expected_weights",
           "find_model", "model_accepts", "model_config", "model_defaults", "model_names",
           "model_spec", "model_specs", "plotted_losses", "register_model"]
