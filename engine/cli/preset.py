"""`train`'s preset step: choose settings for the data and device, fill in what
the user did not give, and say what was chosen and why."""
from __future__ import annotations

import json
import sys
from typing import Any

from engine.runtime.device import resolve_device
from engine.presets import choose_preset, data_facts
from engine.training import TrainConfig


def apply_preset(given: dict[str, Any], json_output: bool = False) -> dict[str, Any]:
    """TrainConfig keyword arguments: the user's settings over the preset's.
    Prints the preset's choices (with --json: one JSON object on stderr)."""
    facts = data_facts(given.get("data") or "mnist", cache=given.get("data_cache") is not False)
    device = resolve_device(given.get("device") or "auto")
    preset = choose_preset(facts, device, model=given.get("model"))
    chosen = preset.applied(given)
    values = preset.apply(given)
    # Impossible settings fail before anything is printed: one error line only.
    TrainConfig(**values).validate()
    # With --json, stdout stays one training event per line (RunStarted first);
    # the choices go to stderr as one JSON object.
    if json_output:
        print(json.dumps({"preset": preset.name, "chosen": chosen}), file=sys.stderr, flush=True)
    else:
        print(f"preset: {preset.name} (--no-preset for plain defaults)", flush=True)
        for line in chosen:
            print(f"  {line}", flush=True)
    return values


__all__ = ["apply_preset"]
