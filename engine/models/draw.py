"""`draw`: DRAW (Gregor et al. 2015), a recurrent VAE that paints on a canvas.

Over T steps an encoder LSTM reads a glimpse of the image and of the error
left on the canvas (through a grid of Gaussian filters whose centre, stride and
width the decoder chooses), a latent z_t is drawn from the encoder's Gaussian,
and a decoder LSTM writes a patch onto the canvas through its own filters. The
loss is the negative ELBO on binarized pixels, a bound on -log p(x) in nats:
reconstruction cross-entropy of sigmoid(canvas_T) plus the KL of every step.
Sampling runs the decoder alone on z_t ~ N(0, I); the animation is the canvas
after each step.
"""
from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from engine.errors import ConfigError
from engine.models.base import (LIKELIHOOD, ONNX, PROCESS, TEMPERATURE, GenerativeModel,
                                ModelConfig, per_seed)
from engine.models.base import DISTRIBUTED
from engine.models.common.kl_warmup import StepCounter, warmup_weight
from engine.models.common import adam, evaluating
from engine.models.common.onnx_network import (GENERATOR, OnnxNetwork, generator_inputs,
                                             picture_output)
from engine.models.registry import ModelSpec, register_model


@dataclasses.dataclass
class DrawConfig(ModelConfig):
    width: int = 256          # hidden units of the encoder and decoder LSTMs
    latent_dim: int = 100     # size of each step's z_t
    steps: int = 16           # T, glimpses (the paper uses 64 for MNIST)
    read_size: int = 2        # N x N read filters (paper: 2)
    write_size: int = 5       # N x N write filters (paper: 5)
    learning_rate: float = 1e-3
    grad_clip: float = 10.0
    # KL weight ramps 0 -> 1 over this many steps (KL warm-up): at full weight
    # from the start the decoder learned the pixel marginals first and the
    # posterior collapsed before the encoder's glimpses carried information.
    warmup_steps: int = 1000

    def validate(self) -> None:
        super().validate()
        if not 8 <= self.image_size <= 128:
            raise ConfigError(f"draw image size must be between 8 and 128, not {self.image_size}")
        if not 8 <= self.width <= 2048:
            raise ConfigError(f"width must be between 8 and 2048, not {self.width}")
        if not 1 <= self.latent_dim <= 1024:
            raise ConfigError(f"latent size must be between 1 and 1024, not {self.latent_dim}")
        if not 1 <= self.steps <= 256:
            raise ConfigError(f"draw steps must be between 1 and 256, not {self.steps}")
        for name in ("read_size", "write_size"):
            value = getattr(self, name)
            if not 1 <= value <= self.image_size:
                raise ConfigError(f"{name} must be between 1 and the image size, not {value}")
        if not (0 < self.learning_rate <= 1):
            raise ConfigError(f"learning rate must be in (0, 1], not {self.learning_rate}")
        if not self.grad_clip > 0:
            raise ConfigError(f"grad_clip must be positive, not {self.grad_clip}")
        if self.warmup_steps < 0:
            raise ConfigError(f"KL warm-up steps must be 0 or more, not {self.warmup_steps}")


def filterbank(params: torch.Tensor, size: int, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Attention from five numbers per image -> (Fy (B,n,H), Fx (B,n,W), gamma (B,1,1)).

    Follows the paper: centre (gx, gy) scaled to the image, stride delta scaled
    so the grid spans the image at exp(0) = 1, variance and intensity as logs.
    """
    # In float32 under autocast too: the filters are exps of squared distances
    # normalised by their sums, which underflow to 0 / 0 in float16.
    gx_, gy_, log_var, log_delta, log_gamma = params.float().unbind(dim=1)
    gx = (size + 1) / 2 * (gx_ + 1)
    gy = (size + 1) / 2 * (gy_ + 1)
    delta = (size - 1) / max(n - 1, 1) * torch.exp(log_delta)
    var = torch.exp(log_var)
    # Filter i (1-based in the paper) sits at g + (i - n/2 - 0.5) * delta.
    grid = torch.arange(n, device=params.device, dtype=gx.dtype) - n / 2 + 0.5
    mu_x = gx[:, None] + grid[None] * delta[:, None]            # (B, n)
    mu_y = gy[:, None] + grid[None] * delta[:, None]
    pixels = torch.arange(1, size + 1, device=params.device, dtype=gx.dtype)  # 1-based, as g is
    fx = torch.exp(-(pixels[None, None] - mu_x[:, :, None]) ** 2 / (2 * var[:, None, None]))
    fy = torch.exp(-(pixels[None, None] - mu_y[:, :, None]) ** 2 / (2 * var[:, None, None]))
    fx = fx / fx.sum(-1, keepdim=True).clamp_min(1e-8)
    fy = fy / fy.sum(-1, keepdim=True).clamp_min(1e-8)
    return fy, fx, torch.exp(log_gamma)[:, None, None]


def tile_the_image(attention: nn.Linear, size: int, n: int) -> None:
    """Start an attention head with its n x n filters tiling the whole image.

    With the paper's parametrisation alone (stride spanning the image, unit
    variance at a zero output) a 2 x 2 read looks at the four corner pixels,
    which are black on MNIST: the encoder saw nothing, its gradient to move
    the glimpse was zero, and the posterior collapsed (KL 0.01 nats, the bound
    stuck at the pixel marginals' 205 nats). Here the initial stride is size/n
    and each filter's standard deviation half of it, so every glimpse starts as
    a blurred view of the whole picture and can then learn to focus.
    """
    stride = size / n
    spanning = (size - 1) / max(n - 1, 1)   # the stride filterbank() uses at log_delta = 0
    with torch.no_grad():
        attention.bias.zero_()
        attention.bias[2] = math.log((stride / 2) ** 2)   # log variance
        attention.bias[3] = math.log(stride / spanning)    # log stride factor


class DrawNetwork(nn.Module):
    def __init__(self, c: DrawConfig) -> None:
        super().__init__()
        self.c = c
        reads = 2 * c.channels * c.read_size ** 2
        self.read_attention = nn.Linear(c.width, 5)
        self.encoder = nn.LSTMCell(reads + c.width, c.width)
        self.posterior = nn.Linear(c.width, 2 * c.latent_dim)
        self.decoder = nn.LSTMCell(c.latent_dim, c.width)
        self.write_attention = nn.Linear(c.width, 5)
        self.write_patch = nn.Linear(c.width, c.channels * c.write_size ** 2)
        tile_the_image(self.read_attention, c.image_size, c.read_size)
        tile_the_image(self.write_attention, c.image_size, c.write_size)

    def read(self, x: torch.Tensor, error: torch.Tensor, h_dec: torch.Tensor) -> torch.Tensor:
        fy, fx, gamma = filterbank(self.read_attention(h_dec), self.c.image_size, self.c.read_size)
        both = torch.cat([x, error], dim=1)                          # (B, 2C, H, W)
        glimpse = fy[:, None] @ both @ fx[:, None].transpose(-1, -2)  # (B, 2C, n, n)
        return (gamma[:, None] * glimpse).flatten(1)

    def write(self, h_dec: torch.Tensor) -> torch.Tensor:
        c = self.c
        fy, fx, gamma = filterbank(self.write_attention(h_dec), c.image_size, c.write_size)
        patch = self.write_patch(h_dec).view(-1, c.channels, c.write_size, c.write_size)
        return (fy[:, None].transpose(-1, -2) @ patch @ fx[:, None]) / gamma[:, None]

    def zero_state(self, batch: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return (like.new_zeros(batch, self.c.width),) * 2

    def forward(self, x: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Binary images (B, C, H, W) and standard normal noise (T, B, z) ->
        (final canvas logits, summed KL per image)."""
        b = x.shape[0]
        canvas = torch.zeros_like(x)
        enc, dec = self.zero_state(b, x), self.zero_state(b, x)
        kl = x.new_zeros(b)
        for eps in noise.unbind(0):
            error = x - torch.sigmoid(canvas)
            enc = self.encoder(torch.cat([self.read(x, error, dec[0]), dec[0]], dim=1), enc)
            # The posterior and its KL in float32 under autocast too.
            mu, log_sigma = self.posterior(enc[0]).float().chunk(2, dim=1)
            z = mu + torch.exp(log_sigma) * eps
            kl = kl + 0.5 * (mu ** 2 + torch.exp(2 * log_sigma) - 2 * log_sigma - 1).sum(1)
            dec = self.decoder(z, dec)
            canvas = canvas + self.write(dec[0])
        return canvas, kl

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """Latents (B, T, z) -> canvas logits after each step, (T, B, C, H, W)."""
        c = self.c
        b = z.shape[0]
        canvas = z.new_zeros(b, c.channels, c.image_size, c.image_size)
        dec = self.zero_state(b, z)
        canvases = []
        for z_t in z.unbind(1):
            dec = self.decoder(z_t, dec)
            canvas = canvas + self.write(dec[0])
            canvases.append(canvas)
        return torch.stack(canvases)


class _FinalCanvas(nn.Module):
    """Latents (B, T, z) -> the picture decode() makes of them, in [-1, 1]."""

    def __init__(self, network: DrawNetwork) -> None:
        super().__init__()
        self.network = network

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.network.generate(latent)[-1]).mul(2).sub(1)


class DrawModel(StepCounter, GenerativeModel):
    family = "rnn"
    process_name = "drawing"
    capabilities = frozenset({LIKELIHOOD, PROCESS, TEMPERATURE, ONNX, DISTRIBUTED})
    counters_key = "draw.counters"
    config_class = DrawConfig

    def __init__(self, config: DrawConfig, device: torch.device, seed: int = 0) -> None:
        super().__init__(config, device, seed)
        self.network = DrawNetwork(config).to(device)
        self.steps_done = 0   # drives the KL warm-up; saved for exact resume

    def networks(self) -> dict[str, nn.Module]:
        return {"draw": self.network}

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"draw": adam(self.network, self.config.learning_rate, self.device)}

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        return self.optimizers()["draw"]

    def binarize(self, real: torch.Tensor) -> torch.Tensor:
        """Dynamic binarization from the model's own noise (exact resume)."""
        return torch.bernoulli(real.add(1).mul(0.5).clamp(0, 1), generator=self.noise)

    likelihood_data = "binarized"

    def negative_log_likelihood(self, images: torch.Tensor, generator: torch.Generator,
                                importance_samples: int, labels: torch.Tensor | None = None
                                ) -> dict[str, torch.Tensor]:
        """The evaluator's hook: DRAW's bound on -log p(x) for binarized images."""
        binary = images.add(1).mul(0.5)
        noise = torch.randn(self.config.steps, binary.shape[0], self.config.latent_dim,
                            device=binary.device, generator=generator)
        reconstruction, kl = self.bound(binary, noise)
        return {"neg_elbo": reconstruction + kl}

    def bound(self, binary: torch.Tensor, noise: torch.Tensor | None = None,
              network: nn.Module | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(reconstruction nats, KL nats) per image; their sum bounds -log p(x).
        `network`: the one to run (train_step's synced one; default the network)."""
        if noise is None:
            noise = torch.randn(self.config.steps, binary.shape[0], self.config.latent_dim,
                                device=binary.device, generator=self.noise)
        with self.precision.autocast():
            logits, kl = (network or self.network)(binary, noise)
        reconstruction = F.binary_cross_entropy_with_logits(
            logits.float(), binary, reduction="none").flatten(1).sum(1)
        return reconstruction, kl

    def train_step(self, real: torch.Tensor, labels: torch.Tensor | None = None
                   ) -> dict[str, torch.Tensor]:
        binary = self.binarize(real)
        self.optimizer.zero_grad(set_to_none=True)
        reconstruction, kl = self.bound(binary, network=self.synced(self.network))
        bound = (reconstruction + kl.float()).mean()
        loss = (reconstruction + self.kl_weight() * kl.float()).mean()
        self.precision.backward(loss)
        self.precision.step(self.optimizer, clip=(self.network.parameters(), self.config.grad_clip))
        self.precision.update()
        self.steps_done += 1
        # The bound is reported at full KL weight, warm-up or not: it is the score.
        return {"nll_bound_nats": bound.detach(), "reconstruction": reconstruction.detach().mean(),
                "kl": kl.detach().mean()}

    def kl_weight(self) -> float:
        """1, ramped linearly from 0 over the first warmup_steps steps."""
        return warmup_weight(1.0, self.steps_done, self.config.warmup_steps)

    def latents_for_seeds(self, seeds: list[int]) -> torch.Tensor:
        shape = (self.config.steps, self.config.latent_dim)
        return per_seed(seeds, lambda g: torch.randn(*shape, generator=g), shape)

    @torch.inference_mode()   # sampling builds no autograd graph
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.network.generate(latents)[-1]).mul(2).sub(1)

    def onnx_network(self) -> OnnxNetwork:
        """The decoder LSTM and its writes, unrolled over the T steps: one latent
        per step in, the final canvas out (as decode())."""
        c = self.config
        inputs, examples = generator_inputs((c.steps, c.latent_dim))
        return OnnxNetwork(GENERATOR, _FinalCanvas(self.network), inputs,
                           picture_output(c.channels, c.image_size,
                                          meaning="the canvas after the last step in [-1, 1]"),
                           examples, {"latent_distribution": "standard normal, one latent of "
                                                             f"{c.latent_dim} per drawing step"})

    @torch.inference_mode()
    def process_batch(self, seeds: list[int]) -> torch.Tensor:
        """The canvas after each of the T steps: (T, N, C, H, W) in [-1, 1]."""
        with evaluating(self.network):
            latents = self.latents_for_seeds(seeds).to(self.device)
            return torch.sigmoid(self.network.generate(latents)).mul(2).sub(1)

    def process_frames(self, seed: int, label: int | None = None) -> torch.Tensor:
        """The process for one seed, (T, C, H, W) in [-1, 1] (the animation hook)."""
        return self.process_batch([seed])[:, 0]


register_model(ModelSpec("draw", DrawModel, "DRAW (recurrent VAE painting a canvas with attention)"))
