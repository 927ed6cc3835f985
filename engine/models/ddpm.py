"""`ddpm`: a denoising diffusion model (Ho et al. 2020) on a small U-Net,
sampled with DDIM (Song et al. 2021).

The noisy picture at time t in [0, 1] is x_t = alpha(t) x + sigma(t) noise with
the cosine schedule (Nichol and Dhariwal 2021) in its continuous form,
alpha = cos(phi), sigma = sin(phi), the angle phi growing linearly with t; so
any number of sampler steps lands on the schedule. The network predicts
v = alpha noise - sigma x (Salimans and Ho 2022) by default, from which both the
clean picture and the noise follow even at pure noise; `prediction = "epsilon"`
predicts the noise as in the DDPM paper (its schedule then stops at alpha =
0.02, since the picture cannot be recovered from noise alone; near there its
clean-picture guess divides by alpha, so its inversion is far rougher: an
untrained network's round trip missed by 0.9 on [-1, 1] where v's missed by
0.01).

DDIM moves x_t to x_s through the predicted clean picture and noise,
x_s = alpha(s) x0 + sigma(s) noise: deterministic for eta = 0 (the default,
and what walks and inversion need), adding fresh noise for eta > 0 (eta = 1
is the DDPM sampler's variance).
"""
from __future__ import annotations

import dataclasses
import math
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

PREDICTIONS = ("v", "epsilon")
# alpha at t = 1 for epsilon prediction: x0 = (x - sigma eps) / alpha needs alpha > 0.
EPSILON_ALPHA_MIN = 0.02


@dataclasses.dataclass
class DdpmConfig(DenoiserConfig):
    prediction: str = "v"     # what the network predicts: "v" or "epsilon"
    eta: float = 0.0          # DDIM's noise: 0 deterministic, 1 as DDPM

    def validate(self) -> None:
        super().validate()
        if self.prediction not in PREDICTIONS:
            raise ConfigError(f"prediction must be one of {', '.join(PREDICTIONS)}, "
                              f"not {self.prediction!r}")
        if not 0 <= self.eta <= 1:
            raise ConfigError(f"eta must be between 0 and 1, not {self.eta}")


class DdpmModel(Denoiser):
    family = "diffusion"
    config_class = DdpmConfig
    process_name = "denoising"
    counters_key = "ddpm.counters"
    config: DdpmConfig

    @classmethod
    def suggest_preset(cls, model: str, facts: DataFacts, device: torch.device | str,
                       chosen: bool) -> Preset | None:
        return suggest_denoiser(model, facts, device, chosen)

    def __init__(self, config: DdpmConfig, device: torch.device, seed: int = 0) -> None:
        super().__init__(config, device, seed)
        alpha_end = 0.0 if config.prediction == "v" else EPSILON_ALPHA_MIN
        self.max_angle = math.acos(alpha_end)

    @property
    def stochastic(self) -> bool:  # type: ignore[override]
        return self.config.eta > 0

    def alpha_sigma(self, t: float) -> tuple[float, float]:
        """The cosine schedule at time t: (alpha, sigma), alpha^2 + sigma^2 = 1.
        alpha as the sine of the angle's complement, so that it is exactly 0 at
        t = 1 with v-prediction (cos(pi / 2) is 6e-17 in floating point, and
        a variation at strength 1 must not keep any of the picture)."""
        angle = t * self.max_angle
        return math.sin(math.pi / 2 - angle), math.sin(angle)

    def onnx_sampler(self) -> dict[str, Any]:
        c = self.config
        v = c.prediction == "v"
        return {
            "process": "ddim", "prediction": c.prediction, "eta": c.eta,
            "max_angle": self.max_angle,
            "path": "x_t = alpha(t) x + sigma(t) noise, alpha(t) = sin(pi / 2 - t * max_angle), "
                    "sigma(t) = sin(t * max_angle)",
            "output": ("v = alpha(t) noise - sigma(t) x" if v else "the noise (epsilon)"),
            "step": ("x0 = alpha_t x_t - sigma_t out, noise = sigma_t x_t + alpha_t out"
                     if v else "noise = out, x0 = (x_t - sigma_t noise) / alpha_t")
                    + "; x_s = alpha_s x0 + sigma_s noise (eta 0; with eta > 0 a share of "
                      "sigma_s is fresh noise, DDIM eq. 16)",
        }

    def training_loss(self, clean: torch.Tensor, noise: torch.Tensor,
                      classes: torch.Tensor | None) -> torch.Tensor:
        t = torch.rand(clean.shape[0], device=self.device, generator=self.noise)
        angle = (t * self.max_angle)[:, None, None, None]
        alpha, sigma = torch.cos(angle), torch.sin(angle)
        noisy = alpha * clean + sigma * noise
        target = alpha * noise - sigma * clean if self.config.prediction == "v" else noise
        return F.mse_loss(self.network_output(noisy, t, classes), target)

    def noised(self, clean: torch.Tensor, noise: torch.Tensor, t: float) -> torch.Tensor:
        alpha, sigma = self.alpha_sigma(t)
        return alpha * clean + sigma * noise

    def step(self, x: torch.Tensor, t: float, s: float, classes: torch.Tensor | None,
             noise: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.guided(x, t, classes)
        alpha_t, sigma_t = self.alpha_sigma(t)
        alpha_s, sigma_s = self.alpha_sigma(s)
        if self.config.prediction == "v":
            clean = alpha_t * x - sigma_t * out
            eps = sigma_t * x + alpha_t * out
        else:
            eps = out
            clean = (x - sigma_t * eps) / alpha_t
        if noise is None:
            return alpha_s * clean + sigma_s * eps, clean
        # DDIM's eta: the share of sigma(s) that is fresh noise (eq. 16 of the paper).
        fresh = self.config.eta * math.sqrt(
            max(sigma_s ** 2 / sigma_t ** 2 * (1 - (alpha_t / alpha_s) ** 2), 0.0))
        kept = math.sqrt(max(sigma_s ** 2 - fresh ** 2, 0.0))
        return alpha_s * clean + kept * eps + fresh * noise, clean


# -- the models this family offers ------------------------------------------------------
register_model(ModelSpec(
    "ddpm", DdpmModel, "Diffusion (small U-Net, v-prediction, DDIM sampler, guidance, EMA)",
    lr_schedule="cosine", image_sizes=(28, 32, 64), takes_width=True,
    eval_metrics=("fd", "kid", "class_coverage")))
