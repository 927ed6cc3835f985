"""The denoisers' U-Net: its sampling path (no autograd: the embedding folded
into the group norm, SiLU and the skip in place) computes what the training
path computes, for every layout and size the families use."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from engine.models.common.unet import GroupNorm, UNet


def perturbed(net: UNet, embedding_scale: float = 0.1, seed: int = 0) -> UNet:
    """The network with every weight moved off its initial value (so the norms'
    scales and shifts matter), the time and class embeddings by
    `embedding_scale` (large: the folded embedding far from zero)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.add_(torch.randn(p.shape, generator=g) * (embedding_scale if "embedding" in name
                                                        else 0.1))
    return net.eval()


SHAPES = [(1, 28, 8, 3, 2, 10, 1),     # the MNIST shape: a grey picture, with classes
          (3, 32, 8, 2, 1, 0, 1),      # colour, unconditional
          (3, 64, 8, 3, 1, 0, 2)]      # 64 px, pixels folded into channels


def inputs(channels: int, size: int, classes: int):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(5, channels, size, size, generator=g).contiguous(
        memory_format=torch.channels_last)
    return x, torch.rand(5, generator=g), torch.tensor([0, 3, 9, 10, 5]) if classes else None


@pytest.mark.parametrize("channels,size,width,depth,blocks,classes,patch", SHAPES)
def test_the_sampling_path_computes_the_training_path(channels, size, width, depth, blocks,
                                                      classes, patch):
    net = perturbed(UNet(channels, width, depth, blocks, classes, attention=True, patch=patch))
    net.to(memory_format=torch.channels_last)
    x, t, labels = inputs(channels, size, classes)
    with torch.enable_grad():
        expected = net(x, t, labels)
    with torch.inference_mode():
        sampled = net(x, t, labels)
    assert expected.requires_grad and not sampled.requires_grad
    torch.testing.assert_close(sampled, expected.detach(), rtol=1e-4, atol=1e-4)


def test_the_sampling_path_stays_exact_with_large_embeddings():
    """Large time and class embeddings shift whole channels: the sampling path
    folds them in after the channels' variance, so it keeps float64's answer
    (measured 6e-6 here, where adding them first and then normalising missed
    by 4e-3)."""
    net = perturbed(UNet(1, 8, 3, 2, 10, attention=True), embedding_scale=3.0)
    net.to(memory_format=torch.channels_last)
    x, t, labels = inputs(1, 28, 10)
    reference = copy.deepcopy(net).double().to(memory_format=torch.contiguous_format)
    with torch.inference_mode():
        exact = reference(x.double().contiguous(), t.double(), labels)
        torch.testing.assert_close(net(x, t, labels).double(), exact, rtol=0, atol=1e-4)


@pytest.mark.parametrize("layout", [torch.channels_last, torch.contiguous_format])
def test_the_fused_norm_is_silu_of_the_norm_of_the_shifted_input(layout):
    norm = GroupNorm(16)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-0.5, 0.5)
    g = torch.Generator().manual_seed(0)
    # A mean far from zero and a large offset: where E[x^2] - E[x]^2 would cancel.
    x = (torch.randn(3, 16, 7, 7, generator=g) + 4.0).contiguous(memory_format=layout)
    offset = torch.randn(3, 16, generator=g) * 20
    expected = F.silu(F.group_norm(x + offset[:, :, None, None], 8, norm.weight, norm.bias))
    with torch.inference_mode():
        torch.testing.assert_close(norm.fused_silu(x, offset), expected, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(norm.fused_silu(x), F.silu(F.group_norm(x, 8, norm.weight,
                                                                            norm.bias)),
                                   rtol=1e-4, atol=1e-4)


def test_a_pictures_output_does_not_depend_on_its_batch():
    """Per-picture statistics: a picture sampled alone or beside others gets the
    same network output, bit for bit (what a seed's picture relies on)."""
    net = perturbed(UNet(1, 8, 2, 1, 10)).to(memory_format=torch.channels_last)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(8, 1, 16, 16, generator=g).contiguous(memory_format=torch.channels_last)
    t, labels = torch.full((8,), 0.4), torch.arange(8)
    with torch.inference_mode():
        together = net(x, t, labels)
        apart = torch.cat([net(x[i:i + 4], t[i:i + 4], labels[i:i + 4]) for i in (0, 4)])
    assert torch.equal(together, apart)
