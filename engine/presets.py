"""Training presets: settings chosen from the data and the device, so a run that
changes nothing is a good one.

`choose_preset(facts, device)` asks every family that offers presets (the
`preset` capability) for its suggestion for these data facts and this device,
and takes the best fit; with a model the user chose, that model's own
suggestion. A suggestion names the model, image size, width, batch size,
learning rate, step budget and the model's own settings, each with a one-line
reason. `Preset.apply(given)` fills in only what the user left unset: a value
the user gave always wins. The CLI's `train` and the GUI's Train page both use
it; `train --no-preset` (and the page's preset checkbox) turns it off.

Which model suits which data, and its settings, is each family's knowledge
(e.g. engine/models/gan_presets.py); this module only knows the data facts and
how to rank the answers.
"""
from __future__ import annotations

import torch

from engine.data.facts import DataFacts
from engine.data.sources import load_data
from engine.models import find_model, model_specs
from engine.models.base import PRESET
from engine.models.common.preset import Preset
from engine.models.registry import ModelSpec

# The bundled data sets, known without loading them (the GUI shows their preset at once).
KNOWN_FACTS = {"mnist": DataFacts(60_000, 1, 28, 10),
               "moving-mnist": DataFacts(10_000, 1, 64, 0, sequences=True)}


def data_facts(spec: str, cache: bool = True) -> DataFacts:
    """Load `spec` (decoded small: only counts, channels, classes and original
    sizes matter) and describe it. The bundled sets are known without loading."""
    if spec in KNOWN_FACTS:
        return KNOWN_FACTS[spec]
    return DataFacts.of(load_data(spec, size=32, cache=cache))


def choose_preset(facts: DataFacts, device: torch.device | str, model: str | None = None
                  ) -> Preset:
    """The preset for this data on this device; with `model`, for that model."""
    if model is not None:
        spec = find_model(model)
        chosen = _suggestion(spec, facts, device, chosen=True) if spec is not None else None
        return chosen or Preset(f"{model} with its own defaults (it suggests no settings for the data)")
    suggestions = [s for s in (_suggestion(spec, facts, device, chosen=False)
                               for spec in model_specs()) if s is not None]
    if not suggestions:
        return Preset(f"no model suggests settings for {facts.describe()}: plain defaults")
    # The best fit; on a tie the model registered first (the order the app lists them).
    return max(suggestions, key=lambda s: s.fit)


def _suggestion(spec: ModelSpec, facts: DataFacts, device: torch.device | str,
                chosen: bool) -> Preset | None:
    if PRESET not in spec.capabilities:
        return None
    return spec.family.suggest_preset(spec.name, facts, device, chosen)


__all__ = ["KNOWN_FACTS", "DataFacts", "Preset", "choose_preset", "data_facts"]
