"""Every family declares its optional operations in `capabilities`, and the
declaration matches what it implements: callers trust the declaration and
never probe for methods."""
from __future__ import annotations

import pytest
import torch

from engine.models import model_names
from engine.models.base import (CAPABILITIES, CONTINUE, LIKELIHOOD, PRESET, PROCESS, RECONSTRUCT,
                                TEMPERATURE, TRUNCATION, GenerativeModel, MissingCapability)
from engine.models import build_model, model_config, model_spec


def _overrides(family: type[GenerativeModel], method: str) -> bool:
    return getattr(family, method) is not getattr(GenerativeModel, method)


@pytest.mark.parametrize("name", model_names())
def test_capabilities_match_the_methods(name):
    family = model_spec(name).family
    caps = family.capabilities
    assert caps <= CAPABILITIES, f"{name}: unknown capabilities {set(caps - CAPABILITIES)}"
    assert (RECONSTRUCT in caps) == (_overrides(family, "reconstruct")
                                     and _overrides(family, "posterior_mean"))
    assert (CONTINUE in caps) == _overrides(family, "continue_frames")
    assert (PROCESS in caps) == (_overrides(family, "process_frames")
                                 and family.process_name is not None)
    assert (TRUNCATION in caps) == (_overrides(family, "truncated_latents_for_seeds")
                                    and family.supports_truncation)
    assert (LIKELIHOOD in caps) == _overrides(family, "negative_log_likelihood")
    assert (TEMPERATURE in caps) == family.latent_noise
    # A classmethod: compare the functions, not the (always new) bound methods.
    assert (PRESET in caps) == (family.suggest_preset.__func__
                                is not GenerativeModel.suggest_preset.__func__)


def test_an_absent_capability_is_a_clear_error():
    model = build_model("dcgan", model_config("dcgan"), torch.device("cpu"))
    with pytest.raises(MissingCapability, match="cannot reconstruct"):
        model.reconstruct(torch.zeros(1, 1, 28, 28))
    with pytest.raises(MissingCapability, match="continue"):
        model.continue_frames(torch.zeros(1, 2, 1, 28, 28), 1)
    with pytest.raises(MissingCapability, match="process animation"):
        model.process_frames(0)
