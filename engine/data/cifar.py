"""`cifar10:PATH`: CIFAR-10 as downloaded, binary or python version.

PATH is the extracted folder (`cifar-10-batches-bin` or `cifar-10-batches-py`)
or a folder holding one of them. The binary version is fixed-size records
(one label byte, then 3,072 pixel bytes). The python version is pickled, so it
is read with an allow-list unpickler: only the handful of numpy constructors a
pickled uint8 array needs may be called, each checked, and the result must be
a dict of the expected arrays. Anything else in the file is refused without
running it.
"""
from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from engine.data.registry import DataRequest, register_source
from engine.data.report import LoadReport
from engine.data.sources import ImageSet
from engine.errors import DataError

CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck")
RECORD = 1 + 3 * 32 * 32
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCHES = ("test_batch",)
# A CIFAR python batch is 30 MB; a file much larger is not one.
MAX_PICKLE_BYTES = 256 * 2**20


def load_cifar10(request: DataRequest) -> ImageSet:
    root = request.path
    if root is None or not root.exists():
        raise DataError(f"{root}: not found")
    if not root.is_dir():
        raise DataError(f"{root}: expected the extracted CIFAR-10 folder "
                        "(cifar-10-batches-bin or cifar-10-batches-py), not a file")
    names = TRAIN_BATCHES if request.split == "train" else TEST_BATCHES
    folder, binary = _locate(root)
    images, labels = [], []
    for name in names:
        path = folder / (f"{name}.bin" if binary else name)
        if not path.is_file():
            raise DataError(f"{folder}: {path.name} is missing")
        x, y = read_binary_batch(path) if binary else read_python_batch(path)
        images.append(x)
        labels.append(y)
    images_all = np.concatenate(images)
    report = LoadReport(source=request.spec, found=len(images_all),
                        original_sizes=((32, 32, len(images_all)),))
    return ImageSet(name=request.spec, images=images_all, labels=np.concatenate(labels),
                    class_names=CLASS_NAMES, report=report)


def _locate(root: Path) -> tuple[Path, bool]:
    """The folder holding the batches, and whether it is the binary version."""
    for folder in (root, root / "cifar-10-batches-bin", root / "cifar-10-batches-py"):
        if (folder / "data_batch_1.bin").is_file() or (folder / "test_batch.bin").is_file():
            return folder, True
        if (folder / "data_batch_1").is_file() or (folder / "test_batch").is_file():
            return folder, False
    raise DataError(f"{root}: no CIFAR-10 batches found (expected data_batch_1.bin ... or "
                    "data_batch_1 ... from cifar-10-binary or cifar-10-python)")


def read_binary_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One binary batch -> images (N, 3, 32, 32) uint8 and labels (N,) int64."""
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if raw.size == 0 or raw.size % RECORD:
        raise DataError(f"{path}: {raw.size:,} bytes is not a whole number of CIFAR-10 "
                        f"records ({RECORD:,} bytes each); wrong or truncated file")
    records = raw.reshape(-1, RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.max() >= len(CLASS_NAMES):
        raise DataError(f"{path}: label {labels.max()} is out of range 0-9; not a CIFAR-10 file")
    return records[:, 1:].reshape(-1, 3, 32, 32).copy(), labels


def read_python_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One python-version batch, through the allow-list unpickler."""
    try:
        size = path.stat().st_size
        if size > MAX_PICKLE_BYTES:
            raise DataError(f"{path}: {size / 2**20:,.0f} MB is far too big for a CIFAR-10 batch")
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    batch = safe_unpickle(raw, path)
    if not isinstance(batch, dict):
        raise DataError(f"{path}: expected a dict of arrays, found {type(batch).__name__}")
    batch = {(k.decode("latin-1") if isinstance(k, bytes) else k): v for k, v in batch.items()}
    data, labels = batch.get("data"), batch.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != 3072:
        raise DataError(f"{path}: 'data' must be a uint8 array of shape (N, 3072)")
    if not isinstance(labels, (list, np.ndarray)) or len(labels) != len(data):
        raise DataError(f"{path}: 'labels' must be a list of {len(data)} class numbers")
    try:
        label_array = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise DataError(f"{path}: 'labels' must be whole numbers") from None
    if label_array.ndim != 1 or (label_array.size and
                                 (label_array.min() < 0 or label_array.max() > 9)):
        raise DataError(f"{path}: labels must be class numbers 0-9")
    return data.reshape(-1, 3, 32, 32).copy(), label_array


# -- the allow-list unpickler -----------------------------------------------------------
class _Refused(pickle.UnpicklingError):
    """The pickle asks for something outside the allow-list."""


_SAFE_DTYPES = frozenset({"u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8", "f4", "f8", "b1"})


def _checked_dtype(spec: Any, *args: Any) -> np.dtype:
    # numpy pickles a dtype as dtype("u1", False, True); object dtypes (which
    # would unpickle arbitrary items) and structured ones are refused.
    if not isinstance(spec, str) or spec.lstrip("<>|=") not in _SAFE_DTYPES:
        raise _Refused(f"dtype {spec!r} is not allowed")
    return np.dtype(spec)


def _checked_reconstruct(cls: Any, shape: Any, dtype_code: Any) -> np.ndarray:
    if cls is not np.ndarray:
        raise _Refused("only plain numpy arrays are allowed")
    return np.ndarray.__new__(np.ndarray, (0,), np.uint8)


def _checked_frombuffer(buffer: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    if not isinstance(buffer, (bytes, bytearray)) or not isinstance(dtype, np.dtype) \
            or dtype.hasobject:
        raise _Refused("only byte buffers of plain dtypes are allowed")
    array = np.frombuffer(buffer, dtype=dtype)
    return array.reshape(shape, order=order).copy()


def _latin1_encode(text: Any, encoding: str = "latin1") -> bytes:
    # Python 3 pickles bytes at protocol 2 as _codecs.encode(str, "latin1").
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise _Refused("only latin-1 byte strings are allowed")
    return text.encode("latin-1")


_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _checked_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _checked_reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _checked_dtype,
    ("numpy.core.numeric", "_frombuffer"): _checked_frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _checked_frombuffer,
    ("_codecs", "encode"): _latin1_encode,
}


class _AllowListUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        allowed = _ALLOWED.get((module, name))
        if allowed is None:
            raise _Refused(f"{module}.{name} is not allowed")
        return allowed

    def persistent_load(self, pid: Any) -> Any:
        raise _Refused("persistent references are not allowed")


def safe_unpickle(raw: bytes, path: Path) -> Any:
    """Unpickle `raw` allowing only plain numpy arrays, lists, dicts, numbers and
    strings; DataError naming the file and what it tried otherwise."""
    try:
        return _AllowListUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except _Refused as exc:
        raise DataError(f"{path}: refused: the file contains something other than the expected "
                        f"arrays ({exc})") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
            KeyError, MemoryError, OverflowError) as exc:
        raise DataError(f"{path}: not a readable CIFAR-10 python batch "
                        f"({type(exc).__name__}: {str(exc)[:200]})") from None


register_source("cifar10", load_cifar10, "CIFAR-10 as downloaded (binary or python version "
                "folder), 50,000 32 x 32 colour images in 10 classes")
