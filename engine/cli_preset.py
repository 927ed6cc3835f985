"""`train`'s preset step: choose settings for the data and device, fill in what
the user did not give, and say what was chosen and why."""
from __future__ import annotations

import json
import sys
from typing import Any

from engine.device import resolve_device
from engine.presets import choose_preset, data_facts


def apply_preset(given: dict[str, Any], json_output: bool = False) -> dict[str, Any]:
    """TrainConfig keyword arguments: the user's settings over the preset's.
    Prints the preset's choices (a JSON record with --json)."""
    facts = data_facts(given.get("data") or "mnist", cache=given.get("data_cache") is not False)
    device = resolve_device(given.get("device") or "auto")
    preset = choose_preset(facts, device, model=given.get("model"))
    chosen = preset.applied(given)
    if json_output:
        print(json.dumps({"event": "Preset", "name": preset.name, "chosen": chosen}), flush=True)
    else:
        print(f"preset: {preset.name} (--no-preset for plain defaults)", flush=True)
        for line in chosen:
            print(f"  {line}", flush=True)
    return preset.apply(given)


__all__ = ["apply_preset"]
