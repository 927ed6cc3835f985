"""VAE reconstructions of the user's own pictures: load any image file (or pixels
the GUI already holds), fit it to the model's size and channels, encode it to its
posterior mean, decode it, and score it with the negative ELBO in nats.

The gallery's reconstruction view, `sample RUN --reconstruct img.png` and the
reconstruction morph (engine.studio.morph) all use these functions.
"""
from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.data.decode import DecodeOptions, UnusableImage, decode_image
from engine.runtime.device import resolve_device
from engine.errors import ConfigError, DataError, RunDirError
from engine.media.images import to_uint8
from engine.models.base import RECONSTRUCT, GenerativeModel

# Centre-cropped to a square, as the data loader does by default, so a picture
# meets the model the way its training images did (no borders it never saw).
FIT = "crop"
MAX_INPUT_PIXELS = 40_000_000          # refused from the header, before decoding
MAX_INPUT_BYTES = 64 * 2**20
MAX_IMAGES = 256
ELBO_SEED = 0                          # the -ELBO's one posterior sample, fixed: same picture, same score


def can_reconstruct(model: GenerativeModel) -> bool:
    """True for models with an encoder and a likelihood bound (the VAE family)."""
    return RECONSTRUCT in model.capabilities


def family_can_reconstruct(name: str) -> bool:
    """The same question from a model's name, without loading weights."""
    from engine.models import find_model

    spec = find_model(name)
    return spec is not None and RECONSTRUCT in spec.capabilities


def source_model(source: str | Path) -> tuple[str, dict[str, Any]]:
    """(model name, model config values) of a run folder or bundle, read without weights."""
    path = Path(source).expanduser()
    if path.is_file():
        from engine.runs.bundles import inspect_bundle
        info = inspect_bundle(path)
        return info.model, dict(info.model_config)
    from engine.runs.folders import RunDir
    config = RunDir(path).read_config()
    return config["model"], dict(config.get("model_config", {}))


def reconstruction_unavailable(source: str | Path) -> str | None:
    """Why this run cannot reconstruct pictures (a sentence), or None when it can."""
    try:
        name, _ = source_model(source)
    except (RunDirError, DataError, ConfigError) as exc:
        return str(exc)
    if not family_can_reconstruct(name):
        return f"Reconstruction needs a VAE (mlp-vae, conv-vae, cvae, conv-cvae); this run is {name}."
    return None


# -- pictures in -------------------------------------------------------------------
def load_picture(path: str | Path, image_size: int, channels: int) -> np.ndarray:
    """One image file as uint8 (C, S, S) at the model's size and channels.

    Any format the data loader reads (EXIF rotation, transparency, CMYK, 16-bit,
    palette); huge, corrupt, empty or non-image files raise a one-line DataError
    naming the file.
    """
    options = DecodeOptions(size=image_size, channels=channels, fit=FIT,
                            max_pixels=MAX_INPUT_PIXELS, max_file_bytes=MAX_INPUT_BYTES)
    try:
        return decode_image(path, options).pixels
    except UnusableImage as exc:
        raise DataError(f"{Path(path).name}: {exc}") from None


def fit_pixels(image: np.ndarray, image_size: int, channels: int) -> np.ndarray:
    """uint8 (H, W, 1|3|4) pixels the GUI already holds (a tile dragged from the
    Data page, a pasted picture) as (C, S, S) at the model's size and channels,
    by the same fitting as a file."""
    from PIL import Image

    from engine.data.decode import _fit, _to_8bit  # the loader's own fitting, not a second copy

    array = np.ascontiguousarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] not in (1, 3, 4) \
            or min(array.shape[:2]) < 1:
        raise DataError(f"not a picture: expected uint8 (H, W, 1|3|4) pixels, got "
                        f"{array.dtype} {tuple(array.shape)}")
    if array.shape[0] * array.shape[1] > MAX_INPUT_PIXELS:
        raise DataError(f"{array.shape[1]:,} x {array.shape[0]:,} pixels is over the limit of "
                        f"{MAX_INPUT_PIXELS:,}")
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[array.shape[2]]
    picture = Image.fromarray(array[..., 0] if mode == "L" else array, mode)
    options = DecodeOptions(size=image_size, channels=channels, fit=FIT)
    flat = _to_8bit(picture, options.background)
    if channels == 1 and flat.mode != "L":
        flat = flat.convert("L")
    pixels = np.asarray(_fit(flat, options), dtype=np.uint8)
    pixels = pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)
    if channels == 3 and pixels.shape[0] == 1:
        pixels = np.repeat(pixels, 3, axis=0)
    return np.ascontiguousarray(pixels)


def model_geometry(model: GenerativeModel) -> tuple[int, int]:
    return int(model.config.image_size), int(model.config.channels)


# -- reconstructing ------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Reconstruction:
    originals: np.ndarray          # uint8 (N, S, S, C): the inputs as the model sees them
    reconstructions: np.ndarray    # uint8 (N, S, S, C): decoded from each posterior mean
    neg_elbo: tuple[float, ...]    # per image, nats (beta = 1, one posterior sample)
    labels: tuple[int, ...] | None


def _labels(model: GenerativeModel, count: int, labels: list[int] | None) -> torch.Tensor | None:
    if not model.uses_labels:
        return None
    if labels is None:
        raise ConfigError(f"this conditional VAE needs a class for each picture "
                          f"(0 to {model.num_classes - 1})")
    if len(labels) == 1 and count > 1:
        labels = labels * count
    return model.labels_for_seeds(list(range(count)), list(labels))


def reconstruct_pixels(model: GenerativeModel, pixels: np.ndarray,
                       labels: list[int] | None = None) -> Reconstruction:
    """Reconstruct uint8 (N, C, S, S) pictures already at the model's geometry."""
    if not can_reconstruct(model):
        raise ConfigError(f"the {model.family} family cannot reconstruct pictures; use a VAE")
    size, channels = model_geometry(model)
    if pixels.ndim != 4 or pixels.shape[1:] != (channels, size, size):
        raise ConfigError(f"pictures must be ({channels}, {size}, {size}) for this model, "
                          f"not {tuple(pixels.shape[1:])}")
    if not 1 <= len(pixels) <= MAX_IMAGES:
        raise ConfigError(f"reconstruct between 1 and {MAX_IMAGES} pictures, not {len(pixels)}")
    x = torch.from_numpy(np.ascontiguousarray(pixels)).float().mul_(2.0 / 255.0).sub_(1.0)
    y = _labels(model, len(pixels), labels)
    decoded = model.reconstruct(x, y)
    # One image at a time: a batch's noise draw depends on the batch's shape, and a
    # picture's score must depend on the picture (and class) alone.
    bound = torch.cat([model.negative_elbo(x[i:i + 1], None if y is None else y[i:i + 1],
                                           seed=ELBO_SEED) for i in range(len(x))])
    return Reconstruction(originals=np.ascontiguousarray(pixels.transpose(0, 2, 3, 1)),
                          reconstructions=to_uint8(decoded),
                          neg_elbo=tuple(float(v) for v in bound.cpu()),
                          labels=None if y is None else tuple(int(v) for v in y.cpu()))


class Reconstructor:
    """Keeps one run's model between reconstructions (the gallery drops picture
    after picture) and reloads it when the run saves a new checkpoint. Use from
    one thread at a time."""

    def __init__(self, source: str | Path, device: str = "auto") -> None:
        self.source = Path(source).expanduser()
        self.device = device
        self._model: GenerativeModel | None = None
        self._stamp: object = None
        self.name = ""

    def model(self) -> GenerativeModel:
        stamp = self._checkpoint_stamp()
        if self._model is None or stamp != self._stamp:
            from engine.runs.bundles import load_model_from
            name, model = load_model_from(self.source, resolve_device(self.device))
            # Checked before it is kept, so a refused model is refused every time.
            self.check(name, model)
            self.name, self._model, self._stamp = name, model, stamp
        return self._model

    def check(self, name: str, model: GenerativeModel) -> None:
        """Refuse a model this tool cannot use (a ConfigError naming it)."""
        if not can_reconstruct(model):
            raise ConfigError(f"Reconstruction needs a VAE; this run is {name}.")

    def _checkpoint_stamp(self) -> object:
        if self.source.is_file():
            return self.source.stat().st_mtime_ns
        from engine.runs.checkpoints import read_manifest
        return (read_manifest(self.source) or {}).get("checkpoint")

    def files(self, paths: list[str | Path], labels: list[int] | None = None) -> Reconstruction:
        model = self.model()
        size, channels = model_geometry(model)
        pixels = np.stack([load_picture(p, size, channels) for p in paths])
        return reconstruct_pixels(model, pixels, labels)

    def arrays(self, images: list[np.ndarray], labels: list[int] | None = None) -> Reconstruction:
        model = self.model()
        size, channels = model_geometry(model)
        pixels = np.stack([fit_pixels(image, size, channels) for image in images])
        return reconstruct_pixels(model, pixels, labels)


def reconstruct_files(source: str | Path, paths: list[str | Path], labels: list[int] | None = None,
                      device: str = "auto") -> Reconstruction:
    """Reconstruct image files with a run's (or bundle's) VAE."""
    return Reconstructor(source, device).files(paths, labels)


def side_by_side(result: Reconstruction) -> np.ndarray:
    """uint8 (N * 2, S, S, C): each original followed by its reconstruction, for a
    two-column grid."""
    pairs = np.stack([result.originals, result.reconstructions], axis=1)
    return pairs.reshape(-1, *result.originals.shape[1:])


def picture_digest(path: Path) -> str:
    """The first 16 hex digits of a picture file's SHA-256, for provenance; ""
    when it can no longer be read (the pictures were already decoded)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError:
        return ""
