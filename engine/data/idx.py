"""Reader for the IDX files MNIST and its look-alikes ship in (optionally gzipped)."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from engine.errors import DataError

# Magic number's third byte -> element type. MNIST-like files only use uint8.
_UNSIGNED_BYTE = 0x08


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (e.g. train-images-idx3-ubyte[.gz]) as a uint8 array.

    Raises DataError naming the file when it is missing, truncated or not IDX.
    """
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path}: not an IDX file (bad magic number)")
    if raw[2] != _UNSIGNED_BYTE:
        raise DataError(f"{path}: IDX element type {raw[2]:#x} is not supported (expected unsigned bytes)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise DataError(f"{path}: expected {expected} bytes of data for shape {shape}, "
                        f"found {len(raw) - header} (file truncated or corrupt)")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)
