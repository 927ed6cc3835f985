"""Next-frame prediction scores for sequence models (convlstm), on the protocol
papers report for Moving MNIST: the model sees the first 10 frames of each test
sequence and predicts the next 10 closed-loop (each prediction fed back in).

- mse_per_frame: squared error summed over the pixels of a frame in [0, 1],
  averaged over predicted frames (ConvLSTM 103.3, PredRNN 56.8 on 64x64 frames);
- ssim: mean structural similarity of predicted and true frames (1 = equal).

Shorter sequences (a user's animation cut into windows) keep at least one
frame to predict: k = min(10, T - 1) in, min(10, T - k) out.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from engine.data.batches import to_model_range
from engine.errors import ConfigError
from engine.models.base import CONTINUE
from engine.media.images import match_channels

PROTOCOL_IN, PROTOCOL_OUT = 10, 10


@torch.inference_mode()
def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Structural similarity of each pair of images (N, C, H, W) in [0, 1]: 11x11
    Gaussian window, sigma 1.5, mean over the valid region (Wang et al. 2004)."""
    side = min(11, a.shape[-1] - (1 - a.shape[-1] % 2))   # tiny test images get a smaller window
    coords = torch.arange(side, dtype=a.dtype, device=a.device) - side // 2
    g = torch.exp(-coords ** 2 / (2 * 1.5 ** 2))
    g = g / g.sum()
    window = (g[:, None] * g[None, :]).expand(a.shape[1], 1, side, side)

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, window, groups=a.shape[1])

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a ** 2
    var_b = blur(b * b) - mu_b ** 2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    value = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return value.flatten(1).mean(1)


def can_predict_frames(model: Any) -> bool:
    return CONTINUE in getattr(model, "capabilities", ())


def next_frame_scores(model: Any, sequences: np.ndarray, batch_size: int = 100
                      ) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """uint8 sequences (N, T, C, H, W) -> yields (sequences done, None) after each
    batch, then (N, scores) once. A generator, so callers can report and stop."""
    if sequences.ndim != 5 or sequences.shape[1] < 2:
        raise ConfigError("next-frame scores need image sequences of at least 2 frames")
    k = min(PROTOCOL_IN, sequences.shape[1] - 1)
    future = min(PROTOCOL_OUT, sequences.shape[1] - k)
    size, channels = model.config.image_size, model.config.channels
    mse_sum, ssim_sum, frames = 0.0, 0.0, 0
    for start in range(0, len(sequences), batch_size):
        # A copy: the cached data sets are read-only, which torch warns about.
        chunk = torch.from_numpy(np.array(sequences[start:start + batch_size]))
        seq = to_model_range(chunk.to(model.device), size)            # (N, T, C, H, W) in [-1, 1]
        seq = match_channels(seq.flatten(0, 1), channels).unflatten(0, seq.shape[:2])
        predicted = model.continue_frames(seq[:, :k], future).add(1).mul(0.5)
        target = seq[:, k:k + future].add(1).mul(0.5)
        mse_sum += float((predicted - target).pow(2).flatten(2).sum(2).double().sum())
        ssim_sum += float(ssim(predicted.flatten(0, 1), target.flatten(0, 1)).double().sum())
        frames += predicted.shape[0] * predicted.shape[1]
        yield min(start + batch_size, len(sequences)), None
    yield len(sequences), {"mse_per_frame": mse_sum / frames, "ssim": ssim_sum / frames,
                           "sequences": len(sequences), "frames_in": k, "frames_out": future,
                           "frame_size": size}


def last_frames(sequences: np.ndarray) -> np.ndarray:
    """(N, T, C, H, W) -> the last frame of each, (N, C, H, W): what a sequence
    model's gallery tile shows (the end of a rollout), for FD and KID."""
    return np.ascontiguousarray(sequences[:, -1])
