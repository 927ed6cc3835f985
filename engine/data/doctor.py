"""The data doctor: what in a folder of pictures will train badly, found before training.

Every picture is read once through the one decoding path (engine.data.decode),
as a small 32 x 32 thumbnail, and the doctor reports:

- near-duplicates. Candidates are pairs whose perceptual hash (pHash: the signs
  of the 8 x 8 lowest frequencies of the thumbnail's DCT against their median,
  64 bits) differ in at most HASH_BITS bits; a candidate is confirmed when the
  thumbnails' brightness patterns correlate at least SAME_CORRELATION and their
  mean colours differ by at most SAME_COLOUR levels. Re-encoded, resized and
  slightly brightened copies pass (correlation above 0.99 on photographs);
  different pictures with a similar layout, or one glyph in two colours, do not.
- pictures much smaller than the training size: the fit enlarges them more
  than TINY_SCALE times, so they train as blur.
- the shapes (aspect ratios) present, and what the fit (crop, pad or stretch)
  does to each: how much a centre crop cuts, how much of the square padding
  fills, how much stretching squeezes.
- the files that are skipped, each with its reason (as the loader skips them).

Nothing is changed on disk but the cache of the findings per file (under the
user data folder, keyed by every file's path, size and modification time), so
a second look at the same folder, as `train` takes before it starts, is quick.
"""
from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from engine.data import cache
from engine.data.decode import DecodedImage, DecodeOptions
from engine.data.folder import FolderListing, decode_files, decode_options, list_images
from engine.data.registry import DataRequest, LoadProgress, parse_spec
from engine.data.report import SkippedFile
from engine.errors import DataError

THUMB = 32                # side of the thumbnail every finding is made from
HASH_BITS = 10            # pHash bits two candidates may differ in
SAME_CORRELATION = 0.98   # brightness-pattern correlation that confirms a near-duplicate
SAME_COLOUR = 24.0        # largest difference of mean colour (0-255 levels, any channel)
TINY_SCALE = 2.0          # "much smaller": the fit enlarges the picture more than this
MAX_COMPARED = 30_000     # pictures compared pairwise for near-duplicates (the first, by path)
SHAPE_TOLERANCE = 0.03    # a picture within 3% of a named ratio has that shape
HASH_CHUNK = 1024         # hash rows compared at once
_CACHE_KIND = "doctor"
_FORMAT = 1               # bump when what the cache stores changes

# Common picture shapes, long side to short side.
NAMED_RATIOS = ((1, 1), (5, 4), (4, 3), (3, 2), (16, 10), (16, 9), (2, 1), (21, 9), (3, 1))


# -- findings ------------------------------------------------------------------------------
@dataclass(frozen=True)
class DuplicateGroup:
    """Pictures that are (nearly) the same picture: the model sees it several times."""

    paths: tuple[str, ...]
    bits: int                 # the largest pHash difference between two of them (0: same hash)

    def describe(self, base: str = "") -> str:
        how = ("identical hashes" if self.bits == 0
               else f"hashes differ in up to {self.bits} of 64 bits")
        return f"{len(self.paths)} pictures ({how}): " + ", ".join(_short(p, base)
                                                                   for p in self.paths)


@dataclass(frozen=True)
class SmallPicture:
    path: str
    width: int
    height: int
    scale: float              # how much the fit enlarges it

    def describe(self, base: str = "") -> str:
        return f"{_short(self.path, base)}: {self.width} x {self.height}, enlarged {self.scale:.1f}x"


@dataclass(frozen=True)
class PictureShape:
    path: str
    width: int
    height: int
    fit: str                  # what the fit does to this picture, for a person


@dataclass(frozen=True)
class ShapeGroup:
    """Pictures of one shape (aspect ratio) and what the fit does to them."""

    shape: str                # "square", "4:3 landscape", "2.35:1 landscape", "3:4 portrait"
    fit: str                  # what the fit does to a picture of exactly this shape
    pictures: tuple[PictureShape, ...]

    def describe(self, base: str = "", shown: int = 3) -> str:
        names = ", ".join(_short(p.path, base) for p in self.pictures[:shown])
        more = len(self.pictures) - shown
        return (f"{self.shape}: {len(self.pictures):,} ({self.fit}): {names}"
                + (f" and {more:,} more" if more > 0 else ""))


@dataclass(frozen=True)
class DoctorReport:
    spec: str
    size: int                 # the training size the findings are for
    fit: str                  # crop, pad or stretch (the spec's)
    pictures: int             # pictures that can be trained on
    found: int                # files found (pictures and others)
    skipped: tuple[SkippedFile, ...]
    duplicates: tuple[DuplicateGroup, ...]
    small: tuple[SmallPicture, ...]
    shapes: tuple[ShapeGroup, ...]   # most pictures first
    compared: int             # pictures compared for near-duplicates
    from_cache: bool
    seconds: float

    @property
    def mixed_shapes(self) -> bool:
        return len(self.shapes) > 1

    @property
    def duplicate_pictures(self) -> int:
        """Pictures the model sees more often than once: all but one of each group."""
        return sum(len(g.paths) - 1 for g in self.duplicates)

    @property
    def has_findings(self) -> bool:
        return bool(self.skipped or self.duplicates or self.small or self.mixed_shapes)

    def headline(self) -> str:
        """One short line: "1,254 pictures; 6 skipped; 2 groups of near-duplicates (5
        pictures); 3 much smaller than 64 px; mixed shapes (3)"."""
        parts = [f"{self.pictures:,} pictures"]
        if self.skipped:
            parts.append(f"{len(self.skipped):,} skipped")
        if self.duplicates:
            pictures = sum(len(g.paths) for g in self.duplicates)
            parts.append(f"{len(self.duplicates):,} group{'s' if len(self.duplicates) > 1 else ''}"
                         f" of near-duplicates ({pictures:,} pictures)")
        if self.small:
            parts.append(f"{len(self.small):,} much smaller than {self.size} px")
        if self.mixed_shapes:
            parts.append(f"mixed shapes ({len(self.shapes)})")
        return "; ".join(parts)

    def lines(self, shown: int = 10, with_skipped: bool = True) -> list[str]:
        """The whole report for people, as `latent-atelier-cli data` prints it; lists
        are cut after `shown` entries (the JSON holds them all). `with_skipped=False`
        leaves out the skipped files where they are listed already."""
        base = self.base()
        out = [f"data doctor ({self.size} px, fit {self.fit}): {self.headline()}"
               + (" (findings from the cache)" if self.from_cache else f", {self.seconds:.2f} s")]
        if self.skipped and with_skipped:
            out.append(f"skipped ({len(self.skipped):,} of {self.found:,} files; not trained on):")
            out.extend(_listed([f"{_short(s.path, base)}: {s.reason}" for s in self.skipped],
                               shown))
        if self.duplicates:
            extra = self.duplicate_pictures
            out.append(f"near-duplicates ({extra:,} extra cop{'y weighs' if extra == 1 else 'ies weigh'}"
                       " on training; keep one of each group):")
            out.extend(_listed([g.describe(base) for g in self.duplicates], shown))
        if self.small:
            out.append(f"much smaller than {self.size} x {self.size} (enlarged more than "
                       f"{TINY_SCALE:g}x, they train as blur):")
            out.extend(_listed([s.describe(base) for s in self.small], shown))
        if self.shapes and (self.mixed_shapes or self.shapes[0].shape != "square"):
            title = "mixed shapes" if self.mixed_shapes else "one shape"
            out.append(f"{title}, and what fit={self.fit} does to each (fit=crop|pad|stretch "
                       "in the spec chooses):")
            out.extend(_listed([g.describe(base) for g in self.shapes], shown))
        if self.compared < self.pictures:
            out.append(f"near-duplicates were looked for among the first {self.compared:,} "
                       "pictures only")
        if not self.has_findings and not (self.shapes and self.shapes[0].shape != "square"):
            out.append("nothing to report: no skipped files, near-duplicates, tiny pictures "
                       "or mixed shapes")
        return out

    def base(self) -> str:
        """The folder all the files named are in, so lists can say "cat/x.png"."""
        paths = [p.path for g in self.shapes for p in g.pictures] + [s.path for s in self.skipped]
        return _shared_folder(paths)

    def to_dict(self) -> dict[str, Any]:
        """Everything, as JSON-able data (`data --json`)."""
        return {"spec": self.spec, "size": self.size, "fit": self.fit,
                "pictures": self.pictures, "found": self.found, "headline": self.headline(),
                "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
                "duplicates": [{"paths": list(g.paths), "bits": g.bits} for g in self.duplicates],
                "small": [{"path": s.path, "width": s.width, "height": s.height,
                           "scale": round(s.scale, 3)} for s in self.small],
                "shapes": [{"shape": g.shape, "fit": g.fit, "count": len(g.pictures),
                            "pictures": [{"path": p.path, "width": p.width, "height": p.height,
                                          "fit": p.fit} for p in g.pictures]}
                           for g in self.shapes],
                "compared": self.compared, "from_cache": self.from_cache,
                "seconds": round(self.seconds, 3)}


@dataclass(frozen=True)
class PictureFacts:
    """What the doctor keeps of each usable picture (cached per folder)."""

    paths: list[str]
    sizes: np.ndarray         # (N, 2) width, height after EXIF orientation
    hashes: np.ndarray        # (N,) uint64 pHash
    thumbs: np.ndarray        # (N, THUMB * THUMB) uint8 brightness
    colours: np.ndarray       # (N, 3) float32 mean colour
    skipped: list[SkippedFile]
    found: int


# -- entry points ----------------------------------------------------------------------------
def applies(spec: str) -> bool:
    """Whether the doctor examines this spec (a folder of pictures); False for
    other sources and for specs that do not parse (loading says why)."""
    try:
        source, _, _ = parse_spec(spec)
    except DataError:
        return False
    return source.name == "folder"


def examine(spec: str, size: int, cache_results: bool = True,
            cancel: Callable[[], bool] | None = None
            ) -> Generator[LoadProgress, None, DoctorReport]:
    """Examine a `folder:` spec for training at `size`: LoadProgress ("examining")
    while it reads the pictures, then the report. DataError for a spec that is
    not a folder, a missing folder or bad options; LoadCancelled when cancelled."""
    started = time.perf_counter()
    source, path, options = parse_spec(spec)
    if source.name != "folder":
        raise DataError(f"{spec}: the data doctor examines folders of pictures (folder:PATH)")
    request = DataRequest(spec=spec, path=path, size=size, options=options,
                          cancel=cancel or (lambda: False))
    if path is None or not path.is_dir():
        raise DataError(f"{path}: not a folder")
    fit_options = decode_options(request)   # checks fit, channels, background
    labels = options.get("labels", "none").lower() == "subfolders"
    yield LoadProgress(0, 0, "listing files")
    listing = list_images(path, labels)
    request.check_cancel()
    key = cache.cache_key({"doctor": _FORMAT, "thumb": THUMB, "labels": labels,
                           "background": fit_options.background, "files": listing.fingerprint})
    facts = _from_cache(key, listing) if cache_results else None
    from_cache = facts is not None
    if facts is None:
        facts = yield from _read_pictures(listing, fit_options.background, request)
        if cache_results:
            cache.save_entry(key, _to_arrays(facts), kind=_CACHE_KIND)
    return diagnose(facts, spec=spec, size=size, fit=fit_options.fit, from_cache=from_cache,
                    seconds=time.perf_counter() - started)


def examine_now(spec: str, size: int, cache_results: bool = True) -> DoctorReport:
    """examine() to the end, for callers without a progress display."""
    steps = examine(spec, size, cache_results)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


def diagnose(facts: PictureFacts, spec: str, size: int, fit: str, from_cache: bool = False,
             seconds: float = 0.0) -> DoctorReport:
    """The report for pictures already read (any training size and fit)."""
    compared = min(len(facts.paths), MAX_COMPARED)
    return DoctorReport(spec=spec, size=size, fit=fit, pictures=len(facts.paths),
                        found=facts.found, skipped=tuple(facts.skipped),
                        duplicates=near_duplicates(facts, compared),
                        small=_small_pictures(facts, size, fit), shapes=_shapes(facts, fit),
                        compared=compared, from_cache=from_cache, seconds=seconds)


# -- reading the pictures --------------------------------------------------------------------
def _read_pictures(listing: FolderListing, background: tuple[int, int, int],
                   request: DataRequest) -> Generator[LoadProgress, None, PictureFacts]:
    options = DecodeOptions(size=THUMB, channels=3, fit="stretch", background=background)
    steps = decode_files(listing.files, options, request)
    while True:
        try:
            event = next(steps)
        except StopIteration as done:
            results = done.value
            break
        yield replace(event, stage="examining")
    return picture_facts(listing, results)


def picture_facts(listing: FolderListing, results: list[DecodedImage | str]) -> PictureFacts:
    """Hashes, thumbnails and sizes of the decoded pictures; the others skipped
    with their reasons (the loader's order: listing order, skipped left out)."""
    skipped = list(listing.skipped)
    good = [(path, r) for path, r in zip(listing.files, results) if isinstance(r, DecodedImage)]
    skipped += [SkippedFile(str(path), r) for path, r in zip(listing.files, results)
                if isinstance(r, str)]
    if good:
        pixels = np.stack([r.pixels for _, r in good]).astype(np.float32)   # (N, 3, T, T)
        brightness = pixels[:, 0] * 0.299 + pixels[:, 1] * 0.587 + pixels[:, 2] * 0.114
        thumbs = np.clip(brightness.round(), 0, 255).astype(np.uint8).reshape(len(good), -1)
        colours = pixels.mean(axis=(2, 3))
        hashes = perceptual_hash(brightness)
        sizes = np.asarray([r.original_size for _, r in good], dtype=np.int64)
    else:
        thumbs = np.empty((0, THUMB * THUMB), np.uint8)
        colours = np.empty((0, 3), np.float32)
        hashes = np.empty(0, np.uint64)
        sizes = np.empty((0, 2), np.int64)
    return PictureFacts(paths=[str(p) for p, _ in good], sizes=sizes, hashes=hashes,
                        thumbs=thumbs, colours=colours, skipped=skipped,
                        found=len(listing.files) + len(listing.skipped))


def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)
    m = np.sqrt(2.0 / n) * np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * n))
    m[0] /= np.sqrt(2.0)
    return m


_DCT = _dct_matrix(THUMB)


def perceptual_hash(brightness: np.ndarray) -> np.ndarray:
    """pHash of (N, THUMB, THUMB) brightness: 64 bits, one per low frequency of the
    2-D DCT (8 x 8, the constant term included), set where it is above their median."""
    low_rows = _DCT[:8]   # only the 8 x 8 lowest frequencies are needed
    low = (low_rows @ np.asarray(brightness, np.float64) @ low_rows.T).reshape(len(brightness), 64)
    bits = low > np.median(low, axis=1, keepdims=True)
    return np.packbits(bits, axis=1).view(">u8").reshape(-1).astype(np.uint64)


# -- the findings ----------------------------------------------------------------------------
def near_duplicates(facts: PictureFacts, compared: int | None = None
                    ) -> tuple[DuplicateGroup, ...]:
    """Groups of near-duplicate pictures among the first `compared`, largest first."""
    n = len(facts.paths) if compared is None else compared
    hashes = facts.hashes[:n]
    centred = facts.thumbs[:n].astype(np.float64)
    centred -= centred.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(centred, axis=1)
    flat = norms < 1e-6          # a plain picture: no pattern to correlate
    unit = centred / np.where(flat, 1.0, norms)[:, None]
    pairs: list[tuple[int, int, int]] = []
    for start in range(0, n, HASH_CHUNK):
        rows = np.arange(start, min(start + HASH_CHUNK, n))
        bits = np.bitwise_count(hashes[rows, None] ^ hashes[None, :])
        r, j = np.nonzero(bits <= HASH_BITS)
        i = rows[r]
        upper = j > i
        i, j, b = i[upper], j[upper], bits[r[upper], j[upper]]
        same = _same_pictures(i, j, unit, flat, facts.colours)
        pairs += zip(i[same].tolist(), j[same].tolist(), b[same].tolist())
    return _groups(pairs, facts.paths)


def _same_pictures(i: np.ndarray, j: np.ndarray, unit: np.ndarray, flat: np.ndarray,
                   colours: np.ndarray) -> np.ndarray:
    """Which candidate pairs (i[k], j[k]) are the same picture: alike in colour (one
    layout in two colours is two pictures) and in pattern, or both plain."""
    alike_colour = np.abs(colours[i] - colours[j]).max(axis=1) <= SAME_COLOUR
    correlation = np.einsum("nd,nd->n", unit[i], unit[j])
    pattern = np.where(flat[i] | flat[j], flat[i] & flat[j], correlation >= SAME_CORRELATION)
    return alike_colour & pattern


def _groups(pairs: list[tuple[int, int, int]], paths: list[str]) -> tuple[DuplicateGroup, ...]:
    """Connected groups of the (i, j, bits) pairs, largest first."""
    parent: dict[int, int] = {}

    def root(k: int) -> int:
        parent.setdefault(k, k)
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for i, j, _ in pairs:
        parent[root(j)] = root(i)
    members: dict[int, list[int]] = {}
    for k in sorted(parent):
        members.setdefault(root(k), []).append(k)
    worst: dict[int, int] = {}
    for i, _, bits in pairs:
        worst[root(i)] = max(worst.get(root(i), 0), bits)
    groups = [DuplicateGroup(tuple(paths[k] for k in ks), worst[r]) for r, ks in members.items()]
    return tuple(sorted(groups, key=lambda g: (-len(g.paths), g.paths)))


def enlargement(width: int, height: int, size: int, fit: str) -> float:
    """How many times the fit enlarges a width x height picture to size x size: crop
    scales the shorter side to `size`, pad the longer, stretch each side (the larger
    factor counts)."""
    side = max(width, height) if fit == "pad" else min(width, height)
    return size / max(side, 1)


def _small_pictures(facts: PictureFacts, size: int, fit: str) -> tuple[SmallPicture, ...]:
    small = [SmallPicture(path, int(w), int(h), enlargement(int(w), int(h), size, fit))
             for path, (w, h) in zip(facts.paths, facts.sizes)]
    return tuple(sorted((s for s in small if s.scale > TINY_SCALE),
                        key=lambda s: (-s.scale, s.path)))


def shape_name(width: int, height: int) -> str:
    """"square", "4:3 landscape", "3:4 portrait" or "2.35:1 landscape"."""
    long, short = max(width, height), max(min(width, height), 1)
    ratio = long / short
    if abs(math.log(ratio)) <= SHAPE_TOLERANCE:
        return "square"
    orientation = "landscape" if width > height else "portrait"
    for a, b in NAMED_RATIOS[1:]:
        if abs(math.log(ratio / (a / b))) <= SHAPE_TOLERANCE:
            return f"{a}:{b} {orientation}" if width > height else f"{b}:{a} {orientation}"
    text = f"{ratio:.2f}".rstrip("0").rstrip(".")
    return f"{text}:1 {orientation}" if width > height else f"1:{text} {orientation}"


def fit_effect(width: int, height: int, fit: str) -> str:
    """What the fit does to a width x height picture, for a person."""
    long, short = max(width, height), max(min(width, height), 1)
    if abs(math.log(long / short)) <= SHAPE_TOLERANCE:
        return "used whole"
    kept = short / long
    landscape = width > height
    if fit == "crop":
        cut = "left and right" if landscape else "top and bottom"
        return f"centre crop keeps {kept:.0%}, cutting the {cut}"
    if fit == "pad":
        bands = "above and below" if landscape else "left and right"
        return f"padded: {1 - kept:.0%} of the square is background, {bands}"
    return f"stretched: squeezed to {kept:.0%} of its {'width' if landscape else 'height'}"


def _shapes(facts: PictureFacts, fit: str) -> tuple[ShapeGroup, ...]:
    grouped: dict[str, list[PictureShape]] = {}
    sides: dict[str, tuple[int, int]] = {}
    for path, (w, h) in zip(facts.paths, facts.sizes):
        name = shape_name(int(w), int(h))
        grouped.setdefault(name, []).append(PictureShape(path, int(w), int(h),
                                                         fit_effect(int(w), int(h), fit)))
        sides.setdefault(name, (int(w), int(h)))
    groups = [ShapeGroup(name, fit_effect(*sides[name], fit), tuple(pictures))
              for name, pictures in grouped.items()]
    return tuple(sorted(groups, key=lambda g: (-len(g.pictures), g.shape)))


# -- the cache -------------------------------------------------------------------------------
def _to_arrays(facts: PictureFacts) -> dict[str, np.ndarray]:
    return {"paths": np.asarray(facts.paths, dtype=np.str_), "sizes": facts.sizes,
            "hashes": facts.hashes, "thumbs": facts.thumbs, "colours": facts.colours,
            "skipped_paths": np.asarray([s.path for s in facts.skipped], dtype=np.str_),
            "skipped_reasons": np.asarray([s.reason for s in facts.skipped], dtype=np.str_),
            "found": np.asarray(facts.found)}


def _from_cache(key: str, listing: FolderListing) -> PictureFacts | None:
    stored = cache.load_entry(key, kind=_CACHE_KIND)
    if stored is None:
        return None
    try:
        paths = [str(p) for p in stored["paths"]]
        facts = PictureFacts(paths=paths, sizes=stored["sizes"].reshape(-1, 2),
                             hashes=stored["hashes"].astype(np.uint64),
                             thumbs=stored["thumbs"].reshape(len(paths), THUMB * THUMB),
                             colours=stored["colours"].reshape(-1, 3),
                             skipped=[SkippedFile(str(p), str(r)) for p, r in
                                      zip(stored["skipped_paths"], stored["skipped_reasons"])],
                             found=int(stored["found"]))
    except (KeyError, ValueError):
        return None   # an entry of another shape: read the pictures again
    if not (len(facts.sizes) == len(facts.hashes) == len(facts.colours) == len(paths)):
        return None
    return facts


# -- for people ------------------------------------------------------------------------------
def _listed(lines: list[str], shown: int) -> list[str]:
    out = [f"  {line}" for line in lines[:shown]]
    if len(lines) > shown:
        out.append(f"  and {len(lines) - shown:,} more (--json lists them all)")
    return out


def _short(path: str, base: str) -> str:
    return os.path.relpath(path, base) if base else path


def _shared_folder(paths: list[str]) -> str:
    try:
        return os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in paths]) \
            if paths else ""
    except ValueError:   # different drives
        return ""


def picture_paths(spec: str, found: int, skipped: tuple[SkippedFile, ...], count: int
                  ) -> list[str] | None:
    """The file of each picture of a loaded `folder:` set, in the set's order (the
    listing less the skipped files), or None when it cannot be told: another
    source, or a folder that changed since it was loaded."""
    if not applies(spec):
        return None
    try:
        _, path, options = parse_spec(spec)
        listing = list_images(Path(path), options.get("labels", "none").lower() == "subfolders")
    except (DataError, OSError):
        return None
    left_out = {s.path for s in skipped}
    paths = [str(p) for p in listing.files if str(p) not in left_out]
    if len(paths) != count or len(listing.files) + len(listing.skipped) != found:
        return None
    return paths
