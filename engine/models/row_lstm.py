"""`row-lstm`: a PixelRNN Row LSTM (van den Oord et al. 2016) for binarized or
8-bit greyscale images (`levels` 2 or 256).

The image is modelled pixel by pixel in raster order, so its likelihood is exact:
    log p(x) = sum_ij log p(x_ij | rows above, pixels to the left).

Network: a 7x7 mask-A convolution, then Row LSTM layers, each with a masked
1x2 input-to-state convolution (the pixel and the one to its left) and a 1x3
state-to-state convolution over the previous row's hidden state, computed for a
whole row at once, with a residual connection; then two 1x1 layers to one logit
per pixel (binarized) or a 256-way softmax over its grey levels (8-bit, as
the paper models each colour channel). Pixel (i, j) sees a triangular context above it and the whole of its
row to the left.

Sampling goes row by row. Inside a row each pixel depends on the ones to its
left, so a sample is the fixed point of "draw every pixel of the row from the
current guess of the row" with each pixel's uniform noise held fixed: after
pass k the first k pixels are final, and in practice the row stops changing
after a few passes. Every pass is one vectorised step over the whole row and
batch (no loop over pixels), and the result is exactly the sequential sample.
"""
from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from engine.errors import ConfigError
from engine.models.base import (DISTRIBUTED, LIKELIHOOD, PROCESS, TEMPERATURE, GenerativeModel,
                                ModelConfig, per_seed)

from engine.models.common import adam, evaluating
from engine.models.registry import ModelSpec, register_model

UNFILLED = 0.0   # how not-yet-sampled pixels look in the filling-in animation (mid grey)
LEVELS = (2, 256)


@dataclasses.dataclass
class RowLstmConfig(ModelConfig):
    width: int = 32          # hidden channels h of each Row LSTM layer
    layers: int = 4          # Row LSTM layers
    learning_rate: float = 1e-3
    grad_clip: float = 100.0  # max gradient norm; LSTMs occasionally spike
    levels: int = 2           # 2: dynamically binarized pixels; 256: 8-bit grey levels

    def validate(self) -> None:
        super().validate()
        if self.channels != 1:
            raise ConfigError("row-lstm models greyscale images: channels must be 1")
        if self.levels not in LEVELS:
            raise ConfigError(f"levels must be 2 (binarized) or 256 (8-bit), not {self.levels}")
        if not 4 <= self.image_size <= 64:
            raise ConfigError(f"row-lstm image size must be between 4 and 64, not {self.image_size}")
        if not 4 <= self.width <= 512:
            raise ConfigError(f"width must be between 4 and 512, not {self.width}")
        if not 1 <= self.layers <= 12:
            raise ConfigError(f"layers must be between 1 and 12, not {self.layers}")
        if not (0 < self.learning_rate <= 1):
            raise ConfigError(f"learning rate must be in (0, 1], not {self.learning_rate}")
        if not self.grad_clip > 0:
            raise ConfigError(f"grad_clip must be positive, not {self.grad_clip}")


def shift_right(rows: torch.Tensor, by: int = 1) -> torch.Tensor:
    """(..., W, C) -> the same with pixel j holding pixel j-by (zeros entering at the left)."""
    return F.pad(rows, (0, 0, by, -by))


def _settled(drawn: torch.Tensor, guess: torch.Tensor) -> bool:
    """True when `drawn` (from a pass over `guess`) is already the fixed point.

    Pixel j depends only on pixels before it, so where `drawn` and the guess
    agree on pixels 0..d-1, pixel d of `drawn` is final. When every image's
    first disagreement is at its last pixel, the whole row is final and the
    confirming pass can be skipped (and when they agree everywhere, it is done)."""
    differs = (drawn != guess).flatten(1)
    last = differs.shape[1] - 1
    return not differs[:, :last].any()


class RowLstmLayer(nn.Module):
    """One Row LSTM layer with its residual connection.

    Features are channels-last, (N, R, W, h): the row convolutions then become
    matrix products over a few shifted copies, which run much faster on a CPU
    (forward and backward) than convolutions with 1-pixel-high kernels.
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        self.width = width
        # Input-to-state: the pixel and the one to its left (a masked 1x2 kernel).
        self.input_to_state = nn.Linear(2 * width, 4 * width)
        # State-to-state: three neighbours in the row above (a 1x3 kernel); the
        # input-to-state product already has a bias.
        self.state_to_state = nn.Linear(3 * width, 4 * width, bias=False)
        self.out = nn.Linear(width, width)

    def gates_from_input(self, features: torch.Tensor) -> torch.Tensor:
        """(N, R, W, h) -> (N, R, W, 4h): pixel j sees pixels j-1 and j."""
        return self.input_to_state(torch.cat([shift_right(features), features], dim=-1))

    def gates_from_state(self, h_prev: torch.Tensor) -> torch.Tensor:
        """The previous row's hidden state (N, W, h) -> its share of the gates (N, W, 4h)."""
        neighbours = torch.cat([shift_right(h_prev), h_prev, shift_right(h_prev, -1)], dim=-1)
        return self.state_to_state(neighbours)

    def cell(self, gates_in: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor],
             gates_state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One row: (N, W, 4h) input gates + the previous row's (h, c) -> (h, c).
        `gates_state`, when given, is `gates_from_state(h)` computed beforehand."""
        h_prev, c_prev = state
        if gates_state is None:
            gates_state = self.gates_from_state(h_prev)
        i, f, o, g = (gates_in + gates_state).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """The whole image: input gates at once, the recurrence row by row."""
        n, _, cols, _ = features.shape
        gates_in = self.gates_from_input(features)
        state = (features.new_zeros(n, cols, self.width),) * 2
        hidden = []
        # unbind, not slicing: its backward is one stack, where each slice's
        # backward would fill a whole-image gradient of zeros.
        for gates_row in gates_in.unbind(dim=1):
            state = self.cell(gates_row, state)
            hidden.append(state[0])
        return features + self.out(torch.stack(hidden, dim=1))


class RowLstmNetwork(nn.Module):
    def __init__(self, width: int, layers: int, levels: int = 2) -> None:
        super().__init__()
        # The 7x7 mask-A input convolution, split into its two unmasked parts:
        # the three rows above (3x7) and the three pixels to the left (1x3).
        self.in_above = nn.Conv2d(1, width, kernel_size=(3, 7), padding=(0, 3))
        self.in_left = nn.Conv2d(1, width, kernel_size=(1, 3), bias=False)
        self.layers = nn.ModuleList(RowLstmLayer(width) for _ in range(layers))
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                                  nn.Linear(width, 1 if levels == 2 else levels))

    def input_above(self, x: torch.Tensor) -> torch.Tensor:
        """Row r of the result sees rows r-3..r-1 of x (N, 1, R, W); (N, R, W, h)."""
        return self.in_above(F.pad(x, (0, 0, 3, -1))).permute(0, 2, 3, 1)

    def input_left(self, x: torch.Tensor) -> torch.Tensor:
        """Pixel j of the result sees pixels j-3..j-1 of its own row; (N, R, W, h)."""
        return self.in_left(F.pad(x, (3, -1))).permute(0, 2, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (N, 1, H, W) in [0, 1] (binary, or grey level / 255) -> logits
        (N, 1, H, W) of p(x_ij = 1 | context), or (N, 256, H, W) over grey levels."""
        features = self.input_above(x) + self.input_left(x)
        for layer in self.layers:
            features = layer(features)
        return self.head(features).permute(0, 3, 1, 2)


def quantize(images: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] -> their nearest of 256 grey levels, as level / 255 in [0, 1]."""
    return images.add(1).mul(127.5).round().clamp(0, 255).div(255)


class RowLstmModel(GenerativeModel):
    family = "rnn"
    process_name = "filling in"
    capabilities = frozenset({LIKELIHOOD, PROCESS, TEMPERATURE, DISTRIBUTED})
    config_class = RowLstmConfig
    onnx_refusal = ("it draws each pixel at random given the pixels before it, so a picture "
                    "comes from a loop of many network passes and random draws, not from one "
                    "network of a latent; share it as a model bundle instead")

    def __init__(self, config: RowLstmConfig, device: torch.device, seed: int = 0) -> None:
        super().__init__(config, device, seed)
        self.network = RowLstmNetwork(config.width, config.layers, config.levels).to(device)
        self.likelihood_data = "binarized" if config.levels == 2 else "8bit"

    def networks(self) -> dict[str, nn.Module]:
        return {"pixel_rnn": self.network}

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"pixel_rnn": adam(self.network, self.config.learning_rate, self.device)}

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        return self.optimizers()["pixel_rnn"]

    def prepare(self, real: torch.Tensor) -> torch.Tensor:
        """Training images in [-1, 1] -> the pixels modelled, in [0, 1]."""
        return self.binarize(real) if self.config.levels == 2 else quantize(real)

    def binarize(self, real: torch.Tensor) -> torch.Tensor:
        """Dynamic binarization: each pixel is 1 with its intensity as probability,
        drawn fresh every step from the model's own noise (so resume is exact)."""
        return torch.bernoulli(real.add(1).mul(0.5).clamp(0, 1), generator=self.noise)

    likelihood_data = "binarized"

    def negative_log_likelihood(self, images: torch.Tensor, generator: torch.Generator,
                                importance_samples: int, labels: torch.Tensor | None = None
                                ) -> dict[str, torch.Tensor]:
        """The evaluator's hook: the exact NLL of binarized ({-1, 1}) or 8-bit images."""
        return {"nll": self.nll(quantize(images) if self.config.levels == 256 else images.add(1).mul(0.5))}

    def nll(self, pixels: torch.Tensor, network: nn.Module | None = None) -> torch.Tensor:
        """Exact negative log-likelihood in nats of each image (N, 1, H, W): binary
        pixels in {0, 1}, or 8-bit ones as grey level / 255. `network`: the one
        to score with (train_step's synced one; default the network itself)."""
        with self.precision.autocast():
            logits = (network or self.network)(pixels)
        # The cross-entropy in float32, whatever precision the network ran in.
        if self.config.levels == 2:
            return F.binary_cross_entropy_with_logits(logits.float(), pixels,
                                                      reduction="none").sum((1, 2, 3))
        target = pixels[:, 0].mul(255).round().long()
        return F.cross_entropy(logits.float(), target, reduction="none").sum((1, 2))

    def train_step(self, real: torch.Tensor, labels: torch.Tensor | None = None
                   ) -> dict[str, torch.Tensor]:
        pixels = self.prepare(real)
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.nll(pixels, self.synced(self.network)).mean()
        self.precision.backward(loss)
        self.precision.step(self.optimizer, clip=(self.network.parameters(), self.config.grad_clip))
        self.precision.update()
        dims = pixels[0].numel()
        return {"nll_nats": loss.detach(), "bits_per_dim": loss.detach() / (dims * 0.6931471805599453)}

    def latents_for_seeds(self, seeds: list[int]) -> torch.Tensor:
        """One uniform number per pixel: pixel ij is 1 when its uniform < p(x_ij = 1)
        (8-bit: the grey level where the cumulative distribution passes it)."""
        size = self.config.image_size
        return per_seed(seeds, lambda g: torch.rand(1, size, size, generator=g), (1, size, size))

    @torch.inference_mode()   # sampling builds no autograd graph
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return self._sample_rows(latents)[-1]

    @torch.inference_mode()
    def process_batch(self, seeds: list[int]) -> torch.Tensor:
        """The image filling in row by row: (H, N, 1, H, W) in [-1, 1]."""
        with evaluating(self.network):
            return self._sample_rows(self.latents_for_seeds(seeds).to(self.device))

    def _sample_rows(self, uniforms: torch.Tensor) -> torch.Tensor:
        """Sample row by row; returns the canvas after each row, (H, N, 1, H, W) in [-1, 1]."""
        net = self.network
        n, _, size, _ = uniforms.shape
        x = uniforms.new_zeros(n, 1, size, size)
        states = [(x.new_zeros(n, size, net.layers[0].width),) * 2 for _ in net.layers]
        frames = []
        for r in range(size):
            # What does not depend on row r itself is computed once per row: the
            # rows above through the input convolution, and each layer's share
            # of the gates from the previous row's state.
            above = net.input_above(x[:, :, max(0, r - 3):r + 1])[:, -1]
            from_state = [layer.gates_from_state(h) for layer, (h, _) in zip(net.layers, states)]
            row = x.new_zeros(n, 1, 1, size)
            for _ in range(size + 1):   # at most W + 1 passes; usually a handful
                features = above + net.input_left(row)[:, 0]
                new_states = []
                for layer, state, gates_state in zip(net.layers, states, from_state):
                    h, c = layer.cell(layer.gates_from_input(features), state, gates_state)
                    features = features + layer.out(h)
                    new_states.append((h, c))
                drawn = self._draw(net.head(features), uniforms[:, :, r:r + 1])
                if _settled(drawn, row):
                    row = drawn
                    break
                row = drawn
            x[:, :, r:r + 1] = row
            states = new_states
            frame = x.mul(2).sub(1)
            frame[:, :, r + 1:] = UNFILLED
            frames.append(frame)
        return torch.stack(frames)

    def _draw(self, logits: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
        """One row's logits (N, W, outputs) and uniforms (N, 1, 1, W) -> its pixels
        (N, 1, 1, W) in [0, 1], by inverting each pixel's distribution at its uniform."""
        n, size = logits.shape[0], logits.shape[1]
        if self.config.levels == 2:
            return (uniforms < torch.sigmoid(logits).view(n, 1, 1, size)).to(uniforms.dtype)
        cdf = torch.softmax(logits, dim=-1).cumsum(-1)
        level = (cdf < uniforms.view(n, size, 1)).sum(-1).clamp_max(self.config.levels - 1)
        return level.view(n, 1, 1, size).to(uniforms.dtype).div(self.config.levels - 1)

    def process_frames(self, seed: int, label: int | None = None) -> torch.Tensor:
        """The process for one seed, (T, C, H, W) in [-1, 1] (the animation hook)."""
        return self.process_batch([seed])[:, 0]


register_model(ModelSpec(
    "row-lstm", RowLstmModel,
    "PixelRNN Row LSTM (binarized, exact likelihood, draws row by row)"))
