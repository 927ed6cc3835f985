"""A preset suggestion: settings with a reason each and how well they fit the
data. Families' `suggest_preset` hooks build one; engine.presets ranks them."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class Preset:
    """Chosen settings (TrainConfig field names; the model's own settings under
    model_settings) and why each was chosen. `fit` ranks suggestions for the
    same data: the highest wins when the user chose no model."""

    name: str
    settings: dict[str, Any] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    fit: float = 0.0

    def choose(self, name: str, value: Any, reason: str, model_setting: bool = False) -> None:
        """Choose `name`; a model setting (e.g. augment) goes under model_settings."""
        if model_setting:
            self.settings.setdefault("model_settings", {})[name] = value
        else:
            self.settings[name] = value
        self.reasons[name] = reason

    def value(self, name: str) -> Any:
        if name != "model_settings" and name in self.settings:
            return self.settings[name]
        return self.settings.get("model_settings", {}).get(name)

    def apply(self, given: dict[str, Any]) -> dict[str, Any]:
        """TrainConfig keyword arguments: `given` (the user's, None = not given)
        over the preset. The budget is one choice: a user's steps or minutes
        replace both of the preset's."""
        given = {k: v for k, v in given.items() if v is not None}
        values = {k: v for k, v in self.settings.items() if k != "model_settings"}
        if "steps" in given or "minutes" in given:
            values.pop("steps", None)
            values.pop("minutes", None)
        values.update({k: v for k, v in given.items() if k != "model_settings"})
        model_settings = {**self.settings.get("model_settings", {}),
                          **(given.get("model_settings") or {})}
        if model_settings:
            values["model_settings"] = model_settings
        return values

    def applied(self, given: dict[str, Any]) -> list[str]:
        """The preset's choices the user did not override, as "name = value: reason"."""
        given = {k: v for k, v in given.items() if v is not None}
        user_settings = given.get("model_settings") or {}
        budget_given = "steps" in given or "minutes" in given
        lines = []
        for name, reason in self.reasons.items():
            if name in given or name in user_settings or \
                    (budget_given and name in ("steps", "minutes")):
                continue
            lines.append(f"{name} = {self.value(name)}: {reason}")
        return lines

    def summary(self) -> str:
        """One short line, e.g. for the GUI's preset label."""
        return f"Preset: {self.name}"


def is_gpu(device: torch.device | str) -> bool:
    return torch.device(device).type in ("cuda", "mps")


def fit_batch(batch: int, count: int) -> int:
    """A batch no larger than the data (rounded down to a power of two, at least 2)."""
    if count >= batch:
        return batch
    return max(2, 2 ** int(math.log2(max(count, 2))))
