"""How much memory a training run needs, measured before it starts.

The estimate comes from probe steps at batches 2 and 4 on a throwaway copy of
the model, in the run's precision: the tensors autograd saves for the backward
pass are counted, and the part that grows with the batch is scaled to the
run's batch size (under mixed precision most are half the size, and each step
also saves low-precision copies of the weights, which do not grow). Weights,
gradients and the optimiser's moments are counted from the parameters, and the
data set from its size, since the trainer preloads it on the device.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from engine.data.batches import to_model_range
from engine.data.sources import ImageSet
from engine.errors import ConfigError
from engine.models import build_model
from engine.models.base import ModelConfig
from engine.runtime.device import available_memory
from engine.runtime.precision import MixedPrecision
from engine.storage.sizes import human_size

PROBE_BATCHES = (2, 4)
# A run may take this share of the memory free when it starts: the rest is for
# the app itself and the estimate's error (allocator caches, fragmentation).
# docs/RUNS.md states it.
TRAINING_MEMORY_SHARE = 0.8
# On the CPU the "device" is the computer's own RAM, shared with the desktop
# and every other program: a run that takes most of it leaves the machine
# swapping, so it may take half of what is free.
CPU_TRAINING_MEMORY_SHARE = 0.5


def training_memory_share(device: torch.device) -> float:
    """The share of the free memory on `device` that one run may take."""
    return CPU_TRAINING_MEMORY_SHARE if device.type == "cpu" else TRAINING_MEMORY_SHARE


@dataclasses.dataclass(frozen=True)
class MemoryEstimate:
    weights_bytes: int       # parameters, their gradients and two optimiser moments
    activations_bytes: int   # saved for the backward pass, at the run's batch size
    data_bytes: int          # the data set, preloaded on the device
    batch_size: int
    per_image_bytes: int = 0  # the part of the activations that grows with the batch

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.activations_bytes + self.data_bytes

    def describe(self) -> str:
        return (f"about {human_size(self.total_bytes)} (model and optimiser {human_size(self.weights_bytes)}, "
                f"activations at batch {self.batch_size} {human_size(self.activations_bytes)}, "
                f"data {human_size(self.data_bytes)})")

    def largest_batch(self, budget: int) -> int:
        """The largest batch whose estimate stays within `budget` bytes (0 when
        not even the batch-independent part does)."""
        fixed = self.weights_bytes + self.data_bytes + max(
            0, self.activations_bytes - self.per_image_bytes * self.batch_size)
        if budget <= fixed:
            return 0
        if self.per_image_bytes <= 0:
            return self.batch_size
        return int((budget - fixed) // self.per_image_bytes)


def estimate_training_memory(model_name: str, config: ModelConfig, data: ImageSet,
                             batch_size: int, image_size: int, device: torch.device,
                             precision: str = "fp32") -> MemoryEstimate:
    """Measure probe steps of a throwaway model, in `precision` (fp32, bf16 or
    fp16, as resolved for the run), and scale them to `batch_size`.

    Two probe batches tell what grows with the batch from what does not (under
    mixed precision each step also saves low-precision copies of the weights,
    whatever the batch), so neither is scaled as the other."""
    model = build_model(model_name, config, device)
    model.precision = MixedPrecision(precision, device)
    params = [p for net in model.networks().values() for p in net.parameters()]
    param_bytes = sum(p.numel() * p.element_size() for p in params)
    # Probe no batch larger than the run's own: a model that fits at batch 2
    # must not be refused because batch 4 would not.
    sizes = [n for n in PROBE_BATCHES if n <= min(len(data), batch_size)] \
        or [min(len(data), batch_size)]
    saved = []
    for n in sizes:
        try:
            saved.append(_saved_bytes(model, data, n, image_size, device))
        except torch.OutOfMemoryError:
            if not saved:
                raise ConfigError(f"this model does not fit on {device} even at batch size {n} "
                                  f"(its weights and optimiser need {human_size(4 * param_bytes)}); "
                                  "choose a smaller model or image size") from None
            break   # the smaller probe fitted: estimate from it alone
    del model
    if device.type == "cuda":
        torch.cuda.empty_cache()
    if len(saved) == 2:
        per_image = max(0.0, (saved[1] - saved[0]) / (sizes[1] - sizes[0]))
        fixed = max(0.0, saved[0] - per_image * sizes[0])
    else:   # one probe: everything it saved is taken to grow with the batch
        per_image, fixed = saved[0] / sizes[0], 0.0
    return MemoryEstimate(weights_bytes=4 * param_bytes,
                          activations_bytes=int(fixed + per_image * batch_size),
                          data_bytes=int(data.images.nbytes), batch_size=batch_size,
                          per_image_bytes=int(math.ceil(per_image)))


def _saved_bytes(model, data: ImageSet, n: int, image_size: int, device: torch.device) -> int:
    """Bytes autograd saves for the backward pass in one training step at batch `n`."""
    param_ptrs = {p.data_ptr() for net in model.networks().values() for p in net.parameters()}
    seen: set[tuple[int, int]] = set()
    held: list[torch.Tensor] = []  # kept alive so no later tensor reuses a counted address
    saved = 0

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        nonlocal saved
        key = (tensor.untyped_storage().data_ptr(), tensor.untyped_storage().nbytes())
        if tensor.data_ptr() not in param_ptrs and key not in seen:
            seen.add(key)
            held.append(tensor)
            saved += key[1]
        return tensor

    images = to_model_range(torch.from_numpy(np.array(data.images[:n])).to(device), image_size)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        if model.uses_labels and data.labels is not None:
            labels = torch.from_numpy(data.labels[:n].astype("int64")).to(device)
            model.train_step(images, labels)
        else:
            model.train_step(images)
    return saved


def check_fits(estimate: MemoryEstimate, device: torch.device,
               requested_batch: int | None = None) -> None:
    """Refuse a run whose estimate exceeds training_memory_share(device) of the memory
    free on `device`, before it starts: with the estimate, and the largest
    batch that would fit. `requested_batch` is the batch size asked for (the
    estimate's is at most the data set's size)."""
    free = available_memory(device)
    if free is None:
        return
    share = training_memory_share(device)
    budget = int(free * share)
    if estimate.total_bytes <= budget:
        return
    asked = requested_batch or estimate.batch_size
    whole_set = (f" (--batch-size {asked:,} is more than the {estimate.batch_size:,} images, so "
                 "every step takes them all)" if asked > estimate.batch_size else "")
    fits = min(estimate.largest_batch(budget), estimate.batch_size - 1)
    advice = (f"the largest batch that fits is about {fits:,}: lower --batch-size (Batch size "
              "on the Train page)" if fits >= 2 else
              "not even batch size 2 fits: choose a smaller image size or model width")
    raise ConfigError(f"this run needs {estimate.describe()}{whole_set}, more than "
                      f"{share:.0%} of the {human_size(free)} that is free on {device}; "
                      f"{advice}")
