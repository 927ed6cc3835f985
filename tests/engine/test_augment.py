"""engine.data.augment and its place in the batcher: deterministic, resumable, off by default."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.data import ImageSet
from engine.data.augment import Augmentation, augment
from engine.data.batches import DeviceBatcher
from engine.errors import ConfigError

CPU = torch.device("cpu")


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def ramp(n: int = 16, c: int = 3, side: int = 16) -> torch.Tensor:
    """Left-to-right ramp from -1 to 1, so flips and shifts are visible."""
    row = torch.linspace(-1, 1, side)
    return row.expand(n, c, side, side).clone()


def test_off_does_nothing():
    x = ramp()
    assert augment(x, Augmentation(), gen()) is x
    assert not Augmentation().active


def test_flip_mirrors_about_half_the_images():
    x = ramp(64)
    y = augment(x, Augmentation(flip=True), gen())
    flipped = (y == x.flip(-1)).flatten(1).all(1)
    kept = (y == x).flatten(1).all(1)
    assert bool((flipped | kept).all())
    assert 16 < int(flipped.sum()) < 48


def test_translation_shifts_by_whole_pixels_within_the_limit():
    x = ramp(32, side=16)
    y = augment(x, Augmentation(translate=0.25), gen(1))
    step = float(x[0, 0, 0, 1] - x[0, 0, 0, 0])
    # Column 8 of the output is column 8 - dx of the input, |dx| <= 4.
    shift = ((y[:, 0, 0, 8] - x[:, 0, 0, 8]) / -step).round()
    assert shift.abs().max() <= 4 and shift.abs().max() >= 1
    assert y.min() >= -1 and y.max() <= 1


def test_colour_jitter_stays_in_range_and_changes_images():
    x = torch.rand(8, 3, 8, 8) * 2 - 1
    y = augment(x, Augmentation(color_jitter=0.5), gen())
    assert y.shape == x.shape and y.min() >= -1 and y.max() <= 1
    assert not torch.allclose(x, y)


def test_same_generator_state_same_result():
    aug = Augmentation(flip=True, translate=0.125, color_jitter=0.2)
    x = torch.rand(8, 3, 16, 16) * 2 - 1
    assert torch.equal(augment(x, aug, gen(5)), augment(x, aug, gen(5)))


def test_frames_of_a_sequence_share_their_augmentation():
    frame = ramp(4, c=1)
    seq = torch.stack([frame, frame, frame], dim=1)       # (N, T, C, H, W)
    y = augment(seq, Augmentation(flip=True, translate=0.2), gen(3))
    assert y.shape == seq.shape
    assert torch.equal(y[:, 0], y[:, 1]) and torch.equal(y[:, 1], y[:, 2])


@pytest.mark.parametrize("kwargs, message", [({"translate": 0.7}, "translate"),
                                             ({"color_jitter": -0.1}, "colour jitter"),
                                             ({"translate": float("nan")}, "translate")])
def test_impossible_settings_are_refused(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        Augmentation(**kwargs).validate()


def _set() -> ImageSet:
    rng = np.random.default_rng(0)
    return ImageSet("x", rng.integers(0, 256, (40, 3, 16, 16), dtype=np.uint8), None)


def test_batcher_augments_without_changing_the_data_order():
    plain = DeviceBatcher(_set(), 8, 16, CPU, seed=4)
    augmented = DeviceBatcher(_set(), 8, 16, CPU, seed=4,
                              augmentation=Augmentation(flip=True, color_jitter=0.3))
    for _ in range(6):   # crosses an epoch
        a, b = plain.next_batch().images, augmented.next_batch().images
        assert not torch.equal(a, b)
        assert torch.equal(plain._order, augmented._order)


def test_batcher_state_restores_the_augmentation_stream():
    aug = Augmentation(flip=True, translate=0.125, color_jitter=0.2)
    first = DeviceBatcher(_set(), 8, 16, CPU, seed=9, augmentation=aug)
    first.next_batch()
    tensors, counters = first.state()
    assert "rng.augment" in tensors
    expected = [first.next_batch().images for _ in range(3)]
    second = DeviceBatcher(_set(), 8, 16, CPU, seed=123, augmentation=aug)
    second.load_state(tensors, counters)
    for want in expected:
        assert torch.equal(second.next_batch().images, want)


def test_resume_with_augmentation_equals_an_uninterrupted_run(tiny_config, tmp_path):
    from safetensors.torch import load_file

    from engine.runs.folders import RunDir
    from engine.training import resume, train

    settings = dict(flip=True, translate=0.1, color_jitter=0.2)
    list(train(tiny_config(steps=6, **settings), tmp_path / "straight"))
    list(train(tiny_config(steps=3, **settings), tmp_path / "parts"))
    list(resume(tmp_path / "parts", steps=6))
    for net in ("generator", "discriminator"):
        a = load_file(str(RunDir(tmp_path / "straight").weights_path(net)))
        b = load_file(str(RunDir(tmp_path / "parts").weights_path(net)))
        assert all(torch.equal(a[k], b[k]) for k in a), net
