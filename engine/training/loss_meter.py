"""The losses between two reports, summed on the device and averaged at report time."""
from __future__ import annotations

import torch


class LossMeter:
    """Sums each loss over the steps since the last report. Summing tensors
    avoids a device sync every step; values are read only in `means`. A step
    the fp16 loss scaler skipped (its losses may be inf) is left out."""

    def __init__(self) -> None:
        self._sums: dict[str, torch.Tensor] = {}
        self.count = 0                                   # steps added since the last report
        self._skipped: torch.Tensor | None = None        # of those, fp16 steps the scaler skipped
        self.latest: dict[str, float] = {}               # the last report's means (keep_best)

    def add(self, losses: dict[str, torch.Tensor], counted: torch.Tensor | None = None) -> None:
        """One step's losses; `counted` (a 0/1 tensor, or None without a loss
        scaler) says whether the step changed the weights."""
        if counted is not None:
            losses = {k: torch.where(counted > 0, v.detach().float(), 0.0) for k, v in losses.items()}
            skipped = 1 - counted
            self._skipped = skipped if self._skipped is None else self._skipped + skipped
        for name, value in losses.items():
            total = self._sums.get(name)
            self._sums[name] = value.detach().float() if total is None else total + value.detach()
        self.count += 1

    def means(self) -> dict[str, float]:
        """Each loss's mean over the counted steps; empty when none counted."""
        counted = self.count - (int(self._skipped) if self._skipped is not None else 0)
        return {k: float(v) / counted for k, v in self._sums.items()} if counted else {}

    def reported(self, means: dict[str, float]) -> None:
        """The report of `means` is written: start the next window."""
        self._sums, self.count, self._skipped = {}, 0, None
        self.latest = means
