"""The shipped MNIST evaluator: a small classifier whose penultimate layer gives
the features that Frechet distance and KID compare.

Inception weights (the usual FID network) cannot be fetched by an offline app,
so the project trains this network itself (tools/train_evaluator.py) and ships
its weights as safetensors. Scores on it compare runs of this app, not papers.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from torch import nn
from torch.nn import functional as F

from engine.errors import AtelierError
from resources import resource_path

EVALUATOR_NAME = "mnist-evaluator-v1"
EVALUATOR_FILE = ("evaluator", "mnist_evaluator.safetensors")
FEATURE_DIM = 128
NUM_CLASSES = 10
IMAGE_SIZE = 28


class EvaluatorError(AtelierError):
    """The shipped evaluator weights are missing or not what this code expects."""


class MnistEvaluator(nn.Module):
    """Two 5x5 conv layers (16 and 32 channels), a 128-d feature layer, 10 logits.

    Input: (N, 1, 28, 28) float in [-1, 1], the protocol's image range.
    """

    def __init__(self) -> None:
        super().__init__()
        # Small on purpose: 10,000 images must be scored in seconds on a CPU.
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 5, padding=2, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 5, padding=2, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2))
        self.feature = nn.Linear(32 * 7 * 7, FEATURE_DIM)
        self.dropout = nn.Dropout(0.3)
        self.classifier = nn.Linear(FEATURE_DIM, NUM_CLASSES)

    def features_and_logits(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # channels_last lets oneDNN pick its fast convolution kernels (2x here).
        h = self.body(images.contiguous(memory_format=torch.channels_last)).flatten(1)
        features = F.relu(self.feature(h))
        return features, self.classifier(self.dropout(features))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.features_and_logits(images)[1]


def evaluator_path() -> Path:
    return resource_path(*EVALUATOR_FILE)


def expected_shapes() -> dict[str, tuple[int, ...]]:
    return {name: tuple(t.shape) for name, t in MnistEvaluator().state_dict().items()}


def read_metadata(path: Path | None = None) -> dict[str, str]:
    """The evaluator file's metadata: accuracy, training command, seed, ..."""
    path = Path(path) if path is not None else evaluator_path()
    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except (OSError, SafetensorError) as exc:
        raise EvaluatorError(f"{path}: cannot read the evaluator ({exc})") from None


def load_evaluator(device: torch.device | str = "cpu", path: Path | None = None) -> MnistEvaluator:
    """The shipped evaluator in eval mode, its file checked before any tensor is
    used: safetensors only, the right network name, every tensor's name and
    shape exactly as this code builds them."""
    path = Path(path) if path is not None else evaluator_path()
    if not path.is_file():
        raise EvaluatorError(f"{path}: the evaluator weights are missing; "
                             "rebuild them with python tools/train_evaluator.py")
    expected = expected_shapes()
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            if meta.get("network") != EVALUATOR_NAME:
                raise EvaluatorError(f"{path}: not a {EVALUATOR_NAME} file "
                                     f"(network={meta.get('network')!r})")
            names = set(f.keys())
            if names != set(expected):
                missing, extra = sorted(set(expected) - names), sorted(names - set(expected))
                raise EvaluatorError(f"{path}: wrong tensors (missing {missing[:3]}, "
                                     f"unexpected {extra[:3]})")
            state = {}
            for name in expected:
                shape = tuple(f.get_slice(name).get_shape())
                if shape != expected[name]:
                    raise EvaluatorError(f"{path}: tensor {name} has shape {shape}, "
                                         f"expected {expected[name]}")
                state[name] = f.get_tensor(name)
    except (OSError, SafetensorError) as exc:
        raise EvaluatorError(f"{path}: not a readable safetensors file ({exc})") from None
    net = MnistEvaluator()
    net.load_state_dict(state, strict=True)
    return net.to(device, memory_format=torch.channels_last).eval()


def evaluator_metadata_json(**values: object) -> dict[str, str]:
    """safetensors metadata must be str -> str; numbers and lists become JSON."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
