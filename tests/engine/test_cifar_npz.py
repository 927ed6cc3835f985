"""cifar10:PATH (binary and python versions) and npz:PATH, with their bad cases."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from engine.data import load_data
from engine.data.cifar import CLASS_NAMES, TRAIN_BATCHES
from engine.errors import DataError

N = 6   # records per batch: tiny, the format is the same


def batch_arrays(seed: int) -> tuple[np.ndarray, list[int]]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (N, 3072), dtype=np.uint8), [int(v) for v in rng.integers(0, 10, N)]


def write_binary(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for seed, name in enumerate(TRAIN_BATCHES + ("test_batch",)):
        data, labels = batch_arrays(seed)
        records = np.concatenate([np.asarray(labels, np.uint8)[:, None], data], axis=1)
        (folder / f"{name}.bin").write_bytes(records.tobytes())
    return folder


def write_python(folder: Path, protocol: int = 2) -> Path:
    folder.mkdir(parents=True)
    for seed, name in enumerate(TRAIN_BATCHES + ("test_batch",)):
        data, labels = batch_arrays(seed)
        batch = {b"batch_label": b"training batch", b"labels": labels, b"data": data,
                 b"filenames": [b"x.png"] * N}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=protocol))
    return folder


@pytest.mark.parametrize("writer", [write_binary, write_python])
def test_cifar_versions_give_the_same_images(tmp_path, writer):
    folder = writer(tmp_path / "cifar-10-batches-x")
    train = load_data(f"cifar10:{folder}")
    test = load_data(f"cifar10:{folder}", split="test")
    assert train.images.shape == (5 * N, 3, 32, 32) and test.images.shape == (N, 3, 32, 32)
    data, labels = batch_arrays(0)
    np.testing.assert_array_equal(train.images[:N].reshape(N, -1), data)
    assert train.labels[:N].tolist() == labels
    assert train.class_names == CLASS_NAMES and train.num_classes == 10


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_python_version_at_any_pickle_protocol(tmp_path, protocol):
    folder = write_python(tmp_path / "p", protocol)
    assert len(load_data(f"cifar10:{folder}")) == 5 * N


def test_the_parent_of_the_extracted_folder_works_too(tmp_path):
    write_binary(tmp_path / "downloads" / "cifar-10-batches-bin")
    assert len(load_data(f"cifar10:{tmp_path / 'downloads'}")) == 5 * N


class _Hostile:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_hostile_pickle_runs_no_code(tmp_path):
    folder = write_python(tmp_path / "evil")
    marker = tmp_path / "pwned"
    evil = {b"data": _Hostile(marker), b"labels": [0] * N}
    (folder / "data_batch_3").write_bytes(pickle.dumps(evil, protocol=2))
    with pytest.raises(DataError, match="data_batch_3: refused: .*system is not allowed"):
        load_data(f"cifar10:{folder}")
    assert not marker.exists()


@pytest.mark.parametrize("payload, message", [
    ([1, 2, 3], "expected a dict of arrays"),
    ({b"data": np.zeros((N, 3072), np.float32), b"labels": [0] * N}, "uint8 array"),
    ({b"data": np.zeros((N, 3072), np.uint8), b"labels": [0] * (N - 1)}, "list of 6 class"),
    ({b"data": np.zeros((N, 3072), np.uint8), b"labels": [11] * N}, "class numbers 0-9"),
    ({b"data": np.array([object()] * 3), b"labels": []}, "refused"),
])
def test_unexpected_pickle_contents_are_refused(tmp_path, payload, message):
    folder = write_python(tmp_path / "odd")
    (folder / "data_batch_1").write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(DataError, match=message):
        load_data(f"cifar10:{folder}")


def test_truncated_pickle(tmp_path):
    folder = write_python(tmp_path / "cut")
    raw = (folder / "data_batch_2").read_bytes()
    (folder / "data_batch_2").write_bytes(raw[:len(raw) // 2])
    with pytest.raises(DataError, match="data_batch_2: not a readable CIFAR-10 python batch"):
        load_data(f"cifar10:{folder}")


def test_binary_file_of_the_wrong_size(tmp_path):
    folder = write_binary(tmp_path / "bin")
    path = folder / "data_batch_4.bin"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="data_batch_4.bin: .* not a whole number of CIFAR-10 records"):
        load_data(f"cifar10:{folder}")


def test_missing_batch_and_missing_folder(tmp_path):
    folder = write_binary(tmp_path / "partial")
    (folder / "data_batch_5.bin").unlink()
    with pytest.raises(DataError, match="data_batch_5.bin is missing"):
        load_data(f"cifar10:{folder}")
    with pytest.raises(DataError, match="no CIFAR-10 batches found"):
        load_data(f"cifar10:{tmp_path}")
    with pytest.raises(DataError, match="not found"):
        load_data(f"cifar10:{tmp_path / 'nope'}")


# -- npz --------------------------------------------------------------------------------
def test_medmnist_layout(tmp_path):
    path = tmp_path / "pathmnist.npz"
    rng = np.random.default_rng(0)
    np.savez(path, train_images=rng.integers(0, 256, (10, 28, 28, 3), dtype=np.uint8),
             train_labels=rng.integers(0, 9, (10, 1)), val_images=np.zeros((2, 28, 28, 3), np.uint8),
             test_images=np.zeros((4, 28, 28, 3), np.uint8), test_labels=np.zeros((4, 1), int))
    train = load_data(f"npz:{path}")
    assert train.images.shape == (10, 3, 28, 28) and train.labels.shape == (10,)
    assert load_data(f"npz:{path}", split="test").images.shape == (4, 3, 28, 28)


def test_greyscale_floats_and_named_arrays(tmp_path):
    path = tmp_path / "mine.npz"
    np.savez(path, pics=np.full((3, 8, 8), 0.5, np.float32))
    data = load_data(f"npz:{path}?images=pics")
    assert data.images.shape == (3, 1, 8, 8) and int(data.images[0, 0, 0, 0]) == 128
    assert data.labels is None


def test_keras_layout_channels_first_and_rgba(tmp_path):
    path = tmp_path / "k.npz"
    np.savez(path, x_train=np.zeros((4, 4, 16, 16), np.uint8), y_train=np.arange(4))
    data = load_data(f"npz:{path}")
    assert data.images.shape == (4, 3, 16, 16) and data.labels.tolist() == [0, 1, 2, 3]


def test_npz_needing_pickle_is_refused(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, images=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(DataError, match="need pickle to load; refused"):
        load_data(f"npz:{path}")


@pytest.mark.parametrize("arrays, message", [
    ({"other": np.zeros(3), "more": np.zeros(3)}, "no train images found"),
    ({"images": np.zeros((2, 3, 5, 7, 9), np.uint8)}, "expected \\(N, H, W\\)"),
    ({"images": np.zeros((2, 8, 8), np.int32) + 300}, "must be 0-255"),
    ({"images": np.zeros((2, 8, 8), np.uint8), "labels": np.zeros(3, int)}, "3 labels"),
    ({"images": np.zeros((0, 8, 8), np.uint8)}, "holds no images"),
])
def test_npz_bad_contents(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=message):
        load_data(f"npz:{path}")


def test_not_an_npz(tmp_path):
    path = tmp_path / "text.npz"
    path.write_text("hello")
    with pytest.raises(DataError, match="text.npz: not a readable .npz"):
        load_data(f"npz:{path}")
    with pytest.raises(DataError, match="no such file"):
        load_data(f"npz:{tmp_path / 'none.npz'}")
