"""KL warm-up for the variational families (VAEs, DRAW): the KL term's weight
ramps linearly from 0 to its full value over the first training steps
(Sonderby et al., 2016), so the decoder cannot settle on the pixel marginals
and collapse the posterior before the encoder carries information.

The step count that drives the ramp is part of the resume state, so a resumed
run continues the same ramp.
"""
from __future__ import annotations

from typing import Any

import torch


def warmup_weight(full: float, steps_done: int, warmup_steps: int) -> float:
    """`full`, ramped linearly from 0 over the first `warmup_steps` steps."""
    if warmup_steps == 0:
        return full
    return full * min(1.0, steps_done / warmup_steps)


class StepCounter:
    """Mixed into a GenerativeModel: `steps_done`, saved with the training state
    under the model's own `counters_key` (beside the optimiser settings)."""

    counters_key: str
    steps_done: int = 0

    def training_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        tensors, settings = super().training_state()  # type: ignore[misc]
        settings[self.counters_key] = {"steps_done": self.steps_done}
        return tensors, settings

    def load_training_state(self, tensors: dict[str, torch.Tensor], settings: dict[str, Any]) -> None:
        super().load_training_state(tensors, settings)  # type: ignore[misc]
        self.steps_done = int(settings.get(self.counters_key, {}).get("steps_done", 0))
