"""Adaptive discriminator augmentation (after Karras et al., 2020, "Training
Generative Adversarial Networks with Limited Data").

The discriminator sees real and generated pictures alike through random,
differentiable augmentations (engine.models.common.diffaugment), each applied
to each picture with probability p. p is not fixed: every `interval` steps the
overfitting heuristic

    r_t = E[sign(D(real))]

over the real pictures seen since the last adjustment is compared with its
target (0.6 in the paper): above it, the discriminator is sure of the
training pictures (it is memorising them) and p rises; below it, p falls.
Each adjustment moves p by (pictures seen since the last one) / `speed_images`,
so p can go from 0 to 1 within `speed_images` pictures: 500,000 in the paper
(its ada_kimg = 500), tuned for GPU runs of millions of pictures. A short CPU
run sees tens of thousands, so the presets scale the speed to the run's
budget (see engine/models/fastgan.py).

p and the partial sums of the current interval are part of the exact-resume
state (a resumed run continues with its p; stylegan2-ada-pytorch #81 is the
bug of resetting it). All randomness comes from the caller's generator.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
import torch.distributed as dist

from engine.errors import ConfigError
from engine.models.common.diffaugment import diff_augment

# The paper's settings.
DEFAULT_TARGET = 0.6
DEFAULT_INTERVAL = 4
DEFAULT_SPEED_IMAGES = 500_000
# The names p and r_t go by in a step's losses (metrics.jsonl and the live plot).
P_KEY = "augment_p"
RT_KEY = "r_t"


def check_ada(target: float, interval: int, speed_images: int) -> None:
    """A clear message for each impossible setting."""
    if not 0 < target < 1:
        raise ConfigError(f"ADA target must be between 0 and 1 (the paper's is 0.6), not {target}")
    if not 1 <= interval <= 10_000:
        raise ConfigError(f"ADA interval must be from 1 to 10,000 steps, not {interval}")
    if not 100 <= speed_images <= 100_000_000:
        raise ConfigError(f"ADA speed must be from 100 to 100,000,000 pictures (for p to go "
                          f"from 0 to 1), not {speed_images}")


def scaled_speed(run_images: int, share: int) -> int:
    """ADA's speed for a run that sees `run_images` pictures: p can go from 0
    to 1 within 1/share of them, never slower than the paper's 500,000."""
    return int(min(DEFAULT_SPEED_IMAGES, max(1_000, round(run_images / share, -2))))


@dataclasses.dataclass
class AdaSettings:
    """A model config's adaptive augmentation settings (mixed into the config
    dataclass of a family that offers ADA). With `ada` on, the config's
    DiffAugment operations are each applied with the adaptive probability p
    instead of always."""

    ada: bool = False
    ada_target: float = DEFAULT_TARGET           # r_t above this: p rises
    ada_interval: int = DEFAULT_INTERVAL         # steps between adjustments of p
    ada_speed_images: int = DEFAULT_SPEED_IMAGES  # pictures for p to go from 0 to 1

    def validate_ada(self, policy: tuple[str, ...]) -> None:
        check_ada(self.ada_target, self.ada_interval, self.ada_speed_images)
        if self.ada and not policy:
            raise ConfigError("adaptive augmentation (ada) needs augmentations to apply: "
                              "set augment, e.g. \"translation,color,cutout\"")

    def make_ada(self, policy: tuple[str, ...], device: torch.device | str
                 ) -> AdaptiveAugment | None:
        """The controller for a model built with these settings; None with ADA off."""
        if not self.ada:
            return None
        return AdaptiveAugment(policy, self.ada_target, self.ada_interval,
                               self.ada_speed_images, device)


def augment_with_probability(images: torch.Tensor, policy: tuple[str, ...], p: float,
                             generator: torch.Generator) -> torch.Tensor:
    """Each of the policy's augmentations applied to each picture with probability p.

    Every augmentation is computed for the whole batch and then kept per picture
    (torch.where), so gradients flow through the kept ones and the random numbers
    drawn depend on the batch alone, not on p. At p = 0 nothing is drawn.
    """
    if p <= 0 or not policy:
        return images
    for name in policy:
        changed = diff_augment(images, (name,), generator)
        chosen = torch.rand((images.shape[0], 1, 1, 1), device=images.device,
                            generator=generator) < p
        images = torch.where(chosen, changed, images)
    return images


class AdaptiveAugment:
    """p and its controller. Call augment() on every batch the discriminator
    sees, and observe() once per step with its logits on the real batch."""

    def __init__(self, policy: tuple[str, ...], target: float = DEFAULT_TARGET,
                 interval: int = DEFAULT_INTERVAL, speed_images: int = DEFAULT_SPEED_IMAGES,
                 device: torch.device | str = "cpu") -> None:
        if not policy:
            raise ConfigError("adaptive augmentation needs augmentations to apply: set augment, "
                              "e.g. \"translation,color,cutout\"")
        check_ada(target, interval, speed_images)
        self.policy, self.target = policy, target
        self.interval, self.speed_images = interval, speed_images
        self.device = torch.device(device)
        self.p = 0.0
        self.rt: float | None = None       # r_t of the last finished interval
        # Sums over the current interval: kept on the device (no sync per step).
        self._signs = torch.zeros((), device=self.device)
        self._logits = 0
        self._images = 0
        self._steps = 0
        self._p_cached: tuple[float, torch.Tensor] | None = None

    def augment(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return augment_with_probability(images, self.policy, self.p, generator)

    @torch.no_grad()
    def observe(self, real_logits: torch.Tensor, images: int) -> dict[str, torch.Tensor]:
        """Count the signs of D's logits on `images` real pictures; every
        `interval` steps adjust p (the only device sync). Returns the step's
        scalars for its losses: the p it trained with and its own
        E[sign(D(real))], which the loss meter averages into r_t per report."""
        signs = real_logits.detach().float().sign()
        reported = {P_KEY: self._p_tensor(), RT_KEY: signs.mean()}
        self._signs = self._signs + signs.sum()
        self._logits += real_logits.numel()
        self._images += images
        self._steps += 1
        if self._steps >= self.interval:
            self._adjust()
        return reported

    def _adjust(self) -> None:
        totals = torch.stack([self._signs, torch.tensor(float(self._logits), device=self.device),
                              torch.tensor(float(self._images), device=self.device)])
        if dist.is_available() and dist.is_initialized():
            # Training in several processes: every one adjusts by the sums of all,
            # so p stays the same in each (as stylegan2-ada-pytorch's all-reduce).
            dist.all_reduce(totals)
        signs, logits, images = totals.tolist()
        rt = signs / max(logits, 1.0)
        step = math.copysign(images / self.speed_images, rt - self.target) \
            if rt != self.target else 0.0
        self.p = min(1.0, max(0.0, self.p + step))
        self.rt = rt
        self._signs = torch.zeros((), device=self.device)
        self._logits = self._images = self._steps = 0

    def _p_tensor(self) -> torch.Tensor:
        """p as a device scalar, made again only when p changes and never changed
        in place (the loss meter may hold it)."""
        if self._p_cached is None or self._p_cached[0] != self.p:
            self._p_cached = (self.p, torch.tensor(self.p, device=self.device))
        return self._p_cached[1]

    def state(self) -> dict[str, Any]:
        """JSON-able: p and the partial sums (floats round-trip exactly)."""
        return {"p": self.p, "rt": self.rt, "signs": float(self._signs),
                "logits": self._logits, "images": self._images, "steps": self._steps}

    def load_state(self, state: dict[str, Any] | None) -> None:
        """Continue from `state`; None (a run saved before ADA) starts at p = 0."""
        state = state if isinstance(state, dict) else {}
        p = _saved_number(state, "p", 0.0)
        if not 0 <= p <= 1:
            raise ConfigError(f"the saved augmentation probability must be in [0, 1], not {p}")
        self.p = float(p)
        self.rt = None if state.get("rt") is None else float(_saved_number(state, "rt", 0.0))
        self._signs = torch.tensor(float(_saved_number(state, "signs", 0.0)), device=self.device)
        self._logits = int(_saved_number(state, "logits", 0))
        self._images = int(_saved_number(state, "images", 0))
        self._steps = int(_saved_number(state, "steps", 0))


def _saved_number(state: dict[str, Any], key: str, default: float) -> float:
    """A number from a saved state, or a clear message naming it (a hand-edited
    or damaged trainer.json must not end in a TypeError)."""
    value = state.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"the saved adaptive augmentation state has a bad {key}: {value!r:.40}")
    return value


class AdaState:
    """Mixed into a GenerativeModel whose `ada` is an AdaptiveAugment or None:
    its state saved with the training state, under ADA_KEY beside the optimisers."""

    ADA_KEY = "ada"
    ada: AdaptiveAugment | None = None

    def training_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        tensors, settings = super().training_state()  # type: ignore[misc]
        if self.ada is not None:
            settings[self.ADA_KEY] = self.ada.state()
        return tensors, settings

    def load_training_state(self, tensors: dict[str, torch.Tensor],
                            settings: dict[str, Any]) -> None:
        super().load_training_state(tensors, settings)  # type: ignore[misc]
        if self.ada is not None:
            self.ada.load_state(settings.get(self.ADA_KEY))
