"""The GAN family: `mlp-gan` and `dcgan`, trained with the non-saturating loss."""
from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from engine.errors import ConfigError
from engine.models.base import GenerativeModel, ModelConfig
from engine.models.gan_networks import (DcganDiscriminator, DcganGenerator, MlpDiscriminator,
                                        MlpGenerator, dcgan_init_)

ARCHITECTURES = ("mlp", "dcgan")
DCGAN_SIZES = (28, 32, 64)


@dataclasses.dataclass
class GanConfig(ModelConfig):
    architecture: str = "dcgan"
    latent_dim: int = 100
    # DCGAN base width (pytorch/examples' ngf/ndf). 32 keeps a CPU run quick; 64
    # at image_size 64 is the reference architecture. Ignored by the MLP.
    width: int = 32
    learning_rate: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999

    def validate(self) -> None:
        super().validate()
        if self.architecture not in ARCHITECTURES:
            raise ConfigError(f"unknown GAN architecture {self.architecture!r}")
        if self.architecture == "dcgan" and self.image_size not in DCGAN_SIZES:
            raise ConfigError(f"dcgan image size must be one of {DCGAN_SIZES}, not {self.image_size}")
        if self.architecture == "mlp" and not 8 <= self.image_size <= 128:
            raise ConfigError(f"mlp-gan image size must be between 8 and 128, not {self.image_size}")
        if not 1 <= self.latent_dim <= 4096:
            raise ConfigError(f"latent size must be between 1 and 4096, not {self.latent_dim}")
        if not 4 <= self.width <= 1024:
            raise ConfigError(f"width must be between 4 and 1024, not {self.width}")
        if not (0 < self.learning_rate <= 1):
            raise ConfigError(f"learning rate must be in (0, 1], not {self.learning_rate}")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise ConfigError("Adam betas must be in [0, 1)")


def adam(net: nn.Module, c: GanConfig, device: torch.device) -> torch.optim.Adam:
    """Adam with the fused kernel where the device has one (one pass over the
    weights instead of several), else the multi-tensor one."""
    kwargs = {"lr": c.learning_rate, "betas": (c.beta1, c.beta2)}
    if device.type in ("cpu", "cuda"):
        return torch.optim.Adam(net.parameters(), fused=True, **kwargs)
    return torch.optim.Adam(net.parameters(), foreach=True, **kwargs)


class GanModel(GenerativeModel):
    family = "gan"
    config_class = GanConfig
    plotted_losses = ("generator", "discriminator")

    def __init__(self, config: GanConfig, device: torch.device, seed: int = 0) -> None:
        super().__init__(config, device, seed)
        c = config
        if c.architecture == "mlp":
            self.generator: nn.Module = MlpGenerator(c.latent_dim, c.image_size, c.channels)
            self.discriminator: nn.Module = MlpDiscriminator(c.image_size, c.channels)
        else:
            self.generator = DcganGenerator(c.latent_dim, c.image_size, c.channels, c.width)
            self.discriminator = DcganDiscriminator(c.image_size, c.channels, c.width)
            dcgan_init_(self.generator)
            dcgan_init_(self.discriminator)
        # channels_last lets oneDNN (CPU) and cuDNN (GPU) pick their fastest
        # convolution kernels; it changes memory layout, not the network.
        self.memory_format = (torch.channels_last if c.architecture == "dcgan"
                              else torch.contiguous_format)
        self.generator.to(device, memory_format=self.memory_format)
        self.discriminator.to(device, memory_format=self.memory_format)
        self.opt_g = adam(self.generator, c, device)
        self.opt_d = adam(self.discriminator, c, device)

    def networks(self) -> dict[str, nn.Module]:
        return {"generator": self.generator, "discriminator": self.discriminator}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"generator": self.opt_g, "discriminator": self.opt_d}

    def train_step(self, real: torch.Tensor, labels: torch.Tensor | None = None
                   ) -> dict[str, torch.Tensor]:
        n = real.shape[0]
        real = real.contiguous(memory_format=self.memory_format)
        z = torch.randn(n, self.config.latent_dim, device=self.device, generator=self.noise)
        fake = self.generator(z)

        # Discriminator: real -> 1, fake -> 0. Real and fake go through separately
        # so BatchNorm sees each batch on its own, as in the DCGAN paper.
        self.opt_d.zero_grad(set_to_none=True)
        real_logits = self.discriminator(real)
        fake_logits = self.discriminator(fake.detach())
        loss_d = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
        loss_d.backward()
        self.opt_d.step()

        # Generator, non-saturating: maximise log D(G(z)). The discriminator's
        # own weight gradients are not needed here, so skip computing them.
        self.discriminator.requires_grad_(False)
        try:
            self.opt_g.zero_grad(set_to_none=True)
            loss_g = F.softplus(-self.discriminator(fake)).mean()
            loss_g.backward()
            self.opt_g.step()
        finally:
            self.discriminator.requires_grad_(True)
        with torch.no_grad():
            return {"generator": loss_g.detach(), "discriminator": loss_d.detach(),
                    "D(x)": torch.sigmoid(real_logits).mean(),
                    "D(G(z))": torch.sigmoid(fake_logits).mean()}

    def latents_for_seeds(self, seeds: list[int]) -> torch.Tensor:
        rows = []
        for seed in seeds:
            g = torch.Generator(device="cpu")
            g.manual_seed(int(seed))
            rows.append(torch.randn(self.config.latent_dim, generator=g))
        return torch.stack(rows) if rows else torch.empty(0, self.config.latent_dim)

    def decode(self, latents: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.generator(latents)
