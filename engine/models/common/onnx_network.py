"""What a family hands the ONNX exporter: the network that makes its pictures,
example inputs, and the contract a user of the exported file needs.

A family that declares the ONNX capability returns an OnnxNetwork from
onnx_network(); engine.studio.onnx_export turns it into a .onnx file and
writes the contract into the file's metadata. Nothing here imports onnx, so
the models never need it.

Two kinds of network leave the app:
    generator  latent (and label) in, picture out, in one pass: a GAN's
               generator, a VAE's decoder, DRAW's decoder unrolled over its steps
    denoiser   one step's network of an iterative sampler: noisy picture,
               time (and label) in, the network's prediction out; the sampling
               loop runs outside the file (docs/ONNX.md has a reference loop)
"""
from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import nn

GENERATOR = "generator"
DENOISER = "denoiser"
KINDS = (GENERATOR, DENOISER)
# The name of the one dynamic axis: every input and the output have it first.
BATCH = "batch"
# Pictures cross the contract as float32 in [-1, 1]; this is how the app makes
# 8-bit pixels of them (engine.media.images.to_uint8), said once for every file.
TO_UINT8 = "round((clip(x, -1, 1) + 1) * 127.5) as uint8, channels first (N, C, H, W)"


@dataclasses.dataclass(frozen=True)
class TensorContract:
    """One input or output: its name in the graph, shape (BATCH for the dynamic
    axis), element type ("float32" or "int64") and what its values mean."""

    name: str
    shape: tuple[int | str, ...]
    dtype: str
    meaning: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype,
                "meaning": self.meaning}


@dataclasses.dataclass(frozen=True)
class OnnxNetwork:
    """A network ready for export.

    module: called as module(*inputs) in the order of `inputs`, returning the
    output; it shares weights with the model (the exporter copies it).
    examples: one example tensor per input, batch of two, for tracing.
    contract: further metadata, key -> JSON-able value: the latent's
    distribution, the sampler's schedule and defaults, the null class, ...
    num_classes: the classes a conditional network draws (its "label" input);
    0 for an unconditional one, which has no label input.
    """

    kind: str
    module: nn.Module
    inputs: tuple[TensorContract, ...]
    output: TensorContract
    examples: tuple[torch.Tensor, ...]
    contract: dict[str, Any]
    num_classes: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"an exported network is a {' or a '.join(KINDS)}, not {self.kind!r}")
        if len(self.examples) != len(self.inputs):
            raise ValueError("an exported network needs one example per input")
        if (self.num_classes > 0) != any(i.name == "label" for i in self.inputs):
            raise ValueError("a conditional network has a label input, an unconditional one none")


def generator_inputs(latent_shape: tuple[int, ...], num_classes: int = 0
                     ) -> tuple[tuple[TensorContract, ...], tuple[torch.Tensor, ...]]:
    """A generator's inputs and examples: its standard normal latent (BATCH,
    *latent_shape) and, for a conditional one (num_classes > 0), its label."""
    inputs = (TensorContract("latent", (BATCH, *latent_shape), "float32", LATENT_MEANING),)
    examples = (torch.randn(2, *latent_shape),)
    if num_classes:
        inputs += (label_input(num_classes),)
        examples += (example_labels(num_classes),)
    return inputs, examples


LATENT_MEANING = ("standard normal N(0, I), drawn independently for each picture; multiplied "
                  "by a temperature in (0, 4] (1 by default; below 1 for more typical pictures)")


def label_input(num_classes: int, null_class: bool = False) -> TensorContract:
    """The class input of a conditional network: int64 (batch,)."""
    meaning = f"class index 0..{num_classes - 1}"
    if null_class:
        meaning += (f", or {num_classes} for no class (the unconditional prediction that "
                    "classifier-free guidance mixes)")
    return TensorContract("label", (BATCH,), "int64", meaning)


def picture_output(channels: int, size: int, name: str = "image",
                   meaning: str = "the picture in [-1, 1]") -> TensorContract:
    return TensorContract(name, (BATCH, channels, size, size), "float32", meaning)


def example_labels(num_classes: int) -> torch.Tensor:
    """Two example labels (distinct where the classes allow) for tracing."""
    return torch.tensor([0, 1 % max(num_classes, 1)], dtype=torch.long)


class OneHotConditioned(nn.Module):
    """A network that takes a one-hot class beside its latent, exported with an
    integer label input instead: module(latent, label) = finish(network(latent,
    one_hot(label))). `finish` maps the network's output to the picture."""

    def __init__(self, network: nn.Module, num_classes: int, finish: nn.Module | None = None
                 ) -> None:
        super().__init__()
        self.network = network
        self.num_classes = num_classes
        self.finish = finish if finish is not None else nn.Identity()

    def forward(self, latent: torch.Tensor, label: torch.Tensor | None = None) -> torch.Tensor:
        onehot = (None if label is None else
                  nn.functional.one_hot(label, self.num_classes).to(latent.dtype))
        return self.finish(self.network(latent, onehot))
