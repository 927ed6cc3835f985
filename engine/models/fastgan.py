"""`fastgan`: a few-shot GAN after FastGAN (Liu et al., ICLR 2021), for an
artist's own few hundred pictures; 28 to 256 px, grey or colour.

The generator has skip-layer excitation; the discriminator reconstructs real
pictures (whole, and one quadrant) from its own features, which keeps it from
memorising a small set (engine/models/fastgan_networks.py). Both are trained
with the hinge loss on differentiably augmented pictures (DiffAugment, or
adaptive augmentation: ADA, engine/models/common/ada.py), and an exponential
moving average of the generator's weights is what samples.

The reconstruction loss: the paper compares the decoders' pictures with the
real ones by LPIPS, which needs pretrained VGG or AlexNet weights, and this
app works offline with no such weights. A plain per-pixel loss would push the
decoders towards blurred averages at full detail; so the mean absolute error
is taken twice, at the decoders' side and after a 4 x 4 average, which weighs
the layout and colours of the picture (what the discriminator's features must
hold) above its finest texture.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from engine.errors import ConfigError
from engine.models.base import (ONNX, PRESET, TEMPERATURE, TRUNCATION, GenerativeModel,
                                ModelConfig, per_seed)
from engine.models.common import adam
from engine.models.common.ada import AdaSettings, AdaState, scaled_speed
from engine.models.common.diffaugment import diff_augment, parse_policy
from engine.models.common.ema import averaged_copy, update_average
from engine.models.common.kl_warmup import StepCounter
from engine.models.common.onnx_network import (GENERATOR, OnnxNetwork, generator_inputs,
                                             picture_output)
from engine.models.common.preset import Preset, fit_batch, is_gpu
from engine.models.common.truncation import truncated_latents
from engine.models.fastgan_networks import (FastganDiscriminator, FastganGenerator,
                                            reconstruction_side)
from engine.models.registry import ModelSpec, register_model

if TYPE_CHECKING:
    from engine.data.facts import DataFacts

IMAGE_SIZES = (28, 32, 64, 128, 256)
COARSE = 4     # the reconstruction loss's second scale: a 4 x 4 average


@dataclasses.dataclass
class FastganConfig(AdaSettings, ModelConfig):
    latent_dim: int = 128           # the paper's is 256; 128 keeps the first layer small on a CPU
    width: int = 16                 # base channels (the paper's ngf = ndf = 64)
    learning_rate: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    spectral_norm: bool = True      # on every convolution of both networks, as in the paper
    reconstruction_weight: float = 1.0
    # The paper's DiffAugment policy; with `ada` its operations are applied with
    # the adaptive probability p instead of always.
    augment: str = "translation,color"
    ema_decay: float = 0.999        # target decay of the sampled generator average (0: off)

    def validate(self) -> None:
        super().validate()
        if self.image_size not in IMAGE_SIZES:
            raise ConfigError(f"fastgan image size must be one of "
                              f"{', '.join(map(str, IMAGE_SIZES))}, not {self.image_size}")
        if not 1 <= self.latent_dim <= 4096:
            raise ConfigError(f"latent size must be between 1 and 4096, not {self.latent_dim}")
        if not 4 <= self.width <= 512:
            raise ConfigError(f"width must be between 4 and 512, not {self.width}")
        if not 0 < self.learning_rate <= 1:
            raise ConfigError(f"learning rate must be in (0, 1], not {self.learning_rate}")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise ConfigError("Adam betas must be in [0, 1)")
        if not 0 <= self.reconstruction_weight <= 100:
            raise ConfigError(f"reconstruction weight must be between 0 and 100, "
                              f"not {self.reconstruction_weight}")
        if not 0 <= self.ema_decay < 1:
            raise ConfigError(f"EMA decay must be in [0, 1), not {self.ema_decay}")
        self.validate_ada(parse_policy(self.augment))


class FastganModel(AdaState, StepCounter, GenerativeModel):
    """Networks: "generator", "discriminator" and, with an EMA, "generator_ema"
    (which samples). steps_done (the EMA's warm-up, the reconstructed quadrant)
    and ADA's p are saved with the training state."""

    family = "fastgan"
    config_class = FastganConfig
    counters_key = "fastgan.counters"
    plotted_losses = ("generator", "discriminator", "reconstruction")
    capabilities = frozenset({TRUNCATION, TEMPERATURE, PRESET, ONNX})
    supports_truncation = True
    config: FastganConfig

    def __init__(self, config: FastganConfig, device: torch.device, seed: int = 0) -> None:
        super().__init__(config, device, seed)
        c = config
        self.generator = FastganGenerator(c.latent_dim, c.image_size, c.channels, c.width,
                                          c.spectral_norm)
        self.discriminator = FastganDiscriminator(c.image_size, c.channels, c.width,
                                                  c.spectral_norm)
        # channels_last: oneDNN's (CPU) and cuDNN's (GPU) fastest convolutions.
        self.memory_format = torch.channels_last
        self.generator.to(device, memory_format=self.memory_format)
        self.discriminator.to(device, memory_format=self.memory_format)
        self.generator_ema = averaged_copy(self.generator) if c.ema_decay > 0 else None
        self.policy = parse_policy(c.augment)
        self.ada = c.make_ada(self.policy, device)
        self.steps_done = 0

    @classmethod
    def suggest_preset(cls, model: str, facts: DataFacts, device: torch.device | str,
                       chosen: bool) -> Preset | None:
        return suggest(model, facts, device, chosen)

    def networks(self) -> dict[str, nn.Module]:
        nets = {"generator": self.generator, "discriminator": self.discriminator}
        if self.generator_ema is not None:
            nets["generator_ema"] = self.generator_ema
        return nets

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        betas = (self.config.beta1, self.config.beta2)
        lr = self.config.learning_rate
        return {"generator": adam(self.generator, lr, self.device, betas),
                "discriminator": adam(self.discriminator, lr, self.device, betas)}

    # -- training ----------------------------------------------------------------------
    def train_step(self, real: torch.Tensor, labels: torch.Tensor | None = None
                   ) -> dict[str, torch.Tensor]:
        c, amp = self.config, self.precision
        optimizers = self.optimizers()
        real = real.to(self.device).contiguous(memory_format=self.memory_format)
        n = real.shape[0]
        z = torch.randn(n, c.latent_dim, device=self.device, generator=self.noise)
        with amp.autocast():
            fake = self.generator(z)
        # The quadrant the part decoder reconstructs cycles with the step (the
        # paper draws it at random; a cycle needs no random number and no sync).
        quadrant = self.steps_done % 4

        # Discriminator: hinge on real and fake (separate passes, so each batch
        # norm sees one kind), plus the reconstructions of the real pictures.
        optimizers["discriminator"].zero_grad(set_to_none=True)
        real_seen = self._augment(real)
        with amp.autocast():
            real_logits, recons = self.discriminator(real_seen, quadrant)
            fake_logits, _ = self.discriminator(self._augment(fake.detach()))
        real_logits, fake_logits = real_logits.float(), fake_logits.float()
        reconstruction = reconstruction_loss(recons, real_seen, quadrant)
        loss_d = (F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
                  + c.reconstruction_weight * reconstruction)
        amp.backward(loss_d)
        amp.step(optimizers["discriminator"])

        # Generator: the critic's score of its augmented pictures. The
        # discriminator's own weight gradients are not needed here.
        self.discriminator.requires_grad_(False)
        try:
            optimizers["generator"].zero_grad(set_to_none=True)
            with amp.autocast():
                logits, _ = self.discriminator(self._augment(fake))
            loss_g = -logits.float().mean()
            amp.backward(loss_g)
            amp.step(optimizers["generator"])
        finally:
            self.discriminator.requires_grad_(True)
        amp.update()
        self.steps_done += 1
        if self.generator_ema is not None:
            update_average(self.generator_ema, self.generator, c.ema_decay, self.steps_done)
        with torch.no_grad():
            losses = {"generator": loss_g.detach(), "discriminator": loss_d.detach(),
                      "reconstruction": reconstruction.detach(),
                      "D(x)": real_logits.mean(), "D(G(z))": fake_logits.mean()}
            if self.ada is not None:
                losses.update(self.ada.observe(real_logits, n))
        return losses

    def _augment(self, images: torch.Tensor) -> torch.Tensor:
        if self.ada is not None:
            images = self.ada.augment(images, self.noise)
        elif self.policy:
            images = diff_augment(images, self.policy, self.noise)
        return images.contiguous(memory_format=self.memory_format)

    # -- sampling ------------------------------------------------------------------------
    def latents_for_seeds(self, seeds: list[int]) -> torch.Tensor:
        dim = self.config.latent_dim
        return per_seed(seeds, lambda g: torch.randn(dim, generator=g), (dim,))

    def truncated_latents_for_seeds(self, seeds: list[int], threshold: float) -> torch.Tensor:
        return truncated_latents(seeds, self.config.latent_dim, threshold)

    def decode(self, latents: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        generator = self.generator_ema if self.generator_ema is not None else self.generator
        return generator(latents.to(self.device, torch.float32)).float()

    def onnx_network(self) -> OnnxNetwork:
        """The generator decode() uses (the weight average when there is one)."""
        c = self.config
        generator = self.generator_ema if self.generator_ema is not None else self.generator
        inputs, examples = generator_inputs((c.latent_dim,))
        return OnnxNetwork(GENERATOR, generator, inputs, picture_output(c.channels, c.image_size),
                           examples, {"latent_distribution": "standard normal"})


def reconstruction_loss(recons: tuple[torch.Tensor, ...] | None, real: torch.Tensor,
                        quadrant: int) -> torch.Tensor:
    """Mean absolute error of the three reconstructions against the (augmented)
    real pictures, at the decoders' side and after a 4 x 4 average (see the
    module docstring for why not LPIPS)."""
    if recons is None:
        raise ConfigError("the discriminator returned no reconstructions for the real pictures")
    full, half, part = (r.float() for r in recons)
    side = reconstruction_side(real.shape[-1])
    whole = F.adaptive_avg_pool2d(real.float(), side)
    mid = real.shape[-1] // 2
    row, col = divmod(quadrant, 2)
    corner = F.adaptive_avg_pool2d(
        real.float()[:, :, row * mid:(row + 1) * mid, col * mid:(col + 1) * mid], side)
    return (_two_scale_l1(full, whole) + _two_scale_l1(half, whole)
            + _two_scale_l1(part, corner))


def _two_scale_l1(picture: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    coarse = max(1, picture.shape[-1] // COARSE)
    return (F.l1_loss(picture, target)
            + F.l1_loss(F.adaptive_avg_pool2d(picture, coarse),
                        F.adaptive_avg_pool2d(target, coarse)))


# -- presets --------------------------------------------------------------------------
LARGE_SET = 10_000           # from here a set is no longer "few-shot": no ADA
CPU_STEPS, GPU_STEPS = 2_500, 20_000
CPU_BUDGET_MINUTES = 12.0    # a default CPU run ends within this, steps or not
ADA_SHARE = 4                # ADA's p can go 0 -> 1 within a quarter of the run's pictures
# Above the CPU's general GAN preset (1.0), below the class-conditional one (2.0):
# a labelled set keeps cgan, which can draw each class.
MEASURED_FIT = 1.5
MEASURED_REASON = ("a few-shot GAN: on a small colour set it matched the pictures far "
                   "better than the DCGAN preset in the same CPU minutes (FD 2.1 against "
                   "7.8 at 64 px, measured)")


def suggest(model: str, facts: DataFacts, device: torch.device | str, chosen: bool
            ) -> Preset | None:
    """fastgan's settings for these data and this device. Unasked, it is the
    choice only where it was measured better than the GAN presets (a small
    colour set on a CPU, docs/BENCHMARKS.md); elsewhere it declines."""
    gpu = is_gpu(device)
    small = facts.count < LARGE_SET
    measured = small and facts.channels == 3 and not gpu
    if facts.sequences or not (chosen or measured):
        return None
    where = "GPU" if gpu else "CPU"
    preset = Preset(f"{model} for a {'small' if small else 'large'} set "
                    f"({facts.describe()}) on the {where}", fit=0.0 if chosen else MEASURED_FIT)
    preset.choose("model", model, "the model you chose" if chosen else MEASURED_REASON)
    size = _image_size(facts.size, gpu)
    preset.choose("image_size", size, _image_size_reason(facts.size, size, gpu))
    preset.choose("width", 64 if gpu else 8, "the paper's width; a GPU runs it quickly" if gpu
                  else "an eighth of the paper's width: as many channels as the CPU dcgan's, "
                  "so a CPU run makes hundreds of steps in minutes")
    batch = fit_batch(32 if gpu else 16, facts.count)
    preset.choose("batch_size", batch, ("the paper trains with 8 pictures a step; 32 keeps a "
                                        "GPU busy" if gpu else "small batches give a CPU more "
                                        "steps per minute, which a GAN needs more")
                  + ("" if batch in (16, 32) else "; no more than the data"))
    preset.choose("learning_rate", 2e-4, "the paper's Adam learning rate")
    steps = GPU_STEPS if gpu else CPU_STEPS
    preset.choose("steps", steps, "a long run that a GPU manages in minutes" if gpu
                  else "enough for shapes and colours on a CPU")
    if not gpu:
        preset.choose("minutes", CPU_BUDGET_MINUTES, "a slow or busy CPU still finishes the "
                      "default run in minutes (the first budget reached ends it)")
    if small:
        speed = scaled_speed(steps * batch, ADA_SHARE)
        preset.choose("augment", "translation,color,cutout", "shifts, colour changes and "
                      "cut-outs, each applied with the adaptive probability p",
                      model_setting=True)
        preset.choose("ada", True, "few pictures: p rises as the discriminator starts to "
                      "memorise them (the sign of its scores on real pictures), and falls "
                      "while it does not", model_setting=True)
        preset.choose("ada_speed_images", speed, f"p can go from 0 to 1 within {speed:,} "
                      "pictures, about a quarter of this run (the paper's 500,000 is for runs "
                      "of millions)", model_setting=True)
    return preset


def _image_size(side: int, gpu: bool) -> int:
    if side <= 28:
        return 28
    if side <= 40 or not gpu:
        return 32
    return 64 if side <= 96 else 128


def _image_size_reason(side: int, size: int, gpu: bool) -> str:
    if side <= 40 or (gpu and size >= side):
        return "the nearest size the networks take to the pictures' own"
    if gpu:
        return "128 px: a GPU trains it in minutes (256 px is yours to choose)"
    return "32 px trains about four times faster than 64 px on a CPU"


# -- the models this family offers ------------------------------------------------------
register_model(ModelSpec(
    "fastgan", FastganModel,
    "Few-shot GAN (FastGAN: skip-layer excitation, self-supervised discriminator, "
    "DiffAugment or ADA, EMA)",
    image_sizes=IMAGE_SIZES, takes_width=True))
