"""One picture in, new pictures out, with no training: variations, any size,
seamless tiles and a flip-book (engine.studio.gpnn does the making).

- `load_source`: a picture file through the one decoding path
  (engine.data.decode: EXIF, transparency, CMYK, 16-bit, size limits) at its
  own shape, reduced to MAX_SOURCE_SIDE, or pixels the GUI holds; with its
  SHA-256, which every export records.
- `variations(source, seeds, size, tile)`: one picture per seed, as a generator
  of RemixProgress events and Variation results. A size other than the
  source's is GPNN's retargeting: the content keeps its scale at another
  aspect, it is not stretched. `retarget` makes one such picture.
- `flipbook`: N frames of variations as an animation (FLIPBOOK_MODES), with
  cross-fades between them if asked; `keyframe_flipbook` cross-fades pictures
  already made (the GUI's chosen variations); `flicker` measures how much
  consecutive frames differ.
- `check_size`: an estimate of the time and memory one picture takes, and a
  clear refusal (ConfigError) of sizes that would take minutes or gigabytes
  unless the caller confirms them.

Cancel: every generator checks the RunControl between rounds of patch
matching (and between chunks of a round), and ends without a result.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.data.decode import WITHIN, DecodeOptions, UnusableImage, decode_image
from engine.errors import ConfigError, DataError
from engine.runtime.control import RunControl
from engine.runtime.device import available_memory, resolve_device
from engine.storage.sizes import human_size
from engine.studio.gpnn import (CHUNK_BYTES, GpnnSettings, SynthesisStopped, moved_share,
                                noise_shape, pair_counts, pyramid, synthesis_rounds)

MAX_SOURCE_SIDE = 1024        # a larger picture is reduced to this on loading
MAX_SOURCE_BYTES = 256 * 2**20
MAX_SOURCE_PIXELS = 80_000_000
DEFAULT_SIDE = 256            # the default output's longer side
MAX_SIDE = 4096               # no output side beyond this, confirmed or not
MAX_PICTURES = 1024
MAX_FRAMES = 500
LIMIT_SECONDS = 60.0          # a picture estimated to take longer needs a confirmation
LIMIT_BYTES = 2 * 2**30       # as does one needing more memory than this
PROGRESS_SECONDS = 0.1        # RemixProgress events at most this often

# The time model of one picture on one CPU core (fitted to measurements on the
# project's 2-core CPU, docs/BENCHMARKS.md), in seconds per unit of work:
SECONDS_PER_PAIR_DIM = 5e-11         # exact search: query x key pairs x patch values
SECONDS_PER_CANDIDATE = 1.8e-7       # window search: queries x candidates
SECONDS_PER_PATCH_VALUE = 3e-9       # cutting and folding patches: patches x values
THREAD_SCALING = 0.85                # n threads run about n ** 0.85 times as fast (1.8x on 2)
GPU_SPEEDUP = 20.0                   # an assumption, not measured (no GPU to hand)


# -- the source ---------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class SourcePicture:
    pixels: np.ndarray                # uint8 (H, W, C), C 1 (grey) or 3
    name: str                         # the file's name, for people
    sha256: str                       # of the file's bytes (of the pixels for dropped ones)
    original_size: tuple[int, int]    # (width, height) before any reduction

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) as used."""
        return self.pixels.shape[1], self.pixels.shape[0]

    def record(self) -> dict[str, Any]:
        """What every export says about its source."""
        return {"source": self.name, "source_sha256": self.sha256,
                "source_size": list(self.original_size)}


def load_source(picture: str | Path | np.ndarray, name: str | None = None) -> SourcePicture:
    """A picture file (any format the data loader reads) or uint8 (H, W, 1|3|4)
    pixels, reduced to MAX_SOURCE_SIDE; DataError naming the file otherwise."""
    if isinstance(picture, np.ndarray):
        return _source_from_pixels(picture, name or "the dropped picture")
    path = Path(picture).expanduser()
    shown = name or path.name
    options = DecodeOptions(size=MAX_SOURCE_SIDE, fit=WITHIN, max_pixels=MAX_SOURCE_PIXELS,
                            max_file_bytes=MAX_SOURCE_BYTES)
    try:
        decoded = decode_image(path, options)
    except UnusableImage as exc:
        raise DataError(f"{shown}: {exc}") from None
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(2**20), b""):
            digest.update(block)
    pixels = np.ascontiguousarray(decoded.pixels.transpose(1, 2, 0))
    return _checked(SourcePicture(pixels, shown, digest.hexdigest(), decoded.original_size))


def _source_from_pixels(array: np.ndarray, name: str) -> SourcePicture:
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise DataError(f"{name}: expected uint8 (H, W, 1|3|4) pixels, not {array.dtype} "
                        f"{tuple(array.shape)}")
    h, w = array.shape[:2]
    if h * w > MAX_SOURCE_PIXELS:
        raise DataError(f"{name}: {w:,} x {h:,} pixels is over the limit of {MAX_SOURCE_PIXELS:,}")
    from PIL import Image

    pixels = np.ascontiguousarray(array)
    if pixels.shape[2] == 4:   # transparency on white, as the decoder does for files
        alpha = pixels[..., 3:].astype(np.float32) / 255
        pixels = (pixels[..., :3] * alpha + 255 * (1 - alpha)).round().astype(np.uint8)
    if max(h, w) > MAX_SOURCE_SIDE:
        scale = MAX_SOURCE_SIDE / max(h, w)
        image = Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels)
        image = image.resize((max(1, round(w * scale)), max(1, round(h * scale))),
                             Image.Resampling.LANCZOS)
        pixels = np.asarray(image).reshape(image.height, image.width, -1)
    digest = hashlib.sha256(f"{array.shape}".encode() + array.tobytes()).hexdigest()
    return _checked(SourcePicture(np.ascontiguousarray(pixels), name, digest, (w, h)))


def _checked(source: SourcePicture) -> SourcePicture:
    least = 2 * GpnnSettings().patch_size
    w, h = source.size
    if min(w, h) < least:
        raise DataError(f"{source.name}: {w} x {h} pixels is too small to remix; it needs at "
                        f"least {least} x {least}")
    return source


# -- sizes, estimates and refusals -----------------------------------------------------
def default_size(source: SourcePicture) -> tuple[int, int]:
    """(width, height): the source's shape with its longer side at most DEFAULT_SIDE."""
    w, h = source.size
    scale = min(1.0, DEFAULT_SIDE / max(w, h))
    return max(1, round(w * scale)), max(1, round(h * scale))


def parse_size(text: str) -> tuple[int, int]:
    """'384x256' -> (384, 256); ConfigError otherwise."""
    parts = text.lower().replace(" ", "").split("x")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ConfigError(f"size must be WIDTHxHEIGHT in pixels, e.g. 384x256, not {text!r}")
    return int(parts[0]), int(parts[1])


def working_shape(source: SourcePicture, size: tuple[int, int]) -> tuple[int, int]:
    """(height, width) of the source as a picture of `size` (width, height) is
    made from: reduced so that it is no larger than needed to cover the output
    at the same scale (never enlarged), so a small output of a large photo gets
    the whole scene, and a wider output the same objects at the same size."""
    w, h = source.size
    scale = min(1.0, max(size[0] / w, size[1] / h))
    if scale >= 1.0:
        return h, w
    return max(1, round(h * scale)), max(1, round(w * scale))


def working_source(source: SourcePicture, size: tuple[int, int]) -> np.ndarray:
    """The source's pixels at working_shape()."""
    hw = working_shape(source, size)
    if hw == source.pixels.shape[:2]:
        return source.pixels
    from PIL import Image

    pixels = source.pixels
    image = Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels)
    image = image.resize((hw[1], hw[0]), Image.Resampling.LANCZOS)
    return np.asarray(image).reshape(hw[0], hw[1], -1)


@dataclasses.dataclass(frozen=True)
class Estimate:
    seconds: float        # one picture, this device
    bytes: int            # peak memory of one picture
    device: str

    def describe(self) -> str:
        return f"{_duration(self.seconds)} and {human_size(self.bytes)} per picture on {self.device}"


def _duration(seconds: float) -> str:
    if seconds < 1:
        return "under a second"
    if seconds < 90:
        return f"about {seconds:.0f} s"
    if seconds < 5400:
        return f"about {seconds / 60:.0f} minutes"
    return f"about {seconds / 3600:.1f} hours"


def estimate(source_hw: tuple[int, int], output_hw: tuple[int, int], settings: GpnnSettings,
             tile: bool, channels: int = 3, device: str | torch.device = "cpu") -> Estimate:
    """Time and peak memory of one picture of `output_hw` (height, width) from a
    source of `source_hw`: the rounds' work summed over the levels (rounds that
    end early make it an upper bound), on this many CPU threads or a GPU."""
    device = torch.device(device) if not isinstance(device, torch.device) else device
    p = settings.patch_size
    dims = channels * p * p
    levels = pyramid(source_hw, output_hw, settings)
    pairs = pair_counts(levels, p, tile)
    candidates = (2 * settings.window + 1) ** 2 + 4
    seconds, peak = 0.0, 0
    for k, (level, n) in enumerate(zip(levels, pairs)):
        keys = (level.source[0] - p + 1) * (level.source[1] - p + 1)
        queries = n // keys
        exact = k == 0 or n <= settings.exact_pairs
        rounds = settings.iterations if exact else settings.refine_iterations
        work = n * dims * SECONDS_PER_PAIR_DIM if exact else queries * candidates * SECONDS_PER_CANDIDATE
        seconds += rounds * (work + (keys + 2 * queries) * dims * SECONDS_PER_PATCH_VALUE)
        # values, keys, queries and the pasted patches, plus the search's own arrays
        held = 4 * dims * (2 * keys + 2 * queries)
        if exact:
            held += min(4 * n, CHUNK_BYTES)
        else:   # candidates and their distances, projected keys, one chunk of gathered keys
            held += queries * candidates * (8 + 4) + 4 * keys * settings.components \
                + min(CHUNK_BYTES, 4 * queries * candidates * settings.components)
        peak = max(peak, held)
    if device.type == "cpu":
        seconds /= max(1, min(torch.get_num_threads(), _cores())) ** THREAD_SCALING
    else:
        seconds /= GPU_SPEEDUP
    return Estimate(seconds, int(peak * 1.2) + 32 * 2**20, str(device))


def _cores() -> int:
    import os
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def remix_device(name: str = "auto") -> torch.device:
    """The device pictures are made on: "auto" is a CUDA GPU when there is one,
    else the CPU. Not Apple's MPS: not every operation the method uses (the
    eigen-decomposition, antialiased resizing) is sure to be there, and
    nothing here has been measured on it; ask for "mps" to try it."""
    if (name or "auto").strip().lower() == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    return resolve_device(name)


@dataclasses.dataclass(frozen=True)
class SizeCheck:
    """What one picture of a size would cost, and whether it may be made."""

    estimate: Estimate
    refusal: str | None       # why it cannot be made at all (beyond the free memory)
    confirm: str | None       # why a person should confirm it first (minutes or gigabytes)


def assess_size(source: SourcePicture, size: tuple[int, int], settings: GpnnSettings,
                tile: bool, device: str | torch.device = "auto") -> SizeCheck:
    """The estimate for one picture of `size` (width, height), with the reasons
    to refuse it or to ask first; ConfigError for sizes out of range."""
    settings.validate()
    w, h = size
    least = 2 * settings.patch_size
    for name, value in (("width", w), ("height", h)):
        if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= MAX_SIDE:
            raise ConfigError(f"the {name} must be a whole number of pixels from {least} to "
                              f"{MAX_SIDE}, not {value!r}")
    device = remix_device(str(device)) if not isinstance(device, torch.device) else device
    found = estimate(working_shape(source, size), (h, w), settings, tile,
                     source.pixels.shape[2], device)
    free = available_memory(device)
    refusal = confirm = None
    if free is not None and found.bytes > free:
        refusal = (f"{w} x {h} would need {human_size(found.bytes)} of memory per picture, more "
                   f"than the {human_size(free)} free on {device}; choose a smaller size"
                   f"{_suggestion(source, size, settings, tile, device)}")
    elif found.seconds > LIMIT_SECONDS or found.bytes > LIMIT_BYTES:
        confirm = (f"{w} x {h} would take {found.describe()}; choose a smaller size"
                   f"{_suggestion(source, size, settings, tile, device)}")
    return SizeCheck(found, refusal, confirm)


def check_size(source: SourcePicture, size: tuple[int, int], settings: GpnnSettings, tile: bool,
               device: str | torch.device = "auto", allow_slow: bool = False) -> Estimate:
    """The estimate for one picture of `size` (width, height), or a ConfigError:
    always for sizes out of range or beyond the device's free memory; for sizes
    that would take over LIMIT_SECONDS or LIMIT_BYTES unless `allow_slow` (a
    person confirmed it), saying how long and how much, and what would fit."""
    check = assess_size(source, size, settings, tile, device)
    if check.refusal is not None:
        raise ConfigError(check.refusal)
    if check.confirm is not None and not allow_slow:
        raise ConfigError(f"{check.confirm}, or confirm that you want it (--allow-slow)")
    return check.estimate


def _suggestion(source: SourcePicture, size: tuple[int, int], settings: GpnnSettings, tile: bool,
                device: torch.device) -> str:
    """' (about W x H fits)': the largest size of the same shape within the limits."""
    least = 2 * settings.patch_size
    low, high = 0.0, 1.0
    for _ in range(12):
        mid = (low + high) / 2
        trial = (max(least, round(size[0] * mid)), max(least, round(size[1] * mid)))
        e = estimate(working_shape(source, trial), (trial[1], trial[0]), settings, tile,
                     source.pixels.shape[2], device)
        if e.seconds <= LIMIT_SECONDS and e.bytes <= LIMIT_BYTES:
            low = mid
        else:
            high = mid
    if low == 0.0:
        return ""
    return f" (about {max(least, round(size[0] * low))} x {max(least, round(size[1] * low))} fits)"


# -- making pictures ---------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class RemixProgress:
    picture: int          # the picture being made, from 0
    pictures: int         # pictures in all
    done: int             # rounds of this picture done
    total: int            # rounds of this picture

    @property
    def fraction(self) -> float:
        return (self.picture + self.done / max(1, self.total)) / max(1, self.pictures)


@dataclasses.dataclass(frozen=True)
class Variation:
    seed: int
    image: np.ndarray         # uint8 (H, W, C), a fresh array
    provenance: dict[str, Any]
    seconds: float
    moved_share: float        # output patches taken from further than a patch away


def provenance(source: SourcePicture, settings: GpnnSettings, size: tuple[int, int], tile: bool,
               **extra: Any) -> dict[str, Any]:
    """The record every remix export carries: source file and digest, the method
    and its settings, size and tiling, plus the seed or seeds."""
    return {"kind": "remix", "method": "gpnn", **source.record(), "size": list(size),
            "tile": tile, "gpnn": settings.to_dict(), **extra}


def _seeds(seeds: list[int]) -> list[int]:
    if not seeds:
        raise ConfigError("give at least one seed")
    if len(seeds) > MAX_PICTURES:
        raise ConfigError(f"at most {MAX_PICTURES} pictures at once, not {len(seeds):,}")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
            raise ConfigError(f"a seed must be a whole number from 0, not {seed!r}")
    return list(seeds)


class _Maker:
    """The source on the device and the settings checked, for any number of pictures."""

    def __init__(self, source: SourcePicture, size: tuple[int, int] | None, tile: bool,
                 settings: GpnnSettings | None, device: str, allow_slow: bool) -> None:
        self.settings = settings or GpnnSettings()
        self.size = size or default_size(source)
        self.tile = bool(tile)
        self.device = remix_device(device)
        self.estimate = check_size(source, self.size, self.settings, self.tile, self.device,
                                   allow_slow)
        work = working_source(source, self.size)
        self.tensor = torch.from_numpy(work.copy()).permute(2, 0, 1).to(self.device).float() / 255
        self.source = source
        self.hw = (self.size[1], self.size[0])

    def noise_shape(self) -> tuple[int, int, int]:
        return noise_shape(tuple(self.tensor.shape[-2:]), self.hw, self.settings,
                           self.tensor.shape[0])

    def make(self, index: int, count: int, control: RunControl | None,
             settings: GpnnSettings | None = None, generator: torch.Generator | None = None,
             noise: torch.Tensor | None = None, start: torch.Tensor | None = None
             ) -> Generator[RemixProgress, None, tuple[Any, float]]:
        """One picture: RemixProgress events (throttled), then (Synthesis, seconds)."""
        began = time.perf_counter()
        rounds = synthesis_rounds(self.tensor, self.hw, settings or self.settings, generator,
                                  noise, self.tile, start, control)
        last = 0.0
        while True:
            try:
                # Only around the work: the consumer runs between rounds, in its own mode.
                with torch.inference_mode():
                    done, total = next(rounds)
            except StopIteration as finished:
                return finished.value, time.perf_counter() - began
            now = time.perf_counter()
            if now - last >= PROGRESS_SECONDS or done == total:
                last = now
                yield RemixProgress(index, count, done, total)


def _uint8(image: torch.Tensor) -> np.ndarray:
    return (image.detach().float().cpu().permute(1, 2, 0) * 255).round().to(torch.uint8).numpy().copy()


def variations(source: SourcePicture, seeds: list[int], size: tuple[int, int] | None = None,
               tile: bool = False, settings: GpnnSettings | None = None, device: str = "auto",
               control: RunControl | None = None, allow_slow: bool = False
               ) -> Iterator[RemixProgress | Variation]:
    """One picture per seed (`size` (width, height), default the source's within
    DEFAULT_SIDE; `tile`: seamless). Refuses before any work what check_size
    refuses; a stopped `control` ends it between rounds."""
    seeds = _seeds(seeds)
    maker = _Maker(source, size, tile, settings, device, allow_slow)
    for index, seed in enumerate(seeds):
        generator = torch.Generator().manual_seed(seed)
        try:
            result, seconds = yield from maker.make(index, len(seeds), control, generator=generator)
        except SynthesisStopped:
            return
        moved = moved_share(result.matches.cpu(), tuple(maker.tensor.shape[-2:]), maker.hw,
                            maker.settings.patch_size)
        yield Variation(seed, _uint8(result.image),
                        provenance(source, maker.settings, maker.size, maker.tile, seed=seed),
                        seconds, moved)


def retarget(source: SourcePicture, width: int, height: int, seed: int = 0,
             settings: GpnnSettings | None = None, device: str = "auto",
             control: RunControl | None = None, allow_slow: bool = False) -> Variation | None:
    """The source at `width` x `height` by GPNN's retargeting: no noise by default
    (settings.diversity 0), so it is the source's own content rearranged to the
    new shape. None if stopped."""
    settings = settings or dataclasses.replace(GpnnSettings(), diversity=0.0)
    made = None
    for event in variations(source, [seed], (width, height), False, settings, device, control,
                            allow_slow):
        if isinstance(event, Variation):
            made = event
    return made


# -- the flip-book -------------------------------------------------------------------------
FLIPBOOK_MODES = {
    "independent": "every frame its own seed: a flip-book of variations",
    "drift": "each frame starts from the previous one with a little new noise: parts change",
    "walk": "the noise turns round a circle from one seed's to another's and back",
}


@dataclasses.dataclass(frozen=True)
class FlipbookSettings:
    frames: int = 16          # frames made (cross-fades add more)
    mode: str = "independent"
    drift: float = 0.3        # drift: the noise added to the previous frame
    crossfade: int = 3        # blended frames between consecutive frames
    loop: bool = True         # walk: a closed circle; cross-fades: back to the first frame

    def validate(self) -> None:
        if isinstance(self.frames, bool) or not isinstance(self.frames, int) \
                or not 2 <= self.frames <= MAX_FRAMES:
            raise ConfigError(f"frames must be a whole number from 2 to {MAX_FRAMES}, not {self.frames!r}")
        if self.mode not in FLIPBOOK_MODES:
            raise ConfigError(f"flip-book mode must be one of {', '.join(FLIPBOOK_MODES)}, "
                              f"not {self.mode!r}")
        if isinstance(self.drift, bool) or not isinstance(self.drift, (int, float)) \
                or not math.isfinite(self.drift) or not 0 < self.drift <= 3:
            raise ConfigError(f"drift must be a number above 0 and at most 3, not {self.drift!r}")
        if isinstance(self.crossfade, bool) or not isinstance(self.crossfade, int) \
                or not 0 <= self.crossfade <= 60:
            raise ConfigError(f"cross-fade frames must be a whole number from 0 to 60, "
                              f"not {self.crossfade!r}")
        if self.frames * (self.crossfade + 1) > MAX_FRAMES * 4:
            raise ConfigError(f"{self.frames} frames with {self.crossfade} cross-fade frames "
                              f"each is over {MAX_FRAMES * 4:,} frames")

    def length(self) -> int:
        """Frames in the animation, cross-fades included."""
        if self.loop:
            return self.frames * (self.crossfade + 1)
        return (self.frames - 1) * (self.crossfade + 1) + 1

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Flipbook:
    frames: np.ndarray            # uint8 (T, H, W, C)
    provenance: dict[str, Any]
    flicker: float                # mean absolute change between consecutive frames, 0-255
    seconds: float


def flicker(frames: np.ndarray, loop: bool = False) -> float:
    """The mean absolute difference between consecutive frames (0-255 levels),
    including the last to the first when the animation loops."""
    frames = np.asarray(frames)
    if len(frames) < 2:
        return 0.0
    values = frames.astype(np.int16)
    steps = [np.abs(values[i + 1] - values[i]).mean() for i in range(len(values) - 1)]
    if loop:
        steps.append(np.abs(values[0] - values[-1]).mean())
    return float(np.mean(steps))


def crossfade_length(count: int, between: int, loop: bool) -> int:
    """How many frames crossfade() makes of `count` pictures."""
    if between <= 0 or count < 2:
        return count
    pairs = count if loop else count - 1
    return pairs * (between + 1) + (0 if loop else 1)


def crossfade(frames: np.ndarray, between: int, loop: bool) -> np.ndarray:
    """`between` linear blends inserted between consecutive frames (and from the
    last back to the first when looping). Written into one preallocated array,
    so the frames are never held twice (a list and its stack)."""
    frames = np.asarray(frames)
    if between <= 0 or len(frames) < 2:
        return frames
    out = np.empty((crossfade_length(len(frames), between, loop), *frames.shape[1:]), np.uint8)
    pairs = len(frames) if loop else len(frames) - 1
    for i in range(pairs):
        a, b = frames[i].astype(np.float32), frames[(i + 1) % len(frames)].astype(np.float32)
        at = i * (between + 1)
        out[at] = frames[i]
        for j in range(1, between + 1):
            t = j / (between + 1)
            out[at + j] = np.round(a * (1 - t) + b * t)
    if not loop:
        out[-1] = frames[-1]
    return out


def keyframe_flipbook(images: list[np.ndarray], between: int, loop: bool = True) -> np.ndarray:
    """Pictures already made (chosen variations) as keyframes, cross-faded."""
    if len(images) < 2:
        raise ConfigError("a flip-book needs at least two pictures")
    first = images[0].shape
    if any(image.shape != first for image in images):
        raise ConfigError("the pictures of a flip-book must all have the same size")
    return crossfade(np.stack(images), between, loop)


def flipbook(source: SourcePicture, seed: int = 0, flip: FlipbookSettings | None = None,
             size: tuple[int, int] | None = None, tile: bool = False,
             settings: GpnnSettings | None = None, device: str = "auto",
             control: RunControl | None = None, allow_slow: bool = False
             ) -> Iterator[RemixProgress | Flipbook]:
    """The frames of a flip-book (see FLIPBOOK_MODES), then one Flipbook."""
    flip = flip or FlipbookSettings()
    flip.validate()
    _seeds([seed])
    maker = _Maker(source, size, tile, settings, device, allow_slow)
    began = time.perf_counter()
    frames: list[np.ndarray] = []
    generator = torch.Generator().manual_seed(seed)
    shape = maker.noise_shape()
    first_noise = torch.randn(shape, generator=generator)
    other_noise = torch.randn(shape, generator=generator)
    drift = dataclasses.replace(maker.settings, diversity=float(flip.drift))
    previous: torch.Tensor | None = None
    try:
        for t in range(flip.frames):
            kwargs: dict[str, Any] = {}
            if flip.mode == "independent":
                kwargs["generator"] = torch.Generator().manual_seed(seed + t)
            elif flip.mode == "walk":
                turn = (2 * math.pi * t / flip.frames) if flip.loop \
                    else (math.pi / 2) * t / (flip.frames - 1)
                kwargs["noise"] = math.cos(turn) * first_noise + math.sin(turn) * other_noise
            elif t == 0:
                kwargs["noise"] = first_noise
            else:
                kwargs.update(noise=torch.randn(shape, generator=generator), start=previous,
                              settings=drift)
            result, _ = yield from maker.make(t, flip.frames, control, **kwargs)
            previous = result.image
            frames.append(_uint8(result.image))
    except SynthesisStopped:
        return
    made = crossfade(np.stack(frames), flip.crossfade, flip.loop)
    record = provenance(source, maker.settings, maker.size, maker.tile, seed=seed,
                        flipbook=flip.to_dict())
    record["kind"] = "flipbook"
    yield Flipbook(made, record, flicker(made, flip.loop), time.perf_counter() - began)
