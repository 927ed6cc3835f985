"""What a data set holds, as plain data: counts, classes, sizes, a preview, skips.

`scan()` is what the GUI's data page and `latent-atelier-cli data` run: it
loads a spec (yielding progress while it works, stopping when cancelled) and
ends with one `DataSummary`; for a folder of pictures it holds the data
doctor's report too (engine.data.doctor). Nothing in it is a tensor or shared
with the engine afterwards, so it can cross to the GUI thread as is.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from engine.data.doctor import DoctorReport, applies, examine
from engine.data.registry import LoadCancelled, LoadProgress, load_steps
from engine.data.report import SkippedFile
from engine.data.sources import ImageSet
from engine.media.images import make_grid

PREVIEW_COUNT = 64


@dataclass(frozen=True)
class DataSummary:
    spec: str
    count: int
    channels: int
    size: tuple[int, int]                  # (height, width) of the decoded images
    frames: int | None                     # per sequence, None for stills
    class_names: tuple[str, ...]
    class_counts: tuple[int, ...]
    preview: np.ndarray                    # uint8 (H, W, C) grid of the first images
    found: int
    skipped: tuple[SkippedFile, ...]
    original_sizes: tuple[tuple[int, int, int], ...]
    from_cache: bool
    seconds: float
    doctor: DoctorReport | None = None   # for folders of pictures

    def lines(self) -> list[str]:
        """A short human description, as the CLI prints it."""
        kind = f"sequences of {self.frames} frames" if self.frames else "images"
        out = [f"{self.spec}: {self.count:,} {kind}, {self.size[1]} x {self.size[0]}, "
               f"{self.channels} channel(s)"
               + (" (from cache)" if self.from_cache else "") + f", {self.seconds:.2f} s"]
        if self.original_sizes:
            common = ", ".join(f"{w} x {h} ({n:,})" for w, h, n in self.original_sizes)
            out.append(f"original sizes, most common first: {common}")
        if self.class_names:
            out.append("classes: " + ", ".join(f"{name} ({n:,})" for name, n in
                                                zip(self.class_names, self.class_counts)))
        if self.skipped:
            out.append(f"skipped {len(self.skipped):,} of {self.found:,} file(s):")
            out.extend(f"  {s}" for s in self.skipped)
        if self.doctor is not None:
            out.extend(self.doctor.lines(with_skipped=False))
        return out


@dataclass(frozen=True)
class ScanCancelled:
    spec: str


def summarize(data: ImageSet) -> DataSummary:
    images = data.images
    stills = images[:, 0] if images.ndim == 5 else images     # first frame of each sequence
    preview = make_grid(np.ascontiguousarray(stills[:PREVIEW_COUNT].transpose(0, 2, 3, 1)),
                        columns=8)
    names: tuple[str, ...] = ()
    counts: tuple[int, ...] = ()
    if data.labels is not None and len(data.labels):
        k = max(data.num_classes, int(data.labels.max()) + 1)
        counts = tuple(int(c) for c in np.bincount(data.labels.astype(np.int64), minlength=k))
        names = tuple(data.class_names) if data.class_names and len(data.class_names) == k \
            else tuple(str(i) for i in range(k))
    report = data.report
    return DataSummary(spec=data.name, count=len(data), channels=data.channels,
                       size=(int(images.shape[-2]), int(images.shape[-1])), frames=data.frames,
                       class_names=names, class_counts=counts, preview=preview,
                       found=report.found if report else len(data),
                       skipped=report.skipped if report else (),
                       original_sizes=report.original_sizes if report else (),
                       from_cache=report.from_cache if report else False,
                       seconds=report.seconds if report else 0.0)


def scan(spec: str, size: int = 64, split: str = "train", cache: bool = True,
         cancel: Callable[[], bool] | None = None
         ) -> Iterator[LoadProgress | DataSummary | ScanCancelled]:
    """Load `spec`, yielding LoadProgress, then a DataSummary (or ScanCancelled).
    A folder of pictures is then examined by the data doctor for training at
    `size` (LoadProgress "examining"), its report part of the summary."""
    steps = load_steps(spec, split=split, size=size, cache=cache, cancel=cancel)
    try:
        while True:
            yield next(steps)
    except StopIteration as done:
        summary = summarize(done.value)
    except LoadCancelled:
        yield ScanCancelled(spec)
        return
    if split == "train" and applies(spec):
        examining = examine(spec, size, cache_results=cache, cancel=cancel)
        try:
            while True:
                yield next(examining)
        except StopIteration as done:
            summary = replace(summary, doctor=done.value)
        except LoadCancelled:
            yield ScanCancelled(spec)
            return
    yield summary
