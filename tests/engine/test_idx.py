"""engine.data.idx: reading (gzipped) IDX files, with errors that name the file."""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from engine.data.idx import read_idx
from engine.errors import DataError


@pytest.mark.parametrize("name", ["images-idx3-ubyte.gz", "images-idx3-ubyte"])
def test_reads_gzipped_and_raw_image_files(tmp_path, h, name):
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    path = h.write_idx(tmp_path / name, images)
    got = read_idx(path)
    assert got.dtype == np.uint8
    assert got.shape == (5, 28, 28)
    np.testing.assert_array_equal(got, images)


def test_reads_one_dimensional_label_file(tmp_path, h):
    labels = np.arange(10, dtype=np.uint8)
    got = read_idx(h.write_idx(tmp_path / "labels-idx1-ubyte.gz", labels))
    assert got.shape == (10,)
    np.testing.assert_array_equal(got, labels)


def test_non_square_shape_is_kept(tmp_path, h):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(read_idx(h.write_idx(tmp_path / "x-idx3-ubyte", images)), images)


def test_accepts_str_path(tmp_path, h):
    path = h.write_idx(tmp_path / "l.gz", np.zeros(3, np.uint8))
    assert read_idx(str(path)).shape == (3,)


def test_bad_magic_names_the_file(tmp_path, h):
    data = bytearray(h.idx_bytes(np.zeros((2, 4, 4), np.uint8)))
    data[0] = 0x1F  # e.g. a gzip stream saved without the .gz suffix starts 1f 8b
    path = tmp_path / "weird-idx3-ubyte"
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="bad magic") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_gzip_file_without_gz_suffix_is_bad_magic(tmp_path, h):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(gzip.compress(h.idx_bytes(np.zeros((2, 4, 4), np.uint8))))
    with pytest.raises(DataError, match="bad magic"):
        read_idx(path)


@pytest.mark.parametrize("content", [b"", b"\x00", b"\x00\x00\x08"])
def test_file_shorter_than_magic_is_rejected(tmp_path, content):
    path = tmp_path / "tiny-idx1-ubyte"
    path.write_bytes(content)
    with pytest.raises(DataError, match="tiny-idx1-ubyte"):
        read_idx(path)


@pytest.mark.parametrize("gz", [True, False])
def test_truncated_data_names_the_file_and_the_sizes(tmp_path, h, gz):
    data = h.idx_bytes(np.zeros((10, 28, 28), np.uint8))[:-100]
    path = tmp_path / ("cut-idx3-ubyte" + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(DataError) as info:
        read_idx(path)
    message = str(info.value)
    assert str(path) in message
    assert "7840" in message and "7740" in message  # expected vs found bytes
    assert "truncated" in message


def test_trailing_garbage_is_rejected(tmp_path, h):
    path = tmp_path / "long-idx1-ubyte"
    path.write_bytes(h.idx_bytes(np.zeros(4, np.uint8)) + b"extra")
    with pytest.raises(DataError, match="long-idx1-ubyte"):
        read_idx(path)


def test_truncated_header_is_rejected(tmp_path):
    path = tmp_path / "head-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">I", 10))  # 1 of 3 dimensions
    with pytest.raises(DataError, match="truncated IDX header") as info:
        read_idx(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("dtype_byte", [0x09, 0x0B, 0x0C, 0x0D, 0x0E])
def test_element_types_other_than_unsigned_byte_are_rejected(tmp_path, h, dtype_byte):
    path = h.write_idx(tmp_path / "float-idx3-ubyte.gz", np.zeros((1, 2, 2), np.uint8), dtype_byte)
    with pytest.raises(DataError, match="element type") as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert f"{dtype_byte:#x}" in str(info.value)


def test_missing_file_names_the_file(tmp_path):
    path = tmp_path / "nowhere-idx3-ubyte.gz"
    with pytest.raises(DataError, match="not found") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_corrupt_gzip_names_the_file(tmp_path):
    path = tmp_path / "broken-idx3-ubyte.gz"
    path.write_bytes(b"this is not gzip at all")
    with pytest.raises(DataError, match="cannot read") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_cut_gzip_stream_names_the_file(tmp_path, h):
    whole = gzip.compress(h.idx_bytes(np.random.default_rng(0).integers(0, 255, (4, 28, 28),
                                                                      dtype=np.uint8)))
    path = tmp_path / "halfway-idx3-ubyte.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_bundled_mnist_labels_have_the_mnist_header():
    from resources import resource_path
    labels = read_idx(resource_path("data", "mnist", "t10k-labels-idx1-ubyte.gz"))
    assert labels.shape == (10000,)
    assert labels.max() == 9 and labels.min() == 0
