"""Checking a safetensors file before anything in it is loaded.

A safetensors file is an 8-byte little-endian header length, a JSON header
(each tensor's dtype, shape and byte range, plus a string-to-string
`__metadata__`), then the tensor bytes. Reading the header ourselves lets a
damaged or hostile file be refused with a clear message before a single tensor
is allocated: a header length beyond the cap or the file, bytes that are not
JSON, a tensor whose byte range does not match its dtype and shape or runs
past the end of the file. Pickle files (`.pt`, `.ckpt`, `torch.save` zips) are
recognised and refused without being opened as pickles: unpickling can run
any code the file's author chose.
"""
from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.storage import safe_json
from engine.errors import AtelierError

MAX_HEADER_BYTES = 100 * 1024 * 1024
PICKLE_SUFFIXES = (".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".bin", ".tar")
# Bytes per element of each dtype safetensors can hold.
DTYPE_SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2,
               "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}
TORCH_DTYPES = {"torch.bool": "BOOL", "torch.uint8": "U8", "torch.int8": "I8", "torch.int16": "I16",
                "torch.float16": "F16", "torch.bfloat16": "BF16", "torch.int32": "I32",
                "torch.float32": "F32", "torch.int64": "I64", "torch.float64": "F64"}


class UnsafeFileError(AtelierError):
    """A file that could only be read by unpickling it (and so running its code)."""


class BadTensorFileError(AtelierError):
    """A safetensors file that is truncated, corrupted or inconsistent."""


@dataclass(frozen=True)
class TensorEntry:
    dtype: str
    shape: tuple[int, ...]
    start: int   # byte range within the data section
    end: int


@dataclass(frozen=True)
class TensorFileHeader:
    tensors: dict[str, TensorEntry]
    metadata: dict[str, str]
    file_size: int


def refuse_pickle(path: Path, head: bytes, size: int) -> None:
    """Raise UnsafeFileError if `path` is a pickle or a torch.save archive.

    Decided from the first bytes and the name only; nothing is unpickled. A file
    framed like safetensors (a header length that fits the file, then "{") is
    never taken for a pickle, whatever its name or its first byte.
    """
    if len(head) >= 9 and head[8:9] == b"{" and 8 + struct.unpack("<Q", head[:8])[0] <= size:
        return
    is_pickle = len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5   # PROTO opcode
    is_zip = head.startswith(b"PK\x03\x04")      # torch.save's default format since 1.6
    if is_pickle or is_zip or path.suffix.lower() in PICKLE_SUFFIXES:
        raise UnsafeFileError(
            f"{path}: pickle files ({', '.join(PICKLE_SUFFIXES[:3])} and other torch.save "
            "files) are not supported because they can run code; use a .safetensors file "
            "(a Latent Atelier model bundle or run folder)")


def read_header(path: str | Path, max_header_bytes: int = MAX_HEADER_BYTES) -> TensorFileHeader:
    """Validate a safetensors file's framing and header without loading tensors."""
    path = Path(path)
    try:
        # Without blocking: a FIFO named like a model file is refused, not waited on.
        with safe_json.open_regular(path) as (f, info):
            size = info.st_size
            head = f.read(9)
            refuse_pickle(path, head, size)
            head = head[:8]
            f.seek(8)
            if len(head) < 8:
                raise BadTensorFileError(f"{path}: truncated ({size} bytes; not a safetensors file)")
            (length,) = struct.unpack("<Q", head)
            if length > max_header_bytes:
                raise BadTensorFileError(f"{path}: header claims {length:,} bytes, more than the "
                                         f"{max_header_bytes:,} allowed; the file is damaged or hostile")
            if 8 + length > size:
                raise BadTensorFileError(f"{path}: truncated (header needs {length:,} bytes, "
                                         f"the file has {size - 8:,} after its length)")
            raw = f.read(length)
    except IsADirectoryError:
        raise BadTensorFileError(f"{path}: is a folder, not a file") from None
    except safe_json.NotARegularFileError:
        raise BadTensorFileError(f"{path}: not a regular file (a FIFO, device or socket)") from None
    except FileNotFoundError:
        raise BadTensorFileError(f"{path}: missing") from None
    except OSError as exc:
        raise BadTensorFileError(f"{path}: unreadable ({exc.strerror or exc})") from None
    try:
        header = safe_json.loads(raw.decode("utf-8"))
    except safe_json.JsonTooDeepError as exc:
        raise BadTensorFileError(f"{path}: corrupted header ({exc})") from None
    except (UnicodeDecodeError, ValueError):
        raise BadTensorFileError(f"{path}: corrupted header (not valid JSON)") from None
    if not isinstance(header, dict):
        raise BadTensorFileError(f"{path}: corrupted header (not a JSON object)")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in metadata.items()):
        raise BadTensorFileError(f"{path}: corrupted header (metadata must map text to text)")
    data_size = size - 8 - length
    tensors = {name: _entry(path, name, info, data_size) for name, info in header.items()}
    _check_no_overlap(path, tensors, data_size)
    return TensorFileHeader(tensors=tensors, metadata=metadata, file_size=size)


def _entry(path: Path, name: str, info: Any, data_size: int) -> TensorEntry:
    def bad(why: str) -> BadTensorFileError:
        return BadTensorFileError(f"{path}: tensor {name!r} {why}")

    if not isinstance(info, dict):
        raise bad("has no description")
    dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if dtype not in DTYPE_SIZES:
        raise bad(f"has an unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(_is_count(d) for d in shape):
        raise bad(f"has a bad shape {shape!r}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_count(o) for o in offsets)
            and offsets[0] <= offsets[1]):
        raise bad(f"has bad byte offsets {offsets!r}")
    start, end = offsets
    expected = math.prod(shape) * DTYPE_SIZES[dtype]
    if end - start != expected:
        raise bad(f"says shape {shape} of {dtype} ({expected:,} bytes) but spans {end - start:,} bytes")
    if end > data_size:
        raise BadTensorFileError(f"{path}: truncated (tensor {name!r} ends at byte {end:,} of the "
                                 f"data, which has only {data_size:,})")
    return TensorEntry(dtype, tuple(shape), start, end)


def _check_no_overlap(path: Path, tensors: dict[str, TensorEntry], data_size: int) -> None:
    position = 0
    for name, entry in sorted(tensors.items(), key=lambda item: (item[1].start, item[1].end)):
        if entry.start < position:
            raise BadTensorFileError(f"{path}: tensor {name!r} overlaps another one")
        position = entry.end
    if position != data_size:
        raise BadTensorFileError(f"{path}: {data_size - position:,} bytes after the last tensor; "
                                 "the file is damaged")


def _is_count(value: Any) -> bool:
    return safe_json.is_whole_number(value) and 0 <= value < 2**62


def mismatch(found: dict[str, TensorEntry], expected: dict[str, tuple[str, tuple[int, ...]]],
             model: str = "the model") -> str | None:
    """What differs between a file's tensors and the (dtype, shape) a model
    expects for each name; None when they agree."""
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    if missing or extra:
        parts = ([f"missing {_few(missing)}"] if missing else []) + \
                ([f"unexpected {_few(extra)}"] if extra else [])
        return f"tensors do not match {model} ({'; '.join(parts)})"
    for key, (dtype, shape) in expected.items():
        entry = found[key]
        if entry.shape != tuple(shape) or entry.dtype != dtype:
            return (f"tensor {key!r} is {entry.dtype} {list(entry.shape)}, but {model} "
                    f"needs {dtype} {list(shape)}")
    return None


def expected_entries(state: dict[str, Any], prefix: str = "") -> dict[str, tuple[str, tuple[int, ...]]]:
    """name -> (safetensors dtype, shape) of a state_dict's tensors (real or meta)."""
    return {f"{prefix}{key}": (TORCH_DTYPES.get(str(value.dtype), str(value.dtype)), tuple(value.shape))
            for key, value in state.items()}


def _few(names: list[str]) -> str:
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
