"""The GAN family: `mlp-gan`, `dcgan` and presets over them.

Losses: non-saturating (the default), hinge, and WGAN-GP. Options: spectral
normalisation of the discriminator, class-conditional generation (one-hot class
beside the latent; projection discriminator), an exponential moving average of
the generator's weights (sampled instead of the raw generator when enabled), and
differentiable augmentation for small data sets, fixed or adaptive (ADA:
engine/models/common/ada.py, its probability p saved with the resume state).
"""
from __future__ import annotations

import copy
import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from engine.data.facts import DataFacts
from engine.errors import ConfigError
from engine.models import gan_presets
from engine.models.base import (CLASSES, DISTRIBUTED, ONNX, PRESET, TEMPERATURE, TRUNCATION,
                                GenerativeModel, ModelConfig, per_seed)
from engine.models.common import adam
from engine.models.common.ada import AdaSettings, AdaState
from engine.models.common.diffaugment import diff_augment, parse_policy
from engine.models.common.onnx_network import (GENERATOR, OneHotConditioned, OnnxNetwork,
                                             generator_inputs, picture_output)
from engine.models.common.preset import Preset
from engine.models.common.truncation import truncated_latents
from engine.models.gan_networks import (DcganDiscriminator, DcganGenerator, MlpDiscriminator,
                                        MlpGenerator, dcgan_init_, spectral_norm_)
from engine.models.registry import ModelSpec, register_model

ARCHITECTURES = ("mlp", "dcgan")
LOSSES = ("nonsaturating", "hinge", "wgan-gp")
DCGAN_SIZES = (28, 32, 64)


@dataclasses.dataclass
class GanConfig(AdaSettings, ModelConfig):
    architecture: str = "dcgan"
    latent_dim: int = 100
    # DCGAN base width (pytorch/examples' ngf/ndf). 32 keeps a CPU run quick; 64
    # at image_size 64 is the reference architecture. Ignored by the MLP.
    width: int = 32
    learning_rate: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    loss: str = "nonsaturating"     # or "hinge", "wgan-gp"
    gp_weight: float = 10.0         # WGAN-GP's gradient penalty weight
    spectral_norm: bool = False     # on every discriminator layer (its batch norms go)
    conditional: bool = False
    num_classes: int = 0            # set from the data's labels by the trainer
    ema_decay: float = 0.0          # 0: off; else the generator's weight average, sampled
    augment: str = ""               # differentiable augmentation, e.g. "translation,cutout,color"
    # With ada on (AdaSettings), augment's operations apply with an adaptive probability p.

    def validate(self) -> None:
        super().validate()
        if self.architecture not in ARCHITECTURES:
            raise ConfigError(f"unknown GAN architecture {self.architecture!r}")
        if self.loss not in LOSSES:
            raise ConfigError(f"unknown GAN loss {self.loss!r}; choose {', '.join(LOSSES)}")
        if not 0 <= self.ema_decay < 1:
            raise ConfigError(f"EMA decay must be in [0, 1), not {self.ema_decay}")
        if not 0 <= self.gp_weight <= 1000:
            raise ConfigError(f"gradient penalty weight must be between 0 and 1000, not {self.gp_weight}")
        if not 0 <= self.num_classes <= 1000:
            raise ConfigError(f"number of classes must be between 0 and 1000, not {self.num_classes}")
        self.validate_ada(parse_policy(self.augment))
        if self.ada and self.loss == "wgan-gp":
            raise ConfigError("adaptive augmentation reads the sign of the discriminator's "
                              "scores, which a WGAN critic's do not have: use the hinge or "
                              "non-saturating loss with ada")
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


def _adam(net: nn.Module, c: GanConfig, device: torch.device) -> torch.optim.Adam:
    return adam(net, c.learning_rate, device, (c.beta1, c.beta2))


class GanModel(AdaState, GenerativeModel):
    family = "gan"
    config_class = GanConfig
    plotted_losses = ("generator", "discriminator")
    capabilities = frozenset({TRUNCATION, TEMPERATURE, CLASSES, PRESET, DISTRIBUTED, ONNX})

    @classmethod
    def suggest_preset(cls, model: str, facts: DataFacts, device: torch.device | str,
                       chosen: bool) -> Preset | None:
        return gan_presets.suggest(model, facts, device, chosen)

    def __init__(self, config: GanConfig, device: torch.device, seed: int = 0) -> None:
        super().__init__(config, device, seed)
        c = config
        if c.conditional and c.num_classes < 2:
            raise ConfigError("a conditional GAN needs data with class labels (two or more "
                              "classes); this data set has none")
        classes = c.num_classes if c.conditional else 0
        if c.architecture == "mlp":
            self.generator: nn.Module = MlpGenerator(c.latent_dim, c.image_size, c.channels, classes)
            self.discriminator: nn.Module = MlpDiscriminator(c.image_size, c.channels, classes)
        else:
            batch_norm = not (c.spectral_norm or c.loss == "wgan-gp")
            self.generator = DcganGenerator(c.latent_dim, c.image_size, c.channels, c.width, classes)
            self.discriminator = DcganDiscriminator(c.image_size, c.channels, c.width, classes,
                                                    batch_norm=batch_norm)
            dcgan_init_(self.generator)
            dcgan_init_(self.discriminator)
        if c.spectral_norm:
            spectral_norm_(self.discriminator)
        self.policy = parse_policy(c.augment)
        self.ada = c.make_ada(self.policy, device)
        # channels_last lets oneDNN (CPU) and cuDNN (GPU) pick their fastest
        # convolution kernels; it changes memory layout, not the network.
        self.memory_format = (torch.channels_last if c.architecture == "dcgan"
                              else torch.contiguous_format)
        self.generator.to(device, memory_format=self.memory_format)
        self.discriminator.to(device, memory_format=self.memory_format)
        # The averaged generator is saved as its own network, so a resumed run
        # and the gallery both get it.
        self.generator_ema: nn.Module | None = None
        if c.ema_decay > 0:
            self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False)

    def networks(self) -> dict[str, nn.Module]:
        nets = {"generator": self.generator, "discriminator": self.discriminator}
        if self.generator_ema is not None:
            nets["generator_ema"] = self.generator_ema
        return nets

    @property
    def uses_labels(self) -> bool:
        return self.config.conditional

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"generator": _adam(self.generator, self.config, self.device),
                "discriminator": _adam(self.discriminator, self.config, self.device)}

    @property
    def opt_g(self) -> torch.optim.Optimizer:
        return self.optimizers()["generator"]

    @property
    def opt_d(self) -> torch.optim.Optimizer:
        return self.optimizers()["discriminator"]

    def train_step(self, real: torch.Tensor, labels: torch.Tensor | None = None
                   ) -> dict[str, torch.Tensor]:
        c = self.config
        amp = self.precision
        n = real.shape[0]
        real = real.contiguous(memory_format=self.memory_format)
        y = labels if self.uses_labels else None
        onehot = self._onehot(y)
        z = torch.randn(n, c.latent_dim, device=self.device, generator=self.noise)
        with amp.autocast():
            fake = self.synced(self.generator)(z, onehot)

        # Discriminator. Real and fake go through separately so BatchNorm sees
        # each batch on its own, as in the DCGAN paper. Logits are cast to
        # float32 so the losses are computed at full precision.
        # Under DistributedDataParallel both passes go through the critic's
        # wrapper; the gradient penalty and the generator's pass below use the
        # bare critic (see GenerativeModel.synced).
        self.opt_d.zero_grad(set_to_none=True)
        real_seen, fake_seen = self._augment(real), self._augment(fake.detach())
        critic = self.synced(self.discriminator)
        with amp.autocast():
            real_logits = critic(real_seen, y).float()
            fake_logits = critic(fake_seen, y).float()
        if c.loss == "nonsaturating":    # real -> 1, fake -> 0
            loss_d = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
        elif c.loss == "hinge":
            loss_d = F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
        else:
            loss_d = fake_logits.mean() - real_logits.mean() + \
                c.gp_weight * self._gradient_penalty(real_seen, fake_seen, y)
        amp.backward(loss_d)
        amp.step(self.opt_d)

        # Generator (non-saturating: maximise log D(G(z)); hinge and WGAN: the
        # critic's score). The discriminator's own weight gradients are not
        # needed here, so skip computing them.
        self.discriminator.requires_grad_(False)
        try:
            self.opt_g.zero_grad(set_to_none=True)
            with amp.autocast():
                logits = self.discriminator(self._augment(fake), y).float()
            loss_g = F.softplus(-logits).mean() if c.loss == "nonsaturating" else -logits.mean()
            amp.backward(loss_g)
            amp.step(self.opt_g)
        finally:
            self.discriminator.requires_grad_(True)
        amp.update()
        if self.generator_ema is not None:
            self._update_ema()
        with torch.no_grad():
            losses = {"generator": loss_g.detach(), "discriminator": loss_d.detach()}
            if self.ada is not None:
                losses.update(self.ada.observe(real_logits, n))
            if c.loss == "nonsaturating":
                losses.update({"D(x)": torch.sigmoid(real_logits).mean(),
                               "D(G(z))": torch.sigmoid(fake_logits).mean()})
            else:
                losses.update({"D(x)": real_logits.mean(), "D(G(z))": fake_logits.mean()})
            return losses

    def _augment(self, images: torch.Tensor) -> torch.Tensor:
        if self.ada is not None:
            return self.ada.augment(images, self.noise).contiguous(
                memory_format=self.memory_format)
        if not self.policy:
            return images
        return diff_augment(images, self.policy, self.noise).contiguous(
            memory_format=self.memory_format)

    def _gradient_penalty(self, real: torch.Tensor, fake: torch.Tensor,
                          labels: torch.Tensor | None) -> torch.Tensor:
        """(|grad D(x_hat)| - 1)^2 on random points between real and fake
        images (Gulrajani et al., 2017)."""
        mix = torch.rand(real.shape[0], 1, 1, 1, device=self.device, generator=self.noise)
        between = (mix * real + (1 - mix) * fake.float()).requires_grad_(True)
        with self.precision.autocast():
            score = self.discriminator(between, labels).float().sum()
        grad = self.precision.input_gradient(score, between)
        return (grad.float().flatten(1).norm(dim=1) - 1).pow(2).mean()

    @torch.no_grad()
    def _update_ema(self) -> None:
        decay = self.config.ema_decay
        for averaged, current in zip(self.generator_ema.parameters(), self.generator.parameters()):
            averaged.lerp_(current, 1 - decay)
        # Batch-norm statistics are copied, not averaged: they describe the
        # current generator's activations.
        for averaged, current in zip(self.generator_ema.buffers(), self.generator.buffers()):
            averaged.copy_(current)

    def decode_with_classes(self, latents: torch.Tensor,
                            class_weights: torch.Tensor | None) -> torch.Tensor:
        """A class mixture goes where the one-hot class would, so a walk morphs
        between classes."""
        if not self.uses_labels or class_weights is None:
            return self.decode(latents)
        generator = self.generator_ema if self.generator_ema is not None else self.generator
        return generator(latents, class_weights.to(self.device).float())

    def _onehot(self, labels: torch.Tensor | None) -> torch.Tensor | None:
        if labels is None:
            return None
        return F.one_hot(labels.to(self.device).long(), self.config.num_classes).float()

    def latents_for_seeds(self, seeds: list[int]) -> torch.Tensor:
        dim = self.config.latent_dim
        return per_seed(seeds, lambda g: torch.randn(dim, generator=g), (dim,))

    supports_truncation = True

    def truncated_latents_for_seeds(self, seeds: list[int], threshold: float) -> torch.Tensor:
        return truncated_latents(seeds, self.config.latent_dim, threshold)

    def decode(self, latents: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        generator = self.generator_ema if self.generator_ema is not None else self.generator
        if self.uses_labels and labels is None:
            raise ConfigError("this conditional GAN needs a class for each image "
                              "(for an animation: give its keyframes classes)")
        return generator(latents, self._onehot(labels if self.uses_labels else None))

    def onnx_network(self) -> OnnxNetwork:
        """The generator decode() uses (the weight average when there is one),
        with an integer class input for a conditional GAN."""
        c = self.config
        generator = self.generator_ema if self.generator_ema is not None else self.generator
        classes = c.num_classes if self.uses_labels else 0
        inputs, examples = generator_inputs((c.latent_dim,), classes)
        return OnnxNetwork(GENERATOR, OneHotConditioned(generator, classes), inputs,
                           picture_output(c.channels, c.image_size), examples,
                           {"latent_distribution": "standard normal"}, classes)


# -- the models this family offers ------------------------------------------------
_CONV = {"image_sizes": DCGAN_SIZES, "takes_width": True}
register_model(ModelSpec("mlp-gan", GanModel, "MLP GAN (fully connected)", {"architecture": "mlp"}))
register_model(ModelSpec("dcgan", GanModel, "DCGAN (convolutional)", {"architecture": "dcgan"},
                         **_CONV))
# Hinge loss, spectral norm, DiffAugment and a generator EMA: the setting
# that keeps a GAN from collapsing on a few hundred images.
register_model(ModelSpec(
    "small-data-gan", GanModel, "GAN for small data sets (hinge, spectral norm, DiffAugment, EMA)",
    {"architecture": "dcgan", "loss": "hinge", "spectral_norm": True,
     "augment": "translation,cutout,color", "ema_decay": 0.999}, **_CONV))
register_model(ModelSpec("wgan-gp", GanModel, "WGAN-GP (convolutional critic, gradient penalty)",
                         {"architecture": "dcgan", "loss": "wgan-gp", "beta2": 0.9}, **_CONV))
register_model(ModelSpec(
    "cgan", GanModel, "Conditional GAN (class labels, projection discriminator, EMA)",
    {"architecture": "dcgan", "conditional": True, "loss": "hinge", "spectral_norm": True,
     "ema_decay": 0.999}, eval_metrics=("fd", "kid", "class_coverage"), **_CONV))
