"""The VAE family: `mlp-vae`, `conv-vae` and their class-conditional versions.

A variational autoencoder (Kingma and Welling, 2014) trained on the negative
evidence lower bound, -ELBO = -E_q[log p(x|z)] + KL(q(z|x) || N(0, I)), with an
optional beta weighting of the KL term (Higgins et al., 2017) that ramps up
linearly over `warmup_steps` (KL warm-up, Sonderby et al., 2016).

Besides sampling, a VAE reconstructs images and measures their likelihood:
`negative_elbo(images)` and `iwae_nll(images, k)` (the importance-weighted
bound of Burda et al., 2016), both per image in nats.
"""
from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from engine.errors import ConfigError
from engine.models.base import (CLASSES, LIKELIHOOD, ONNX, RECONSTRUCT, TEMPERATURE,
                                GenerativeModel, ModelConfig, per_seed)
from engine.models.base import DISTRIBUTED
from engine.models.common import adam, evaluating
from engine.models.common.kl_warmup import StepCounter, warmup_weight
from engine.models.common.onnx_network import (GENERATOR, OneHotConditioned, OnnxNetwork,
                                             generator_inputs, picture_output)
from engine.models.likelihoods import (LIKELIHOODS, PARAMETERS_PER_CHANNEL, choose_likelihood,
                                       log_likelihood, mean_image)
from engine.models.vae_networks import ConvDecoder, ConvEncoder, MlpDecoder, MlpEncoder
from engine.models.registry import ModelSpec, register_model

ARCHITECTURES = ("mlp", "conv")
LOG_2PI = math.log(2 * math.pi)


@dataclasses.dataclass
class VaeConfig(ModelConfig):
    architecture: str = "mlp"
    latent_dim: int = 20
    hidden: int = 400               # MLP hidden units (784-400-20 is the reference)
    hidden_layers: int = 1          # MLP hidden layers on each side (1 is the reference)
    width: int = 32                 # conv base channel count
    likelihood: str = "auto"        # auto: bernoulli for grey images, logistic for colour
    conditional: bool = False
    num_classes: int = 0            # set from the data's labels by the trainer
    beta: float = 1.0               # weight of the KL term (1: the true ELBO)
    warmup_steps: int = 0           # KL weight ramps 0 -> beta over this many steps
    binarize: bool = False          # train on Bernoulli draws of each pixel (binarized MNIST)
    learning_rate: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999

    def validate(self) -> None:
        super().validate()
        if self.architecture not in ARCHITECTURES:
            raise ConfigError(f"unknown VAE architecture {self.architecture!r}")
        if self.architecture == "conv" and not (28 <= self.image_size <= 64
                                                and self.image_size % 4 == 0):
            raise ConfigError(f"conv-vae image size must be a multiple of 4 from 28 to 64, "
                              f"not {self.image_size}")
        if self.architecture == "mlp" and not 8 <= self.image_size <= 128:
            raise ConfigError(f"mlp-vae image size must be between 8 and 128, not {self.image_size}")
        if self.likelihood not in ("auto", *LIKELIHOODS):
            raise ConfigError(f"unknown likelihood {self.likelihood!r}; choose auto, "
                              f"{', '.join(LIKELIHOODS)}")
        if self.binarize and choose_likelihood(self.likelihood, self.channels) != "bernoulli":
            raise ConfigError("binarize needs the bernoulli likelihood")
        for name, low, high in (("latent size", 1, 1024), ("hidden units", 8, 8192),
                                ("hidden layers", 1, 8), ("width", 4, 512)):
            value = {"latent size": self.latent_dim, "hidden units": self.hidden,
                     "hidden layers": self.hidden_layers, "width": self.width}[name]
            if not low <= value <= high:
                raise ConfigError(f"{name} must be between {low} and {high}, not {value}")
        if not 0 <= self.num_classes <= 1000:
            raise ConfigError(f"number of classes must be between 0 and 1000, not {self.num_classes}")
        if not (0 <= self.beta <= 1000 and math.isfinite(self.beta)):
            raise ConfigError(f"beta must be between 0 and 1000, not {self.beta}")
        if self.warmup_steps < 0:
            raise ConfigError(f"KL warm-up steps must be 0 or more, not {self.warmup_steps}")
        if not (0 < self.learning_rate <= 1):
            raise ConfigError(f"learning rate must be in (0, 1], not {self.learning_rate}")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise ConfigError("Adam betas must be in [0, 1)")


class _Pair(nn.Module):
    """Encoder and decoder under one module, so one optimiser steps both."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module) -> None:
        super().__init__()
        self.encoder, self.decoder = encoder, decoder


class VaeModel(StepCounter, GenerativeModel):
    family = "vae"
    config_class = VaeConfig
    counters_key = "vae.counters"   # the saved name: runs saved before keep resuming
    plotted_losses = ("loss", "reconstruction", "KL")
    capabilities = frozenset({RECONSTRUCT, LIKELIHOOD, TEMPERATURE, CLASSES, ONNX, DISTRIBUTED})

    def __init__(self, config: VaeConfig, device: torch.device, seed: int = 0) -> None:
        super().__init__(config, device, seed)
        c = config
        if c.conditional and c.num_classes < 2:
            raise ConfigError("a conditional VAE needs data with class labels (two or more "
                              "classes); this data set has none")
        self.likelihood = choose_likelihood(c.likelihood, c.channels)
        # The evaluator's test-set protocol: Bernoulli decoders are scored on the
        # binarized test set (a true likelihood of binary images), the logistic
        # one on the 256 levels. A conditional model is scored given each test
        # image's class: p(x | y).
        self.likelihood_data = "binarized" if self.likelihood == "bernoulli" else "8bit"
        out = PARAMETERS_PER_CHANNEL[self.likelihood]
        classes = c.num_classes if c.conditional else 0
        if c.architecture == "mlp":
            pixels = c.channels * c.image_size * c.image_size
            self.encoder: nn.Module = MlpEncoder(pixels, c.hidden, c.latent_dim, classes,
                                                 c.hidden_layers)
            self.decoder: nn.Module = MlpDecoder(c.latent_dim, c.hidden, c.image_size, c.channels,
                                                 out, classes, c.hidden_layers)
            self.memory_format = torch.contiguous_format
        else:
            self.encoder = ConvEncoder(c.image_size, c.channels, c.width, c.latent_dim, classes)
            self.decoder = ConvDecoder(c.image_size, c.channels, c.width, c.latent_dim, out, classes)
            # As for DCGAN: oneDNN and cuDNN pick faster kernels for channels_last.
            self.memory_format = torch.channels_last
        self.encoder.to(device, memory_format=self.memory_format)
        self.decoder.to(device, memory_format=self.memory_format)
        self.steps_done = 0   # drives the KL warm-up; saved for exact resume

    # -- protocol ------------------------------------------------------------------
    def networks(self) -> dict[str, nn.Module]:
        return {"encoder": self.encoder, "decoder": self.decoder}

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        return {"vae": adam(_Pair(self.encoder, self.decoder), c.learning_rate, self.device,
                            (c.beta1, c.beta2))}

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        return self.optimizers()["vae"]

    @property
    def uses_labels(self) -> bool:
        return self.config.conditional

    def kl_weight(self) -> float:
        """beta, ramped linearly from 0 over the first warmup_steps steps."""
        return warmup_weight(self.config.beta, self.steps_done, self.config.warmup_steps)

    def train_step(self, real: torch.Tensor, labels: torch.Tensor | None = None
                   ) -> dict[str, torch.Tensor]:
        x = self._prepare(real)
        if self.config.binarize:
            x = binarize(x, self.noise)
        onehot = self._onehot(labels)
        amp = self.precision
        # The networks run under autocast; the sampled latent, the likelihood
        # and the KL are computed in float32 from their outputs.
        with amp.autocast():
            mu, logvar = (t.float() for t in self.synced(self.encoder)(x, onehot))
        eps = torch.randn(mu.shape, device=self.device, generator=self.noise)
        z = mu + eps * torch.exp(0.5 * logvar)
        with amp.autocast():
            params = self.synced(self.decoder)(z, onehot).float()
        reconstruction = -log_likelihood(self.likelihood, params, x)
        kl = gaussian_kl(mu, logvar)
        weight = self.kl_weight()
        # Summed over the batch, as pytorch/examples does, so Adam sees the
        # reference's gradient scale (10 MNIST epochs measured the same either way).
        loss = (reconstruction + weight * kl).sum()
        self.optimizer.zero_grad(set_to_none=True)
        amp.backward(loss)
        amp.step(self.optimizer)
        amp.update()
        self.steps_done += 1
        with torch.no_grad():   # reported per image
            return {"loss": loss.detach() / x.shape[0],
                    "reconstruction": reconstruction.mean().detach(), "KL": kl.mean().detach()}

    def latents_for_seeds(self, seeds: list[int]) -> torch.Tensor:
        dim = self.config.latent_dim
        return per_seed(seeds, lambda g: torch.randn(dim, generator=g), (dim,))

    def decode(self, latents: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        params = self.decoder(latents.to(self.device), self._onehot(labels))
        return mean_image(self.likelihood, params).contiguous()

    def decode_with_classes(self, latents: torch.Tensor,
                            class_weights: torch.Tensor | None) -> torch.Tensor:
        """A class mixture goes where the one-hot class would, so a walk morphs
        between classes."""
        if not self.uses_labels or class_weights is None:
            return self.decode(latents)
        params = self.decoder(latents.to(self.device), class_weights.to(self.device).float())
        return mean_image(self.likelihood, params).contiguous()

    def onnx_network(self) -> OnnxNetwork:
        """The decoder and its mean picture (what decode() returns), with an
        integer class input for a conditional VAE."""
        c = self.config
        classes = c.num_classes if self.uses_labels else 0
        inputs, examples = generator_inputs((c.latent_dim,), classes)
        decoder = OneHotConditioned(self.decoder, classes, _MeanImage(self.likelihood))
        return OnnxNetwork(GENERATOR, decoder, inputs,
                           picture_output(c.channels, c.image_size,
                                          meaning=f"the decoder's mean picture in [-1, 1] "
                                                  f"({self.likelihood} likelihood)"),
                           examples, {"latent_distribution": "standard normal (the prior)"},
                           classes)

    # -- reconstruction and likelihood -----------------------------------------------
    @torch.inference_mode()
    def posterior_mean(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Each image's posterior mean (N, latent_dim): where a reconstruction morph
        (engine.studio.morph) puts its keyframes."""
        with evaluating(*self.networks().values()):
            mu, _ = self.encoder(self._prepare(images), self._onehot(labels))
            return mu

    @torch.inference_mode()
    def reconstruct(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Each image encoded to its posterior mean and decoded: images in [-1, 1]."""
        with evaluating(*self.networks().values()):
            x = self._prepare(images)
            onehot = self._onehot(labels)
            mu, _ = self.encoder(x, onehot)
            return mean_image(self.likelihood, self.decoder(mu, onehot)).contiguous()

    def negative_log_likelihood(self, images: torch.Tensor, generator: torch.Generator,
                                importance_samples: int, labels: torch.Tensor | None = None
                                ) -> dict[str, torch.Tensor]:
        """The evaluator's hook: -ELBO and, with more than one importance sample,
        the importance-weighted NLL, per image in nats (p(x | class) for a
        conditional model, given each image's class)."""
        seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))
        estimates = {"neg_elbo": self.negative_elbo(images, labels, seed=seed)}
        if importance_samples > 1:
            estimates["iw_nll"] = self.iwae_nll(images, importance_samples, labels, seed=seed)
        return estimates

    @torch.inference_mode()
    def negative_elbo(self, images: torch.Tensor, labels: torch.Tensor | None = None,
                      seed: int = 0) -> torch.Tensor:
        """-ELBO per image in nats, one posterior sample each (as pytorch/examples'
        test loss), with beta = 1 whatever the training weight. Reproducible from
        `seed`; the training noise is untouched."""
        with evaluating(*self.networks().values()):
            g = torch.Generator(device=self.device)
            g.manual_seed(seed)
            x, onehot = self._prepare(images), self._onehot(labels)
            mu, logvar = self.encoder(x, onehot)
            z = mu + torch.randn(mu.shape, device=self.device, generator=g) * torch.exp(0.5 * logvar)
            log_px = log_likelihood(self.likelihood, self.decoder(z, onehot), x)
            return -log_px + gaussian_kl(mu, logvar)

    @torch.inference_mode()
    def iwae_nll(self, images: torch.Tensor, k: int = 1000, labels: torch.Tensor | None = None,
                 seed: int = 0, chunk: int = 500) -> torch.Tensor:
        """Importance-weighted estimate of -log p(x) per image in nats with k
        posterior samples (Burda et al. 2016); it tightens towards the true NLL as
        k grows. Samples go through the decoder `chunk` at a time."""
        if not 1 <= k <= 100_000:
            raise ConfigError(f"k must be between 1 and 100000, not {k}")
        with evaluating(*self.networks().values()):
            g = torch.Generator(device=self.device)
            g.manual_seed(seed)
            x, onehot = self._prepare(images), self._onehot(labels)
            mu, logvar = self.encoder(x, onehot)
            std = torch.exp(0.5 * logvar)
            out = []
            for i in range(x.shape[0]):
                weights = []
                for start in range(0, k, chunk):
                    n = min(chunk, k - start)
                    eps = torch.randn((n, mu.shape[1]), device=self.device, generator=g)
                    z = mu[i] + eps * std[i]
                    label = None if onehot is None else onehot[i:i + 1].expand(n, -1)
                    target = x[i:i + 1].expand(n, *x.shape[1:])
                    log_px = log_likelihood(self.likelihood, self.decoder(z, label), target)
                    log_pz = -0.5 * (z.pow(2) + LOG_2PI).sum(1)
                    log_qz = -0.5 * (eps.pow(2) + LOG_2PI + logvar[i]).sum(1)
                    weights.append(log_px + log_pz - log_qz)
                out.append(math.log(k) - torch.logsumexp(torch.cat(weights), 0))
            return torch.stack(out)

    # -- helpers ---------------------------------------------------------------------
    def _prepare(self, images: torch.Tensor) -> torch.Tensor:
        return images.to(self.device).contiguous(memory_format=self.memory_format)

    def _onehot(self, labels: torch.Tensor | None) -> torch.Tensor | None:
        if not self.uses_labels:
            return None
        if labels is None:
            raise ConfigError("this conditional VAE needs a class for each image "
                              "(for an animation: give its keyframes classes)")
        return F.one_hot(labels.to(self.device).long(), self.config.num_classes).float()


class _MeanImage(nn.Module):
    """The decoder's output parameters -> its mean picture in [-1, 1]."""

    def __init__(self, likelihood: str) -> None:
        super().__init__()
        self.likelihood = likelihood

    def forward(self, params: torch.Tensor) -> torch.Tensor:
        return mean_image(self.likelihood, params)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per row, in nats."""
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)


def binarize(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each pixel black or white with probability its intensity: a binarized
    image in {-1, 1} (dynamic binarization when drawn afresh every step)."""
    p = (images + 1) * 0.5
    draw = torch.rand(p.shape, device=p.device, generator=generator)
    return (draw < p).to(images.dtype) * 2 - 1


# -- the models this family offers ------------------------------------------------
# The MLP VAEs take a higher rate decayed by a cosine schedule: the reference
# network beats the reference's constant 1e-3 in the same epochs.
_CONV = {"image_sizes": (28, 32, 64), "takes_width": True}
register_model(ModelSpec("mlp-vae", VaeModel, "VAE, MLP 784-400-20",
                         {"architecture": "mlp", "learning_rate": 3e-3}, lr_schedule="cosine"))
register_model(ModelSpec("conv-vae", VaeModel, "VAE, convolutional", {"architecture": "conv"},
                         **_CONV))
register_model(ModelSpec("cvae", VaeModel, "Conditional VAE, MLP (class labels)",
                         {"architecture": "mlp", "conditional": True, "learning_rate": 3e-3},
                         lr_schedule="cosine", eval_metrics=("fd", "kid", "class_coverage")))
register_model(ModelSpec("conv-cvae", VaeModel, "Conditional VAE, convolutional (class labels)",
                         {"architecture": "conv", "conditional": True},
                         eval_metrics=("fd", "kid", "class_coverage"), **_CONV))
