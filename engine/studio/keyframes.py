"""Keyframe timelines: which latents a latent walk passes through, and how.

A timeline is a list of keyframes (a seed, and a class for conditional models),
the number of frames between each pair, an easing curve, the interpolation
(spherical for Gaussian latents, or straight lines) and whether the walk loops
back to its first keyframe. It is plain data, saved in every exported file, so
opening an export gives the same timeline and the same frames back.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch

from engine.errors import ConfigError

EASINGS = ("linear", "in-out")
INTERPOLATIONS = ("slerp", "lerp")
MAX_KEYFRAMES = 256
MAX_FRAMES_BETWEEN = 1000
MAX_FRAMES = 20_000
MAX_SEED = 2**63 - 1


@dataclasses.dataclass(frozen=True)
class Keyframe:
    seed: int
    label: int | None = None    # class for conditional models; unconditional ones ignore it

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed} if self.label is None else {"seed": self.seed, "label": self.label}


@dataclasses.dataclass
class Timeline:
    keyframes: list[Keyframe]
    frames_between: int = 24
    ease: str = "linear"
    loop: bool = False
    interpolation: str = "slerp"

    @classmethod
    def from_seeds(cls, seeds: list[int], labels: list[int | None] | None = None,
                   **settings: Any) -> "Timeline":
        if labels is not None and len(labels) != len(seeds):
            raise ConfigError(f"{len(labels)} labels for {len(seeds)} seeds; give one label per seed")
        labels = labels if labels is not None else [None] * len(seeds)
        timeline = cls([Keyframe(int(s), lab) for s, lab in zip(seeds, labels)], **settings)
        timeline.validate()
        return timeline

    @property
    def seeds(self) -> list[int]:
        return [k.seed for k in self.keyframes]

    @property
    def labels(self) -> list[int | None]:
        return [k.label for k in self.keyframes]

    def validate(self) -> None:
        if not 2 <= len(self.keyframes) <= MAX_KEYFRAMES:
            raise ConfigError(f"a walk needs between 2 and {MAX_KEYFRAMES} keyframes, "
                              f"not {len(self.keyframes)}")
        for k in self.keyframes:
            if isinstance(k.seed, bool) or not isinstance(k.seed, int) or not 0 <= k.seed <= MAX_SEED:
                raise ConfigError(f"keyframe seed must be a whole number from 0 to 2**63 - 1, not {_shown(k.seed)}")
            if k.label is not None and (isinstance(k.label, bool) or not isinstance(k.label, int)
                                        or k.label < 0):
                raise ConfigError(f"keyframe class must be a whole number 0 or more, not {_shown(k.label)}")
        if isinstance(self.frames_between, bool) or not isinstance(self.frames_between, int) \
                or not 0 <= self.frames_between <= MAX_FRAMES_BETWEEN:
            raise ConfigError(f"frames between keyframes must be from 0 to {MAX_FRAMES_BETWEEN}, "
                              f"not {_shown(self.frames_between)}")
        if self.ease not in EASINGS:
            raise ConfigError(f"easing must be one of {', '.join(EASINGS)}, not {_shown(self.ease)}")
        if self.interpolation not in INTERPOLATIONS:
            raise ConfigError(f"interpolation must be one of {', '.join(INTERPOLATIONS)}, "
                              f"not {_shown(self.interpolation)}")
        if self.frame_count() > MAX_FRAMES:
            raise ConfigError(f"that walk has {self.frame_count():,} frames; the most is {MAX_FRAMES:,}")

    def segments(self) -> int:
        return len(self.keyframes) if self.loop else len(self.keyframes) - 1

    def frame_count(self) -> int:
        # A loop ends one step before its first keyframe, so playing it on repeat
        # steps from the last frame to the first like any other pair of frames.
        return self.segments() * (self.frames_between + 1) + (0 if self.loop else 1)

    def keyframe_positions(self) -> list[int]:
        """Frame index at which each keyframe is shown exactly."""
        return [i * (self.frames_between + 1) for i in range(len(self.keyframes))]

    def to_dict(self) -> dict[str, Any]:
        return {"keyframes": [k.to_dict() for k in self.keyframes],
                "frames_between": self.frames_between, "ease": self.ease, "loop": self.loop,
                "interpolation": self.interpolation}

    @classmethod
    def from_dict(cls, values: Any) -> "Timeline":
        """The timeline saved by to_dict(); a ConfigError for anything malformed."""
        if not isinstance(values, dict) or not isinstance(values.get("keyframes"), list):
            raise ConfigError("not a saved timeline (no keyframe list)")
        keyframes = []
        for entry in values["keyframes"]:
            if not isinstance(entry, dict) or "seed" not in entry:
                raise ConfigError(f"not a saved keyframe: {_shown(entry)}")
            keyframes.append(Keyframe(entry["seed"], entry.get("label")))
        known = {"frames_between", "ease", "loop", "interpolation"}
        timeline = cls(keyframes, **{k: v for k, v in values.items() if k in known})
        if not isinstance(timeline.loop, bool):
            raise ConfigError(f"loop must be true or false, not {_shown(timeline.loop)}")
        timeline.validate()
        return timeline


def _shown(value: Any, limit: int = 60) -> str:
    """repr() of a value read from a file, cut to fit in one line of a message."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def eased(t: torch.Tensor, ease: str) -> torch.Tensor:
    """Map segment progress t in [0, 1] through the easing curve."""
    if ease == "linear":
        return t
    # Cosine ease-in-out: zero speed at each keyframe, so the walk lingers on
    # the images the artist picked and speeds through the ones between.
    return (1 - torch.cos(math.pi * t)) / 2


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows of a and b (each flattened), t shaped (N,).

    Gaussian latents live near a sphere; a straight line between two of them
    cuts through the low-norm middle where a generator has rarely been trained,
    so linear walks fade to a grey average half-way. Slerp keeps the norm.
    """
    flat_a, flat_b = a.reshape(a.shape[0], -1).double(), b.reshape(b.shape[0], -1).double()
    t = t.double()[:, None]
    unit_a = flat_a / flat_a.norm(dim=1, keepdim=True).clamp_min(1e-12)
    unit_b = flat_b / flat_b.norm(dim=1, keepdim=True).clamp_min(1e-12)
    omega = torch.acos((unit_a * unit_b).sum(dim=1, keepdim=True).clamp(-1, 1))
    sin_omega = torch.sin(omega)
    # Nearly parallel latents: slerp's weights become 0/0; the straight line is exact there.
    parallel = sin_omega.abs() < 1e-6
    safe = torch.where(parallel, torch.ones_like(sin_omega), sin_omega)
    wa = torch.where(parallel, 1 - t, torch.sin((1 - t) * omega) / safe)
    wb = torch.where(parallel, t, torch.sin(t * omega) / safe)
    return (wa * flat_a + wb * flat_b).to(a.dtype).reshape(a.shape)


def frame_schedule(timeline: Timeline) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(start keyframe index, end keyframe index, eased progress) of every frame."""
    step = timeline.frames_between + 1
    k = len(timeline.keyframes)
    index = torch.arange(timeline.frame_count())
    start = torch.div(index, step, rounding_mode="floor")
    t = (index % step).double() / step
    if not timeline.loop:
        # The last frame is the last keyframe itself (segment k-2 at t = 1).
        last = index == timeline.frame_count() - 1
        start = torch.where(last, torch.full_like(start, k - 2), start)
        t = torch.where(last, torch.ones_like(t), t)
    end = (start + 1) % k
    return start, end, eased(t, timeline.ease)


def timeline_latents(keyframe_latents: torch.Tensor, timeline: Timeline) -> torch.Tensor:
    """Latents of every frame of the walk, from one latent per keyframe (K, ...)."""
    timeline.validate()
    if keyframe_latents.shape[0] != len(timeline.keyframes):
        raise ConfigError(f"{keyframe_latents.shape[0]} latents for {len(timeline.keyframes)} keyframes")
    start, end, t = frame_schedule(timeline)
    a, b = keyframe_latents[start], keyframe_latents[end]
    if timeline.interpolation == "slerp":
        return slerp(a, b, t)
    shape = (-1,) + (1,) * (a.dim() - 1)
    return (a + (b - a) * t.to(a.dtype).reshape(shape)).to(a.dtype)


def timeline_class_weights(timeline: Timeline, num_classes: int) -> torch.Tensor | None:
    """(frames, num_classes) class mixtures: one-hot at each keyframe, blended between,
    so a conditional model can morph from one class to the next. None when the
    keyframes carry no classes or the model is unconditional."""
    if num_classes <= 0 or all(k.label is None for k in timeline.keyframes):
        return None
    if any(k.label is None for k in timeline.keyframes):
        raise ConfigError("give every keyframe a class, or none of them")
    bad = [k.label for k in timeline.keyframes if k.label >= num_classes]
    if bad:
        raise ConfigError(f"class {bad[0]} is out of range; this model has classes 0 to {num_classes - 1}")
    one_hot = torch.eye(num_classes, dtype=torch.float32)[torch.tensor(timeline.labels)]
    start, end, t = frame_schedule(timeline)
    t = t.float()[:, None]
    return one_hot[start] * (1 - t) + one_hot[end] * t
