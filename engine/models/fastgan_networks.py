"""Networks of the few-shot GAN family (`fastgan`), after Liu et al., ICLR 2021,
"Towards Faster and Stabilized GAN Training for High-fidelity Few-shot Image
Synthesis", generalised from its 256-1024 px to 28-256 px.

Generator: a 4 x 4 start (7 x 7 for 28 px) doubled to the picture's side by
up-sampling blocks (nearest up-sampling, 3 x 3 convolution, batch norm, GLU;
every other block with two convolutions), channels falling as the side grows.
Skip-layer excitation (SLE): a coarse level's features, pooled to 4 x 4 and
squeezed to one gate per channel, multiply the channels of a level 16 times
finer, so global layout steers fine detail through a cheap shortcut.

Discriminator: the picture (and, in a second path, the picture at half its
side) brought down to 8 x 8 (7 x 7) by residual down-sampling blocks, with SLE
from levels 8 times finer, giving patch logits from both paths. On real
pictures, three small decoders reconstruct from its features: the whole
picture from the 8 x 8 features of each path, and one quadrant from a quadrant
of the 16 x 16 features. Having to keep what a picture looks like in its
features is the self-supervision that keeps a discriminator on a few hundred
pictures from memorising them.

Differences from the paper, and why: no noise injection in the generator (a
tile must be reproducible from its seed alone, and the latent carries the
variation); the discriminator's half-size path sees the 2 x 2 average of the
same picture for real and generated pictures alike (the paper feeds the
generator's own 128 px output for fakes); the decoders' targets are compared
by a pixel loss, not LPIPS (in engine/models/fastgan.py).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import _SpectralNorm as _TorchSpectralNorm

# Generator channels per level (4, 8, 16, 32, 64, 128, 256 px), times the width:
# the paper's {4: 16, 8: 8, 16: 4, 32: 2, 64: 2, 128: 1, 256: 0.5} x ngf.
GENERATOR_MULTIPLIERS = (16, 8, 4, 2, 2, 1, 0.5)
# The decoders' channels per up-sampling block, times the width (the paper's
# SimpleDecoder: 128, 64, 64, 32 beside a discriminator of width 64).
DECODER_MULTIPLIERS = (2, 1, 1, 0.5)
MIN_CHANNELS = 4
SLE_POOL = 4           # the coarse features are pooled to 4 x 4 before their gate
MAX_RECONSTRUCTION = 128


def start_side(image_size: int) -> int:
    """The generator's first level: 7 for 28 px, else 4."""
    return 7 if image_size == 28 else 4


def final_side(image_size: int) -> int:
    """The side the discriminator brings pictures down to: 7 for 28 px, else 8."""
    return 7 if image_size == 28 else 8


def reconstruction_side(image_size: int) -> int:
    """The decoders' output side: half the picture's, at most 128 (the paper's)."""
    return min(MAX_RECONSTRUCTION, image_size // 2)


class _SpectralNorm(_TorchSpectralNorm):
    """torch's spectral norm parametrization (the same computation and saved
    keys as nn.utils.parametrizations.spectral_norm), except that a weight on
    the meta device gets no power iterations: a model built there has shapes
    and no values (how saved weights are checked before loading), and torch
    runs the 15 starting iterations of each of this family's 54 normalised
    layers through its slow reference kernels there (measured: 17.7 of the
    18.3 s a run took to load)."""

    def _power_method(self, weight_mat: torch.Tensor, n_power_iterations: int) -> None:
        if not weight_mat.is_meta:
            super()._power_method(weight_mat, n_power_iterations)


def _spectral_norm(module: nn.Module) -> nn.Module:
    # Output channels are dim 1 of a transposed convolution's weight (as torch's own choice).
    dim = 1 if isinstance(module, nn.ConvTranspose2d) else 0
    parametrize.register_parametrization(module, "weight", _SpectralNorm(module.weight, dim=dim))
    return module


def _conv(c_in: int, c_out: int, kernel: int, stride: int = 1, padding: int = 0,
          spectral: bool = True) -> nn.Module:
    """A bias-free convolution, spectrally normalised as every one in the paper."""
    conv = nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=False)
    return _spectral_norm(conv) if spectral else conv


def _leaky() -> nn.Module:
    return nn.LeakyReLU(0.2, inplace=True)


class Glu(nn.Module):
    """The gated linear unit over channels, a * sigmoid(b): the same values as
    nn.GLU(dim=1), whose CPU kernel is about 4 times slower on channels_last
    tensors (measured: 6.2 against 1.6 ms forward and backward at 8 x 64 x 28 x 28)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        return a * torch.sigmoid(b)


class UpBlock(nn.Module):
    """x2 nearest up-sampling, then `convs` x (3 x 3 convolution, batch norm, GLU)."""

    def __init__(self, c_in: int, c_out: int, convs: int, spectral: bool) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Upsample(scale_factor=2, mode="nearest")]
        for i in range(convs):
            layers += [_conv(c_in if i == 0 else c_out, 2 * c_out, 3, 1, 1, spectral),
                       nn.BatchNorm2d(2 * c_out), Glu()]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


class SkipLayerExcitation(nn.Module):
    """One gate in (0, 1) per channel of the fine features, from the coarse ones."""

    def __init__(self, c_coarse: int, c_fine: int, spectral: bool) -> None:
        super().__init__()
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(SLE_POOL), _conv(c_coarse, c_fine, SLE_POOL, 1, 0, spectral),
            nn.SiLU(), _conv(c_fine, c_fine, 1, 1, 0, spectral), nn.Sigmoid())

    def forward(self, coarse: torch.Tensor, fine: torch.Tensor) -> torch.Tensor:
        return fine * self.gate(coarse)


class FastganGenerator(nn.Module):
    def __init__(self, latent_dim: int, image_size: int, channels: int, width: int,
                 spectral: bool = True) -> None:
        super().__init__()
        start = start_side(image_size)
        levels = int(math.log2(image_size // start))
        # 7, 14, 28 px take the channels of 8, 16, 32 px.
        offset = 1 if start == 7 else 0
        widths = [max(MIN_CHANNELS, int(width * GENERATOR_MULTIPLIERS[i + offset]))
                  for i in range(levels + 1)]
        first = nn.ConvTranspose2d(latent_dim, 2 * widths[0], start, 1, 0, bias=False)
        self.initial = nn.Sequential(
            _spectral_norm(first) if spectral else first,
            nn.BatchNorm2d(2 * widths[0]), Glu())
        # One convolution at the last level and two at the one before, alternating
        # back from the picture: at 256 px the paper's 8, 32, 128 px with two and
        # 16, 64, 256 px with one; the picture's own level stays the light one.
        self.blocks = nn.ModuleList(
            UpBlock(widths[i - 1], widths[i], 1 if (levels - i) % 2 == 0 else 2, spectral)
            for i in range(1, levels + 1))
        # SLE into the last three levels past the first, each from 16 times coarser
        # (or the start): 64 <- 4, 128 <- 8, 256 <- 16 at 256 px as in the paper.
        targets = [i for i in range(2, levels + 1)][-3:]
        self.excite_from = {i: max(0, i - 4) for i in targets}
        self.excitations = nn.ModuleDict({
            str(i): SkipLayerExcitation(widths[j], widths[i], spectral)
            for i, j in self.excite_from.items()})
        self.to_image = _conv(widths[-1], channels, 3, 1, 1, spectral)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        features = [self.initial(z.view(z.shape[0], -1, 1, 1))]
        for i, block in enumerate(self.blocks, start=1):
            x = block(features[-1])
            if i in self.excite_from:
                x = self.excitations[str(i)](features[self.excite_from[i]], x)
            features.append(x)
        return torch.tanh(self.to_image(features[-1]))


class DownBlock(nn.Module):
    """4 x 4 stride-2 convolution, batch norm, leaky ReLU."""

    def __init__(self, c_in: int, c_out: int, spectral: bool) -> None:
        super().__init__()
        self.main = nn.Sequential(_conv(c_in, c_out, 4, 2, 1, spectral), nn.BatchNorm2d(c_out),
                                  _leaky())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


class ResidualDownBlock(nn.Module):
    """The paper's DownBlockComp: two convolutions beside an average-pooled
    shortcut, averaged."""

    def __init__(self, c_in: int, c_out: int, spectral: bool) -> None:
        super().__init__()
        self.main = nn.Sequential(
            _conv(c_in, c_out, 4, 2, 1, spectral), nn.BatchNorm2d(c_out), _leaky(),
            _conv(c_out, c_out, 3, 1, 1, spectral), nn.BatchNorm2d(c_out), _leaky())
        self.shortcut = nn.Sequential(nn.AvgPool2d(2), _conv(c_in, c_out, 1, 1, 0, spectral),
                                      nn.BatchNorm2d(c_out), _leaky())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.main(x) + self.shortcut(x)) / 2


class Decoder(nn.Module):
    """Features at the final side up to the reconstruction side, as a picture."""

    def __init__(self, c_in: int, ups: int, channels: int, width: int, spectral: bool) -> None:
        super().__init__()
        widths = [c_in] + [max(MIN_CHANNELS, int(width * DECODER_MULTIPLIERS[min(i, 3)]))
                           for i in range(ups)]
        self.main = nn.Sequential(
            *(UpBlock(widths[i], widths[i + 1], 1, spectral) for i in range(ups)),
            _conv(widths[-1], channels, 3, 1, 1, spectral), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


# (the whole picture from the full path, the whole picture from the half-size
# path, one quadrant), each at reconstruction_side.
Reconstructions = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


class FastganDiscriminator(nn.Module):
    def __init__(self, image_size: int, channels: int, width: int, spectral: bool = True) -> None:
        super().__init__()
        final = final_side(image_size)
        self.final = final
        downs = int(math.log2(image_size // final))
        # Channels by side: 8 x width at the final side, halved per doubling.
        sides = [final * 2 ** k for k in range(downs + 1)][::-1]     # image_size ... final
        self.sides = sides

        def ch(side: int) -> int:
            return max(MIN_CHANNELS, 8 * width * final // side)

        self.stem = nn.Sequential(_conv(channels, ch(image_size), 3, 1, 1, spectral), _leaky())
        self.downs = nn.ModuleList(ResidualDownBlock(ch(s), ch(s // 2), spectral)
                                   for s in sides[:-1])
        # SLE from 8 times finer, where the discriminator has that level.
        self.excitations = nn.ModuleDict({
            str(s): SkipLayerExcitation(ch(8 * s), ch(s), spectral)
            for s in sides[1:] if 8 * s <= image_size})
        c_final = ch(final)
        self.logits_full = nn.Sequential(
            _conv(c_final, c_final, 1, 1, 0, spectral), nn.BatchNorm2d(c_final), _leaky(),
            _conv(c_final, 1, 4, 1, 0, spectral))
        half = image_size // 2
        small: list[nn.Module] = [_conv(channels, ch(half // 2), 4, 2, 1, spectral), _leaky()]
        side = half // 2
        while side > final:
            small.append(DownBlock(ch(side), ch(side // 2), spectral))
            side //= 2
        self.half_path = nn.Sequential(*small)
        self.logits_half = _conv(c_final, 1, 4, 1, 0, spectral)
        ups = int(math.log2(reconstruction_side(image_size) // final))
        self.decode_full = Decoder(c_final, ups, channels, width, spectral)
        self.decode_half = Decoder(c_final, ups, channels, width, spectral)
        self.decode_part = Decoder(ch(2 * final), ups, channels, width, spectral)

    def forward(self, x: torch.Tensor, quadrant: int | None = None
                ) -> tuple[torch.Tensor, Reconstructions | None]:
        """Patch logits (N, K) from both paths; with a quadrant (0-3: top left,
        top right, bottom left, bottom right), also the three reconstructions."""
        features = {x.shape[-1]: self.stem(x)}
        current = features[x.shape[-1]]
        for block in self.downs:
            current = block(current)
            side = current.shape[-1]
            if str(side) in self.excitations:
                current = self.excitations[str(side)](features[8 * side], current)
            features[side] = current
        half = self.half_path(F.avg_pool2d(x, 2))
        logits = torch.cat([self.logits_full(current).flatten(1),
                            self.logits_half(half).flatten(1)], dim=1)
        if quadrant is None:
            return logits, None
        f = self.final
        row, col = divmod(quadrant, 2)
        part = features[2 * f][:, :, row * f:(row + 1) * f, col * f:(col + 1) * f]
        return logits, (self.decode_full(current), self.decode_half(half),
                        self.decode_part(part))
