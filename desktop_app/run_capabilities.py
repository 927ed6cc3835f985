"""What the current run's model can do, from its spec's declared capabilities
(engine.models.base), so pages show only the panels, controls and menu items
that apply and hide the rest (hidden, not greyed: a GAN has no reconstruction
to grey out).

Where hiding would leave an artist wondering ("where did the reconstruction
view go?"), `missing_line` gives one tooltip line saying what this model lacks
and which models have it; the model names come from the registry.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.errors import AtelierError
from engine.models import find_model, model_specs
from engine.models.base import PROCESS, RECONSTRUCT, VARY

# The features a page shows by capability that an artist would miss, in the
# order the tooltip names them.
MISSABLE = ((RECONSTRUCT, "reconstructions"), (VARY, "variations of a picture"),
            (PROCESS, "a process animation"))


@dataclass(frozen=True)
class RunAbilities:
    """A run's model name, its declared capabilities and how many classes it
    draws from (0: unconditional)."""

    model: str = ""
    capabilities: frozenset[str] = frozenset()
    classes: int = 0

    def can(self, capability: str) -> bool:
        return capability in self.capabilities


NONE = RunAbilities()


def run_abilities(source: str | Path | None) -> RunAbilities:
    """What the model of a run folder or bundle can do, read from its config
    (no weights). A run that cannot be read yet can do nothing; opening or
    sampling it reports the real problem."""
    if source is None:
        return NONE
    from engine.studio.reconstruction import source_model
    from engine.studio.sampling import run_classes

    try:
        name, _ = source_model(source)
        classes = run_classes(source)
    except AtelierError:
        return NONE
    spec = find_model(name)
    if spec is None:
        return RunAbilities(model=name)
    return RunAbilities(model=name, capabilities=spec.capabilities, classes=classes)


def models_with(capability: str) -> list[str]:
    """Registered model names that declare `capability`."""
    return [spec.name for spec in model_specs() if capability in spec.capabilities]


def missing_line(abilities: RunAbilities) -> str:
    """One line: what the run's model does not do that others do, and which do;
    empty when it lacks none of them."""
    missing = [(what, models_with(capability)) for capability, what in MISSABLE
               if not abilities.can(capability)]
    missing = [(what, names) for what, names in missing if names]
    if not missing or not abilities.model:
        return ""
    parts = [f"{what} ({', '.join(names)})" for what, names in missing]
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]
    return f"{abilities.model} has no {listed}."
