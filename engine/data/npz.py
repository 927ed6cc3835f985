"""`npz:PATH`: images (and labels) in a numpy .npz file, such as MedMNIST's.

Array names recognised, per split: `train_images`/`train_labels` (MedMNIST;
`val_*` is not used), `x_train`/`y_train` (Keras style), or `images`/`labels`
for a file that is one set; `?images=NAME&labels=NAME` picks others. Images are
(N, H, W), (N, H, W, C) or (N, C, H, W) with C of 1, 3 or 4 (alpha dropped),
uint8, or floats in 0-1 or 0-255. The file is read with allow_pickle=False: an
.npz that needs pickle is refused, never unpickled.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from engine.data.registry import DataRequest, register_source
from engine.data.report import LoadReport
from engine.data.sources import ImageSet
from engine.errors import DataError


def _candidates(split: str) -> list[tuple[str, str]]:
    return [(f"{split}_images", f"{split}_labels"), (f"x_{split}", f"y_{split}"),
            ("images", "labels")]


def load_npz(request: DataRequest) -> ImageSet:
    path = request.path
    if path is None or not path.is_file():
        raise DataError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path}: not a readable .npz file (not a zip archive of arrays)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = set(archive.files)
            image_key, label_key = _choose_keys(path, names, request)
            images = archive[image_key]
            labels = archive[label_key] if label_key in names else None
    except DataError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise DataError(f"{path}: holds Python objects that need pickle to load; refused "
                            "(save plain numeric arrays instead)") from None
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None
    except (OSError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None
    pictures = _to_nchw_uint8(images, path, image_key)
    label_array = _labels(labels, len(pictures), path, label_key) if labels is not None else None
    size = (pictures.shape[-1], pictures.shape[-2], len(pictures))
    report = LoadReport(source=request.spec, found=len(pictures), original_sizes=(size,))
    return ImageSet(name=request.spec, images=pictures, labels=label_array, report=report)


def _choose_keys(path: Path, names: set[str], request: DataRequest) -> tuple[str, str]:
    if "images" in request.options:
        key = request.options["images"]
        if key not in names:
            raise DataError(f"{path}: no array named {key!r} (it has {', '.join(sorted(names))})")
        return key, request.options.get("labels", "")
    for image_key, label_key in _candidates(request.split):
        if image_key in names:
            return image_key, request.options.get("labels", label_key)
    if len(names) == 1 and request.split == "train":
        return next(iter(names)), ""
    expected = " or ".join(c[0] for c in _candidates(request.split))
    raise DataError(f"{path}: no {request.split} images found (looked for {expected}; the file "
                    f"has {', '.join(sorted(names)) or 'no arrays'}); name one with ?images=NAME")


def _to_nchw_uint8(images: np.ndarray, path: Path, key: str) -> np.ndarray:
    where = f"{path}: {key!r}"
    if images.ndim == 3:
        images = images[:, None]
    elif images.ndim == 4:
        if images.shape[-1] in (1, 3, 4) and images.shape[1] not in (1, 3, 4):
            images = images.transpose(0, 3, 1, 2)   # channels last -> first
        elif images.shape[1] not in (1, 3, 4):
            raise DataError(f"{where} has shape {images.shape}; expected 1, 3 or 4 channels")
        if images.shape[1] == 4:
            images = images[:, :3]                  # RGBA: alpha is not a colour
    else:
        raise DataError(f"{where} has shape {images.shape}; expected (N, H, W), (N, H, W, C) "
                        "or (N, C, H, W)")
    if images.shape[0] == 0:
        raise DataError(f"{where} holds no images")
    if images.dtype == np.uint8:
        return np.ascontiguousarray(images)
    if images.dtype.kind == "f":
        top = float(np.nanmax(images))
        scale = 255.0 if top <= 1.0 else 1.0
        return np.clip(np.nan_to_num(images) * scale, 0, 255).round().astype(np.uint8)
    if images.dtype.kind in "iub":
        if images.min() < 0 or images.max() > 255:
            raise DataError(f"{where}: integer pixels must be 0-255, found "
                            f"{images.min()}..{images.max()}")
        return images.astype(np.uint8)
    raise DataError(f"{where}: pixels of type {images.dtype} are not supported")


def _labels(labels: np.ndarray, count: int, path: Path, key: str) -> np.ndarray:
    flat = labels.reshape(len(labels), -1) if labels.ndim > 1 else labels
    if flat.ndim == 2:
        if flat.shape[1] != 1:   # multi-label (e.g. ChestMNIST): not one class per image
            raise DataError(f"{path}: {key!r} has {flat.shape[1]} labels per image; only one "
                            "class per image is supported (leave labels out with ?labels=)")
        flat = flat[:, 0]
    if len(flat) != count:
        raise DataError(f"{path}: {len(flat)} labels in {key!r} for {count} images")
    if flat.dtype.kind not in "iub" or (flat.size and flat.min() < 0):
        raise DataError(f"{path}: {key!r} must hold class numbers 0 or more")
    return flat.astype(np.int64)


register_source("npz", load_npz, "a NumPy .npz file of images (and labels), e.g. MedMNIST",
                options=("images", "labels"))
