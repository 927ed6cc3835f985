"""Image-sequence data sets: `moving-mnist` and `frames:PATH`.

Both become an ImageSet whose images are uint8 (N, T, C, H, W).

moving-mnist is the standard bouncing-digits generator (Srivastava et al.
2015): two MNIST digits drift with constant velocity in a 64x64 frame and bounce
off its edges, 20 frames a sequence, overlapping digits combined by maximum.
It is seeded, so a split is the same sequences everywhere: the train split
draws digits from MNIST's training images, the test split (the fixed protocol
set of 1,000 sequences) from its test images.

frames:PATH reads one animation (an animated GIF, a folder of numbered frames,
or a video, decoded with PyAV when it is installed) and cuts it into
overlapping windows of up to 20 frames, the training sequences.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

from engine.data.registry import DataRequest, register_source
from engine.data.sources import ImageSet
from engine.errors import DataError
from engine.media.video_support import load_av

MOVING_MNIST_SIZE = 64
MOVING_MNIST_FRAMES = 20
MOVING_MNIST_DIGITS = 2
MOVING_MNIST_COUNTS = {"train": 2000, "test": 1000}
MOVING_MNIST_SEEDS = {"train": 0, "test": 1}
WINDOW = 20                 # frames per training sequence cut from an animation
MAX_SIDE = 128              # animation frames are shrunk to at most this (sequence models are small)
MAX_FRAMES = 2000
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif")
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v")


def moving_mnist(digits: np.ndarray, count: int, seed: int, frames: int = MOVING_MNIST_FRAMES,
                 size: int = MOVING_MNIST_SIZE, per_sequence: int = MOVING_MNIST_DIGITS) -> np.ndarray:
    """Bouncing digits: uint8 (count, frames, 1, size, size) from digit images (M, 28, 28)."""
    if digits.ndim != 3 or len(digits) == 0:
        raise DataError("moving-mnist needs a non-empty set of (N, H, W) digit images")
    rng = np.random.default_rng(seed)
    side = digits.shape[1]
    room = size - side
    if room < 0:
        raise DataError(f"moving-mnist frames ({size}) must be larger than the digits ({side})")
    out = np.zeros((count, frames, 1, size, size), dtype=np.uint8)
    for s in range(count):
        for _ in range(per_sequence):
            digit = digits[rng.integers(len(digits))]
            # Position in [0, 1] of the free room, a random direction and the
            # usual step of 0.1 of the room per frame (about 3.6 pixels).
            y, x = rng.random(2)
            theta = rng.random() * 2 * np.pi
            vy, vx = np.sin(theta) * 0.1, np.cos(theta) * 0.1
            for t in range(frames):
                top, left = int(round(y * room)), int(round(x * room))
                window = out[s, t, 0, top:top + side, left:left + side]
                np.maximum(window, digit, out=window)
                y, vy = _bounce(y + vy, vy)
                x, vx = _bounce(x + vx, vx)
    return out


def _bounce(position: float, velocity: float) -> tuple[float, float]:
    if position < 0:
        return -position, -velocity
    if position > 1:
        return 2 - position, -velocity
    return position, velocity


def read_animation(path: str | Path) -> np.ndarray:
    """The frames of one animation as uint8 (F, C, H, W), C 1 or 3, square, side <= MAX_SIDE."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_dir():
        pictures = _read_folder(path)
    elif path.suffix.lower() in VIDEO_SUFFIXES:
        pictures = _read_video(path)
    else:
        pictures = _read_image_frames(path)
    if not pictures:
        raise DataError(f"{path}: no frames found")
    return _stack(pictures, path)


def _natural_key(name: str) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def _read_folder(folder: Path) -> list[Image.Image]:
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES),
                   key=lambda p: _natural_key(p.name))
    if not files:
        raise DataError(f"{folder}: no numbered frames found (PNG, JPEG, ...)")
    pictures = []
    for file in files[:MAX_FRAMES]:
        try:
            with Image.open(file) as picture:
                pictures.append(_plain(picture))
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
            raise DataError(f"{file}: unreadable frame ({exc})") from None
    return pictures


def _read_image_frames(path: Path) -> list[Image.Image]:
    try:
        with Image.open(path) as picture:
            return [_plain(frame) for frame, _ in zip(ImageSequence.Iterator(picture), range(MAX_FRAMES))]
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError, EOFError) as exc:
        raise DataError(f"{path}: not a readable animation ({exc})") from None


def _read_video(path: Path) -> list[Image.Image]:
    av = load_av(DataError, f"{path}: reading video",
                 "export its frames as a GIF or a folder of PNGs and use that instead")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ValueError("it has no video stream")
            stream = container.streams.video[0]
            pictures = []
            for frame, _ in zip(container.decode(stream), range(MAX_FRAMES)):
                pictures.append(_shrink(Image.fromarray(frame.to_ndarray(format="rgb24"), "RGB")))
    except (av.FFmpegError, OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{path}: not a readable video ({reason})") from None
    return pictures


def _plain(picture: Image.Image) -> Image.Image:
    """A frame as greyscale or RGB (transparency over black), shrunk, square-cropped."""
    if picture.mode in ("1", "L", "I", "I;16", "F"):
        picture = picture.convert("L")
    else:
        rgba = picture.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        picture = Image.alpha_composite(background, rgba).convert("RGB")
    return _shrink(picture)


def _shrink(picture: Image.Image) -> Image.Image:
    w, h = picture.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    picture = picture.crop((left, top, left + side, top + side))
    if side > MAX_SIDE:
        picture = picture.resize((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    return picture


def _stack(pictures: list[Image.Image], path: Path) -> np.ndarray:
    sizes = {p.size for p in pictures}
    if len(sizes) > 1:
        side = min(s[0] for s in sizes)
        pictures = [p.resize((side, side), Image.Resampling.LANCZOS) if p.size[0] != side else p
                    for p in pictures]
    if all(p.mode == "L" for p in pictures):
        return np.stack([np.asarray(p) for p in pictures])[:, None].copy()
    frames = np.stack([np.asarray(p.convert("RGB")) for p in pictures]).transpose(0, 3, 1, 2)
    # A GIF's palette frames come back as RGB; grey ones stay one channel.
    if (frames[:, 0] == frames[:, 1]).all() and (frames[:, 1] == frames[:, 2]).all():
        return frames[:, :1].copy()
    return frames.copy()


def animation_windows(frames: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """Overlapping windows (N, T, C, H, W) of an animation (F, C, H, W), stride 1.

    T is `window` or, for a short animation, F - 1 so there are at least two.
    """
    count = len(frames)
    if count < 3:
        raise DataError(f"an animation needs at least 3 frames to learn from, not {count}")
    length = min(window, count - 1)
    index = np.arange(count - length + 1)[:, None] + np.arange(length)[None]
    return frames[index]


def _load_moving_mnist(request: DataRequest) -> ImageSet:
    """`moving-mnist`, or `moving-mnist?seed=S&count=N` for another set of training
    sequences (the test split is always the fixed protocol set)."""
    seed, count = MOVING_MNIST_SEEDS[request.split], MOVING_MNIST_COUNTS[request.split]
    if request.split == "train":
        try:
            seed = int(request.options.get("seed", seed))
            count = int(request.options.get("count", count))
        except ValueError:
            raise DataError("moving-mnist: seed and count must be whole numbers") from None
        if not 2 <= count <= 20000 or seed < 0:
            raise DataError(f"moving-mnist: count must be 2 to 20,000 and seed 0 or more, "
                            f"not count {count}, seed {seed}")
    return _moving_mnist_set(request.split, seed, count)


@functools.lru_cache(maxsize=2)
def _moving_mnist_set(split: str, seed: int, count: int) -> ImageSet:
    from engine.data.sources import _bundled_mnist

    digits = _bundled_mnist(split).images[:, 0]
    images = moving_mnist(digits, count, seed)
    images.flags.writeable = False   # shared by every caller through the cache
    return ImageSet(name="moving-mnist", images=images, labels=None)


def _load_frames(request: DataRequest) -> ImageSet:
    """`frames:PATH`: the animation's windows (both splits: it has no held-out part)."""
    frames = read_animation(request.path)
    return ImageSet(name=request.spec, images=animation_windows(frames), labels=None)


register_source("moving-mnist", _load_moving_mnist,
                "Moving MNIST: two bouncing digits, 20 frames of 64x64 (sequences)",
                takes_path=False, options=("seed", "count"))
register_source("frames", _load_frames,
                "an animation: animated GIF, folder of numbered frames or video (sequences)")
