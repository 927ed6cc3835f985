"""`folder:PATH`: every picture under a folder, decoded in parallel, bad files skipped.

Options (after a "?", joined by "&"):
  labels=subfolders   class labels from the first-level sub-folder names
  channels=1|3|auto   greyscale or RGB (auto: 1 when every picture is grey)
  fit=crop|pad|stretch  how pictures become square (default: centre crop)
  background=white|black|grey|#rrggbb  under transparency and padding
"""
from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Generator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.data import cache
from engine.data.decode import (FITS, IMAGE_SUFFIXES, DecodedImage, DecodeOptions, UnusableImage,
                                decode_image, is_greyscale, parse_background)
from engine.data.registry import DataRequest, LoadProgress, register_source
from engine.data.report import LoadReport, SkippedFile
from engine.data.sources import ImageSet
from engine.errors import DataError

OPTIONS = ("labels", "channels", "fit", "background")
PROGRESS_SECONDS = 0.1


@dataclass(frozen=True)
class FolderListing:
    files: list[Path]
    labels: list[int] | None
    class_names: tuple[str, ...] | None
    skipped: list[SkippedFile]
    fingerprint: list[tuple[str, int, int, int]]   # (relative path, bytes, mtime_ns, mode)


def decode_options(request: DataRequest) -> DecodeOptions:
    """The spec's options as DecodeOptions; DataError naming a bad value."""
    opts = request.options
    channels_text = opts.get("channels", "auto").lower()
    if channels_text not in ("auto", "1", "3"):
        raise DataError(f"{request.spec}: channels must be 1, 3 or auto, not {channels_text!r}")
    fit = opts.get("fit", "crop").lower()
    if fit not in FITS:
        raise DataError(f"{request.spec}: fit must be one of {', '.join(FITS)}, not {fit!r}")
    try:
        background = parse_background(opts.get("background", "white"))
    except ValueError as exc:
        raise DataError(f"{request.spec}: {exc}") from None
    channels = None if channels_text == "auto" else int(channels_text)
    return DecodeOptions(size=request.size, channels=channels, fit=fit, background=background)


def list_images(root: Path, by_subfolder: bool) -> FolderListing:
    """Every picture under root (sorted, recursive, hidden entries ignored);
    other files are listed as skipped with the reason."""
    files: list[Path] = []
    fingerprint: list[tuple[str, int, int, int]] = []
    skipped: list[SkippedFile] = []
    classes: list[str] = []

    def unreadable(exc: OSError) -> None:
        skipped.append(SkippedFile(str(exc.filename or root), f"cannot read the folder "
                                                              f"({exc.strerror or exc})"))

    for folder, dirs, names in os.walk(root, onerror=unreadable):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.startswith("."):
                continue   # .DS_Store, editor and sync files
            path = Path(folder) / name
            relative = path.relative_to(root)
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                skipped.append(SkippedFile(str(path), f"not a supported picture type "
                                                      f"({path.suffix or 'no extension'})"))
                continue
            if by_subfolder and len(relative.parts) < 2:
                skipped.append(SkippedFile(str(path), "not inside a class sub-folder "
                                                      "(labels=subfolders)"))
                continue
            try:
                st = path.stat()
            except OSError as exc:
                skipped.append(SkippedFile(str(path), f"cannot read ({exc.strerror or exc})"))
                continue
            files.append(path)
            fingerprint.append((relative.as_posix(), st.st_size, st.st_mtime_ns, st.st_mode))
            if by_subfolder:
                classes.append(relative.parts[0])
    if not by_subfolder:
        return FolderListing(files, None, None, skipped, fingerprint)
    names = tuple(sorted(set(classes)))
    index = {name: i for i, name in enumerate(names)}
    return FolderListing(files, [index[c] for c in classes], names, skipped, fingerprint)


def load_folder(request: DataRequest) -> Generator[LoadProgress, None, ImageSet]:
    root = request.path
    if root is None or not root.is_dir():
        raise DataError(f"{root}: not a folder")
    if request.split != "train":
        raise DataError(f"{request.spec}: a folder has no separate {request.split} split")
    labels_option = request.options.get("labels", "none").lower()
    if labels_option not in ("none", "subfolders"):
        raise DataError(f"{request.spec}: labels must be subfolders or none, not {labels_option!r}")
    options = decode_options(request)
    yield LoadProgress(0, 0, "listing files")
    listing = list_images(root, labels_option == "subfolders")
    request.check_cancel()
    if not listing.files:
        others = f" ({len(listing.skipped)} other file(s) skipped)" if listing.skipped else ""
        raise DataError(f"no images found in {root}{others}")
    key = cache.cache_key({"spec": request.spec, "options": options.__dict__,
                           "files": listing.fingerprint})
    if request.cache:
        stored = cache.load_entry(key)
        if stored is not None:
            return _from_cache(request, listing, stored)
    results = yield from decode_files(listing.files, options, request)
    return _assemble(request, listing, options, results, key)


def decode_files(files: list[Path], options: DecodeOptions, request: DataRequest
                 ) -> Generator[LoadProgress, None, list[DecodedImage | str]]:
    """Decode every file on all cores (Pillow releases the GIL while decoding),
    a bounded window at a time so cancel takes effect within one picture; each
    result is the picture or the reason it cannot be used."""
    total = len(files)
    results: list[DecodedImage | str] = [""] * total
    workers = max(1, os.cpu_count() or 1)
    pending: dict[Future, int] = {}
    next_index, done = 0, 0
    last_report = time.perf_counter()
    yield LoadProgress(0, total)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decode") as pool:
        try:
            while done < total:
                while next_index < total and len(pending) < 4 * workers:
                    pending[pool.submit(_decode_one, files[next_index], options)] = next_index
                    next_index += 1
                finished, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in finished:
                    results[pending.pop(future)] = future.result()
                    done += 1
                request.check_cancel()
                now = time.perf_counter()
                if now - last_report >= PROGRESS_SECONDS:
                    last_report = now
                    yield LoadProgress(done, total)
        finally:
            for future in pending:
                future.cancel()
    yield LoadProgress(total, total)
    return results


def _decode_one(path: Path, options: DecodeOptions) -> DecodedImage | str:
    try:
        return decode_image(path, options)
    except UnusableImage as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - a decoder bug in one file must not stop the load
        return f"could not be decoded ({type(exc).__name__}: {exc})"


def _assemble(request: DataRequest, listing: FolderListing, options: DecodeOptions,
              results: list[DecodedImage | str], key: str) -> ImageSet:
    skipped = list(listing.skipped)
    good = [i for i, r in enumerate(results) if isinstance(r, DecodedImage)]
    for path, result in zip(listing.files, results):
        if isinstance(result, str):
            skipped.append(SkippedFile(str(path), result))
    if not good:
        first = skipped[0] if skipped else None
        raise DataError(f"no usable images in {request.path}: {len(skipped)} file(s) skipped"
                        + (f" (first: {first})" if first else ""))
    channels = options.channels or (1 if all(is_greyscale(results[i].pixels) for i in good) else 3)
    side = options.size
    images = np.empty((len(good), channels, side, side), dtype=np.uint8)
    for row, i in enumerate(good):
        pixels = results[i].pixels
        images[row] = pixels[:1] if channels == 1 else pixels   # (1,S,S) broadcasts to 3
    sizes = Counter(results[i].original_size for i in good)
    labels = (np.asarray([listing.labels[i] for i in good], dtype=np.int64)
              if listing.labels is not None else None)
    report = LoadReport(source=request.spec, found=len(listing.files) + len(listing.skipped),
                        skipped=tuple(skipped), original_sizes=_common_sizes(sizes))
    if request.cache:
        cache.save_entry(key, _to_arrays(images, labels, listing.class_names, report))
    return ImageSet(name=request.spec, images=images, labels=labels,
                    class_names=listing.class_names, report=report)


def _common_sizes(sizes: Counter) -> tuple[tuple[int, int, int], ...]:
    return tuple((w, h, n) for (w, h), n in sizes.most_common(5))


def _to_arrays(images: np.ndarray, labels: np.ndarray | None, class_names: tuple[str, ...] | None,
               report: LoadReport) -> dict[str, np.ndarray]:
    arrays = {"images": images, "found": np.asarray(report.found),
              "skipped_paths": np.asarray([s.path for s in report.skipped], dtype=np.str_),
              "skipped_reasons": np.asarray([s.reason for s in report.skipped], dtype=np.str_),
              "original_sizes": np.asarray(report.original_sizes, dtype=np.int64).reshape(-1, 3)}
    if labels is not None:
        arrays["labels"] = labels
        arrays["class_names"] = np.asarray(class_names, dtype=np.str_)
    return arrays


def _from_cache(request: DataRequest, listing: FolderListing, stored: dict[str, np.ndarray]
                ) -> ImageSet:
    skipped = tuple(SkippedFile(str(p), str(r))
                    for p, r in zip(stored["skipped_paths"], stored["skipped_reasons"]))
    report = LoadReport(source=request.spec, found=int(stored["found"]), skipped=skipped,
                        original_sizes=tuple(tuple(int(v) for v in row)
                                             for row in stored["original_sizes"]),
                        from_cache=True)
    labels = stored.get("labels")
    names = tuple(str(n) for n in stored["class_names"]) if "class_names" in stored else None
    return ImageSet(name=request.spec, images=stored["images"], labels=labels,
                    class_names=names, report=report)


register_source("folder", load_folder, "a folder of pictures, searched recursively (PNG, JPEG, "
                "WebP, BMP, GIF, TIFF); ?labels=subfolders for classes", options=OPTIONS)
