"""What the diffusion (`ddpm`) and flow (`flow`) families share: a U-Net and
its weight average, class conditioning with classifier-free guidance, per-seed
starting noise, and one sampling loop that runs forwards (noise to picture:
samples, the process animation, variations) or backwards (picture to noise:
inversion).

A family supplies its own noising path and sampler step: how a clean picture
and noise mix at time t (t = 0 the picture, t = 1 noise), the training loss,
and step(x, t, s): the picture at time t moved to time s by its sampler. Every
step is deterministic (given the optional per-step noise), so the same seed,
steps and guidance always give the same picture, and a walk over the starting
noise (slerp) moves the pictures smoothly.
"""
from __future__ import annotations

import dataclasses
from abc import abstractmethod
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from engine.errors import ConfigError
from engine.models.base import (CLASSES, GUIDANCE, INVERT, ONNX, PRESET, PROCESS, STEPS,
                                TEMPERATURE, VARY, GenerativeModel, ModelConfig, SamplerSettings,
                                per_seed)
from engine.models.base import DISTRIBUTED
from engine.models.base import PREDICTION
from engine.models.common import adam, evaluating
from engine.models.common.ema import averaged_copy, update_average
from engine.models.common.kl_warmup import StepCounter
from engine.models.common.onnx_network import (BATCH, DENOISER, OnnxNetwork, TensorContract,
                                             example_labels, label_input)
from engine.models.common.unet import UNet

PROCESS_SHOWS = ("sample", "prediction")
# Seeds the per-step noise shuffles of a stochastic sampler (see _step_noise).
STEP_NOISE_SEED = 0x5EED
ROW_TILE = 4   # see Denoiser._averaged


@dataclasses.dataclass
class DenoiserConfig(ModelConfig):
    """Settings both families share: the U-Net, conditioning, sampling defaults
    and training."""

    width: int = 16            # U-Net channels at full resolution
    depth: int = 3             # resolution levels (each halves the side)
    blocks: int = 2            # residual blocks per level and direction
    attention: bool = False    # self-attention at the lowest resolution
    patch: int = 0             # pixels folded into channels first; 0: 2 at 64 px and up, else 1
    dropout: float = 0.0
    conditional: bool = True   # use the data's class labels when it has them
    num_classes: int = 0       # set from the data's labels by the trainer
    p_uncond: float = 0.1      # labels dropped in training, so guidance has an unconditional model
    sample_steps: int = 20     # the sampler's default steps
    # The default classifier-free guidance scale. Measured on MNIST (ddpm, the CPU
    # preset after 872 steps, FD@2000 on the shipped evaluator): 12.0 at 1, 5.6 at 2,
    # 10.2 at 3; confident fraction 0.48, 0.90, 0.96.
    guidance: float = 2.0
    process_shows: str = "sample"   # the process animation: "sample" or "prediction" (clean guess)
    ema_decay: float = 0.999   # target decay of the weight average (warmed up, see common.ema)
    learning_rate: float = 1e-3
    grad_clip: float = 1.0

    @property
    def unet_patch(self) -> int:
        return self.patch or (2 if self.image_size >= 64 else 1)

    def validate(self) -> None:
        super().validate()
        if not 8 <= self.image_size <= 128:
            raise ConfigError(f"image size must be between 8 and 128, not {self.image_size}")
        if not 4 <= self.width <= 512:
            raise ConfigError(f"width must be between 4 and 512, not {self.width}")
        if not 1 <= self.depth <= 5:
            raise ConfigError(f"depth (U-Net levels) must be between 1 and 5, not {self.depth}")
        if not 1 <= self.blocks <= 4:
            raise ConfigError(f"blocks per level must be between 1 and 4, not {self.blocks}")
        if self.patch not in (0, 1, 2, 4):
            raise ConfigError(f"patch must be 0 (automatic), 1, 2 or 4, not {self.patch}")
        side = self.unet_patch * 2 ** (self.depth - 1)
        if self.image_size % side:
            raise ConfigError(f"image size {self.image_size} must be a multiple of {side} for "
                              f"depth {self.depth} and patch {self.unet_patch}; use less depth")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be in [0, 1), not {self.dropout}")
        if not 0 <= self.num_classes <= 1000:
            raise ConfigError(f"number of classes must be between 0 and 1000, "
                              f"not {self.num_classes}")
        if not 0 <= self.p_uncond < 1:
            raise ConfigError(f"p_uncond must be in [0, 1), not {self.p_uncond}")
        SamplerSettings(self.sample_steps, self.guidance).validate()
        if self.process_shows not in PROCESS_SHOWS:
            raise ConfigError(f"process_shows must be one of {', '.join(PROCESS_SHOWS)}, "
                              f"not {self.process_shows!r}")
        if not 0 <= self.ema_decay < 1:
            raise ConfigError(f"EMA decay must be in [0, 1), not {self.ema_decay}")
        if not 0 < self.learning_rate <= 1:
            raise ConfigError(f"learning rate must be in (0, 1], not {self.learning_rate}")
        if not self.grad_clip > 0:
            raise ConfigError(f"grad_clip must be positive, not {self.grad_clip}")


class Denoiser(StepCounter, GenerativeModel):
    """A model that turns noise into pictures step by step; see the module docstring.

    Networks: "unet" (trained) and "ema" (its weight average, which every
    sampler uses). steps_done drives the average's warm-up and is saved with
    the training state.
    """

    config: DenoiserConfig
    plotted_losses = ("loss",)
    capabilities = frozenset({PROCESS, PREDICTION, TEMPERATURE, CLASSES, PRESET, STEPS, GUIDANCE,
                              VARY, INVERT, ONNX, DISTRIBUTED})
    # Whether step() takes fresh noise when sampling (a DDIM sampler with eta > 0).
    stochastic: ClassVar[bool] = False

    def __init__(self, config: DenoiserConfig, device: torch.device, seed: int = 0) -> None:
        super().__init__(config, device, seed)
        c = config
        if c.conditional and c.num_classes == 1:
            raise ConfigError("a class-conditional model needs two or more classes")
        self.unet = UNet(c.channels, c.width, c.depth, c.blocks,
                         c.num_classes if c.conditional else 0, c.attention, c.dropout,
                         c.unet_patch)
        # Each network in the layout its work runs fastest in. Sampling (the
        # average) is channels_last: oneDNN's (CPU) and cuDNN's (GPU) fastest
        # inference. Training is channels_last on a GPU, but contiguous on a CPU:
        # there oneDNN's bfloat16 training kernels (the CPU preset where the CPU
        # has them) were 1.02 to 1.3 times as fast contiguous, most with two
        # blocks per level; in float32 the layouts were within noise of each
        # other (docs/BENCHMARKS.md).
        self.memory_format = torch.channels_last
        self.training_format = (torch.contiguous_format if device.type == "cpu"
                                else torch.channels_last)
        self.unet.to(device, memory_format=self.training_format)
        self.ema = averaged_copy(self.unet).to(memory_format=self.memory_format)
        self.steps_done = 0

    @classmethod
    def default_sampling(cls, config: ModelConfig) -> SamplerSettings:
        return SamplerSettings(config.sample_steps, config.guidance)

    # -- what a family supplies ------------------------------------------------------
    @abstractmethod
    def training_loss(self, clean: torch.Tensor, noise: torch.Tensor,
                      classes: torch.Tensor | None) -> torch.Tensor:
        """The batch's loss (a float32 scalar): draw times from self.noise, mix
        `clean` and `noise` and score network_output() against the target."""

    @abstractmethod
    def noised(self, clean: torch.Tensor, noise: torch.Tensor, t: float) -> torch.Tensor:
        """The pictures at time t on the noising path (t = 1: the noise itself, or nearly)."""

    @abstractmethod
    def step(self, x: torch.Tensor, t: float, s: float, classes: torch.Tensor | None,
             noise: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(x moved from time t to time s, the clean picture predicted at t). s < t
        samples, s > t inverts; `noise` (stochastic samplers, s < t) is fresh noise."""

    @abstractmethod
    def onnx_sampler(self) -> dict[str, Any]:
        """How a sampling loop outside the app uses the exported network (ONNX):
        JSON-able, with at least "process" (the sampler's name, which picks the
        loop), "path" (the noising path x_t), "output" (what the network
        predicts) and "step" (one sampler step, as formulas), and the numbers
        the step needs."""

    # -- networks and training ---------------------------------------------------------
    def networks(self) -> dict[str, nn.Module]:
        return {"unet": self.unet, "ema": self.ema}

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"unet": adam(self.unet, self.config.learning_rate, self.device)}

    @property
    def uses_labels(self) -> bool:
        return self.config.conditional and self.config.num_classes > 0

    def train_step(self, real: torch.Tensor, labels: torch.Tensor | None = None
                   ) -> dict[str, torch.Tensor]:
        clean = real.to(self.device).contiguous(memory_format=self.training_format)
        classes = self._training_classes(labels, clean.shape[0])
        noise = torch.randn(clean.shape, device=self.device, generator=self.noise
                            ).contiguous(memory_format=self.training_format)
        optimizer = self.optimizers()["unet"]
        optimizer.zero_grad(set_to_none=True)
        loss = self.training_loss(clean, noise, classes)
        self.precision.backward(loss)
        self.precision.step(optimizer, clip=(self.unet.parameters(), self.config.grad_clip))
        self.precision.update()
        self.steps_done += 1
        update_average(self.ema, self.unet, self.config.ema_decay, self.steps_done)
        return {"loss": loss.detach()}

    def network_output(self, x: torch.Tensor, t: torch.Tensor,
                       classes: torch.Tensor | None) -> torch.Tensor:
        """The trained network's output under the run's precision, as float32."""
        with self.precision.autocast():
            return self.synced(self.unet)(x, t, classes).float()

    def _training_classes(self, labels: torch.Tensor | None, count: int) -> torch.Tensor | None:
        """Each label, or the null class with probability p_uncond: one network
        learns the conditional and the unconditional model that guidance mixes."""
        if not self.uses_labels:
            return None
        if labels is None:
            raise ConfigError("this class-conditional model needs the class of each "
                              "training picture")
        labels = labels.to(self.device).long()
        dropped = torch.rand(count, device=self.device, generator=self.noise) < self.config.p_uncond
        return torch.where(dropped, torch.full_like(labels, self.config.num_classes), labels)

    # -- sampling ----------------------------------------------------------------------
    def onnx_network(self) -> OnnxNetwork:
        """The averaged U-Net every sampler uses: one step's network. The loop
        (times, guidance, the family's step) runs outside, as onnx_sampler() says."""
        c = self.config
        classes = c.num_classes if self.uses_labels else 0
        picture = (c.channels, c.image_size, c.image_size)
        sampler = self.onnx_sampler()
        inputs: tuple[TensorContract, ...] = (
            TensorContract("x", (BATCH, *picture), "float32",
                           "the picture at time t on the noising path (sampler.path)"),
            TensorContract("t", (BATCH,), "float32",
                           "the time in [0, 1]: 0 the clean picture, 1 pure noise"))
        examples: tuple[torch.Tensor, ...] = (torch.randn(2, *picture), torch.tensor([0.25, 0.75]))
        if classes:
            inputs += (label_input(classes, null_class=True),)
            examples += (example_labels(classes),)
        defaults = self.default_sampling(c)
        loop = {**sampler, "steps": defaults.steps,
                "times": "t from 1 down to 0 in `steps` equal steps (steps + 1 times)"}
        if classes:
            loop["guidance"] = defaults.guidance
            loop["guidance_rule"] = ("w = guidance: prediction = unconditional + w * "
                                     "(conditional - unconditional), the unconditional one "
                                     f"with label {classes}; w = 1 is the conditional one alone")
        contract = {"sampler": loop,
                    "latent_distribution": "standard normal: the starting noise, the picture's "
                                           "shape, is x at t = 1"}
        if classes:
            contract["null_class"] = classes
        output = TensorContract("prediction", (BATCH, *picture), "float32", sampler["output"])
        return OnnxNetwork(DENOISER, self.ema, inputs, output, examples, contract, classes)

    def latents_for_seeds(self, seeds: list[int]) -> torch.Tensor:
        """The starting noise of each seed's picture, (N, C, H, W). A temperature
        below 1 scales it down, which the deterministic sampler turns into
        smoother, plainer pictures (less detail), as with a GAN's latent."""
        c = self.config
        shape = (c.channels, c.image_size, c.image_size)
        return per_seed(seeds, lambda g: torch.randn(*shape, generator=g), shape)

    def decode(self, latents: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Pictures from starting noise by the sampler (steps and guidance from
        configure_sampling). A conditional model given no labels draws without
        a class (the null class)."""
        return self._sample(latents, self._sampling_classes(labels, latents.shape[0]))

    def decode_with_classes(self, latents: torch.Tensor,
                            class_weights: torch.Tensor | None) -> torch.Tensor:
        """Class mixtures condition through the same mixture of class embeddings."""
        if not self.uses_labels or class_weights is None:
            return self.decode(latents)
        weights = class_weights.to(self.device).float()
        # A column for the null class (weight 0), so guidance can stack both.
        weights = F.pad(weights, (0, self.config.num_classes + 1 - weights.shape[1]))
        return self._sample(latents, weights)

    def _sample(self, latents: torch.Tensor, classes: torch.Tensor | None) -> torch.Tensor:
        start = self._on_device(latents)
        picture, _ = self._integrate(start, classes, self._times(1.0, 0.0, self.sampling.steps),
                                     start)
        return picture.clamp(-1, 1)

    def process_frames(self, seed: int, label: int | None = None,
                       shows: str | None = None) -> torch.Tensor:
        """The starting noise, then the picture after each sampler step, (steps + 1,
        C, H, W); with shows="prediction" (or the config's process_shows) each
        step's guess of the clean picture instead."""
        shows = shows or self.config.process_shows
        if shows not in PROCESS_SHOWS:
            raise ConfigError(f"the process shows one of {', '.join(PROCESS_SHOWS)}, not {shows!r}")
        with evaluating(*self.networks().values()), torch.inference_mode():
            start = self._on_device(self.latents_for_seeds([seed]))
            labels = self.labels_for_seeds([seed], None if label is None else [label])
            classes = self._sampling_classes(labels, 1)
            _, frames = self._integrate(start, classes, self._times(1.0, 0.0, self.sampling.steps),
                                        start, record=shows)
            return torch.cat(frames).clamp(-1, 1)

    def vary(self, images: torch.Tensor, strength: float, seeds: list[int],
             labels: torch.Tensor | None = None) -> torch.Tensor:
        """SDEdit: each picture taken to time `strength` on the noising path with
        its seed's noise, then sampled back over that part of the steps. Without
        labels a conditional model varies the picture without a class."""
        if not (isinstance(strength, (int, float)) and 0 <= strength <= 1):
            raise ConfigError(f"strength must be a number from 0 to 1, not {strength}")
        if len(seeds) != images.shape[0]:
            raise ConfigError(f"{images.shape[0]} pictures need as many seeds, not {len(seeds)}")
        with evaluating(*self.networks().values()), torch.inference_mode():
            clean = self._on_device(images.float())
            if strength == 0:
                return clean.clamp(-1, 1)
            noise = self._on_device(self.latents_for_seeds(seeds))
            steps = max(1, round(strength * self.sampling.steps))
            classes = self._sampling_classes(labels, clean.shape[0])
            start = self.noised(clean, noise, float(strength))
            picture, _ = self._integrate(start, classes, self._times(float(strength), 0.0, steps),
                                         noise)
            return picture.clamp(-1, 1)

    def invert(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The sampler run backwards, picture to noise, with the same steps and
        guidance, so decode(invert(x)) comes back close to x (closest with
        guidance 1, or no labels, and more steps)."""
        with evaluating(*self.networks().values()), torch.inference_mode():
            x = self._on_device(images.float())
            classes = self._sampling_classes(labels, x.shape[0])
            noise, _ = self._integrate(x, classes, self._times(0.0, 1.0, self.sampling.steps), None)
            return noise.contiguous()

    def guided(self, x: torch.Tensor, t: float, classes: torch.Tensor | None) -> torch.Tensor:
        """The averaged network's output at time t, with classifier-free guidance:
        unconditional + w * (conditional - unconditional)."""
        if classes is None:
            return self._averaged(x, t, None)
        w = self.sampling.guidance
        null = self._null_classes(classes)
        if w == 1:
            return self._averaged(x, t, classes)
        # Without a class (a conditional model drawing unconditionally: a walk or
        # a variation without labels) both passes would be the same one.
        if w == 0 or (not classes.is_floating_point() and bool((classes == null).all())):
            return self._averaged(x, t, null)
        both = self._averaged(torch.cat([x, x]), t, torch.cat([classes, null]))
        conditional, unconditional = both.chunk(2)
        return unconditional + w * (conditional - unconditional)

    def _averaged(self, x: torch.Tensor, t: float, classes: torch.Tensor | None) -> torch.Tensor:
        """The averaged network on a batch at time t. The batch is padded to a
        multiple of ROW_TILE with copies of its first picture: torch's CPU matrix
        products take the rows in tiles of 4 and the left-over rows through
        another kernel whose last bits differ (measured), and a picture must not
        depend on how many others were sampled beside it."""
        count = x.shape[0]
        if count % ROW_TILE:
            pad = [0] * (ROW_TILE - count % ROW_TILE)
            x = torch.cat([x, x[pad]])
            classes = None if classes is None else torch.cat([classes, classes[pad]])
        times = torch.full((x.shape[0],), t, device=x.device)
        return self.ema(x, times, classes)[:count]

    def _integrate(self, x: torch.Tensor, classes: torch.Tensor | None, times: list[float],
                   start_noise: torch.Tensor | None, record: str | None = None
                   ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        frames = [x] if record else []
        for index, (t, s) in enumerate(zip(times, times[1:])):
            fresh = (self._step_noise(start_noise, index)
                     if self.stochastic and s < t and start_noise is not None else None)
            x, clean = self.step(x, t, s, classes, fresh)
            if record:
                frames.append(x if record == "sample" else clean)
        return x, frames

    @staticmethod
    def _times(start: float, end: float, steps: int) -> list[float]:
        return torch.linspace(start, end, steps + 1, dtype=torch.float64).tolist()

    @staticmethod
    def _step_noise(start_noise: torch.Tensor, index: int) -> torch.Tensor:
        """Fresh-looking noise for step `index`, made from the starting noise alone:
        its values in a fixed order shuffled per step. A shuffle of independent
        Gaussians is Gaussian and nearly uncorrelated with the start, it keeps a
        picture a function of its seed (and of nothing sampled beside it), and
        it moves smoothly as a walk moves the starting noise."""
        g = torch.Generator().manual_seed(STEP_NOISE_SEED + index)
        flat = start_noise.flatten(1)
        order = torch.randperm(flat.shape[1], generator=g).to(flat.device)
        return flat[:, order].view_as(start_noise).contiguous(memory_format=torch.channels_last)

    def _on_device(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(self.device, torch.float32).contiguous(memory_format=self.memory_format)

    def _sampling_classes(self, labels: torch.Tensor | None, count: int) -> torch.Tensor | None:
        """The class indices the sampler conditions on: the labels, or the null
        class where none are given; None for an unconditional model."""
        if not self.uses_labels:
            return None
        if labels is None:
            return torch.full((count,), self.config.num_classes, dtype=torch.long,
                              device=self.device)
        return labels.to(self.device).long()

    def _null_classes(self, classes: torch.Tensor) -> torch.Tensor:
        """The null class, in the form of `classes` (indices, or mixtures over
        the classes and the null class)."""
        null = self.config.num_classes
        if not classes.is_floating_point():
            return torch.full_like(classes, null)
        indices = torch.full((classes.shape[0],), null, device=classes.device)
        return F.one_hot(indices, null + 1).to(classes.dtype)
