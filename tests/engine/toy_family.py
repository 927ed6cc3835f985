"""A whole model family in one file: what a new family has to write.

`register_model(TOY)` (one call) makes "toy" a model everywhere: `train
--model toy`, the Train page's model list, sampling, export and evaluation.
Nothing else in the app names it.
"""
from __future__ import annotations

import dataclasses

import torch
from torch import nn

from engine.models.base import TEMPERATURE, GenerativeModel, ModelConfig, per_seed
from engine.models.registry import ModelSpec

LATENT = 8


@dataclasses.dataclass
class ToyConfig(ModelConfig):
    learning_rate: float = 1e-3


class ToyModel(GenerativeModel):
    """A linear decoder trained to match the data's mean image: tiny and fast."""

    family = "toy"
    config_class = ToyConfig
    plotted_losses = ("loss",)
    capabilities = frozenset({TEMPERATURE})

    def __init__(self, config: ToyConfig, device: torch.device, seed: int = 0) -> None:
        super().__init__(config, device, seed)
        pixels = config.channels * config.image_size ** 2
        self.decoder = nn.Linear(LATENT, pixels).to(device)

    def networks(self) -> dict[str, nn.Module]:
        return {"decoder": self.decoder}

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"decoder": torch.optim.Adam(self.decoder.parameters(), lr=self.config.learning_rate)}

    def train_step(self, real: torch.Tensor, labels: torch.Tensor | None = None
                   ) -> dict[str, torch.Tensor]:
        z = torch.randn(real.shape[0], LATENT, generator=self.noise).to(self.device)
        loss = (self.decode(z) - real).pow(2).mean()
        optimizer = self.optimizers()["decoder"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {"loss": loss.detach()}

    def latents_for_seeds(self, seeds: list[int]) -> torch.Tensor:
        return per_seed(seeds, lambda g: torch.randn(LATENT, generator=g), (LATENT,))

    def decode(self, latents: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        c, s = self.config.channels, self.config.image_size
        return torch.tanh(self.decoder(latents.to(self.device))).view(-1, c, s, s)


TOY = ModelSpec("toy", ToyModel, "Toy family (a linear decoder; tests only)",
                {"learning_rate": 1e-2})
