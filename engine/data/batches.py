"""Feeding a preloaded data set to a model, batch by batch, on its device.

Small data sets live on the training device as one uint8 tensor; a batch is an
index into it, a cast and (when the model's size differs) one batched resize.
There is no per-item decode or collate in the training loop.

In a run of several processes every process holds the whole set and draws the
same seeded permutation each epoch; process `rank` of `world_size` takes every
world_size-th image of each step's global batch, so the processes' batches
together are exactly the batch one process would take at world_size times the
size (DistributedSampler's split, without a sampler).
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from engine.data.augment import Augmentation, augment
from engine.data.sources import ImageSet


class Batch(NamedTuple):
    """One training batch: images in [-1, 1], shape (N, C, H, W) or, for image
    sequences, (N, T, C, H, W); class labels (N,) int64 when the data has them."""

    images: torch.Tensor
    labels: torch.Tensor | None


class DeviceBatcher:
    """Shuffled, endless batches of images scaled to [-1, 1] at `image_size`:
    `batch_size` per process, this process being `rank` of `world_size`."""

    def __init__(self, data: ImageSet, batch_size: int, image_size: int,
                 device: torch.device, seed: int = 0,
                 augmentation: Augmentation | None = None, rank: int = 0,
                 world_size: int = 1) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not one of {world_size} processes")
        self.images = torch.from_numpy(data.images.copy()).to(device)
        self.labels = (torch.from_numpy(data.labels.astype("int64")).to(device)
                       if data.labels is not None else None)
        self.rank, self.world_size = rank, world_size
        self.batch_size = min(batch_size, len(data) // world_size)
        self.image_size = image_size
        self.device = device
        # Data order has its own generator so it is independent of model init
        # and sampling noise, and reproducible from the seed alone.
        self.generator = torch.Generator(device="cpu")
        self.generator.manual_seed(seed)
        # Augmentation draws from its own generator, so turning it on does not
        # change which images a batch holds.
        self.augmentation = augmentation or Augmentation()
        self.augment_generator = torch.Generator(device="cpu")
        self.augment_generator.manual_seed(seed + 1)
        self.epoch = 0
        self._order = torch.empty(0, dtype=torch.long)
        self._cursor = 0

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
        """Where the data order stands, so a resumed run sees the same batches."""
        return ({"data.order": self._order.cpu(), "rng.data": self.generator.get_state(),
                 "rng.augment": self.augment_generator.get_state()},
                {"epoch": self.epoch, "cursor": self._cursor})

    def load_state(self, tensors: dict[str, torch.Tensor], counters: dict[str, int]) -> None:
        self._order = tensors["data.order"].to(self.device)
        self.generator.set_state(tensors["rng.data"].cpu())
        if "rng.augment" in tensors:   # checkpoints from before augmentation lack it
            self.augment_generator.set_state(tensors["rng.augment"].cpu())
        self.epoch, self._cursor = int(counters["epoch"]), int(counters["cursor"])

    def _new_epoch(self) -> None:
        self._order = torch.randperm(len(self.images), generator=self.generator).to(self.device)
        self._cursor = 0
        self.epoch += 1

    def next_batch(self) -> Batch:
        step = self.batch_size * self.world_size   # the global batch of all processes
        if self._cursor + step > len(self._order):
            self._new_epoch()  # drop the ragged tail, as DataLoader(drop_last=True) would
        index = self._order[self._cursor + self.rank:self._cursor + step:self.world_size]
        self._cursor += step
        images = to_model_range(self.images.index_select(0, index), self.image_size)
        images = augment(images, self.augmentation, self.augment_generator)
        labels = self.labels.index_select(0, index) if self.labels is not None else None
        return Batch(images, labels)


def to_model_range(images: torch.Tensor, image_size: int) -> torch.Tensor:
    """uint8 (..., C, H, W) -> float in [-1, 1], bilinearly resized to image_size.

    Leading dimensions beyond the batch (frames of a sequence) are folded into
    the batch for the resize, so sequences cost one interpolate call too.
    """
    x = images.float().mul_(2.0 / 255.0).sub_(1.0)
    if x.shape[-1] != image_size or x.shape[-2] != image_size:
        # Antialias only matters (and only costs) when shrinking.
        shrink = image_size < x.shape[-1]
        lead = x.shape[:-3]
        x = F.interpolate(x.reshape(-1, *x.shape[-3:]), size=(image_size, image_size),
                          mode="bilinear", align_corners=False, antialias=shrink)
        x = x.reshape(*lead, *x.shape[-3:])
    return x
