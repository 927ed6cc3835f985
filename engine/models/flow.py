"""`flow`: rectified flow / conditional flow matching (Liu et al. 2022, Lipman
et al. 2022) on a small U-Net.

The picture at time t in [0, 1] lies on the straight line from the clean
picture (t = 0) to its noise (t = 1): x_t = (1 - t) x + t noise. The network
learns the velocity along it, noise - x, with t drawn from a logit-normal
(Esser et al. 2024: most training where the line is hardest to follow, in the
middle). Sampling integrates dx/dt = v from t = 1 to 0 with Euler steps or
Heun's second-order steps (`sampler`); running the same steps from 0 to 1
inverts a picture to its noise.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from engine.errors import ConfigError
from engine.models.common.denoiser import Denoiser, DenoiserConfig
from engine.models.common.denoiser_presets import suggest_denoiser
from engine.models.registry import ModelSpec, register_model

if TYPE_CHECKING:
    from engine.data.facts import DataFacts
    from engine.models.common.preset import Preset

SAMPLERS = ("euler", "heun")


@dataclasses.dataclass
class FlowConfig(DenoiserConfig):
    sampler: str = "euler"    # "euler" (one network pass a step) or "heun" (two, more exact)
    logit_mean: float = 0.0   # training times t = sigmoid(logit_mean + logit_std * normal)
    logit_std: float = 1.0

    def validate(self) -> None:
        super().validate()
        if self.sampler not in SAMPLERS:
            raise ConfigError(f"sampler must be one of {', '.join(SAMPLERS)}, not {self.sampler!r}")
        if not -5 <= self.logit_mean <= 5:
            raise ConfigError(f"logit_mean must be between -5 and 5, not {self.logit_mean}")
        if not 0 < self.logit_std <= 5:
            raise ConfigError(f"logit_std must be in (0, 5], not {self.logit_std}")


class FlowModel(Denoiser):
    family = "flow"
    config_class = FlowConfig
    process_name = "flowing"
    counters_key = "flow.counters"
    config: FlowConfig

    @classmethod
    def suggest_preset(cls, model: str, facts: DataFacts, device: torch.device | str,
                       chosen: bool) -> Preset | None:
        return suggest_denoiser(model, facts, device, chosen)

    def onnx_sampler(self) -> dict[str, Any]:
        return {
            "process": "flow", "method": self.config.sampler,
            "path": "x_t = (1 - t) x + t noise",
            "output": "the velocity v = noise - x",
            "step": "euler: x_s = x_t + (s - t) v(x_t, t); heun: x_s = x_t + (s - t) / 2 * "
                    "(v(x_t, t) + v(euler x_s, s))",
        }

    def training_loss(self, clean: torch.Tensor, noise: torch.Tensor,
                      classes: torch.Tensor | None) -> torch.Tensor:
        c = self.config
        normal = torch.randn(clean.shape[0], device=self.device, generator=self.noise)
        t = torch.sigmoid(c.logit_mean + c.logit_std * normal)
        along = t[:, None, None, None]
        moving = (1 - along) * clean + along * noise
        return F.mse_loss(self.network_output(moving, t, classes), noise - clean)

    def noised(self, clean: torch.Tensor, noise: torch.Tensor, t: float) -> torch.Tensor:
        return (1 - t) * clean + t * noise

    def step(self, x: torch.Tensor, t: float, s: float, classes: torch.Tensor | None,
             noise: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        velocity = self.guided(x, t, classes)
        clean = x - t * velocity
        euler = x + (s - t) * velocity
        if self.config.sampler == "euler":
            return euler, clean
        # Heun: the mean of the velocities at both ends of the Euler step.
        return x + (s - t) * 0.5 * (velocity + self.guided(euler, s, classes)), clean


# -- the models this family offers ------------------------------------------------------
register_model(ModelSpec(
    "flow", FlowModel, "Rectified flow (small U-Net, Euler or Heun sampler, guidance, EMA)",
    lr_schedule="cosine", image_sizes=(28, 32, 64), takes_width=True,
    eval_metrics=("fd", "kid", "class_coverage")))
