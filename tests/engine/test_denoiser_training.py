"""The denoisers' training layout on a CPU: the trained U-Net contiguous (oneDNN's
faster training kernels there), its weight average channels_last for sampling,
and a bfloat16 step that trains."""
from __future__ import annotations

import pytest
import torch

from engine.models import build_model, model_config
from engine.runtime.precision import MixedPrecision

CPU = torch.device("cpu")


def _tiny(name: str):
    config = model_config(name, width=8, depth=2, blocks=1, sample_steps=2)
    return build_model(name, config, CPU, seed=0)


def _conv_weights(net: torch.nn.Module) -> list[torch.Tensor]:
    """3 x 3 weights of more than one input channel: the ones whose layouts differ."""
    return [m.weight for m in net.modules() if isinstance(m, torch.nn.Conv2d)
            and m.weight.shape[-1] > 1 and m.weight.shape[1] > 1]


@pytest.mark.parametrize("name", ["ddpm", "flow"])
def test_training_is_contiguous_and_sampling_channels_last_on_a_cpu(name):
    model = _tiny(name)
    assert all(w.is_contiguous() for w in _conv_weights(model.unet))
    assert all(w.is_contiguous(memory_format=torch.channels_last)
               and not w.is_contiguous() for w in _conv_weights(model.ema))
    torch.manual_seed(0)
    model.train_step(torch.rand(4, 1, 28, 28) * 2 - 1)
    # The average moved towards the trained weights, whatever their layouts.
    for average, trained in zip(model.ema.parameters(), model.unet.parameters()):
        assert torch.allclose(average, trained, atol=0.2)
    assert all(w.is_contiguous(memory_format=torch.channels_last)
               for w in _conv_weights(model.ema))


def test_a_bfloat16_step_lowers_the_loss_of_a_repeated_batch():
    model = _tiny("flow")
    model.precision = MixedPrecision("bf16", CPU)
    batch = torch.rand(8, 1, 28, 28) * 2 - 1
    losses = [float(model.train_step(batch)["loss"]) for _ in range(12)]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert sum(losses[-3:]) < sum(losses[:3])
    assert all(p.dtype == torch.float32 for p in model.unet.parameters())
