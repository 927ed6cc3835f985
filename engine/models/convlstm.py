"""`convlstm`: a ConvLSTM next-frame model for image sequences (Shi et al. 2015).

Each frame is folded into patches (4x4 pixels -> 16 channels, as the paper does
for Moving MNIST), passed through a stack of ConvLSTM layers whose gates are
convolutions, and the next frame's pixel logits are read from all layers'
hidden states. Given k frames it predicts frame k+1, then feeds its own
prediction back in to continue for as many frames as asked. Training shows the
first `context_frames` of each sequence and makes the model run closed-loop on
the rest, with binary cross-entropy on every predicted frame.

The gallery needs a picture per seed from a model that has no latent: the
model keeps the opening frames of a few training sequences (saved with its
weights), a seed picks one, and the tile is the last frame of the rollout.
"""
from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from engine.data.facts import DataFacts
from engine.errors import ConfigError
from engine.models.base import (CONTINUE, DISTRIBUTED, PRESET, PROCESS, GenerativeModel,
                                ModelConfig)
from engine.models.common import adam, evaluating
from engine.models.common.preset import Preset
from engine.models.registry import ModelSpec, register_model

PROMPTS = 16    # opening frames of this many training sequences are kept for the gallery


@dataclasses.dataclass
class ConvLstmConfig(ModelConfig):
    image_size: int = 64
    width: int = 32            # hidden channels of each ConvLSTM layer (64+ for best quality)
    layers: int = 2
    kernel: int = 3
    patch: int = 4             # frames are folded into patch x patch blocks first
    context_frames: int = 10   # frames shown before the model runs on its own (Moving MNIST: 10)
    future_frames: int = 10    # frames it predicts in the gallery and the process animation
    learning_rate: float = 1e-3
    grad_clip: float = 100.0  # max gradient norm (the loss is summed over pixels)

    def validate(self) -> None:
        super().validate()
        if self.patch not in (1, 2, 4, 8):
            raise ConfigError(f"patch must be 1, 2, 4 or 8, not {self.patch}")
        if not 8 <= self.image_size <= 256 or self.image_size % self.patch:
            raise ConfigError(f"convlstm image size must be between 8 and 256 and a multiple of "
                              f"the patch size {self.patch}, not {self.image_size}")
        if not 4 <= self.width <= 512:
            raise ConfigError(f"width must be between 4 and 512, not {self.width}")
        if not 1 <= self.layers <= 6:
            raise ConfigError(f"layers must be between 1 and 6, not {self.layers}")
        if self.kernel not in (1, 3, 5, 7):
            raise ConfigError(f"kernel must be 1, 3, 5 or 7, not {self.kernel}")
        if not 1 <= self.context_frames <= 100 or not 1 <= self.future_frames <= 1000:
            raise ConfigError("context frames must be 1 to 100 and future frames 1 to 1000")
        if not (0 < self.learning_rate <= 1):
            raise ConfigError(f"learning rate must be in (0, 1], not {self.learning_rate}")
        if not self.grad_clip > 0:
            raise ConfigError(f"grad_clip must be positive, not {self.grad_clip}")


class ConvLstmCell(nn.Module):
    def __init__(self, inputs: int, width: int, kernel: int) -> None:
        super().__init__()
        self.width = width
        self.gates = nn.Conv2d(inputs + width, 4 * width, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
                ) -> tuple[torch.Tensor, torch.Tensor]:
        h, c = state
        i, f, o, g = self.gates(torch.cat([x, h], dim=1)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


State = list[tuple[torch.Tensor, torch.Tensor]]


class ConvLstmNetwork(nn.Module):
    def __init__(self, c: ConvLstmConfig) -> None:
        super().__init__()
        self.c = c
        folded = c.channels * c.patch ** 2
        self.cells = nn.ModuleList(
            ConvLstmCell(folded if i == 0 else c.width, c.width, c.kernel) for i in range(c.layers))
        self.readout = nn.Conv2d(c.layers * c.width, folded, 1)
        size = c.image_size
        self.register_buffer("prompts", torch.zeros(PROMPTS, c.context_frames, c.channels,
                                                    size, size, dtype=torch.uint8))
        self.register_buffer("prompt_count", torch.zeros((), dtype=torch.long))
        # Context length of the kept openings (sequences shorter than context_frames
        # have fewer); 0 until the first training step.
        self.register_buffer("prompt_frames", torch.zeros((), dtype=torch.long))

    def zero_state(self, frame: torch.Tensor) -> State:
        n, s = frame.shape[0], self.c.image_size // self.c.patch
        return [(frame.new_zeros(n, self.c.width, s, s),) * 2 for _ in self.cells]

    def step(self, frame: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """A frame (N, C, H, W) in [0, 1] -> logits of the next frame, new state."""
        x = F.pixel_unshuffle(frame, self.c.patch) if self.c.patch > 1 else frame
        new_state, hidden = [], []
        for cell, s in zip(self.cells, state):
            h, c = cell(x, s)
            new_state.append((h, c))
            hidden.append(h)
            x = h
        logits = self.readout(torch.cat(hidden, dim=1))
        return (F.pixel_shuffle(logits, self.c.patch) if self.c.patch > 1 else logits), new_state

    def forward(self, context: torch.Tensor, future: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The rollout (below): what training calls, through a distributed wrapper
        when it runs in several processes (a wrapper syncs forward() alone)."""
        return self.rollout(context, future)

    def rollout(self, context: torch.Tensor, future: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Context frames (N, k, C, H, W) in [0, 1] -> (logits of frames 2..k, logits
        of the `future` frames after them), the latter each fed back as input."""
        state = self.zero_state(context[:, 0])
        seen = []
        logits = None
        for frame in context.unbind(1):
            logits, state = self.step(frame, state)
            seen.append(logits)
        predicted = [seen.pop()]
        for _ in range(future - 1):
            logits, state = self.step(torch.sigmoid(logits), state)
            predicted.append(logits)
        empty = context.new_zeros(context.shape[0], 0, *context.shape[2:])
        return (torch.stack(seen, 1) if seen else empty), torch.stack(predicted, 1)


class ConvLstmModel(GenerativeModel):
    family = "rnn"
    process_name = "continuation"
    capabilities = frozenset({CONTINUE, PROCESS, PRESET, DISTRIBUTED})
    data_kind = "sequences"
    latent_noise = False   # a sample continues one of the kept openings, chosen by seed
    config_class = ConvLstmConfig
    onnx_refusal = ("it continues image sequences from frames it is given and draws no picture "
                    "from a latent, so it has no generator to export; share it as a model "
                    "bundle instead")

    @classmethod
    def suggest_preset(cls, model: str, facts: DataFacts, device: torch.device | str,
                       chosen: bool) -> Preset | None:
        """Image sequences are what it is for; still images it declines."""
        if not facts.sequences:
            return None
        preset = Preset("image sequences: ConvLSTM next-frame model", fit=1.0)
        preset.choose("model", model, "the data are image sequences; the next-frame "
                      "model continues them")
        return preset

    def __init__(self, config: ConvLstmConfig, device: torch.device, seed: int = 0) -> None:
        super().__init__(config, device, seed)
        self.network = ConvLstmNetwork(config).to(device)

    def networks(self) -> dict[str, nn.Module]:
        return {"convlstm": self.network}

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"convlstm": adam(self.network, self.config.learning_rate, self.device)}

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        return self.optimizers()["convlstm"]

    def split(self, frames: int) -> int:
        """How many frames of a sequence of `frames` are context (at least one is predicted)."""
        return max(1, min(self.config.context_frames, frames - 1))

    def train_step(self, real: torch.Tensor, labels: torch.Tensor | None = None
                   ) -> dict[str, torch.Tensor]:
        if real.ndim != 5 or real.shape[1] < 2:
            raise ConfigError("convlstm trains on image sequences (moving-mnist or frames:PATH), "
                              "not still images")
        target = real.add(1).mul(0.5).clamp(0, 1)
        k = self.split(target.shape[1])
        self._keep_prompts(target[:, :k])
        self.optimizer.zero_grad(set_to_none=True)
        with self.precision.autocast():
            seen, predicted = self.synced(self.network)(target[:, :k], target.shape[1] - k)
        # The cross-entropy in float32, whatever precision the network ran in.
        predicted = predicted.float()
        logits = torch.cat([seen.float(), predicted], dim=1)
        per_frame = F.binary_cross_entropy_with_logits(logits, target[:, 1:], reduction="none")
        loss = per_frame.flatten(2).sum(2).mean()
        self.precision.backward(loss)
        self.precision.step(self.optimizer, clip=(self.network.parameters(), self.config.grad_clip))
        self.precision.update()
        with torch.no_grad():
            mse = (torch.sigmoid(predicted) - target[:, k:]).pow(2).flatten(2).sum(2).mean()
        return {"bce_per_frame": loss.detach(), "mse_per_frame": mse}

    @torch.no_grad()
    def _keep_prompts(self, context: torch.Tensor) -> None:
        net = self.network
        have = int(net.prompt_count)
        if have >= PROMPTS:
            return
        take = context[:PROMPTS - have, :net.prompts.shape[1]]
        net.prompts[have:have + len(take), :take.shape[1]] = take.mul(255).round().to(torch.uint8)
        net.prompt_count.fill_(have + len(take))
        net.prompt_frames.fill_(take.shape[1])

    def latents_for_seeds(self, seeds: list[int]) -> torch.Tensor:
        """A seed picks one of the kept training openings (its index, as a float)."""
        return torch.tensor([[float(int(s) % PROMPTS)] for s in seeds]).reshape(len(seeds), 1)

    def _prompts(self, latents: torch.Tensor) -> torch.Tensor:
        net = self.network
        count = max(1, int(net.prompt_count))
        index = latents[:, 0].long().to(net.prompts.device) % count
        frames = int(net.prompt_frames) or net.prompts.shape[1]
        return net.prompts[:, :frames].index_select(0, index).float().div(255)

    @torch.inference_mode()   # sampling builds no autograd graph
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        _, predicted = self.network.rollout(self._prompts(latents), self.config.future_frames)
        return torch.sigmoid(predicted[:, -1]).mul(2).sub(1)

    @torch.inference_mode()
    def process_batch(self, seeds: list[int]) -> torch.Tensor:
        """The kept openings, then the model's rollout: (k + future, N, C, H, W) in [-1, 1]."""
        with evaluating(self.network):
            context = self._prompts(self.latents_for_seeds(seeds))
            _, predicted = self.network.rollout(context, self.config.future_frames)
            frames = torch.cat([context, torch.sigmoid(predicted)], dim=1)
            return frames.mul(2).sub(1).transpose(0, 1)

    @torch.inference_mode()
    def continue_frames(self, context: torch.Tensor, count: int) -> torch.Tensor:
        """Continue sequences (N, F, C, H, W) in [-1, 1] by `count` frames of its own."""
        if not 1 <= count <= 1000:
            raise ConfigError(f"frames to add must be between 1 and 1000, not {count}")
        with evaluating(self.network):
            _, predicted = self.network.rollout(context.add(1).mul(0.5).clamp(0, 1), count)
            return torch.sigmoid(predicted).mul(2).sub(1)

    def process_frames(self, seed: int, label: int | None = None) -> torch.Tensor:
        """The process for one seed, (T, C, H, W) in [-1, 1] (the animation hook)."""
        return self.process_batch([seed])[:, 0]


register_model(ModelSpec("convlstm", ConvLstmModel,
                         "ConvLSTM next-frame model: continues image sequences",
                         eval_metrics=("next_frame_mse_per_frame",)))
