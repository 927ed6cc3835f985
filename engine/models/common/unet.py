"""A small U-Net for pixel-space diffusion and flow models, 28 to 64 px.

Residual blocks with GroupNorm, a sinusoidal embedding of the time, an optional
class embedding (with one extra "null" class for classifier-free guidance) added
to it, and optional self-attention at the lowest resolution only (where it is
cheap). It is built from three numbers: `width` (channels at full resolution),
`depth` (resolution levels; each halves the side) and `blocks` (residual blocks
per level and direction), and optionally `patch`: the picture's patch x patch
pixel blocks folded into channels first, so a 64 px picture costs what a 32 px
one does.

Why so lean: sampling runs the network once per step for every picture (64
pictures x 20 steps = 1,280 passes), and the studio must make a grid in
seconds on a 2-core CPU. So each level keeps one skip connection (not one per
block, as the DDPM U-Net does), channels double only once (width, 2 x width,
2 x width, ...), and attention is off unless asked for.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

MAX_MULTIPLIER = 4


def level_channels(width: int, depth: int) -> list[int]:
    """Channels at each resolution level: doubling as the side halves (so each
    level costs about the same per picture), at most 4 x width."""
    return [width * min(2 ** level, MAX_MULTIPLIER) for level in range(depth)]


class GroupNorm(nn.GroupNorm):
    """nn.GroupNorm, with 8 groups where the channels allow it (fewer for tiny
    test widths), and a faster path for channels_last tensors on the CPU.

    Why: the convolutions run fastest in channels_last there, but torch's CPU
    group norm on channels_last input was 4-5 times slower than on contiguous
    input (5.9 against 0.7 ms for 64 x 16 x 28 x 28, one thread), a third of
    the whole U-Net's time. Per-channel sums over the pixels are cheap in that
    layout, and the normalisation is then one multiply-add.
    """

    def __init__(self, channels: int) -> None:
        super().__init__(math.gcd(channels, 8), channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu" or x.is_contiguous() \
                or not x.is_contiguous(memory_format=torch.channels_last):
            return super().forward(x)
        n, c, h, w = x.shape
        pixels = x.permute(0, 2, 3, 1).reshape(n, h * w, c)
        per_channel = c // self.num_groups
        count = h * w * per_channel
        # Statistics in float32 whatever the autocast dtype.
        mean = pixels.sum(1, dtype=torch.float32).view(n, self.num_groups, -1).sum(-1) / count
        square = pixels.float().square().sum(1).view(n, self.num_groups, -1).sum(-1) / count
        inverse_std = torch.rsqrt((square - mean.square()).clamp_min(0) + self.eps)
        scale = inverse_std.repeat_interleave(per_channel, dim=1) * self.weight
        shift = self.bias - mean.repeat_interleave(per_channel, dim=1) * scale
        return torch.addcmul(shift[:, :, None, None].to(x.dtype), x,
                             scale[:, :, None, None].to(x.dtype))

    def fused_silu(self, x: torch.Tensor, offset: torch.Tensor | None = None) -> torch.Tensor:
        """silu(norm(x + offset)) for sampling: `offset` (N, C), a per-channel
        constant such as the time embedding, is folded into the normalisation
        instead of being added to x first. One read of x for its statistics and
        one multiply-add, SiLU in place: fewer passes over the feature map than
        the plain path (add, norm, SiLU, each allocating its output), whose
        element-wise work was a third of the U-Net's sampling time on a CPU at
        28 x 28 (the rest: convolutions). Falls back to the plain path where
        that is better (GPUs, contiguous input, autograd)."""
        if torch.is_grad_enabled() or x.device.type != "cpu" or x.is_contiguous() \
                or not x.is_contiguous(memory_format=torch.channels_last):
            shifted = x if offset is None else x + offset[:, :, None, None].to(x.dtype)
            return F.silu(self(shifted))
        n, c, h, w = x.shape
        pixels = x.permute(0, 2, 3, 1).reshape(n, h * w, c)
        mean = pixels.sum(1, dtype=torch.float32) / (h * w)             # per channel
        variance = (pixels.float().square().sum(1) / (h * w) - mean.square()).clamp_min(0)
        if offset is not None:
            mean = mean + offset.float()
        # A group's variance is its channels' mean variance plus the variance of
        # their means (no cancellation from the offset, however large).
        groups = mean.view(n, self.num_groups, -1)
        group_mean = groups.mean(-1, keepdim=True)
        group_variance = (variance.view(n, self.num_groups, -1).mean(-1, keepdim=True)
                          + (groups - group_mean).square().mean(-1, keepdim=True))
        inverse_std = torch.rsqrt(group_variance + self.eps)
        scale = (inverse_std.expand_as(groups).reshape(n, c)) * self.weight
        # norm(x + offset) = x * scale + (offset - group mean) * scale + bias
        centre = (group_mean.expand_as(groups).reshape(n, c)
                  - (0 if offset is None else offset.float()))
        shift = self.bias - centre * scale
        out = torch.addcmul(shift[:, :, None, None].to(x.dtype), x,
                            scale[:, :, None, None].to(x.dtype))
        return F.silu(out, inplace=True)


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features (N, dim) of times t in [0, 1] (N,). Scaled by 1000 so
    the frequencies match those of the 1,000-step schedules they come from."""
    half = dim // 2
    frequencies = torch.exp(-math.log(10_000.0) * torch.arange(half, device=t.device,
                                                               dtype=torch.float32) / half)
    angles = t.float()[:, None] * 1000.0 * frequencies[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class ResidualBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, the embedding added between, and a skip path."""

    def __init__(self, channels_in: int, channels_out: int, embedding_dim: int,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1 = GroupNorm(channels_in)
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, padding=1)
        self.embedding = nn.Linear(embedding_dim, channels_out)
        self.norm2 = GroupNorm(channels_out)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, padding=1)
        self.skip = (nn.Conv2d(channels_in, channels_out, 1) if channels_in != channels_out
                     else nn.Identity())

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        if not torch.is_grad_enabled():
            return self._sampling_forward(x, embedding)
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.embedding(embedding)[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return h + self.skip(x)

    def _sampling_forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        """The same block without autograd: the embedding folded into the second
        norm, and the skip added in place."""
        h = self.conv1(self.norm1.fused_silu(x))
        h = self.conv2(self.dropout(self.norm2.fused_silu(h, self.embedding(embedding))))
        return h.add_(self.skip(x))


class SelfAttention(nn.Module):
    """Single-head self-attention over the pixels of a (small) feature map."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = GroupNorm(channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(n, 3, c, h * w).transpose(-1, -2).unbind(1)
        attended = F.scaled_dot_product_attention(q[:, None], k[:, None], v[:, None])[:, 0]
        return x + self.out(attended.transpose(-1, -2).reshape(n, c, h, w))


class Level(nn.Module):
    """The residual blocks of one resolution level (one direction)."""

    def __init__(self, channels_in: int, channels_out: int, blocks: int, embedding_dim: int,
                 dropout: float) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            ResidualBlock(channels_in if i == 0 else channels_out, channels_out, embedding_dim,
                          dropout) for i in range(blocks))

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x, embedding)
        return x


class UNet(nn.Module):
    """Predicts a same-shaped tensor (noise, velocity, ...) from a noisy picture
    x (N, C, H, W), its time t in [0, 1] (N,) and, when conditional, its class.

    The class is either indices (N,) in 0..num_classes, num_classes being the
    "null" class that classifier-free guidance trains as "no label", or class
    mixtures (N, num_classes) whose rows sum to 1 (a walk between classes).
    """

    def __init__(self, channels: int, width: int, depth: int, blocks: int,
                 num_classes: int = 0, attention: bool = False, dropout: float = 0.0,
                 patch: int = 1) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.patch = patch
        embedding_dim = 4 * width
        self.time_features = width
        self.time_mlp = nn.Sequential(nn.Linear(width, embedding_dim), nn.SiLU(),
                                      nn.Linear(embedding_dim, embedding_dim))
        self.class_embedding = (nn.Embedding(num_classes + 1, embedding_dim) if num_classes > 0
                                else None)
        widths = level_channels(width, depth)
        self.conv_in = nn.Conv2d(channels * patch ** 2, width, 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        previous = width
        for level, channels_here in enumerate(widths):
            self.down.append(Level(previous, channels_here, blocks, embedding_dim, dropout))
            if level < depth - 1:
                self.downsample.append(nn.Conv2d(channels_here, channels_here, 3, stride=2,
                                                 padding=1))
            previous = channels_here
        self.middle = Level(previous, previous, 1, embedding_dim, dropout)
        self.attention = SelfAttention(previous) if attention else None
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for level in reversed(range(depth)):
            channels_here = widths[level]
            if level < depth - 1:
                self.upsample.append(nn.Conv2d(previous, channels_here, 3, padding=1))
                previous = channels_here
            self.up.append(Level(previous + channels_here, channels_here, blocks, embedding_dim,
                                 dropout))
            previous = channels_here
        self.norm_out = GroupNorm(width)
        self.conv_out = nn.Conv2d(width, channels * patch ** 2, 3, padding=1)

    def forward(self, x: torch.Tensor, t: torch.Tensor,
                classes: torch.Tensor | None = None) -> torch.Tensor:
        embedding = self.time_mlp(timestep_embedding(t, self.time_features).to(x.dtype))
        if self.class_embedding is not None and classes is not None:
            embedding = embedding + self._class_vectors(classes).to(embedding.dtype)
        if self.patch > 1:
            x = F.pixel_unshuffle(x, self.patch)
        h = self.conv_in(x)
        skips = []
        for level, blocks in enumerate(self.down):
            h = blocks(h, embedding)
            skips.append(h)
            if level < len(self.downsample):
                h = self.downsample[level](h)
        h = self.middle(h, embedding)
        if self.attention is not None:
            h = self.attention(h)
        for index, blocks in enumerate(self.up):
            skip = skips.pop()
            if index > 0:
                # Nearest-neighbour upsampling then a conv: no checkerboard
                # artefacts, unlike a transposed convolution.
                h = F.interpolate(self.upsample[index - 1](h), size=skip.shape[-2:],
                                  mode="nearest")
            h = blocks(torch.cat([h, skip], dim=1), embedding)
        out = self.conv_out(self.norm_out.fused_silu(h))
        return F.pixel_shuffle(out, self.patch) if self.patch > 1 else out

    def _class_vectors(self, classes: torch.Tensor) -> torch.Tensor:
        assert self.class_embedding is not None
        if classes.is_floating_point():   # mixtures over the real classes
            return classes @ self.class_embedding.weight[:classes.shape[1]]
        return self.class_embedding(classes)
