"""engine.media.images: tensors to uint8 pictures, grids, nearest-neighbour upscaling."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.media.images import make_grid, to_uint8, upscale_nearest


def test_to_uint8_maps_minus_one_one_to_0_255():
    x = torch.tensor([-1.0, 0.0, 1.0, -2.0, 3.0, 0.5]).view(1, 1, 1, 6)
    out = to_uint8(x)
    assert out.dtype == np.uint8 and out.shape == (1, 1, 6, 1)
    assert out[0, 0, :, 0].tolist() == [0, 128, 255, 0, 255, 191]


def test_to_uint8_is_channels_last_and_keeps_colour_order():
    x = torch.full((2, 3, 4, 5), -1.0)
    x[:, 1] = 1.0  # green
    out = to_uint8(x)
    assert out.shape == (2, 4, 5, 3)
    assert (out[..., 1] == 255).all() and (out[..., 0] == 0).all() and (out[..., 2] == 0).all()


def test_to_uint8_returns_a_fresh_writable_array_from_a_graph_tensor():
    x = torch.zeros(1, 1, 2, 2, requires_grad=True) * 1
    out = to_uint8(x)
    assert out.flags.writeable and out.flags.owndata
    out[:] = 0
    assert to_uint8(x)[0, 0, 0, 0] == 128


def test_to_uint8_accepts_half_precision():
    assert to_uint8(torch.ones(1, 1, 1, 1, dtype=torch.float16))[0, 0, 0, 0] == 255


def test_make_grid_layout():
    images = np.stack([np.full((3, 4, 1), 10 * (i + 1), np.uint8) for i in range(5)])
    grid = make_grid(images, padding=2, background=7)
    # 5 images -> 3 columns x 2 rows
    assert grid.shape == (2 * (3 + 2) + 2, 3 * (4 + 2) + 2, 1)
    assert grid.dtype == np.uint8
    assert (grid[2:5, 2:6] == 10).all()           # tile 0, top left
    assert (grid[2:5, 8:12] == 20).all()          # tile 1
    assert (grid[7:10, 2:6] == 40).all()          # tile 3, second row
    assert (grid[7:10, 14:18] == 7).all()         # the empty sixth cell is background
    assert grid[0, 0] == 7 and grid[5, 5] == 7    # padding


def test_make_grid_with_explicit_columns_and_colour():
    images = np.zeros((6, 2, 2, 3), np.uint8)
    grid = make_grid(images, columns=6, padding=0)
    assert grid.shape == (2, 12, 3)
    assert make_grid(images[:1]).shape == (6, 6, 3)


def test_upscale_nearest_makes_equal_blocks():
    image = np.arange(6, dtype=np.uint8).reshape(2, 3, 1)
    big = upscale_nearest(image, 4)
    assert big.shape == (8, 12, 1)
    for y in range(2):
        for x in range(3):
            assert (big[4 * y:4 * y + 4, 4 * x:4 * x + 4] == image[y, x]).all()


@pytest.mark.parametrize("scale", [1, 0])
def test_upscale_by_one_or_less_is_a_no_op(scale):
    image = np.ones((2, 2, 1), np.uint8)
    assert upscale_nearest(image, scale) is image
