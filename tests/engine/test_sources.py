"""engine.data.sources: data specs ("mnist", "idx:PATH") and the ImageSets they name."""
from __future__ import annotations

import numpy as np
import pytest

from engine.data import DATA_SOURCES, ImageSet, load_data
from engine.errors import DataError


def test_idx_spec_loads_train_split(data_spec, h):
    data = load_data(data_spec)
    assert isinstance(data, ImageSet)
    assert data.images.shape == (64, 1, 28, 28)
    assert data.images.dtype == np.uint8
    assert data.labels is not None and data.labels.shape == (64,)
    assert len(data) == 64 and data.channels == 1 and data.size == 28
    assert data.name == data_spec
    np.testing.assert_array_equal(data.images[:, 0], h.pattern_images(64, seed=2))


def test_idx_spec_loads_test_split(data_spec):
    data = load_data(data_spec, split="test")
    assert data.images.shape == (16, 1, 28, 28)
    assert data.labels.shape == (16,)


def test_spec_whitespace_is_ignored(data_spec):
    assert len(load_data(f"  {data_spec}\n")) == 64


def test_uncompressed_idx_folder(tmp_path, h):
    folder = h.write_mnist_folder(tmp_path / "raw", n_train=10, n_test=3, gz=False)
    assert load_data(f"idx:{folder}").images.shape == (10, 1, 28, 28)


def test_gz_is_preferred_when_both_exist(tmp_path, h):
    folder = tmp_path / "both"
    h.write_idx(folder / "train-images-idx3-ubyte.gz", np.full((3, 28, 28), 7, np.uint8))
    h.write_idx(folder / "train-images-idx3-ubyte", np.full((5, 28, 28), 9, np.uint8))
    data = load_data(f"idx:{folder}")
    assert len(data) == 3 and int(data.images.max()) == 7


def test_tilde_in_idx_spec_is_expanded(tmp_path, h, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    h.write_mnist_folder(tmp_path / "fashion", n_train=4, n_test=2)
    assert len(load_data("idx:~/fashion")) == 4


def test_labels_are_optional(tmp_path, h):
    folder = tmp_path / "nolabels"
    h.write_idx(folder / "train-images-idx3-ubyte.gz", h.pattern_images(6))
    data = load_data(f"idx:{folder}")
    assert data.labels is None and len(data) == 6


def test_label_count_mismatch_names_the_labels_file(tmp_path, h):
    folder = tmp_path / "mismatch"
    h.write_idx(folder / "train-images-idx3-ubyte.gz", h.pattern_images(6))
    labels = h.write_idx(folder / "train-labels-idx1-ubyte.gz", np.zeros(5, np.uint8))
    with pytest.raises(DataError, match="5 labels for 6 images") as info:
        load_data(f"idx:{folder}")
    assert str(labels) in str(info.value)


def test_corrupt_labels_file_is_an_error_not_silently_ignored(tmp_path, h):
    folder = tmp_path / "badlabels"
    h.write_idx(folder / "train-images-idx3-ubyte.gz", h.pattern_images(6))
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(b"junk")
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz"):
        load_data(f"idx:{folder}")


def test_images_must_be_three_dimensional(tmp_path, h):
    folder = tmp_path / "flat"
    h.write_idx(folder / "train-images-idx3-ubyte.gz", np.zeros((6, 784), np.uint8))
    with pytest.raises(DataError, match="expected \\(N, H, W\\)"):
        load_data(f"idx:{folder}")


@pytest.mark.parametrize("spec", ["cifar10", "", "MNIST-ish", "idx", "mnist:extra"])
def test_unknown_spec_lists_the_known_ones(spec):
    with pytest.raises(DataError, match="unknown data spec") as info:
        load_data(spec)
    assert "mnist" in str(info.value) and "idx:PATH" in str(info.value)


def test_missing_folder_names_it(tmp_path):
    missing = tmp_path / "no-such-folder"
    with pytest.raises(DataError, match="not a folder") as info:
        load_data(f"idx:{missing}")
    assert str(missing) in str(info.value)


def test_idx_spec_pointing_at_a_file(tmp_path):
    f = tmp_path / "file.gz"
    f.write_bytes(b"x")
    with pytest.raises(DataError, match="not a folder"):
        load_data(f"idx:{f}")


def test_folder_without_images_says_which_file_is_missing(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\[\.gz\]"):
        load_data(f"idx:{tmp_path / 'empty'}")
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte\[\.gz\]"):
        load_data(f"idx:{tmp_path / 'empty'}", split="test")


def test_unknown_split(data_spec):
    with pytest.raises(DataError, match="unknown split"):
        load_data(data_spec, split="validation")


def test_data_sources_lists_user_specs():
    assert set(DATA_SOURCES) >= {"mnist", "idx:PATH"}
    assert all(isinstance(v, str) and v for v in DATA_SOURCES.values())


def test_bundled_mnist():
    """The one test that loads the real bundled MNIST (about a second)."""
    train = load_data("mnist")
    assert train.images.shape == (60000, 1, 28, 28)
    assert train.images.dtype == np.uint8
    assert train.labels.shape == (60000,)
    assert set(np.unique(train.labels)) == set(range(10))
    assert train.name == "mnist"
    assert 0 < train.images.mean() < 255
    test = load_data("mnist", split="test")
    assert test.images.shape == (10000, 1, 28, 28)
    assert test.labels.shape == (10000,)


def test_resource_path_points_into_the_package(monkeypatch, tmp_path):
    import resources
    from resources import resource_path
    assert resource_path("data", "mnist").is_dir()
    assert (resource_path("data", "mnist") / "train-images-idx3-ubyte.gz").is_file()
    monkeypatch.setattr(resources.sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resource_path("data", "mnist") == tmp_path / "resources" / "data" / "mnist"
