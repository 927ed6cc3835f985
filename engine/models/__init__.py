"""Model registry: a model name (as users type it) -> its family and preset."""
from __future__ import annotations

import threading
from typing import Any

import torch

from engine.errors import ConfigError
from engine.models.base import GenerativeModel, ModelConfig
from engine.models.convlstm import ConvLstmConfig, ConvLstmModel
from engine.models.draw import DrawConfig, DrawModel
from engine.models.gan import GanConfig, GanModel
from engine.models.row_lstm import RowLstmConfig, RowLstmModel

# name -> (family class, preset applied before the user's own settings)
MODEL_PRESETS: dict[str, tuple[type[GenerativeModel], dict[str, Any]]] = {
    "mlp-gan": (GanModel, {"architecture": "mlp"}),
    "dcgan": (GanModel, {"architecture": "dcgan"}),
    "row-lstm": (RowLstmModel, {}),
    "draw": (DrawModel, {}),
    "convlstm": (ConvLstmModel, {}),
}

MODEL_DESCRIPTIONS = {
    "mlp-gan": "MLP GAN (fully connected)",
    "dcgan": "DCGAN (convolutional)",
    "row-lstm": "PixelRNN Row LSTM (binarized, exact likelihood, draws row by row)",
    "draw": "DRAW (recurrent VAE painting a canvas with attention)",
    "convlstm": "ConvLSTM next-frame model: continues image sequences",
}


def model_names() -> list[str]:
    return list(MODEL_PRESETS)


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


__all__ = ["ConvLstmConfig", "ConvLstmModel", "DrawConfig", "DrawModel", "RowLstmConfig",
           "RowLstmModel", "GanConfig", "GanModel", "GenerativeModel", "ModelConfig", "MODEL_DESCRIPTIONS",
           "build_model", "model_config", "model_names"]
