"""Model registry: a model name (as users type it) -> its family and preset."""
from __future__ import annotations

import dataclasses
import threading
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from engine.errors import ConfigError
from engine.models.base import GenerativeModel, ModelConfig
from engine.models.convlstm import ConvLstmConfig, ConvLstmModel
from engine.models.draw import DrawConfig, DrawModel
from engine.models.gan import GanConfig, GanModel
from engine.models.vae import VaeConfig, VaeModel
from engine.models.row_lstm import RowLstmConfig, RowLstmModel
from engine.safetensors_file import expected_entries

# name -> (family class, preset applied before the user's own settings)
MODEL_PRESETS: dict[str, tuple[type[GenerativeModel], dict[str, Any]]] = {
    "mlp-gan": (GanModel, {"architecture": "mlp"}),
    "dcgan": (GanModel, {"architecture": "dcgan"}),
    # Hinge loss, spectral norm, DiffAugment and a generator EMA: the setting
    # that keeps a GAN from collapsing on a few hundred images.
    "small-data-gan": (GanModel, {"architecture": "dcgan", "loss": "hinge", "spectral_norm": True,
                                  "augment": "translation,cutout,color", "ema_decay": 0.999}),
    "wgan-gp": (GanModel, {"architecture": "dcgan", "loss": "wgan-gp", "beta2": 0.9}),
    "cgan": (GanModel, {"architecture": "dcgan", "conditional": True, "loss": "hinge",
                        "spectral_norm": True, "ema_decay": 0.999}),
    # A higher rate decayed by a cosine schedule (DEFAULT_LR_SCHEDULES): the
    # reference network beats the reference's constant 1e-3 in the same epochs.
    "mlp-vae": (VaeModel, {"architecture": "mlp", "learning_rate": 3e-3}),
    "conv-vae": (VaeModel, {"architecture": "conv"}),
    "cvae": (VaeModel, {"architecture": "mlp", "conditional": True, "learning_rate": 3e-3}),
    "conv-cvae": (VaeModel, {"architecture": "conv", "conditional": True}),
    "row-lstm": (RowLstmModel, {}),
    "draw": (DrawModel, {}),
    "convlstm": (ConvLstmModel, {}),
}

# The learning-rate schedule a run gets when it asks for "auto" (engine.schedule).
DEFAULT_LR_SCHEDULES = {"mlp-vae": "cosine", "cvae": "cosine"}


def default_lr_schedule(name: str) -> str:
    return DEFAULT_LR_SCHEDULES.get(name, "constant")


MODEL_DESCRIPTIONS = {
    "mlp-gan": "MLP GAN (fully connected)",
    "dcgan": "DCGAN (convolutional)",
    "small-data-gan": "GAN for small data sets (hinge, spectral norm, DiffAugment, EMA)",
    "wgan-gp": "WGAN-GP (convolutional critic, gradient penalty)",
    "cgan": "Conditional GAN (class labels, projection discriminator, EMA)",
    "mlp-vae": "VAE, MLP 784-400-20",
    "conv-vae": "VAE, convolutional",
    "cvae": "Conditional VAE, MLP (class labels)",
    "conv-cvae": "Conditional VAE, convolutional (class labels)",
    "row-lstm": "PixelRNN Row LSTM (binarized, exact likelihood, draws row by row)",
    "draw": "DRAW (recurrent VAE painting a canvas with attention)",
    "convlstm": "ConvLSTM next-frame model: continues image sequences",
}


# Models whose networks are convolutional: they take any supported image size and
# a base width; the fully connected ones work at 28 x 28 in the GUI.
CONVOLUTIONAL_MODELS = ("dcgan", "small-data-gan", "wgan-gp", "cgan", "conv-vae", "conv-cvae")


def model_names() -> list[str]:
    return list(MODEL_PRESETS)


def model_accepts(name: str, setting: str) -> bool:
    """Whether model `name`'s config has `setting` (e.g. "num_classes")."""
    if name not in MODEL_PRESETS:
        return False
    return setting in {f.name for f in dataclasses.fields(MODEL_PRESETS[name][0].config_class)}


def plotted_losses(name: str) -> tuple[str, ...]:
    """The losses of model `name` worth a curve in the GUI."""
    return MODEL_PRESETS[name][0].plotted_losses


def model_defaults(name: str) -> ModelConfig:
    """Model `name`'s config with nothing but its preset (its default settings)."""
    family, preset = MODEL_PRESETS[name]
    return family.config_class.from_dict(preset)


def model_config(name: str, **settings: Any) -> ModelConfig:
    """The config for model `name` with the given settings over its preset."""
    if name not in MODEL_PRESETS:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(MODEL_PRESETS)}")
    family, preset = MODEL_PRESETS[name]
    values = {**preset, **{k: v for k, v in settings.items() if v is not None}}
    config = family.config_class.from_dict(values)
    config.validate()
    return config


# Weight initialisation draws from torch's global generator; holding this lock
# while seeding and building keeps two threads' models from interleaving draws.
BUILD_LOCK = threading.Lock()


def build_model(name: str, config: ModelConfig, device: torch.device, seed: int | None = None
                ) -> GenerativeModel:
    """Build model `name`. With a seed, its initial weights and training noise
    are reproducible from that seed alone."""
    family, _ = MODEL_PRESETS[name]
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
    family, _ = MODEL_PRESETS[name]
    with BUILD_LOCK, torch.device("meta"), _NoRandomFill():
        model = family(config, torch.device("meta"))
    return {net: expected_entries(module.state_dict()) for net, module in model.networks().items()}


__all__ = ["CONVOLUTIONAL_MODELS", "ConvLstmConfig", "ConvLstmModel", "DEFAULT_LR_SCHEDULES",
           "DrawConfig", "DrawModel", "GanConfig", "GanModel", "GenerativeModel",
           "MODEL_DESCRIPTIONS", "ModelConfig", "RowLstmConfig", "RowLstmModel", "VaeConfig",
           "VaeModel", "build_model", "default_lr_schedule", "expected_weights", "model_accepts",
           "model_config",
           "model_defaults", "model_names", "plotted_losses"]
