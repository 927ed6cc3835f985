"""Feature extractors: images in, one feature vector per image out.

- `EvaluatorFeatures`: the shipped MNIST evaluator (engine.metrics.evaluator), for
  one-channel data; also gives class probabilities (digit classes).
- `RandomFeatures`: for any image data (colour, any size): a fixed random
  convolutional network, its weights drawn from a seeded generator, so nothing
  needs shipping. Random features separate distributions surprisingly well, but
  their scale means nothing outside this app: scores on them compare runs of
  this app on the same data, nothing else.
"""
from __future__ import annotations

import hashlib

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from engine.errors import ConfigError
from engine.metrics.evaluator import EVALUATOR_NAME, IMAGE_SIZE, evaluator_path, load_evaluator

FEATURE_CHOICES = ("auto", "evaluator", "random")
RANDOM_FEATURES_NAME = "random-conv-v1"
_RANDOM_SIZE = 32


class FeatureExtractor:
    """Turns float images in [-1, 1] (N, C, H, W) into (features, class probabilities
    or None), both float32 numpy arrays."""

    name: str
    comparable: str
    fingerprint: str    # changes whenever the features could (the weights, say)

    def __call__(self, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
        raise NotImplementedError


class EvaluatorFeatures(FeatureExtractor):
    comparable = ("comparable between runs of this app on one-channel data; "
                  "not with published FID values")

    def __init__(self, device: torch.device) -> None:
        self.name = EVALUATOR_NAME
        self.device = device
        self.net = load_evaluator(device)
        self.fingerprint = f"{EVALUATOR_NAME}:{_file_digest(evaluator_path())}"

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        x = images.to(self.device, torch.float32)
        if x.shape[1] != 1:
            x = x.mean(dim=1, keepdim=True)
        if x.shape[-1] != IMAGE_SIZE or x.shape[-2] != IMAGE_SIZE:
            x = F.interpolate(x, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear",
                              align_corners=False, antialias=True)
        features, logits = self.net.features_and_logits(x)
        return features.float().cpu().numpy(), logits.float().softmax(1).cpu().numpy()


class RandomFeatures(FeatureExtractor):
    comparable = ("random-network features: comparable only between runs of this app on "
                  "the same data set, never across data sets or with published numbers")

    def __init__(self, device: torch.device, seed: int = 0) -> None:
        self.name = RANDOM_FEATURES_NAME
        self.fingerprint = f"{RANDOM_FEATURES_NAME}:seed={seed}:torch={torch.__version__}"
        self.device = device
        gen = torch.Generator().manual_seed(seed)
        convs = [nn.Conv2d(3, 32, 3, padding=1), nn.Conv2d(32, 64, 3, stride=2, padding=1),
                 nn.Conv2d(64, 128, 3, stride=2, padding=1), nn.Conv2d(128, 256, 3, stride=2, padding=1)]
        with torch.no_grad():
            for conv in convs:  # He-scaled so activations keep their size layer to layer
                fan_in = conv.in_channels * 9
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen) * (2 / fan_in) ** 0.5)
                conv.bias.zero_()
        self.net = nn.Sequential(*[m for c in convs for m in (c, nn.ReLU())]).to(device).eval()

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor) -> tuple[np.ndarray, None]:
        x = images.to(self.device, torch.float32)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = F.interpolate(x, size=(_RANDOM_SIZE, _RANDOM_SIZE), mode="bilinear",
                          align_corners=False, antialias=True)
        h = self.net(x)
        # Mean and max pooling: the layout of strokes and how strong they are.
        features = torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)
        return features.cpu().numpy(), None


def _file_digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def make_extractor(kind: str, channels: int, device: torch.device) -> FeatureExtractor:
    """"auto": the evaluator for one-channel data, random features otherwise."""
    if kind not in FEATURE_CHOICES:
        raise ConfigError(f"unknown features {kind!r}; choose one of {', '.join(FEATURE_CHOICES)}")
    if kind == "evaluator" or (kind == "auto" and channels == 1):
        return EvaluatorFeatures(device)
    return RandomFeatures(device)

