"""engine.data.batches: shuffled device batches in [-1, 1] at the model's size."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.data import ImageSet
from engine.data.batches import DeviceBatcher, to_model_range

CPU = torch.device("cpu")


def numbered_set(n: int = 64) -> ImageSet:
    """Image i is filled with the value 3*i, so a batch tells which images it holds."""
    values = (np.arange(n) * 3).astype(np.uint8)
    images = np.broadcast_to(values[:, None, None, None], (n, 1, 28, 28)).copy()
    return ImageSet(name="numbered", images=images, labels=None)


def ids(batch) -> list[int]:
    batch = batch.images if hasattr(batch, "images") else batch
    values = ((batch[:, 0, 0, 0] + 1) * 127.5).round().long()
    return (values // 3).tolist()


def test_batch_shape_dtype_and_device():
    batch = DeviceBatcher(numbered_set(), 8, 28, CPU).next_batch().images
    assert batch.shape == (8, 1, 28, 28)
    assert batch.dtype == torch.float32
    assert batch.device == CPU


def test_values_are_scaled_to_minus_one_one():
    images = np.zeros((2, 1, 28, 28), np.uint8)
    images[1] = 255
    x = to_model_range(torch.from_numpy(images), 28)
    assert x[0].eq(-1).all() and x[1].eq(1).all()
    batch = DeviceBatcher(numbered_set(), 16, 28, CPU).next_batch().images
    assert batch.min() >= -1 and batch.max() <= 1


def test_range_on_real_pattern_data(data_spec):
    from engine.data import load_data
    batch = DeviceBatcher(load_data(data_spec), 32, 28, CPU).next_batch().images
    assert batch.min().item() == -1.0 and batch.max().item() == 1.0


@pytest.mark.parametrize("size", [32, 64, 14])
def test_resize_to_model_size_stays_in_range(data_spec, size):
    from engine.data import load_data
    batch = DeviceBatcher(load_data(data_spec), 8, size, CPU).next_batch().images
    assert batch.shape == (8, 1, size, size)
    assert batch.min() >= -1 and batch.max() <= 1
    assert batch.min() < 0 < batch.max()


@pytest.mark.parametrize("size", [32, 64])
def test_resizing_a_flat_image_keeps_it_flat(size):
    x = to_model_range(torch.full((1, 1, 28, 28), 51, dtype=torch.uint8), size)
    assert x.shape == (1, 1, size, size)
    torch.testing.assert_close(x, torch.full_like(x, 51 * 2 / 255 - 1))


def test_same_seed_same_order_different_seed_different_order():
    a = DeviceBatcher(numbered_set(), 8, 28, CPU, seed=7)
    b = DeviceBatcher(numbered_set(), 8, 28, CPU, seed=7)
    c = DeviceBatcher(numbered_set(), 8, 28, CPU, seed=8)
    seq_a = [ids(a.next_batch()) for _ in range(12)]
    seq_b = [ids(b.next_batch()) for _ in range(12)]
    seq_c = [ids(c.next_batch()) for _ in range(12)]
    assert seq_a == seq_b
    assert seq_a != seq_c


def test_order_is_independent_of_the_global_torch_seed():
    torch.manual_seed(1)
    a = [ids(DeviceBatcher(numbered_set(), 8, 28, CPU, seed=3).next_batch())]
    torch.manual_seed(2)
    b = [ids(DeviceBatcher(numbered_set(), 8, 28, CPU, seed=3).next_batch())]
    assert a == b


def test_order_is_shuffled():
    first = ids(DeviceBatcher(numbered_set(), 64, 28, CPU, seed=0).next_batch())
    assert sorted(first) == list(range(64))
    assert first != list(range(64))


def test_each_epoch_visits_every_image_once_then_rolls_over():
    batcher = DeviceBatcher(numbered_set(64), 8, 28, CPU, seed=0)
    epoch1 = [i for _ in range(8) for i in ids(batcher.next_batch())]
    assert batcher.epoch == 1
    assert sorted(epoch1) == list(range(64))
    epoch2 = [i for _ in range(8) for i in ids(batcher.next_batch())]
    assert batcher.epoch == 2
    assert sorted(epoch2) == list(range(64))
    assert epoch1 != epoch2  # reshuffled
    batcher.next_batch()
    assert batcher.epoch == 3


def test_ragged_tail_is_dropped():
    batcher = DeviceBatcher(numbered_set(20), 8, 28, CPU, seed=0)
    batches = [ids(batcher.next_batch()) for _ in range(3)]
    assert all(len(b) == 8 for b in batches)
    assert len(set(batches[0] + batches[1])) == 16  # one epoch: no repeats
    assert batcher.epoch == 2                       # the third batch started epoch 2


def test_batch_size_is_capped_at_data_size():
    batcher = DeviceBatcher(numbered_set(5), 64, 28, CPU)
    assert batcher.batch_size == 5
    batch = batcher.next_batch().images
    assert batch.shape[0] == 5 and sorted(ids(batch)) == list(range(5))


def test_batcher_does_not_alias_the_data_set():
    data = numbered_set(8)
    batcher = DeviceBatcher(data, 8, 28, CPU)
    batch = batcher.next_batch().images
    batch.add_(5)  # a model changing its batch in place must not change the data
    assert sorted(ids(batcher.next_batch())) == list(range(8))
    assert data.images[3, 0, 0, 0] == 9


def test_labels_travel_with_their_images():
    data = numbered_set(32)
    labelled = ImageSet(name="labelled", images=data.images, labels=np.arange(32) % 7)
    batcher = DeviceBatcher(labelled, 8, 28, CPU, seed=5)
    for _ in range(6):  # across an epoch boundary
        batch = batcher.next_batch()
        assert batch.labels.dtype == torch.int64
        assert batch.labels.tolist() == [i % 7 for i in ids(batch)]


def test_unlabelled_data_gives_no_labels():
    assert DeviceBatcher(numbered_set(), 8, 28, CPU).next_batch().labels is None


def test_sequences_batch_as_n_t_c_h_w_and_resize_every_frame():
    frames = np.zeros((6, 5, 1, 28, 28), np.uint8)
    frames[:, :, :, :14] = 255  # top half white in every frame
    data = ImageSet(name="seq", images=frames, labels=None)
    assert data.frames == 5 and data.channels == 1 and data.size == 28
    batch = DeviceBatcher(data, 4, 56, CPU).next_batch().images
    assert batch.shape == (4, 5, 1, 56, 56)
    assert batch[:, :, :, :20].eq(1).all() and batch[:, :, :, 36:].eq(-1).all()
