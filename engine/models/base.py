"""The protocol every model family implements, so the trainer, the gallery and
the exporters are written once for all of them."""
from __future__ import annotations

import dataclasses
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from engine.errors import ConfigError
from engine.models.common import evaluating
from engine.runtime.precision import MixedPrecision

if TYPE_CHECKING:
    from engine.data.facts import DataFacts
    from engine.models.common.onnx_network import OnnxNetwork
    from engine.models.common.preset import Preset


@dataclasses.dataclass
class ModelConfig:
    """Fields every family's config has; families subclass it with their own."""

    image_size: int = 28
    channels: int = 1

    def validate(self) -> None:
        self._check_types()
        if self.channels not in (1, 3):
            raise ConfigError(f"channels must be 1 or 3, not {self.channels}")

    def _check_types(self) -> None:
        """Each setting of its declared kind, before any range check compares it:
        a config.json, a bundle or `--set` can hold any JSON value, and 32.5
        channels or a "nan" beta must be one clear line, not a TypeError deep
        inside a network's constructor."""
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            # Annotations are strings here (from __future__ import annotations).
            kind = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", "")
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if kind == "int" and not (number and isinstance(value, int)):
                raise ConfigError(f"model setting {field.name} must be a whole number, "
                                  f"not {_shown(value)}")
            if kind == "float" and not (number and math.isfinite(value)):
                raise ConfigError(f"model setting {field.name} must be a finite number, "
                                  f"not {_shown(value)}")
            if kind == "bool" and not isinstance(value, bool):
                raise ConfigError(f"model setting {field.name} must be true or false, "
                                  f"not {_shown(value)}")
            if kind == "str" and not isinstance(value, str):
                raise ConfigError(f"model setting {field.name} must be text, not {_shown(value)}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ModelConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ConfigError(f"unknown {cls.__name__} settings: {', '.join(sorted(unknown))}")
        return cls(**values)


def _shown(value: Any) -> str:
    """A setting's value for a message: short, and never a nested structure's repr."""
    if isinstance(value, (dict, list)):
        return "a JSON object" if isinstance(value, dict) else "a list"
    text = json.dumps(value) if isinstance(value, (bool, int, float, str)) or value is None \
        else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# The fp16 loss scaler's state, beside the optimisers' settings in trainer.json.
SCALER_KEY = "amp.scaler"

# Capabilities: the optional operations a family offers. A family lists them in
# `capabilities`; callers test `RECONSTRUCT in model.capabilities` (or on the
# class) and never probe for methods, so a family states what it does in one place.
RECONSTRUCT = "reconstruct"   # reconstruct(), posterior_mean() and a per-image negative_elbo()
CONTINUE = "continue"         # continue_frames(): extend image sequences
LIKELIHOOD = "likelihood"     # negative_log_likelihood() on `likelihood_data` images
PROCESS = "process"           # process_frames(): its own generative process, named process_name
PREDICTION = "prediction"     # process_frames(shows="prediction"): each step's clean-picture guess
TRUNCATION = "truncation"     # truncated_latents_for_seeds(): the truncation trick
TEMPERATURE = "temperature"   # per-seed latent noise that a temperature scales
CLASSES = "classes"           # can be class-conditional (the config says whether a run is)
PRESET = "preset"             # suggest_preset(): settings for given data facts and device
STEPS = "steps"               # an iterative sampler: callers choose its steps (configure_sampling)
GUIDANCE = "guidance"         # classifier-free guidance: callers choose its scale (configure_sampling)
VARY = "vary"                 # vary(): variations of given pictures at a strength (SDEdit)
INVERT = "invert"             # invert(): the starting noise that decodes back to given pictures
ONNX = "onnx"                 # onnx_network(): the network that makes its pictures, for ONNX
DISTRIBUTED = "distributed"   # trains in several processes: train_step calls networks via synced()
CAPABILITIES = frozenset({RECONSTRUCT, CONTINUE, LIKELIHOOD, PROCESS, PREDICTION, TRUNCATION,
                          TEMPERATURE, CLASSES, PRESET, STEPS, GUIDANCE, VARY, INVERT,
                          DISTRIBUTED, ONNX})

MAX_SAMPLER_STEPS = 1000
MAX_GUIDANCE = 20.0


@dataclasses.dataclass(frozen=True)
class SamplerSettings:
    """How an iterative sampler (a diffusion or flow model) runs, chosen per call
    by the gallery, the CLI and the animations through configure_sampling().

    steps: sampler steps from noise to picture (STEPS): fewer are faster and
    coarser. guidance: the classifier-free guidance scale w (GUIDANCE), used by
    class-conditional runs only: the prediction is
    unconditional + w * (conditional - unconditional), so 0 ignores the class,
    1 is the plain conditional model, and above 1 holds closer to the class at
    some cost in variety. The same seed, steps and guidance always give the same
    picture.
    """

    steps: int = 20
    guidance: float = 1.0

    def validate(self) -> None:
        steps, guidance = self.steps, self.guidance
        whole = isinstance(steps, int) or (isinstance(steps, float) and steps.is_integer())
        if isinstance(steps, bool) or not whole or not 1 <= steps <= MAX_SAMPLER_STEPS:
            raise ConfigError(f"sampler steps must be a whole number from 1 to "
                              f"{MAX_SAMPLER_STEPS}, not {_shown(steps)}")
        if isinstance(guidance, bool) or not isinstance(guidance, (int, float)) \
                or not math.isfinite(guidance) or not 0 <= guidance <= MAX_GUIDANCE:
            raise ConfigError(f"guidance must be a number from 0 to {MAX_GUIDANCE:g}, "
                              f"not {_shown(guidance)}")


class MissingCapability(ConfigError):
    """An optional operation asked of a family that does not declare it."""


class GenerativeModel(ABC):
    """One model family: its networks, optimisers, a training step and a sampler.

    Images cross this interface as float tensors in [-1, 1], shape (N, C, H, W).
    """

    family: ClassVar[str]
    config_class: ClassVar[type[ModelConfig]]
    # The losses a person watches (the GUI plots these); others go to metrics.jsonl only.
    plotted_losses: ClassVar[tuple[str, ...]] = ()
    # The optional operations this family implements (the constants above).
    capabilities: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, config: ModelConfig, device: torch.device, seed: int = 0) -> None:
        config.validate()
        self.config = config
        self.device = device
        # Training noise comes from the model's own generator, so nothing else
        # drawing random numbers (another thread building a model for the
        # gallery, say) can change a run.
        # A model built on the meta device (shapes only, no memory: how a bundle
        # is checked before loading) cannot have a meta generator; a CPU one stands in.
        self.noise = torch.Generator(device=device if device.type != "meta" else "cpu")
        self.noise.manual_seed(seed)
        # Autocast and loss scaling for train_step (engine.runtime.precision); the
        # trainer sets the run's choice, anything else trains in float32.
        self.precision = MixedPrecision("fp32", device)
        # Optimisers are built on first need (see optimizers()), never for a model
        # that only samples, animates or is evaluated.
        self._optimizers: dict[str, torch.optim.Optimizer] | None = None
        # Steps and guidance of an iterative sampler (STEPS, GUIDANCE); families
        # that have one start from their config's defaults.
        self.sampling = self.default_sampling(config)
        # The DistributedDataParallel wrapper of each trained network, by the
        # network's id, once distribute() ran (DISTRIBUTED); empty otherwise.
        self._synced: dict[int, nn.Module] = {}

    @classmethod
    def default_sampling(cls, config: ModelConfig) -> SamplerSettings:
        """The steps and guidance a model with this config samples with when none
        are chosen; read from the config alone, so callers need not build a model."""
        return SamplerSettings()

    @abstractmethod
    def networks(self) -> dict[str, nn.Module]:
        """Named networks; each is saved as `<name>.safetensors` in a run."""

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Build the named optimisers over the networks' parameters (families
        override this). Called once, by optimizers(), and put anything else only
        training needs here too. Why not in __init__: a model built to sample,
        animate or evaluate never trains, and the first optimiser a process
        builds imports torch._dynamo (seconds of start-up)."""
        raise NotImplementedError(f"the {self.family} family defines no optimisers")

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Named optimisers; their state is saved for exact resume. Built on the
        first call (a training step, saving or loading resume state)."""
        if self._optimizers is None:
            self._optimizers = self.make_optimizers()
        return self._optimizers

    @property
    def built_for_training(self) -> bool:
        """Whether the optimisers exist yet (false for a model that only samples)."""
        return self._optimizers is not None

    @property
    def uses_labels(self) -> bool:
        """True for class-conditional models: the trainer then passes each
        batch's labels to train_step and the gallery offers a class picker."""
        return False

    @abstractmethod
    def train_step(self, real: torch.Tensor, labels: torch.Tensor | None = None
                   ) -> dict[str, torch.Tensor]:
        """One optimisation step on a batch (with its class labels when the model
        uses them); returns detached scalar losses."""

    @abstractmethod
    def latents_for_seeds(self, seeds: list[int]) -> torch.Tensor:
        """The latent for each seed, drawn independently, so a tile is reproducible
        from its seed alone whatever else was sampled with it."""

    @property
    def num_classes(self) -> int:
        """Classes a conditional model can draw (0 for an unconditional one)."""
        return int(getattr(self.config, "num_classes", 0)) if self.uses_labels else 0

    @abstractmethod
    def decode(self, latents: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [-1, 1] from latents (and class labels for a conditional
        model). Called under inference mode."""

    def labels_for_seeds(self, seeds: list[int], labels: list[int] | None = None
                         ) -> torch.Tensor | None:
        """The class of each tile: the given ones, else seed modulo the number of
        classes, so a tile is reproducible from its seed (and class) alone."""
        if not self.uses_labels:
            return None
        count = max(self.num_classes, 1)
        chosen = [int(s) % count for s in seeds] if labels is None else [int(c) for c in labels]
        if len(chosen) != len(seeds) or any(not 0 <= c < count for c in chosen):
            raise ConfigError(f"class labels must be one per seed, each from 0 to {count - 1}")
        return torch.tensor(chosen, dtype=torch.long, device=self.device)

    # -- optional hooks for animation; families override what they support ------
    # num_classes (a property above) is the conditional families' class count; 0 = unconditional.
    # The name of the family's own generative process ("denoising", "drawing",
    # "continuation", ...) when it implements process_frames(); None if it has none.
    process_name: ClassVar[str | None] = None

    def decode_with_classes(self, latents: torch.Tensor,
                            class_weights: torch.Tensor | None) -> torch.Tensor:
        """Images from latents and class mixtures (N, num_classes), rows summing to 1:
        one-hot at a keyframe, blended between, so a walk can morph between classes.
        Unconditional families ignore the classes. Called under inference mode."""
        return self.decode(latents)

    def process_frames(self, seed: int, label: int | None = None) -> torch.Tensor:
        """Frames (T, C, H, W) in [-1, 1] of the family's own process for one seed: a
        canvas being drawn, rows filling, noise being removed. Called under
        inference mode after eval(). Families that set process_name override it."""
        raise MissingCapability(f"the {self.family} family has no process animation; "
                          "use a latent walk or the training time-lapse")

    def configure_sampling(self, steps: int | None = None, guidance: float | None = None
                           ) -> SamplerSettings:
        """Choose the sampler's steps and guidance for the calls that follow
        (sample, decode, process_frames, vary, invert); None keeps the current
        value. Returns the settings now in force. A family without STEPS or
        GUIDANCE refuses that one."""
        if steps is not None and STEPS not in self.capabilities:
            raise self._missing("choose sampler steps", "its sampling takes no steps")
        if guidance is not None and GUIDANCE not in self.capabilities:
            raise self._missing("apply guidance", "it has no classifier-free guidance")
        chosen = {k: v for k, v in (("steps", steps), ("guidance", guidance)) if v is not None}
        settings = dataclasses.replace(self.sampling, **chosen)
        settings.validate()
        # Whole-number floats (from JSON or a slider) pass as the int they are.
        self.sampling = dataclasses.replace(settings, steps=int(settings.steps),
                                            guidance=float(settings.guidance))
        return self.sampling

    def distribute(self, wrap: Callable[[nn.Module], nn.Module]) -> None:
        """Train in several processes (DISTRIBUTED): each trained network (one
        whose parameters need gradients, so not a weight average) gets
        wrap(network), a DistributedDataParallel around it, and train_step
        calls it through synced(). networks() keeps the bare networks, so
        checkpoints, sampling and evaluation never meet a wrapper."""
        if DISTRIBUTED not in self.capabilities:
            raise self._missing("train in several processes", "train it in one process")
        self._synced = {id(net): wrap(net) for net in self.networks().values()
                        if any(p.requires_grad for p in net.parameters())}

    def synced(self, network: nn.Module) -> nn.Module:
        """`network` as train_step calls it for a forward pass whose weight
        gradients every process shares: its DistributedDataParallel wrapper
        after distribute(), else the network itself. A pass whose weights get
        no gradient of their own (a frozen critic scoring the generator) or
        that takes an input gradient (a gradient penalty) calls the bare
        network: the wrapper's gradient hooks sit on the shared parameters
        and still fire once, in the step's one backward pass."""
        return self._synced.get(id(network), network)

    # Whether sample() takes a truncation threshold (GANs: the truncation trick);
    # equal to TRUNCATION in capabilities (the conformance test holds them together).
    supports_truncation: ClassVar[bool] = False

    def _missing(self, capability: str, hint: str = "") -> MissingCapability:
        return MissingCapability(f"the {self.family} family cannot {capability}" +
                                 (f"; {hint}" if hint else ""))

    def reconstruct(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Each image encoded and decoded again: images in [-1, 1] (RECONSTRUCT)."""
        raise self._missing("reconstruct images")

    def posterior_mean(self, images: torch.Tensor, labels: torch.Tensor | None = None
                       ) -> torch.Tensor:
        """Each image's latent, (N, latent_dim): where a reconstruction morph puts
        its keyframes (RECONSTRUCT)."""
        raise self._missing("encode images")

    def continue_frames(self, context: torch.Tensor, count: int) -> torch.Tensor:
        """Sequences (N, F, C, H, W) in [-1, 1] continued by `count` frames (CONTINUE)."""
        raise self._missing("continue image sequences")

    def vary(self, images: torch.Tensor, strength: float, seeds: list[int],
             labels: torch.Tensor | None = None) -> torch.Tensor:
        """Variations of pictures in [-1, 1] (VARY, SDEdit): each noised to
        `strength` in [0, 1] with its seed's noise and sampled back, so 0 keeps
        the picture and 1 ignores it; the same seed gives the same variation."""
        raise self._missing("make variations of a picture")

    def invert(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The starting noise that decode() turns back into each picture (INVERT):
        the deterministic sampler run backwards, for walks between real pictures."""
        raise self._missing("invert a picture to its noise")

    # Why a family without ONNX says it cannot export (a refusal names the reason).
    onnx_refusal: ClassVar[str] = "it declares no network that makes its pictures"

    def onnx_network(self) -> OnnxNetwork:
        """The network that makes this model's pictures, with example inputs and
        its contract (ONNX; engine.models.common.onnx_network): a generator or
        decoder (latent and label in, picture out) or an iterative sampler's
        denoiser (noisy picture, time and label in, prediction out)."""
        raise self._missing("be exported to ONNX", self.onnx_refusal)

    def truncated_latents_for_seeds(self, seeds: list[int], threshold: float) -> torch.Tensor:
        """Latents with components beyond `threshold` redrawn, per seed (see
        engine.models.common.truncation); families with supports_truncation override it."""
        raise MissingCapability(f"the {self.family} family has no truncation; use the temperature")

    @torch.inference_mode()
    def sample(self, seeds: list[int], labels: list[int] | None = None,
               temperature: float = 1.0, truncation: float | None = None) -> torch.Tensor:
        """Images in [-1, 1] for the given seeds (and classes), on the model's device.

        temperature scales the latents: below 1 trades variety for typical images.
        truncation (GANs; None: off) redraws latent components beyond it.
        """
        if not 0 < temperature <= 4:
            raise ConfigError(f"temperature must be in (0, 4], not {temperature}")
        if truncation is not None and not self.supports_truncation:
            raise MissingCapability(f"the {self.family} family has no truncation; use the temperature")
        with evaluating(*self.networks().values()):
            latents = (self.latents_for_seeds(seeds) if truncation is None else
                       self.truncated_latents_for_seeds(seeds, truncation)).to(self.device)
            if temperature != 1.0:
                latents = latents * temperature
            classes = self.labels_for_seeds(seeds, labels)
            # Unconditional families may define decode(latents) alone.
            return self.decode(latents) if classes is None else self.decode(latents, classes)

    # -- optional: likelihood ------------------------------------------------------
    # Families with a likelihood (VAEs: a bound; autoregressive models: exact)
    # set `likelihood_data` to the test-image protocol their likelihood is
    # defined on and override `negative_log_likelihood`; engine.metrics.likelihood
    # prepares the images, batches them and reports nats/image and bits/dim.
    #   "binarized": pixels in {-1, 1}, the test set binarized once by sampling
    #                Bernoulli(intensity) with a fixed seed (dynamic binarization);
    #   "8bit":      the 256 intensity levels as float in [-1, 1] (a discrete
    #                likelihood over 256 values per sub-pixel).
    likelihood_data: ClassVar[str | None] = None

    # What the family trains on: "images" (N, C, H, W) or "sequences"
    # (N, T, C, H, W); and whether its samples come from per-seed latent noise
    # (a GAN's z, a VAE's prior) that temperature scales, or from something
    # else (a sequence model continuing the openings it keeps).
    data_kind: ClassVar[str] = "images"
    latent_noise: ClassVar[bool] = True

    @classmethod
    def suggest_preset(cls, model: str, facts: DataFacts, device: torch.device | str,
                       chosen: bool) -> Preset | None:
        """Settings for model `model` (one of this family's names) on data with
        these facts, each with a reason, and a fit score that engine.presets
        ranks; `chosen` when the user picked the model. None declines: the model
        keeps its own defaults (and is never suggested unasked)."""
        return None

    def negative_log_likelihood(self, images: torch.Tensor, generator: torch.Generator,
                                importance_samples: int, labels: torch.Tensor | None = None
                                ) -> dict[str, torch.Tensor]:
        """Per-image negative log-likelihood estimates in nats, each of shape (N,);
        a class-conditional model gets each image's class in `labels`.

        Keys name the estimate: "nll" for an exact likelihood, "neg_elbo" for the
        evidence lower bound, "iw_nll" for the importance-weighted bound with
        `importance_samples` samples. Called under inference mode after eval();
        draw any noise from `generator` so scores are reproducible.
        """
        raise NotImplementedError(f"the {self.family} family has no likelihood")

    def training_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Everything besides the weights that the next step depends on, as
        (tensors, JSON-able values): optimiser state and the noise generator."""
        tensors: dict[str, torch.Tensor] = {"rng.noise": self.noise.get_state()}
        settings: dict[str, Any] = {}
        for name, optimizer in self.optimizers().items():
            state = optimizer.state_dict()
            settings[name] = {"param_groups": state["param_groups"], "state": {}}
            for index, values in state["state"].items():
                plain = {}
                for key, value in values.items():
                    if torch.is_tensor(value):
                        tensors[f"optimizer.{name}.{index}.{key}"] = value
                    else:
                        plain[key] = value
                settings[name]["state"][str(index)] = plain
        if self.precision.scaler is not None:
            settings[SCALER_KEY] = self.precision.state_dict()
        return tensors, settings

    def load_training_state(self, tensors: dict[str, torch.Tensor], settings: dict[str, Any]) -> None:
        self.noise.set_state(tensors["rng.noise"].cpu())
        for name, optimizer in self.optimizers().items():
            saved = settings[name]
            state: dict[int, dict[str, Any]] = {int(i): dict(v) for i, v in saved["state"].items()}
            prefix = f"optimizer.{name}."
            for key, value in tensors.items():
                if key.startswith(prefix):
                    index, field = key[len(prefix):].split(".", 1)
                    state.setdefault(int(index), {})[field] = value
            optimizer.load_state_dict({"state": state, "param_groups": saved["param_groups"]})
            _match_parameter_layouts(optimizer)
        self.precision.load_state_dict(settings.get(SCALER_KEY))

    def set_learning_rate(self, learning_rate: float) -> None:
        for optimizer in self.optimizers().values():
            for group in optimizer.param_groups:
                group["lr"] = learning_rate
                if "initial_lr" in group:   # the base of a learning-rate schedule
                    group["initial_lr"] = learning_rate

    def parameter_count(self) -> int:
        return sum(p.numel() for net in self.networks().values() for p in net.parameters())


def _match_parameter_layouts(optimizer: torch.optim.Optimizer) -> None:
    """Give each per-parameter state tensor its parameter's memory layout.

    Saved tensors come back contiguous; a fused optimiser walks a channels_last
    parameter and its moments element by element in memory order, so their
    strides must agree or the update mixes up elements.
    """
    for group in optimizer.param_groups:
        for param in group["params"]:
            for key, value in optimizer.state.get(param, {}).items():
                if torch.is_tensor(value) and value.shape == param.shape \
                        and value.stride() != param.stride():
                    optimizer.state[param][key] = torch.empty_like(param, dtype=value.dtype).copy_(value)


def per_seed(seeds: list[int], draw: Callable[[torch.Generator], torch.Tensor],
             shape: tuple[int, ...]) -> torch.Tensor:
    """Stack draw(generator seeded with s) for each seed: a tile depends on its seed alone."""
    rows = []
    for seed in seeds:
        g = torch.Generator(device="cpu")
        g.manual_seed(int(seed))
        rows.append(draw(g))
    return torch.stack(rows) if rows else torch.empty(0, *shape)
