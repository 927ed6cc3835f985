"""Model, data and device for one configuration: what a training step needs."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch

from engine.runtime.compilation import CompiledTraining
from engine.data import load_data
from engine.data.batches import DeviceBatcher, to_model_range
from engine.runtime.device import resolve_device
from engine.errors import ConfigError
from engine.media.images import make_grid, to_uint8
from engine.training.memory import check_fits, estimate_training_memory
from engine.models import build_model, model_config
from engine.models.base import GUIDANCE, PROCESS, RECONSTRUCT, STEPS
from engine.models.common import evaluating
from engine.runtime.precision import MixedPrecision, resolve_precision
from engine.training.config import TrainConfig
from engine.training.distributed import (AUGMENT_STREAM, NOISE_STREAM, check_distributable,
                                         stream_seed)

if TYPE_CHECKING:
    from engine.training.distributed import Distributed

SAMPLE_SEEDS = tuple(range(64))     # the fixed-seed grid: tile i is gallery seed i
# The live grid of an iterative sampler (diffusion, flow) takes at most this
# many steps and one pass a step (guidance 1): at a run's default 20 guided
# steps a 64-picture grid took 18-65 s on a 2-core CPU, holding up Stop, Pause
# and the first checkpoint; at 8 single-pass steps it is a few seconds. The
# gallery and exports keep the run's own steps and guidance.
LIVE_SAMPLER_STEPS = 8


class TrainingSession:
    """Model, data and device for one configuration: everything a step needs.

    With `distributed` (engine.training.distributed) it is one process of
    several: its device is its local rank's, its batches its share of each
    step's, and after distribute() its networks train under DistributedDataParallel."""

    def __init__(self, config: TrainConfig, cancel: Callable[[], bool] | None = None,
                 distributed: Distributed | None = None) -> None:
        config.validate()
        self.config = config
        self.distributed = distributed
        if distributed is not None:
            check_distributable(config.model, config.compile)
            self.device = distributed.device_for(config.device)
        else:
            self.device = resolve_device(config.device)
        if self.device.type == "cpu":
            # Denormal floats (tiny values near zero, common in GAN gradients) take
            # a slow path on x86 CPUs; flushing them to zero costs no accuracy
            # that matters here. It applies to the calling (training) thread.
            torch.set_flush_denormal(True)
        # Pictures decode at the model's size; `cancel` stops a long folder scan.
        self.data = load_data(config.data, size=config.image_size, cache=config.data_cache,
                              cancel=cancel)
        if len(self.data) < 2 * self.processes:
            raise ConfigError(f"{config.data} has {len(self.data)} image(s); training needs at "
                              f"least 2" + (f" per process ({2 * self.processes})"
                                            if self.processes > 1 else ""))
        self.model_config = model_config(config.model, **config._model_settings(
            self.data.channels, self.data.num_classes))
        self.precision = resolve_precision(config.precision, self.device)
        self.memory_estimate = estimate_training_memory(
            config.model, self.model_config, self.data, min(config.batch_size, len(self.data)),
            config.image_size, self.device, self.precision)
        check_fits(self.memory_estimate, self.device, requested_batch=config.batch_size)
        self.model = build_model(config.model, self.model_config, self.device, seed=config.seed)
        self.model.precision = MixedPrecision(self.precision, self.device)
        self.compiled = CompiledTraining(self.model) if config.compile else None
        self._compile_failure_told = False
        self.batcher = DeviceBatcher(self.data, config.batch_size, config.image_size,
                                     self.device, seed=config.seed,
                                     augmentation=config.augmentation(),
                                     rank=distributed.rank if distributed else 0,
                                     world_size=self.processes)

    @property
    def processes(self) -> int:
        """How many processes train this run together (1 without torchrun)."""
        return self.distributed.world_size if self.distributed is not None else 1

    def distribute(self) -> None:
        """Every process at once: join the gradient group and wrap the trained
        networks in DistributedDataParallel (which makes all start from rank 0's weights)."""
        assert self.distributed is not None
        self.distributed.join_gradients()
        self.model.distribute(self.distributed.wrap)

    def begin_step(self, step: int) -> None:
        """Before the run's step `step` (counted from 0): in several processes,
        seed this process's noise and augmentation for it; nothing in one."""
        d = self.distributed
        if d is not None:
            seed = self.config.seed
            self.model.noise.manual_seed(stream_seed(seed, d.rank, step, NOISE_STREAM))
            self.batcher.augment_generator.manual_seed(stream_seed(seed, d.rank, step,
                                                                   AUGMENT_STREAM))

    def step(self) -> dict[str, torch.Tensor]:
        """Train one batch; in several processes the losses are those of all
        their batches together."""
        if self.distributed is not None:
            return self.distributed.mean_losses(self._train_batch())
        return self._train_batch()

    def _train_batch(self) -> dict[str, torch.Tensor]:
        batch = self.batcher.next_batch()
        if self.model.uses_labels:
            train = lambda: self.model.train_step(batch.images, batch.labels)  # noqa: E731
        else:
            train = lambda: self.model.train_step(batch.images)  # noqa: E731
        if self.compiled is not None:
            return self.compiled.run(train, tuple(batch.images.shape))
        return train()

    def compile_failure(self) -> str | None:
        """Once, the message that torch.compile failed (or cannot run here) and
        training went on eagerly."""
        compiled = self.compiled
        if compiled is None or self._compile_failure_told:
            return None
        if compiled.unavailable is not None:
            self._compile_failure_told = True
            reason = compiled.unavailable
            return f"Training without torch.compile: {reason}."
        if compiled.failure is None:
            return None
        self._compile_failure_told = True
        return (f"torch.compile failed ({compiled.failure}); training goes on without it, "
                "exactly as an uncompiled run.")

    def sample_grid(self) -> np.ndarray:
        """The fixed-seed grid (seeds 0-63, 8 x 8) as a fresh uint8 array."""
        model = self.model
        if STEPS not in model.capabilities:
            return make_grid(to_uint8(model.sample(list(SAMPLE_SEEDS))), columns=8)
        chosen = model.sampling
        try:
            model.configure_sampling(steps=min(LIVE_SAMPLER_STEPS, chosen.steps),
                                     guidance=1.0 if GUIDANCE in model.capabilities else None)
            return make_grid(to_uint8(model.sample(list(SAMPLE_SEEDS))), columns=8)
        finally:
            model.sampling = chosen

    def reconstruction_grid(self) -> np.ndarray | None:
        """For models that reconstruct (VAEs): rows of 8 data images, each row
        followed by its reconstructions; None for models that do not."""
        if RECONSTRUCT not in self.model.capabilities:
            return None
        images, labels = self._reconstruction_inputs()
        recon = self.model.reconstruct(images, labels)
        pairs = torch.stack([images.view(4, 8, *images.shape[1:]),
                             recon.view(4, 8, *recon.shape[1:])], dim=1)
        return make_grid(to_uint8(pairs.reshape(-1, *images.shape[1:])), columns=8)

    def process_animation(self) -> np.ndarray | None:
        """Seed 0's process (rows filling in, a canvas, a rollout) as fresh uint8
        frames (T, H, W, C) for the live view; None for families without one."""
        if PROCESS not in self.model.capabilities:
            return None
        with evaluating(*self.model.networks().values()), torch.inference_mode():
            return to_uint8(self.model.process_frames(SAMPLE_SEEDS[0]))

    def _reconstruction_inputs(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        # The same 32 images every time (data set order, repeated if it has fewer),
        # chosen without touching the batcher so a run stays exactly resumable.
        index = torch.arange(32) % len(self.data)
        images = to_model_range(torch.from_numpy(self.data.images[index.numpy()]),
                                self.config.image_size).to(self.device)
        labels = None
        if self.data.labels is not None:
            labels = torch.from_numpy(self.data.labels[index.numpy()].astype("int64")).to(self.device)
        return images, labels
